import { z } from 'zod';
import { SAGEMAKER_ASSET_KINDS, type SageMakerAssetKind } from './catalog.js';
import { ROLE_ARN, S3_URI } from './settings.js';

/*
 * Specs of the MLOps asset operations (issue 18) as the provider runs them. Strict like the job
 * specs (the SDK drops misspelled fields silently); the Essedum translation
 * (app/essedum/translate/sagemaker.ts) maps the UI's lenient bodies and the referenced assets onto
 * these. Limits are SageMaker's and S3's documented ones.
 */

export { SAGEMAKER_ASSET_KINDS, type SageMakerAssetKind };

/** Model, endpoint, endpoint-config and variant names: 1-63 of `^[a-zA-Z0-9](-*[a-zA-Z0-9])*`. */
export const resourceName = z
  .string()
  .regex(
    /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/,
    'must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit',
  );
const instanceType = z
  .string()
  .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type such as ml.m5.large');
/** The display name of an asset (Essedum's `name`); SageMaker names derive from the job id. */
const assetName = z.string().trim().min(1).max(256);
const tags = z
  .record(z.string().min(1).max(128), z.string().max(256))
  .refine((t) => Object.keys(t).length <= 40, 'at most 40 tags');
const environment = z
  .record(
    z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'environment names are letters, digits and "_"')
      .max(1024),
    z.string().max(1024),
  )
  .refine((e) => Object.keys(e).length <= 100, 'at most 100 environment variables');
/** An `s3://bucket/key` URI (no https form here: the S3 calls need bucket and key). */
export const S3_OBJECT_URI = S3_URI.regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be s3://bucket/key');

/**
 * Inline dataset content travels on the job record (Table Storage), so it is kept small; larger
 * data is uploaded to S3 first and named by `source_uri`.
 */
export const MAX_INLINE_CONTENT_CHARS = 32 * 1024;
/** Most objects one prefix copy or delete touches (each is one S3 call). */
export const MAX_PREFIX_OBJECTS = 1000;

const isPrefix = (uri: string): boolean => uri.endsWith('/');

export const DatasetCreateSpec = z
  .strictObject({
    name: assetName,
    /** Where the dataset lives: an object, or a prefix (ending in `/`) holding several. */
    uri: S3_OBJECT_URI,
    /** Copy from here (an object, or a prefix when `uri` is one). */
    source_uri: S3_OBJECT_URI.optional(),
    /** Or write this content (text, or base64 with `content_encoding`). */
    content: z.string().max(MAX_INLINE_CONTENT_CHARS).optional(),
    content_encoding: z.enum(['utf8', 'base64']).default('utf8'),
    content_type: z.string().min(1).max(256).optional(),
    description: z.string().max(1024).optional(),
    tags: tags.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.source_uri !== undefined && s.content !== undefined)
      ctx.addIssue({ code: 'custom', path: ['content'], message: 'give source_uri or content, not both' });
    if (s.content !== undefined && isPrefix(s.uri))
      ctx.addIssue({ code: 'custom', path: ['uri'], message: 'inline content needs an object key, not a prefix' });
    if (s.source_uri !== undefined && isPrefix(s.source_uri) !== isPrefix(s.uri))
      ctx.addIssue({
        code: 'custom',
        path: ['source_uri'],
        message: 'must be a prefix (ending in /) exactly when uri is one',
      });
    if (s.content !== undefined && s.content_encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(s.content))
      ctx.addIssue({ code: 'custom', path: ['content'], message: 'is not base64' });
  });
export type DatasetCreateSpec = z.infer<typeof DatasetCreateSpec>;

/** A copy of a dataset or a model's artifacts: both ends objects, or both prefixes, and not the same. */
function checkCopy(s: { source_uri: string; destination_uri: string }, ctx: z.RefinementCtx): void {
  if (isPrefix(s.source_uri) !== isPrefix(s.destination_uri))
    ctx.addIssue({
      code: 'custom',
      path: ['destination_uri'],
      message: 'must be a prefix (ending in /) exactly when the source is one',
    });
  if (s.source_uri === s.destination_uri)
    ctx.addIssue({ code: 'custom', path: ['destination_uri'], message: 'must differ from the source' });
}
const copyFields = { name: assetName, source_uri: S3_OBJECT_URI, destination_uri: S3_OBJECT_URI };

export const DatasetExportSpec = z.strictObject(copyFields).superRefine(checkCopy);
export type DatasetExportSpec = z.infer<typeof DatasetExportSpec>;

export const DatasetDeleteSpec = z.strictObject({ name: assetName, uri: S3_OBJECT_URI });
export type DatasetDeleteSpec = z.infer<typeof DatasetDeleteSpec>;

export const ModelRegisterSpec = z.strictObject({
  name: assetName,
  /** Inference image (ECR URI). */
  image: z.string().min(1).max(255),
  /** The model artifacts (model.tar.gz) the image serves. */
  model_data_url: S3_URI.optional(),
  environment: environment.optional(),
  role_arn: ROLE_ARN.optional(),
  /** When given, a model package (a version in this model package group) is registered too. */
  model_package_group: resourceName.optional(),
  approval_status: z.enum(['Approved', 'PendingManualApproval', 'Rejected']).default('Approved'),
  content_types: z.array(z.string().min(1).max(256)).min(1).max(10).default(['text/csv', 'application/json']),
  response_types: z.array(z.string().min(1).max(1024)).min(1).max(10).default(['text/csv', 'application/json']),
  description: z.string().max(1024).optional(),
  tags: tags.optional(),
});
export type ModelRegisterSpec = z.infer<typeof ModelRegisterSpec>;

export const ModelExportSpec = z
  .strictObject({ ...copyFields, model_name: resourceName.optional() })
  .superRefine(checkCopy);
export type ModelExportSpec = z.infer<typeof ModelExportSpec>;

export const ModelDeleteSpec = z.strictObject({
  name: assetName,
  model_name: resourceName,
  model_package_arn: z.string().min(1).max(2048).optional(),
});
export type ModelDeleteSpec = z.infer<typeof ModelDeleteSpec>;

export const EndpointCreateSpec = z.strictObject({
  name: assetName,
  instance_type: instanceType.optional(),
  instance_count: z.number().int().min(1).max(100).default(1),
  /** A model to serve from the start; without one the endpoint is created on its first deploy. */
  model_name: resourceName.optional(),
  tags: tags.optional(),
});
export type EndpointCreateSpec = z.infer<typeof EndpointCreateSpec>;

export const EndpointDeploySpec = z.strictObject({
  name: assetName,
  endpoint_name: resourceName,
  model_name: resourceName,
  instance_type: instanceType.optional(),
  instance_count: z.number().int().min(1).max(100).default(1),
  /** Relative traffic weight of the new variant (SageMaker splits by weight). */
  initial_weight: z.number().min(0).max(1000).default(1),
  /** True: the model replaces every deployed model; false: it joins them. */
  replace: z.boolean().default(false),
  tags: tags.optional(),
});
export type EndpointDeploySpec = z.infer<typeof EndpointDeploySpec>;

export const EndpointUndeploySpec = z.strictObject({
  name: assetName,
  endpoint_name: resourceName,
  /** Models to take off; omitted: all of them (the endpoint is then deleted: SageMaker has no empty endpoints). */
  model_names: z.array(resourceName).min(1).max(10).optional(),
});
export type EndpointUndeploySpec = z.infer<typeof EndpointUndeploySpec>;

export const EndpointDeleteSpec = z.strictObject({ name: assetName, endpoint_name: resourceName });
export type EndpointDeleteSpec = z.infer<typeof EndpointDeleteSpec>;

/** A validated asset operation: its kind and spec with defaults filled in. */
export type SageMakerAssetSpec =
  | { readonly kind: 'dataset-create'; readonly spec: DatasetCreateSpec }
  | { readonly kind: 'dataset-export'; readonly spec: DatasetExportSpec }
  | { readonly kind: 'dataset-delete'; readonly spec: DatasetDeleteSpec }
  | { readonly kind: 'model-register'; readonly spec: ModelRegisterSpec }
  | { readonly kind: 'model-export'; readonly spec: ModelExportSpec }
  | { readonly kind: 'model-delete'; readonly spec: ModelDeleteSpec }
  | { readonly kind: 'endpoint-create'; readonly spec: EndpointCreateSpec }
  | { readonly kind: 'endpoint-deploy'; readonly spec: EndpointDeploySpec }
  | { readonly kind: 'endpoint-undeploy'; readonly spec: EndpointUndeploySpec }
  | { readonly kind: 'endpoint-delete'; readonly spec: EndpointDeleteSpec };

export const ASSET_SCHEMAS = {
  'dataset-create': DatasetCreateSpec,
  'dataset-export': DatasetExportSpec,
  'dataset-delete': DatasetDeleteSpec,
  'model-register': ModelRegisterSpec,
  'model-export': ModelExportSpec,
  'model-delete': ModelDeleteSpec,
  'endpoint-create': EndpointCreateSpec,
  'endpoint-deploy': EndpointDeploySpec,
  'endpoint-undeploy': EndpointUndeploySpec,
  'endpoint-delete': EndpointDeleteSpec,
} as const satisfies Record<SageMakerAssetKind, z.ZodType>;

export function isSageMakerAssetKind(kind: unknown): kind is SageMakerAssetKind {
  return typeof kind === 'string' && (SAGEMAKER_ASSET_KINDS as readonly string[]).includes(kind);
}
