import type {
  CreateAutoMLJobV2CommandInput,
  CreateTrainingJobCommandInput,
  CreateTransformJobCommandInput,
  Tag,
} from '@aws-sdk/client-sagemaker';
import type { JobRecord } from '../../core/job.js';
import { ValidationError } from '../../errors.js';
import type { AutomlSpec, SageMakerJobSpec, TrainingSpec, TransformSpec } from './spec.js';
import type { SageMakerSettings } from './settings.js';

/** SageMaker's ceiling for MaxRuntimeInSeconds of a training job (28 days). */
export const SAGEMAKER_MAX_RUNTIME_SEC = 28 * 24 * 3600;

/** Everything a request builder needs besides the spec. Pure data: no client, no clock. */
export interface RequestContext {
  readonly settings: Pick<SageMakerSettings, 'roleArn' | 'outputS3Uri' | 'defaultInstanceType'>;
  /** JOB_DEFAULT_MAX_RUNTIME_SEC: the limit of jobs that set no `max_runtime_sec`. */
  readonly defaultMaxRuntimeSec: number;
}

/** A create request for one of the three kinds, ready for the SDK. */
export type CreateRequest =
  | { readonly kind: 'training'; readonly input: CreateTrainingJobCommandInput }
  | { readonly kind: 'automl'; readonly input: CreateAutoMLJobV2CommandInput }
  | { readonly kind: 'transform'; readonly input: CreateTransformJobCommandInput };

/** Tag that ties a SageMaker job back to ours, visible in the AWS console and cost reports. */
export const JOB_ID_TAG = 'orchestrator-job-id';

function tagsFor(job: JobRecord, extra: Readonly<Record<string, string>> | undefined): Tag[] {
  return [{ Key: JOB_ID_TAG, Value: job.id }, ...Object.entries(extra ?? {}).map(([Key, Value]) => ({ Key, Value }))];
}

function required<T>(value: T | undefined, field: string, message: string): T {
  if (value === undefined) throw new ValidationError([{ field, message }]);
  return value;
}

function roleOf(spec: { role_arn?: string | undefined }, ctx: RequestContext): string {
  return required(
    spec.role_arn ?? ctx.settings.roleArn,
    'spec.spec.role_arn',
    'required: this deployment sets no SAGEMAKER_ROLE_ARN default',
  );
}

function outputOf(uri: string | undefined, ctx: RequestContext, field: string): string {
  return required(
    uri ?? ctx.settings.outputS3Uri,
    field,
    'required: this deployment sets no SAGEMAKER_OUTPUT_S3_URI default',
  );
}

/** The job's runtime limit: its own `max_runtime_sec`, else the deployment default (capped to what SageMaker allows). */
export function runtimeLimitSec(job: JobRecord, ctx: RequestContext): number {
  const own = job.spec.max_runtime_sec;
  if (own !== undefined && own > SAGEMAKER_MAX_RUNTIME_SEC) {
    throw new ValidationError([
      { field: 'spec.max_runtime_sec', message: `SageMaker allows at most ${SAGEMAKER_MAX_RUNTIME_SEC} s (28 days)` },
    ]);
  }
  return own ?? Math.min(ctx.defaultMaxRuntimeSec, SAGEMAKER_MAX_RUNTIME_SEC);
}

function trainingRequest(
  job: JobRecord,
  name: string,
  spec: TrainingSpec,
  ctx: RequestContext,
): CreateTrainingJobCommandInput {
  return {
    TrainingJobName: name,
    RoleArn: roleOf(spec, ctx),
    AlgorithmSpecification: {
      TrainingInputMode: spec.input_mode,
      ...(spec.image !== undefined && { TrainingImage: spec.image }),
      ...(spec.algorithm_name !== undefined && { AlgorithmName: spec.algorithm_name }),
      ...(spec.metric_definitions && {
        MetricDefinitions: spec.metric_definitions.map((m) => ({ Name: m.name, Regex: m.regex })),
      }),
    },
    InputDataConfig: spec.channels.map((c) => ({
      ChannelName: c.name,
      DataSource: {
        S3DataSource: {
          S3DataType: c.s3_data_type,
          S3Uri: c.s3_uri,
          ...(c.distribution && { S3DataDistributionType: c.distribution }),
        },
      },
      ...(c.content_type && { ContentType: c.content_type }),
      ...(c.compression_type && { CompressionType: c.compression_type }),
      ...(c.input_mode && { InputMode: c.input_mode }),
    })),
    OutputDataConfig: { S3OutputPath: outputOf(spec.output_s3_uri, ctx, 'spec.spec.output_s3_uri') },
    ResourceConfig: {
      InstanceType: (spec.instance_type ?? ctx.settings.defaultInstanceType) as NonNullable<
        CreateTrainingJobCommandInput['ResourceConfig']
      >['InstanceType'],
      InstanceCount: spec.instance_count,
      VolumeSizeInGB: spec.volume_size_gb,
    },
    StoppingCondition: { MaxRuntimeInSeconds: runtimeLimitSec(job, ctx) },
    // SageMaker takes hyperparameters as strings only.
    HyperParameters: Object.fromEntries(Object.entries(spec.hyperparameters).map(([k, v]) => [k, String(v)])),
    ...(spec.environment && { Environment: { ...spec.environment } }),
    Tags: tagsFor(job, spec.tags),
  };
}

function automlRequest(
  job: JobRecord,
  name: string,
  spec: AutomlSpec,
  ctx: RequestContext,
): CreateAutoMLJobV2CommandInput {
  const completion = {
    MaxAutoMLJobRuntimeInSeconds: spec.total_runtime_sec ?? runtimeLimitSec(job, ctx),
    ...(spec.max_candidates !== undefined && { MaxCandidates: spec.max_candidates }),
    ...(spec.max_runtime_per_training_job_sec !== undefined && {
      MaxRuntimePerTrainingJobInSeconds: spec.max_runtime_per_training_job_sec,
    }),
  };
  return {
    AutoMLJobName: name,
    AutoMLJobInputDataConfig: spec.inputs.map((c) => ({
      ChannelType: c.channel_type,
      ContentType: c.content_type,
      ...(c.compression_type && { CompressionType: c.compression_type }),
      DataSource: { S3DataSource: { S3DataType: c.s3_data_type, S3Uri: c.s3_uri } },
    })),
    OutputDataConfig: {
      S3OutputPath: outputOf(spec.output_s3_uri, ctx, 'spec.spec.output_s3_uri'),
      ...(spec.kms_key_id && { KmsKeyId: spec.kms_key_id }),
    },
    AutoMLProblemTypeConfig: {
      TabularJobConfig: {
        TargetAttributeName: spec.target_attribute,
        CompletionCriteria: completion,
        ...(spec.problem_type && { ProblemType: spec.problem_type }),
        ...(spec.mode && { Mode: spec.mode }),
        ...(spec.sample_weight_attribute && { SampleWeightAttributeName: spec.sample_weight_attribute }),
        ...(spec.feature_specification_s3_uri && { FeatureSpecificationS3Uri: spec.feature_specification_s3_uri }),
        ...(spec.generate_candidate_definitions_only !== undefined && {
          GenerateCandidateDefinitionsOnly: spec.generate_candidate_definitions_only,
        }),
      },
    },
    ...(spec.objective_metric && {
      AutoMLJobObjective: {
        MetricName: spec.objective_metric as NonNullable<
          CreateAutoMLJobV2CommandInput['AutoMLJobObjective']
        >['MetricName'],
      },
    }),
    ...(spec.validation_fraction !== undefined && {
      DataSplitConfig: { ValidationFraction: spec.validation_fraction },
    }),
    RoleArn: roleOf(spec, ctx),
    Tags: tagsFor(job, spec.tags),
  };
}

function transformRequest(
  job: JobRecord,
  name: string,
  spec: TransformSpec,
  ctx: RequestContext,
): CreateTransformJobCommandInput {
  // Transform output files are named after the input files, so the default location gets the job's
  // own folder; otherwise two jobs over the same input would overwrite each other.
  const defaultOut = ctx.settings.outputS3Uri === undefined ? undefined : `${ctx.settings.outputS3Uri}/${name}`;
  const dp = spec.data_processing;
  return {
    TransformJobName: name,
    ModelName: spec.model_name,
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: spec.input.s3_data_type, S3Uri: spec.input.s3_uri } },
      ...(spec.input.content_type && { ContentType: spec.input.content_type }),
      ...(spec.input.split_type && { SplitType: spec.input.split_type }),
      ...(spec.input.compression_type && { CompressionType: spec.input.compression_type }),
    },
    TransformOutput: {
      S3OutputPath: outputOf(spec.output.s3_uri ?? defaultOut, ctx, 'spec.spec.output.s3_uri'),
      ...(spec.output.accept && { Accept: spec.output.accept }),
      ...(spec.output.assemble_with && { AssembleWith: spec.output.assemble_with }),
      ...(spec.output.kms_key_id && { KmsKeyId: spec.output.kms_key_id }),
    },
    TransformResources: {
      InstanceType: (spec.instance_type ?? ctx.settings.defaultInstanceType) as NonNullable<
        CreateTransformJobCommandInput['TransformResources']
      >['InstanceType'],
      InstanceCount: spec.instance_count,
    },
    ...(spec.max_concurrent_transforms !== undefined && { MaxConcurrentTransforms: spec.max_concurrent_transforms }),
    ...(spec.max_payload_mb !== undefined && { MaxPayloadInMB: spec.max_payload_mb }),
    ...(spec.batch_strategy && { BatchStrategy: spec.batch_strategy }),
    ...(spec.environment && { Environment: { ...spec.environment } }),
    ...(dp && {
      DataProcessing: {
        ...(dp.input_filter && { InputFilter: dp.input_filter }),
        ...(dp.output_filter && { OutputFilter: dp.output_filter }),
        ...(dp.join_source && { JoinSource: dp.join_source }),
      },
    }),
    Tags: tagsFor(job, spec.tags),
  };
}

/** Builds the create request of a validated job. Throws {@link ValidationError} when a needed default is missing. */
export function buildCreateRequest(
  job: JobRecord,
  name: string,
  parsed: SageMakerJobSpec,
  ctx: RequestContext,
): CreateRequest {
  switch (parsed.kind) {
    case 'training':
      return { kind: 'training', input: trainingRequest(job, name, parsed.spec, ctx) };
    case 'automl':
      return { kind: 'automl', input: automlRequest(job, name, parsed.spec, ctx) };
    case 'transform':
      return { kind: 'transform', input: transformRequest(job, name, parsed.spec, ctx) };
    default: {
      const never: never = parsed;
      throw new Error(`unhandled kind ${JSON.stringify(never)}`);
    }
  }
}
