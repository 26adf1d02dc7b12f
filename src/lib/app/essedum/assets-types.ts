import type { JobRecord } from '../../core/job.js';
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
/** The succeeded jobs that created the assets an operation refers to (their result.asset says where). */
export interface AssetRefs {
  readonly dataset?: JobRecord;
  readonly model?: JobRecord;
  readonly endpoint?: JobRecord;
}
