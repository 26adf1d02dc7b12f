import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow } from '../../core/job.js';
import { type AzureMlAssetKind, AZURE_ML_ASSET_KINDS } from './catalog.js';

/**
 * Pure part of the Azure ML asset operations (issue 18): the spec of each asset job kind, as the
 * Essedum translation produces it and a submission to /api/jobs may send it. No SDK, no I/O.
 *
 * Names follow the service's own rules, so a bad one is refused at submission (a 400 naming the
 * field) instead of by Resource Manager minutes later. They also go into ARM paths, so the rules
 * double as the guard against path injection.
 */

/** Data and model asset names (the service allows letters, digits, `-`, `_`, `.`; up to 255). */
export const assetName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, 'letters, digits, "-", "_" and ".", starting with a letter or digit');
export const assetVersion = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$/, 'letters, digits, "-", "_" and ".", up to 50 characters');
/** Online endpoint and deployment names: 3–32 characters, a letter first, no trailing hyphen. */
export const endpointName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$/,
    '3 to 32 letters, digits and "-", starting with a letter and not ending with "-"',
  );
const instanceType = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a VM size such as Standard_DS3_v2');
/** Where data or a model lives: the storage schemes Azure ML accepts for asset paths. */
const storageUri = z
  .string()
  .max(2048)
  .regex(
    /^(azureml:\/\/|https:\/\/|abfss?:\/\/|wasbs?:\/\/|adl:\/\/)\S+$/,
    'an azureml://, https://, abfss://, wasbs:// or adl:// URI',
  );
const tags = z
  .record(z.string().min(1).max(256), z.string().max(256))
  .refine((t) => Object.keys(t).length <= 50, 'at most 50 tags');
const description = z.string().max(5000);
const compute = z.string().regex(/^(azureml:)?[A-Za-z][A-Za-z0-9-]{1,31}$|^\/subscriptions\/\S+$/, 'a compute name');

export const DATA_TYPES = ['uri_file', 'uri_folder', 'mltable'] as const;
export const MODEL_TYPES = ['custom_model', 'mlflow_model', 'triton_model'] as const;

const DatasetCreateSchema = z.strictObject({
  name: assetName,
  version: assetVersion.default('1'),
  dataType: z.enum(DATA_TYPES).default('uri_folder'),
  dataUri: storageUri,
  description: description.optional(),
  tags: tags.optional(),
});
const AssetVersionRef = { name: assetName, version: assetVersion };
const DatasetExportSchema = z.strictObject({
  ...AssetVersionRef,
  dataType: z.enum(DATA_TYPES).default('uri_folder'),
  compute: compute.optional(),
});
const AssetVersionSchema = z.strictObject(AssetVersionRef);
const ModelRegisterSchema = z.strictObject({
  name: assetName,
  version: assetVersion.default('1'),
  modelType: z.enum(MODEL_TYPES).default('custom_model'),
  modelUri: storageUri,
  description: description.optional(),
  tags: tags.optional(),
});
const ModelExportSchema = z.strictObject({
  ...AssetVersionRef,
  modelType: z.enum(MODEL_TYPES).default('custom_model'),
  compute: compute.optional(),
});
const EndpointCreateSchema = z.strictObject({
  /** Unique in the region; derived from the job when not given. */
  name: endpointName.optional(),
  authMode: z.enum(['AADToken', 'Key', 'AMLToken']).default('AADToken'),
  description: description.optional(),
  tags: tags.optional(),
});
/**
 * A model to deploy: `azureml:name:version` or the ARM id of a model version (both in this
 * workspace), or an `azureml://registries/…` model.
 */
const modelRef = z
  .string()
  .max(1024)
  .regex(
    /^(azureml:[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9_.-]*|\/subscriptions\/[^/\s]+\/resourceGroups\/[^/\s]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/\s]+\/models\/[^/\s]+\/versions\/[^/\s]+|azureml:\/\/registries\/\S+)$/i,
    'azureml:<name>:<version>, a model version ARM id or an azureml://registries/ URI',
  );
const EndpointDeploySchema = z
  .strictObject({
    endpointName,
    /** Derived from the job when not given. */
    deploymentName: endpointName.optional(),
    model: modelRef,
    instanceType: instanceType.optional(),
    instanceCount: z.number().int().min(1).max(100).default(1),
    /** Share of the endpoint's traffic the new deployment gets; the others share the rest in proportion. */
    trafficPercent: z.number().int().min(0).max(100).default(100),
    /** Custom (non-MLflow) models need an environment and a scoring script. */
    environment: z.string().min(1).max(1024).optional(),
    codeId: z.string().min(1).max(1024).optional(),
    scoringScript: z.string().min(1).max(1024).optional(),
    environmentVariables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096)).optional(),
  })
  .refine((s) => (s.codeId === undefined) === (s.scoringScript === undefined), {
    message: 'give codeId and scoringScript together',
    path: ['scoringScript'],
  });
const EndpointUndeploySchema = z.strictObject({
  endpointName,
  /** Deployments to remove; with `models`, those serving one of these models. Neither: all. */
  deployments: z.array(endpointName).max(20).optional(),
  models: z.array(modelRef).max(20).optional(),
});
const EndpointDeleteSchema = z.strictObject({ endpointName });

export type DatasetCreateSpec = z.infer<typeof DatasetCreateSchema>;
export type DatasetExportSpec = z.infer<typeof DatasetExportSchema>;
export type AssetVersionSpec = z.infer<typeof AssetVersionSchema>;
export type ModelRegisterSpec = z.infer<typeof ModelRegisterSchema>;
export type ModelExportSpec = z.infer<typeof ModelExportSchema>;
export type EndpointCreateSpec = z.infer<typeof EndpointCreateSchema>;
export type EndpointDeploySpec = z.infer<typeof EndpointDeploySchema>;
export type EndpointUndeploySpec = z.infer<typeof EndpointUndeploySchema>;
export type EndpointDeleteSpec = z.infer<typeof EndpointDeleteSchema>;

/** Each asset kind with its parsed spec. Exhaustive: adding a kind fails compilation until mapped. */
export type AzureMlAssetSpec =
  | { readonly kind: 'dataset-create'; readonly spec: DatasetCreateSpec }
  | { readonly kind: 'dataset-export'; readonly spec: DatasetExportSpec }
  | { readonly kind: 'dataset-delete'; readonly spec: AssetVersionSpec }
  | { readonly kind: 'model-register'; readonly spec: ModelRegisterSpec }
  | { readonly kind: 'model-export'; readonly spec: ModelExportSpec }
  | { readonly kind: 'model-delete'; readonly spec: AssetVersionSpec }
  | { readonly kind: 'endpoint-create'; readonly spec: EndpointCreateSpec }
  | { readonly kind: 'endpoint-deploy'; readonly spec: EndpointDeploySpec }
  | { readonly kind: 'endpoint-undeploy'; readonly spec: EndpointUndeploySpec }
  | { readonly kind: 'endpoint-delete'; readonly spec: EndpointDeleteSpec };

const SCHEMAS: { readonly [K in AzureMlAssetKind]: z.ZodType<Extract<AzureMlAssetSpec, { kind: K }>['spec']> } = {
  'dataset-create': DatasetCreateSchema,
  'dataset-export': DatasetExportSchema,
  'dataset-delete': AssetVersionSchema,
  'model-register': ModelRegisterSchema,
  'model-export': ModelExportSchema,
  'model-delete': AssetVersionSchema,
  'endpoint-create': EndpointCreateSchema,
  'endpoint-deploy': EndpointDeploySchema,
  'endpoint-undeploy': EndpointUndeploySchema,
  'endpoint-delete': EndpointDeleteSchema,
};

/** Validates an asset job's spec; throws ValidationError with fields under `spec.`. */
export function parseAzureMlAssetSpec(kind: AzureMlAssetKind, spec: unknown): AzureMlAssetSpec {
  if (!(AZURE_ML_ASSET_KINDS as readonly string[]).includes(kind)) throw new Error(`not an asset kind: ${kind}`);
  return { kind, spec: parseOrThrow(SCHEMAS[kind] as z.ZodType<unknown>, spec ?? {}, 'spec') } as AzureMlAssetSpec;
}

/**
 * Provider-side name of something a job creates when the request names none (an endpoint, a
 * deployment): a hash of the run key, so a redelivered dispatch PUTs the same name and attaches.
 */
export function derivedEndpointName(runKey: string, prefix = 'cjo'): string {
  return `${prefix}-${createHash('sha256').update(runKey).digest('hex').slice(0, 20)}`;
}

/** `.../models/{name}/versions/{version}` of an ARM id or `azureml:name:version`; undefined otherwise. */
export function modelVersionOf(ref: string): { name: string; version: string } | undefined {
  const short = /^azureml:([^:/]+):([^:/]+)$/.exec(ref);
  if (short) return { name: short[1]!, version: short[2]! };
  const arm = /\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(ref);
  return arm ? { name: decodeURIComponent(arm[1]!), version: decodeURIComponent(arm[2]!) } : undefined;
}

/** `.../data/{name}/versions/{version}` of an ARM id; undefined otherwise. */
export function dataVersionOf(id: string): { name: string; version: string } | undefined {
  const arm = /\/data\/([^/]+)\/versions\/([^/]+)$/i.exec(id);
  return arm ? { name: decodeURIComponent(arm[1]!), version: decodeURIComponent(arm[2]!) } : undefined;
}
