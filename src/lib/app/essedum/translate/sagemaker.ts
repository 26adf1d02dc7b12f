/**
 * Essedum's SageMaker bodies → our SageMaker job kinds. The provider owns the schemas
 * (`validateSageMakerSpec`); this module only maps Essedum's bodies onto them.
 */
import { z } from 'zod';
import { parseOrThrow } from '../../../core/job.js';
import { ValidationError } from '../../../errors.js';
import type { SageMakerAssetKind } from '../../../providers/sagemaker/asset-spec.js';
import type { AssetOp, AssetRefs } from '../assets-types.js';
import { ROLE_ARN, S3_URI } from '../../../providers/sagemaker/settings.js';
import {
  AutomlSpecSchema,
  compressionType,
  PROBLEM_TYPES,
  s3DataType,
  TABULAR_METRICS,
  TransformSpecSchema,
  validateSageMakerAnySpec,
  type AutomlSpec,
  type SageMakerJobSpec,
} from '../../../providers/sagemaker/spec.js';

// The Essedum routes forward the UI's body; these translate it onto our specs. Bodies are lenient (the backend adds fields), translated specs are strict.

const essedumTags = z
  .union([z.array(z.object({ Key: z.string(), Value: z.string() })), z.record(z.string(), z.string())])
  .transform((t) => (Array.isArray(t) ? Object.fromEntries(t.map((x) => [x.Key, x.Value])) : t));

/** Autopilot accepts only two content types; Essedum sends plain `text/csv` for CSV with a header row. */
function automlContentType(contentType: string | undefined): AutomlSpec['inputs'][number]['content_type'] | undefined {
  if (!contentType) return undefined;
  const c = contentType.toLowerCase().replace(/\s+/g, '');
  if (c.includes('parquet')) return 'x-application/vnd.amazon+parquet';
  if (c.startsWith('text/csv')) return 'text/csv;header=present';
  return contentType as AutomlSpec['inputs'][number]['content_type'];
}

const joinS3 = (bucket: string, ...parts: string[]): string =>
  `s3://${bucket}/${parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;

const EssedumTrainBody = z.object({
  RoleArn: ROLE_ARN.optional(),
  Bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
  S3Prefix: z.string().max(900).default(''),
  inputs: z.union([S3_URI, z.array(S3_URI).min(1).max(2)]),
  target_attribute_name: z.string().min(1),
  content_type: z.string().optional(),
});

/**
 * Essedum SageMaker `train`: `{RoleArn, Bucket, S3Prefix, inputs, target_attribute_name, content_type}`
 * → an `automl` spec. As in the original executor, output goes to `s3://Bucket/S3Prefix/output` and one
 * candidate is trained; `inputs` is the S3 URI of the training data (a second URI is the validation set).
 */
export function fromEssedumTrain(body: unknown): SageMakerJobSpec & { kind: 'automl' } {
  const b = parseOrThrow(EssedumTrainBody, body);
  const uris = Array.isArray(b.inputs) ? b.inputs : [b.inputs];
  const contentType = automlContentType(b.content_type);
  const spec = {
    inputs: uris.map((s3_uri, i) => ({
      s3_uri,
      channel_type: i === 0 ? 'training' : 'validation',
      ...(contentType && { content_type: contentType }),
    })),
    target_attribute: b.target_attribute_name,
    max_candidates: 1,
    output_s3_uri: joinS3(b.Bucket, b.S3Prefix, 'output'),
    ...(b.RoleArn && { role_arn: b.RoleArn }),
  };
  return { kind: 'automl', spec: parseOrThrow(AutomlSpecSchema, spec, 'body') };
}

const essedumChannel = z.object({
  s3_uri: S3_URI,
  content_type: z.string().optional(),
  compression_type: compressionType.optional(),
  channel_type: z.enum(['training', 'validation']).optional(),
});

const EssedumAutomlBody = z.object({
  job_name: z.string().optional(),
  input_data_config: z.union([essedumChannel, z.array(essedumChannel).min(1).max(2)]),
  output_data_config: z.object({ s3_output_path: S3_URI, kms_key_id: z.string().optional() }).optional(),
  target_attribute_name: z.string().min(1),
  problem_type: z.enum(PROBLEM_TYPES).optional(),
  objective: z.object({ metric_name: z.string() }).optional(),
  mode: z.enum(['AUTO', 'ENSEMBLING', 'HYPERPARAMETER_TUNING']).optional(),
  max_candidates: z.number().int().min(1).optional(),
  max_runtime_per_training_job_in_seconds: z.number().int().min(1).optional(),
  total_job_runtime_in_seconds: z.number().int().min(1).optional(),
  role_arn: ROLE_ARN.optional(),
  tags: essedumTags.optional(),
});

/**
 * Essedum SageMaker `automl` body → an `automl` spec. `job_name` is kept only as a tag: the SageMaker
 * name derives from our job id so a redelivery cannot start a second job. A problem type without an
 * objective gets Autopilot's default metric for it (Autopilot needs both or neither).
 */
export function fromEssedumAutoml(body: unknown): SageMakerJobSpec & { kind: 'automl' } {
  const b = parseOrThrow(EssedumAutomlBody, body);
  const channels = Array.isArray(b.input_data_config) ? b.input_data_config : [b.input_data_config];
  const objective = b.objective?.metric_name ?? (b.problem_type ? TABULAR_METRICS[b.problem_type][0] : undefined);
  const tagsOut = { ...(b.tags ?? {}), ...(b.job_name && { 'essedum-job-name': b.job_name.slice(0, 256) }) };
  const spec = {
    inputs: channels.map((c, i) => {
      const contentType = automlContentType(c.content_type);
      return {
        s3_uri: c.s3_uri,
        channel_type: c.channel_type ?? (i === 0 ? 'training' : 'validation'),
        ...(contentType && { content_type: contentType }),
        ...(c.compression_type && { compression_type: c.compression_type }),
      };
    }),
    target_attribute: b.target_attribute_name,
    ...(b.problem_type && { problem_type: b.problem_type }),
    ...(objective && { objective_metric: objective }),
    ...(b.mode && { mode: b.mode }),
    ...(b.max_candidates !== undefined && { max_candidates: b.max_candidates }),
    ...(b.max_runtime_per_training_job_in_seconds !== undefined && {
      max_runtime_per_training_job_sec: b.max_runtime_per_training_job_in_seconds,
    }),
    ...(b.total_job_runtime_in_seconds !== undefined && { total_runtime_sec: b.total_job_runtime_in_seconds }),
    ...(b.output_data_config && { output_s3_uri: b.output_data_config.s3_output_path }),
    ...(b.output_data_config?.kms_key_id && { kms_key_id: b.output_data_config.kms_key_id }),
    ...(b.role_arn && { role_arn: b.role_arn }),
    ...(Object.keys(tagsOut).length > 0 && { tags: tagsOut }),
  };
  return { kind: 'automl', spec: parseOrThrow(AutomlSpecSchema, spec, 'body') };
}

const EssedumInferenceBody = z.object({
  TransformJobName: z.string().optional(),
  ModelName: z.string(),
  TransformInput: z.object({
    DataSource: z.object({ S3DataSource: z.object({ S3DataType: s3DataType.default('S3Prefix'), S3Uri: S3_URI }) }),
    ContentType: z.string().optional(),
    CompressionType: compressionType.optional(),
    SplitType: z.enum(['None', 'Line', 'RecordIO', 'TFRecord']).optional(),
  }),
  TransformOutput: z
    .object({
      S3OutputPath: S3_URI.optional(),
      Accept: z.string().optional(),
      AssembleWith: z.enum(['None', 'Line']).optional(),
      KmsKeyId: z.string().optional(),
    })
    .optional(),
  TransformResources: z.object({ InstanceType: z.string(), InstanceCount: z.number().int() }).optional(),
  DataProcessing: z
    .object({
      InputFilter: z.string().optional(),
      OutputFilter: z.string().optional(),
      JoinSource: z.enum(['Input', 'None']).optional(),
    })
    .optional(),
  MaxConcurrentTransforms: z.number().int().optional(),
  MaxPayloadInMB: z.number().int().optional(),
  BatchStrategy: z.enum(['MultiRecord', 'SingleRecord']).optional(),
  Environment: z.record(z.string(), z.string()).optional(),
  Tags: essedumTags.optional(),
});

/**
 * Essedum SageMaker `inference` body (native CreateTransformJob fields) → a `transform` spec.
 * `TransformJobName` is kept only as a tag, for the same reason as `job_name` above.
 */
export function fromEssedumInference(body: unknown): SageMakerJobSpec & { kind: 'transform' } {
  const b = parseOrThrow(EssedumInferenceBody, body);
  const out = b.TransformOutput;
  const dp = b.DataProcessing;
  const tagsOut = {
    ...(b.Tags ?? {}),
    ...(b.TransformJobName && { 'essedum-job-name': b.TransformJobName.slice(0, 256) }),
  };
  const spec = {
    model_name: b.ModelName,
    input: {
      s3_uri: b.TransformInput.DataSource.S3DataSource.S3Uri,
      s3_data_type: b.TransformInput.DataSource.S3DataSource.S3DataType,
      ...(b.TransformInput.ContentType && { content_type: b.TransformInput.ContentType }),
      ...(b.TransformInput.SplitType && { split_type: b.TransformInput.SplitType }),
      ...(b.TransformInput.CompressionType && { compression_type: b.TransformInput.CompressionType }),
    },
    output: {
      ...(out?.S3OutputPath && { s3_uri: out.S3OutputPath }),
      ...(out?.Accept && { accept: out.Accept }),
      ...(out?.AssembleWith && { assemble_with: out.AssembleWith }),
      ...(out?.KmsKeyId && { kms_key_id: out.KmsKeyId }),
    },
    ...(b.TransformResources && {
      instance_type: b.TransformResources.InstanceType,
      instance_count: b.TransformResources.InstanceCount,
    }),
    ...(b.MaxConcurrentTransforms !== undefined && { max_concurrent_transforms: b.MaxConcurrentTransforms }),
    ...(b.MaxPayloadInMB !== undefined && { max_payload_mb: b.MaxPayloadInMB }),
    ...(b.BatchStrategy && { batch_strategy: b.BatchStrategy }),
    ...(b.Environment && { environment: b.Environment }),
    ...(dp && {
      data_processing: {
        ...(dp.InputFilter && { input_filter: dp.InputFilter }),
        ...(dp.OutputFilter && { output_filter: dp.OutputFilter }),
        ...(dp.JoinSource && { join_source: dp.JoinSource }),
      },
    }),
    ...(Object.keys(tagsOut).length > 0 && { tags: tagsOut }),
  };
  return { kind: 'transform', spec: parseOrThrow(TransformSpecSchema, spec, 'body') };
}

// ---- MLOps assets (issue 18) ------------------------------------------------------------------

/** What a succeeded asset job's result says about its asset (`result.summary.asset`). */
interface RefAsset {
  readonly id: string;
  readonly name: string;
  readonly uri?: string;
  readonly instanceType?: string;
  readonly instanceCount?: number;
}

/** The asset a referenced job created, or a ValidationError naming the missing reference. */
function refAsset(refs: AssetRefs, which: keyof AssetRefs, required: true): RefAsset;
function refAsset(refs: AssetRefs, which: keyof AssetRefs, required: false): RefAsset | undefined;
function refAsset(refs: AssetRefs, which: keyof AssetRefs, required: boolean): RefAsset | undefined {
  const job = refs[which];
  const summary = job?.result?.summary as { asset?: Record<string, unknown> } | undefined;
  const asset = summary?.asset;
  if (!job || typeof asset?.id !== 'string') {
    if (!required) return undefined;
    throw new ValidationError([{ field: which, message: `no ${which} this provider created is referenced` }]);
  }
  return {
    id: asset.id,
    name: typeof asset.name === 'string' ? asset.name : asset.id,
    ...(typeof asset.uri === 'string' && { uri: asset.uri }),
    ...(typeof asset.instanceType === 'string' && { instanceType: asset.instanceType }),
    ...(typeof asset.instanceCount === 'number' && { instanceCount: asset.instanceCount }),
  };
}

/** The first of several spellings the UI may use for one field (snake_case, SageMaker's PascalCase). */
function pick(b: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (b[n] !== undefined && b[n] !== null && b[n] !== '') return b[n];
  return undefined;
}

const text = z.string().trim().min(1);
const s3Uri = S3_URI.refine((u) => u.startsWith('s3://'), 'must be an s3:// URI');
const bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name');

/** A name usable in an S3 key: lower-case letters, digits, `-`, `_` and `.`. */
function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 128) || 'dataset'
  );
}

const basename = (uri: string): string => uri.replace(/\/+$/, '').split('/').at(-1) ?? 'data';

/** Parses one field; a ValidationError names the field the Essedum body used. */
function field<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  return parseOrThrow(schema, value, name);
}

/** Builds the spec and validates it against the provider's schema (errors name `body.<field>`). */
function assetSpec(
  kind: SageMakerAssetKind,
  spec: Record<string, unknown>,
): { kind: string; spec: Record<string, unknown> } {
  const parsed = validateSageMakerAnySpec(kind, spec, { kind: 'kind', spec: 'body' });
  return { kind, spec: parsed.spec as Record<string, unknown> };
}

const tagsOf = (b: Record<string, unknown>): Record<string, string> | undefined => {
  const t = pick(b, 'tags', 'Tags');
  return t === undefined ? undefined : field(essedumTags, t, b.tags !== undefined ? 'tags' : 'Tags');
};

/** Where an exported copy goes: a prefix source needs a prefix destination; an object into a prefix keeps its name. */
function exportDestination(source: string, destination: string): string {
  if (source.endsWith('/')) return destination.endsWith('/') ? destination : `${destination}/`;
  return destination.endsWith('/') ? `${destination}${basename(source)}` : destination;
}

/**
 * Essedum's SageMaker MLOps bodies → the provider's asset operations. Bodies are lenient (snake_case
 * or SageMaker's PascalCase; unknown fields ignored); what is needed is checked and a mistake names
 * the field. Operations on an existing asset read it from the job that created it (`refs`).
 *
 * - dataset-create: `name`, and where: `s3_uri` (object, or prefix ending in `/`) or `Bucket`
 *   (+ `S3Prefix`: stored under `<prefix>/datasets/<name>/`); from `source_uri` (copied) or inline
 *   `content` (+ `content_type`, `content_encoding`), or neither to register data already there.
 * - dataset-export / model-export: `destination_uri` (or `S3OutputPath`).
 * - model-register: `name`, `image`, `model_data_url`, `environment`, `role_arn`, and
 *   `model_package_group` to register a model package version too (`approval_status`).
 * - endpoint-create: `name`, `instance_type`, `instance_count`, optional model (`refs.model`).
 * - endpoint-deploy: `refs.endpoint`, `refs.model` (or `model_name`), `instance_type`,
 *   `instance_count`, `traffic_weight`, `replace`.
 * - endpoint-undeploy: `refs.endpoint`, and `model_names` / `refs.model` (none: every model).
 */
export function fromEssedumAsset(
  op: AssetOp,
  body: Record<string, unknown>,
  refs: AssetRefs,
): { kind: string; spec: Record<string, unknown> } {
  const b = body ?? {};
  switch (op) {
    case 'dataset-create': {
      const name = field(text, pick(b, 'name', 'Name'), 'name');
      const source = pick(b, 'source_uri', 'SourceS3Uri');
      const sourceUri = source === undefined ? undefined : field(s3Uri, source, 'source_uri');
      const content = pick(b, 'content', 'data');
      let uri: string;
      const given = pick(b, 's3_uri', 'S3Uri', 'uri');
      if (given !== undefined) uri = field(s3Uri, given, 's3_uri');
      else {
        const bkt = pick(b, 'Bucket', 'bucket');
        if (bkt === undefined)
          throw new ValidationError([{ field: 's3_uri', message: 'required: give s3_uri, or Bucket (and S3Prefix)' }]);
        const prefix = joinS3(
          field(bucket, bkt, 'Bucket'),
          String(pick(b, 'S3Prefix', 's3_prefix') ?? ''),
          'datasets',
          slug(name),
        );
        uri =
          content !== undefined
            ? `${prefix}/${slug(String(pick(b, 'file_name', 'FileName') ?? 'data'))}`
            : sourceUri !== undefined && !sourceUri.endsWith('/')
              ? `${prefix}/${basename(sourceUri)}`
              : `${prefix}/`;
      }
      const contentType = pick(b, 'content_type', 'ContentType');
      const encoding = pick(b, 'content_encoding');
      const description = pick(b, 'description');
      const tags = tagsOf(b);
      return assetSpec('dataset-create', {
        name,
        uri,
        ...(sourceUri !== undefined && { source_uri: sourceUri }),
        ...(content !== undefined && { content: typeof content === 'string' ? content : JSON.stringify(content) }),
        ...(contentType !== undefined && { content_type: contentType }),
        ...(encoding !== undefined && { content_encoding: encoding }),
        ...(description !== undefined && { description }),
        ...(tags && { tags }),
      });
    }
    case 'dataset-export':
    case 'model-export': {
      const which = op === 'dataset-export' ? 'dataset' : 'model';
      const asset = refAsset(refs, which, true);
      if (!asset.uri)
        throw new ValidationError([{ field: which, message: `the ${which} has no S3 location to export from` }]);
      const dest = field(s3Uri, pick(b, 'destination_uri', 'S3OutputPath', 's3_uri', 'uri'), 'destination_uri');
      return assetSpec(op, {
        name: asset.name,
        source_uri: asset.uri,
        destination_uri: exportDestination(asset.uri, dest),
        ...(op === 'model-export' && { model_name: asset.id }),
      });
    }
    case 'dataset-delete': {
      const asset = refAsset(refs, 'dataset', true);
      return assetSpec(op, { name: asset.name, uri: asset.uri ?? asset.id });
    }
    case 'model-register': {
      const container = (b.PrimaryContainer ?? {}) as Record<string, unknown>;
      const name = field(text, pick(b, 'name', 'ModelName', 'model_name'), 'name');
      const image = pick(b, 'image', 'Image', 'image_uri') ?? container.Image;
      const modelData = pick(b, 'model_data_url', 'ModelDataUrl', 'artifact_uri') ?? container.ModelDataUrl;
      const env = pick(b, 'environment', 'Environment') ?? container.Environment;
      const role = pick(b, 'role_arn', 'ExecutionRoleArn', 'RoleArn');
      const group = pick(b, 'model_package_group', 'ModelPackageGroupName');
      const approval = pick(b, 'approval_status', 'ModelApprovalStatus');
      const description = pick(b, 'description', 'ModelPackageDescription');
      const tags = tagsOf(b);
      return assetSpec(op, {
        name,
        image: field(text, image, 'image'),
        ...(modelData !== undefined && { model_data_url: modelData }),
        ...(env !== undefined && { environment: env }),
        ...(role !== undefined && { role_arn: role }),
        ...(group !== undefined && { model_package_group: group }),
        ...(approval !== undefined && { approval_status: approval }),
        ...(description !== undefined && { description }),
        ...(tags && { tags }),
      });
    }
    case 'model-delete': {
      const asset = refAsset(refs, 'model', true);
      const pkg = (refs.model?.result?.summary as { modelPackageArn?: unknown } | undefined)?.modelPackageArn;
      return assetSpec(op, {
        name: asset.name,
        model_name: asset.id,
        ...(typeof pkg === 'string' && { model_package_arn: pkg }),
      });
    }
    case 'endpoint-create': {
      const model = refAsset(refs, 'model', false);
      const modelName = model?.id ?? pick(b, 'model_name', 'ModelName');
      const type = pick(b, 'instance_type', 'InstanceType');
      const count = pick(b, 'instance_count', 'InitialInstanceCount');
      const tags = tagsOf(b);
      return assetSpec(op, {
        name: field(text, pick(b, 'name', 'EndpointName', 'endpoint_name'), 'name'),
        ...(type !== undefined && { instance_type: type }),
        ...(count !== undefined && { instance_count: count }),
        ...(modelName !== undefined && { model_name: modelName }),
        ...(tags && { tags }),
      });
    }
    case 'endpoint-deploy': {
      const endpoint = refAsset(refs, 'endpoint', true);
      const model = refAsset(refs, 'model', false);
      const modelName = model?.id ?? pick(b, 'model_name', 'ModelName');
      if (modelName === undefined)
        throw new ValidationError([{ field: 'model_name', message: 'required: the model to deploy' }]);
      const type = pick(b, 'instance_type', 'InstanceType') ?? endpoint.instanceType;
      const count = pick(b, 'instance_count', 'InitialInstanceCount') ?? endpoint.instanceCount;
      const weight = pick(b, 'traffic_weight', 'InitialVariantWeight');
      const replace = pick(b, 'replace');
      return assetSpec(op, {
        name: endpoint.name,
        endpoint_name: endpoint.id,
        model_name: modelName,
        ...(type !== undefined && { instance_type: type }),
        ...(count !== undefined && { instance_count: count }),
        ...(weight !== undefined && { initial_weight: weight }),
        ...(replace !== undefined && { replace }),
      });
    }
    case 'endpoint-undeploy': {
      const endpoint = refAsset(refs, 'endpoint', true);
      const model = refAsset(refs, 'model', false);
      const listed = pick(b, 'model_names', 'deployed_model_ids');
      const single = pick(b, 'model_name', 'deployed_model_id');
      const names = model ? [model.id] : (listed ?? (single === undefined ? undefined : [single]));
      return assetSpec(op, {
        name: endpoint.name,
        endpoint_name: endpoint.id,
        ...(names !== undefined && { model_names: names }),
      });
    }
    case 'endpoint-delete': {
      const endpoint = refAsset(refs, 'endpoint', true);
      return assetSpec(op, { name: endpoint.name, endpoint_name: endpoint.id });
    }
    default: {
      const never: never = op;
      throw new ValidationError([{ field: 'op', message: `unknown asset operation ${String(never)}` }]);
    }
  }
}
