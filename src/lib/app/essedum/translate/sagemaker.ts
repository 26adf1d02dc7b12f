/**
 * Essedum's SageMaker bodies → our SageMaker job kinds. The provider owns the schemas
 * (`validateSageMakerSpec`); this module only maps Essedum's bodies onto them.
 */
import { z } from 'zod';
import { parseOrThrow } from '../../../core/job.js';
import { ROLE_ARN, S3_URI } from '../../../providers/sagemaker/settings.js';
import {
  AutomlSpecSchema,
  compressionType,
  PROBLEM_TYPES,
  s3DataType,
  TABULAR_METRICS,
  TransformSpecSchema,
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
