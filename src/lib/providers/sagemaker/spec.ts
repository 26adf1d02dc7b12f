import { z } from 'zod';
import { parseOrThrow, type JobSpec } from '../../core/job.js';
import { ValidationError } from '../../errors.js';
import { ASSET_SCHEMAS, isSageMakerAssetKind, type SageMakerAssetSpec } from './asset-spec.js';
import { SAGEMAKER_ALL_KINDS } from './catalog.js';
import { SAGEMAKER_KINDS, type SageMakerKind } from './names.js';
import { ROLE_ARN, S3_URI } from './settings.js';

/*
 * The job kinds a SageMaker job's `spec.kind` may name, and the shape of its `spec.spec`.
 * Schemas are strict: the AWS SDK silently drops misspelled fields, so a typo must fail here.
 * Limits are SageMaker's documented ones, so a bad spec fails at submission, not at the provider.
 */

const instanceType = z
  .string()
  .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type such as ml.m5.large');
export const compressionType = z.enum(['None', 'Gzip']);
export const s3DataType = z.enum(['S3Prefix', 'ManifestFile', 'AugmentedManifestFile']);
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
const resourceName = z
  .string()
  .regex(
    /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/,
    'must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit',
  );

const channel = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9.\-_]{1,64}$/, 'channel names are 1-64 letters, digits, ".", "-" or "_"'),
  s3_uri: S3_URI,
  s3_data_type: s3DataType.default('S3Prefix'),
  distribution: z.enum(['FullyReplicated', 'ShardedByS3Key']).optional(),
  content_type: z.string().max(256).optional(),
  compression_type: compressionType.optional(),
  input_mode: z.enum(['File', 'Pipe', 'FastFile']).optional(),
});

/** `training` → CreateTrainingJob: a container image or a marketplace/built-in algorithm. */
export const TrainingSpecSchema = z
  .strictObject({
    image: z.string().min(1).max(255).optional(),
    algorithm_name: z.string().min(1).max(170).optional(),
    input_mode: z.enum(['File', 'Pipe', 'FastFile']).default('File'),
    channels: z
      .array(channel)
      .max(20)
      .default([])
      .refine((c) => new Set(c.map((x) => x.name)).size === c.length, 'channel names must be unique'),
    output_s3_uri: S3_URI.optional(),
    role_arn: ROLE_ARN.optional(),
    instance_type: instanceType.optional(),
    instance_count: z.number().int().min(1).max(100).default(1),
    volume_size_gb: z.number().int().min(1).max(16_384).default(30),
    hyperparameters: z
      .record(z.string().min(1).max(256), z.union([z.string().max(2500), z.number().finite(), z.boolean()]))
      .refine((h) => Object.keys(h).length <= 100, 'at most 100 hyperparameters')
      .default({}),
    environment: environment.optional(),
    metric_definitions: z
      .array(z.strictObject({ name: z.string().min(1).max(255), regex: z.string().min(1).max(500) }))
      .max(40)
      .optional(),
    tags: tags.optional(),
  })
  .refine((s) => (s.image === undefined) !== (s.algorithm_name === undefined), {
    message: 'give exactly one of image or algorithm_name',
    path: ['image'],
  });
export type TrainingSpec = z.infer<typeof TrainingSpecSchema>;

export const PROBLEM_TYPES = ['BinaryClassification', 'MulticlassClassification', 'Regression'] as const;
export type ProblemType = (typeof PROBLEM_TYPES)[number];
/** Tabular objective metrics Autopilot accepts per problem type, the first being its default. */
export const TABULAR_METRICS: Readonly<Record<ProblemType, readonly string[]>> = {
  BinaryClassification: ['F1', 'Accuracy', 'AUC', 'BalancedAccuracy', 'Precision', 'Recall'],
  MulticlassClassification: ['Accuracy', 'BalancedAccuracy', 'F1macro', 'PrecisionMacro', 'RecallMacro'],
  Regression: ['MSE', 'MAE', 'R2', 'RMSE'],
};
const ALL_TABULAR_METRICS = [...new Set(Object.values(TABULAR_METRICS).flat())] as [string, ...string[]];

/** `automl` → CreateAutoMLJobV2 with a tabular problem. */
export const AutomlSpecSchema = z
  .strictObject({
    inputs: z
      .array(
        z.strictObject({
          s3_uri: S3_URI,
          channel_type: z.enum(['training', 'validation']).default('training'),
          content_type: z
            .enum(['text/csv;header=present', 'x-application/vnd.amazon+parquet'])
            .default('text/csv;header=present'),
          compression_type: compressionType.optional(),
          s3_data_type: s3DataType.default('S3Prefix'),
        }),
      )
      .min(1)
      .max(2)
      .refine((c) => c.filter((x) => x.channel_type === 'training').length === 1, 'exactly one training channel')
      .refine((c) => c.filter((x) => x.channel_type === 'validation').length <= 1, 'at most one validation channel'),
    target_attribute: z.string().min(1),
    problem_type: z.enum(PROBLEM_TYPES).optional(),
    objective_metric: z.enum(ALL_TABULAR_METRICS).optional(),
    mode: z.enum(['AUTO', 'ENSEMBLING', 'HYPERPARAMETER_TUNING']).optional(),
    max_candidates: z.number().int().min(1).optional(),
    max_runtime_per_training_job_sec: z.number().int().min(1).optional(),
    total_runtime_sec: z.number().int().min(1).optional(),
    output_s3_uri: S3_URI.optional(),
    kms_key_id: z.string().max(2048).optional(),
    role_arn: ROLE_ARN.optional(),
    validation_fraction: z.number().min(0).max(1).optional(),
    sample_weight_attribute: z.string().min(1).max(256).optional(),
    feature_specification_s3_uri: S3_URI.optional(),
    generate_candidate_definitions_only: z.boolean().optional(),
    tags: tags.optional(),
  })
  .superRefine((s, ctx) => {
    // Autopilot wants both the problem type and the objective, or neither.
    if (s.objective_metric !== undefined && s.problem_type === undefined) {
      ctx.addIssue({ code: 'custom', path: ['problem_type'], message: 'required when objective_metric is given' });
    }
    if (
      s.objective_metric !== undefined &&
      s.problem_type !== undefined &&
      !TABULAR_METRICS[s.problem_type].includes(s.objective_metric)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['objective_metric'],
        message: `${s.problem_type} accepts ${TABULAR_METRICS[s.problem_type].join(', ')}`,
      });
    }
    if (s.validation_fraction !== undefined && s.inputs.some((c) => c.channel_type === 'validation')) {
      ctx.addIssue({
        code: 'custom',
        path: ['validation_fraction'],
        message: 'cannot be combined with a validation channel',
      });
    }
  });
export type AutomlSpec = z.infer<typeof AutomlSpecSchema>;

/** `transform` → CreateTransformJob (batch inference with an existing SageMaker model). */
export const TransformSpecSchema = z.strictObject({
  model_name: resourceName,
  input: z.strictObject({
    s3_uri: S3_URI,
    s3_data_type: s3DataType.default('S3Prefix'),
    content_type: z.string().max(256).optional(),
    split_type: z.enum(['None', 'Line', 'RecordIO', 'TFRecord']).optional(),
    compression_type: compressionType.optional(),
  }),
  output: z
    .strictObject({
      s3_uri: S3_URI.optional(),
      accept: z.string().max(256).optional(),
      assemble_with: z.enum(['None', 'Line']).optional(),
      kms_key_id: z.string().max(2048).optional(),
    })
    .default({}),
  instance_type: instanceType.optional(),
  instance_count: z.number().int().min(1).max(100).default(1),
  max_concurrent_transforms: z.number().int().min(0).optional(),
  max_payload_mb: z.number().int().min(0).max(100).optional(),
  batch_strategy: z.enum(['MultiRecord', 'SingleRecord']).optional(),
  environment: environment.optional(),
  data_processing: z
    .strictObject({
      input_filter: z.string().max(63).optional(),
      output_filter: z.string().max(63).optional(),
      join_source: z.enum(['Input', 'None']).optional(),
    })
    .optional(),
  tags: tags.optional(),
});
export type TransformSpec = z.infer<typeof TransformSpecSchema>;

/** A validated SageMaker job: the kind and its spec with defaults filled in. */
export type SageMakerJobSpec =
  | { readonly kind: 'training'; readonly spec: TrainingSpec }
  | { readonly kind: 'automl'; readonly spec: AutomlSpec }
  | { readonly kind: 'transform'; readonly spec: TransformSpec };

const SCHEMAS = { training: TrainingSpecSchema, automl: AutomlSpecSchema, transform: TransformSpecSchema } as const;

export function isSageMakerKind(kind: unknown): kind is SageMakerKind {
  return typeof kind === 'string' && (SAGEMAKER_KINDS as readonly string[]).includes(kind);
}

/**
 * Validates a kind and its spec. Field paths default to where they live on a job record
 * (`spec.kind`, `spec.spec.<field>`); the API can pass its own (`kind`, `spec`).
 */
export function validateSageMakerSpec(
  kind: unknown,
  spec: unknown,
  paths: { readonly kind: string; readonly spec: string } = { kind: 'spec.kind', spec: 'spec.spec' },
): SageMakerJobSpec {
  if (!isSageMakerKind(kind)) {
    const message =
      kind === undefined
        ? `required: one of ${SAGEMAKER_ALL_KINDS.join(', ')}`
        : `'${String(kind)}' is not a SageMaker job kind; use one of ${SAGEMAKER_ALL_KINDS.join(', ')}`;
    throw new ValidationError([{ field: paths.kind, message }]);
  }
  const body = spec ?? {};
  switch (kind) {
    case 'training':
      return { kind, spec: parseOrThrow(SCHEMAS.training, body, paths.spec) };
    case 'automl':
      return { kind, spec: parseOrThrow(SCHEMAS.automl, body, paths.spec) };
    case 'transform':
      return { kind, spec: parseOrThrow(SCHEMAS.transform, body, paths.spec) };
    default: {
      const never: never = kind;
      throw new Error(`unhandled kind ${String(never)}`);
    }
  }
}

/**
 * Validates any kind the provider runs: a job kind (training, automl, transform) or an MLOps asset
 * operation (see asset-spec.ts). The descriptor's submit-time check calls this.
 */
export function validateSageMakerAnySpec(
  kind: unknown,
  spec: unknown,
  paths: { readonly kind: string; readonly spec: string } = { kind: 'spec.kind', spec: 'spec.spec' },
): SageMakerJobSpec | SageMakerAssetSpec {
  if (isSageMakerAssetKind(kind)) {
    return { kind, spec: parseOrThrow(ASSET_SCHEMAS[kind] as z.ZodType, spec ?? {}, paths.spec) } as SageMakerAssetSpec;
  }
  return validateSageMakerSpec(kind, spec, paths);
}

/** Validates the SageMaker part of a stored job (`job.spec.kind` + `job.spec.spec`). */
export function parseSageMakerJob(spec: Pick<JobSpec, 'kind' | 'spec'>): SageMakerJobSpec | SageMakerAssetSpec {
  return validateSageMakerAnySpec(spec.kind, spec.spec);
}
