/** The Essedum asset operations (issue 18): one job kind each, with the same names on every provider. */
export const ASSET_OPS = [
  'dataset-create',
  'dataset-export',
  'dataset-delete',
  'model-register',
  'model-export',
  'model-delete',
  'endpoint-create',
  'endpoint-deploy',
  'endpoint-undeploy',
  'endpoint-delete',
] as const;
export type AssetOp = (typeof ASSET_OPS)[number];
