import type {
  DescribeAutoMLJobV2CommandOutput,
  DescribeTrainingJobCommandOutput,
  DescribeTransformJobCommandOutput,
} from '@aws-sdk/client-sagemaker';
import type { JobError } from '../../core/job.js';
import type { CapacityFailure, ObservedStatus } from '../../ports/provider.js';
import { TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP, type SageMakerKind } from './names.js';

/**
 * Every job status SageMaker documents for training, AutoML and transform jobs. `Deleting` exists only
 * for training jobs (DeleteTrainingJob, allowed on finished jobs only).
 */
export const SAGEMAKER_STATUSES = ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped', 'Deleting'] as const;
export type SageMakerStatus = (typeof SAGEMAKER_STATUSES)[number];

export function isSageMakerStatus(value: unknown): value is SageMakerStatus {
  return typeof value === 'string' && (SAGEMAKER_STATUSES as readonly string[]).includes(value);
}

/**
 * Maps a SageMaker job status onto ours. `Stopping`/`Stopped` are a cancellation under way/done,
 * never a success. `Deleting` only follows a finished job whose outcome we missed, and its record is
 * about to vanish: `missing` lets the poll use case decide (cancelled if we were stopping it).
 */
export function mapSageMakerStatus(status: SageMakerStatus): ObservedStatus {
  switch (status) {
    case 'InProgress':
      return 'running';
    case 'Completed':
      return 'succeeded';
    case 'Failed':
      return 'failed';
    case 'Stopping':
      return 'cancelling';
    case 'Stopped':
      return 'cancelled';
    case 'Deleting':
      return 'missing';
    default: {
      const never: never = status;
      throw new Error(`unmapped SageMaker status ${String(never)}`);
    }
  }
}

/** Secondary statuses that mean SageMaker stopped the job for hitting its time limit, not at our request. */
const TIME_LIMIT_SECONDARY = new Set(['MaxRuntimeExceeded', 'MaxWaitTimeExceeded']);

/**
 * SageMaker prefixes failure reasons with who is at fault (`ClientError:`, `AlgorithmError:`,
 * `CapacityError:`, `InternalServerError:`); we keep that as the error category so quota and capacity
 * failures are reported as such rather than as a generic failure.
 */
export function failureCategory(reason: string | undefined): string | undefined {
  const m = /^\s*([A-Za-z]+Error)\s*:/.exec(reason ?? '');
  if (m?.[1]) {
    switch (m[1]) {
      case 'ClientError':
        return 'user';
      case 'AlgorithmError':
        return 'user-code';
      case 'CapacityError':
        return 'capacity';
      case 'InternalServerError':
        return 'provider';
      default:
        return m[1];
    }
  }
  if (/ResourceLimitExceeded|quota|service limit/i.test(reason ?? '')) return 'quota';
  return undefined;
}

/**
 * The codes with which SageMaker fails a job it had accepted because it could not get the compute:
 * a `FailureReason` starting `CapacityError:` ("Unable to provision requested ML compute capacity"),
 * `InsufficientCapacityError` (no instances of the type in the Availability Zones), and
 * `ResourceLimitExceeded` (an account quota, such as instances of the type for training, reached
 * while the job waited). Closed: a new code fails compilation wherever they are mapped.
 */
export const RUNTIME_CAPACITY_CODES = ['CapacityError', 'InsufficientCapacityError', 'ResourceLimitExceeded'] as const;
export type RuntimeCapacityCode = (typeof RUNTIME_CAPACITY_CODES)[number];

/** A limit of 0: the instance type is not enabled for the account; waiting will not help. */
const ZERO_LIMIT = /\bis 0\b|limit of 0\b|value of 0\b/i;

/** Which capacity code a failure reason carries, if any. */
export function runtimeCapacityCode(reason: string | undefined): RuntimeCapacityCode | undefined {
  const text = reason ?? '';
  if (/^\s*CapacityError\s*:/.test(text)) return 'CapacityError';
  if (/\bInsufficientCapacityError\b/.test(text)) return 'InsufficientCapacityError';
  if (/\bResourceLimitExceeded\b/.test(text)) return 'ResourceLimitExceeded';
  return undefined;
}

/**
 * The capacity failure a failed job's `FailureReason` reports, or `undefined` for any other failure.
 * A failed job has ended at SageMaker: there is nothing left to stop.
 */
export function capacityFailureOf(reason: string | undefined): CapacityFailure | undefined {
  const code = runtimeCapacityCode(reason);
  if (!code) return undefined;
  const message = reason?.trim() ?? code;
  switch (code) {
    case 'CapacityError':
    case 'InsufficientCapacityError':
      return { code, message, lasting: false, runEnded: true };
    case 'ResourceLimitExceeded':
      return { code, message, lasting: ZERO_LIMIT.test(message), runEnded: true };
    default: {
      const never: never = code;
      throw new Error(`unmapped capacity code ${String(never)}`);
    }
  }
}

/** What one Describe call tells us, in the port's vocabulary. */
export interface DescribedOutcome {
  readonly status: ObservedStatus;
  readonly nativeStatus: string;
  readonly secondaryStatus?: string;
  readonly error?: JobError;
  /** With status `no-capacity`: SageMaker failed the job for capacity or quota. */
  readonly capacity?: CapacityFailure;
  readonly result: Record<string, unknown>;
}

function failedError(reason: string | undefined): JobError {
  const category = failureCategory(reason);
  return {
    code: 'SAGEMAKER_JOB_FAILED',
    message: reason?.trim() || 'SageMaker reported the job as Failed without a reason.',
    ...(category && { category }),
  };
}

function iso(d: Date | undefined): string | undefined {
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

function baseOutcome(
  kind: SageMakerKind,
  native: string | undefined,
  secondary: string | undefined,
  failureReason: string | undefined,
  result: Record<string, unknown>,
): DescribedOutcome {
  if (!isSageMakerStatus(native)) {
    // A status newer than this code: keep the job as it is and say so.
    return {
      status: 'running',
      nativeStatus: String(native),
      result,
      ...(secondary && { secondaryStatus: secondary }),
    };
  }
  let status = mapSageMakerStatus(native);
  let error: JobError | undefined;
  let capacity: CapacityFailure | undefined;
  if (status === 'failed') {
    error = failedError(failureReason);
    // Not the job's fault: it fails over to its next target instead of failing.
    capacity = capacityFailureOf(failureReason);
    if (capacity) status = 'no-capacity';
  }
  // A training job that hits its stopping condition ends "Stopped" although nobody cancelled it:
  // that is a timeout, so the job failed.
  if (kind === 'training' && native === 'Stopped' && secondary && TIME_LIMIT_SECONDARY.has(secondary)) {
    status = 'failed';
    error = { code: 'TIMEOUT', message: `SageMaker stopped the job: ${secondary}.`, category: 'timeout' };
  }
  return {
    status,
    nativeStatus: native,
    ...(secondary && { secondaryStatus: secondary }),
    ...(error && { error }),
    ...(capacity && { capacity }),
    result,
  };
}

/** Outcome of a DescribeTrainingJob: model artifacts, final metrics, times and the CloudWatch log location. */
export function trainingOutcome(d: DescribeTrainingJobCommandOutput): DescribedOutcome {
  const name = d.TrainingJobName ?? '';
  const metrics = Object.fromEntries(
    (d.FinalMetricDataList ?? [])
      .filter((m) => m.MetricName !== undefined)
      .map((m) => [m.MetricName!, m.Value ?? null]),
  );
  const result: Record<string, unknown> = {
    kind: 'training',
    jobName: name,
    ...(d.TrainingJobArn && { arn: d.TrainingJobArn }),
    ...(d.ModelArtifacts?.S3ModelArtifacts && { modelArtifacts: d.ModelArtifacts.S3ModelArtifacts }),
    ...(Object.keys(metrics).length > 0 && { finalMetrics: metrics }),
    ...(d.TrainingTimeInSeconds !== undefined && { trainingTimeSec: d.TrainingTimeInSeconds }),
    ...(d.BillableTimeInSeconds !== undefined && { billableTimeSec: d.BillableTimeInSeconds }),
    ...(iso(d.TrainingStartTime) && { startedAt: iso(d.TrainingStartTime) }),
    ...(iso(d.TrainingEndTime) && { endedAt: iso(d.TrainingEndTime) }),
    ...(d.FailureReason && { failureReason: d.FailureReason }),
    logs: { group: TRAINING_LOG_GROUP, streamPrefix: `${name}/` },
  };
  return baseOutcome('training', d.TrainingJobStatus, d.SecondaryStatus, d.FailureReason, result);
}

/** Outcome of a DescribeAutoMLJobV2: the best candidate (metric, model data, image) and the output path. */
export function automlOutcome(d: DescribeAutoMLJobV2CommandOutput): DescribedOutcome {
  const best = d.BestCandidate;
  const containers = best?.InferenceContainers ?? [];
  const problemType = d.ResolvedAttributes?.AutoMLProblemTypeResolvedAttributes?.TabularResolvedAttributes?.ProblemType;
  const result: Record<string, unknown> = {
    kind: 'automl',
    jobName: d.AutoMLJobName ?? '',
    ...(d.AutoMLJobArn && { arn: d.AutoMLJobArn }),
    ...(d.OutputDataConfig?.S3OutputPath && { outputPath: d.OutputDataConfig.S3OutputPath }),
    ...(best && {
      bestCandidate: {
        name: best.CandidateName,
        ...(best.FinalAutoMLJobObjectiveMetric && {
          objective: {
            metric: best.FinalAutoMLJobObjectiveMetric.MetricName,
            value: best.FinalAutoMLJobObjectiveMetric.Value,
            ...(best.FinalAutoMLJobObjectiveMetric.Type && { type: best.FinalAutoMLJobObjectiveMetric.Type }),
          },
        }),
        ...(containers.length > 0 && {
          inferenceContainers: containers.map((c) => ({ image: c.Image, modelDataUrl: c.ModelDataUrl })),
        }),
      },
    }),
    ...(containers.at(-1)?.ModelDataUrl && { modelArtifacts: containers.at(-1)?.ModelDataUrl }),
    ...(d.AutoMLJobArtifacts && {
      notebooks: {
        ...(d.AutoMLJobArtifacts.CandidateDefinitionNotebookLocation && {
          candidateDefinition: d.AutoMLJobArtifacts.CandidateDefinitionNotebookLocation,
        }),
        ...(d.AutoMLJobArtifacts.DataExplorationNotebookLocation && {
          dataExploration: d.AutoMLJobArtifacts.DataExplorationNotebookLocation,
        }),
      },
    }),
    ...(problemType && { problemType }),
    ...(iso(d.EndTime) && { endedAt: iso(d.EndTime) }),
    ...(d.FailureReason && { failureReason: d.FailureReason }),
    ...(d.PartialFailureReasons?.length && {
      partialFailures: d.PartialFailureReasons.map((p) => p.PartialFailureMessage),
    }),
    // Autopilot's own training jobs log under the training group, named after the AutoML job.
    logs: { group: TRAINING_LOG_GROUP, streamPrefix: d.AutoMLJobName ?? '' },
  };
  return baseOutcome('automl', d.AutoMLJobStatus, d.AutoMLJobSecondaryStatus, d.FailureReason, result);
}

/** Outcome of a DescribeTransformJob: where the predictions went. */
export function transformOutcome(d: DescribeTransformJobCommandOutput): DescribedOutcome {
  const name = d.TransformJobName ?? '';
  const result: Record<string, unknown> = {
    kind: 'transform',
    jobName: name,
    ...(d.TransformJobArn && { arn: d.TransformJobArn }),
    ...(d.ModelName && { modelName: d.ModelName }),
    ...(d.TransformOutput?.S3OutputPath && { outputPath: d.TransformOutput.S3OutputPath }),
    ...(iso(d.TransformStartTime) && { startedAt: iso(d.TransformStartTime) }),
    ...(iso(d.TransformEndTime) && { endedAt: iso(d.TransformEndTime) }),
    ...(d.FailureReason && { failureReason: d.FailureReason }),
    logs: { group: TRANSFORM_LOG_GROUP, streamPrefix: `${name}/` },
  };
  return baseOutcome('transform', d.TransformJobStatus, undefined, d.FailureReason, result);
}

/** Every endpoint status SageMaker documents (DescribeEndpoint `EndpointStatus`). */
export const ENDPOINT_STATUSES = [
  'OutOfService',
  'Creating',
  'Updating',
  'SystemUpdating',
  'RollingBack',
  'InService',
  'Deleting',
  'Failed',
  'UpdateRollbackFailed',
] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

export function isEndpointStatus(value: unknown): value is EndpointStatus {
  return typeof value === 'string' && (ENDPOINT_STATUSES as readonly string[]).includes(value);
}

/**
 * What an endpoint's status says about an operation that creates or changes it (create, deploy,
 * undeploy by update). `InService` is only a success when the endpoint runs the operation's own
 * configuration: the caller checks that. A failed update rolls back to `InService` on the old
 * configuration with a `FailureReason`, which the caller reports as failed. `Deleting` means
 * someone is removing the endpoint under the operation: it cannot succeed. `OutOfService` heals
 * (SageMaker replaces instances) or runs into the job's time limit.
 */
export function mapEndpointStatus(status: EndpointStatus): 'running' | 'in-service' | 'failed' {
  switch (status) {
    case 'Creating':
    case 'Updating':
    case 'SystemUpdating':
    case 'RollingBack':
    case 'OutOfService':
      return 'running';
    case 'InService':
      return 'in-service';
    case 'Deleting':
    case 'Failed':
    case 'UpdateRollbackFailed':
      return 'failed';
    default: {
      const never: never = status;
      throw new Error(`unmapped endpoint status ${String(never)}`);
    }
  }
}

/** Model package statuses (DescribeModelPackage `ModelPackageStatus`) mapped onto a registration. */
export function mapModelPackageStatus(status: string | undefined): 'running' | 'completed' | 'failed' {
  switch (status) {
    case 'Completed':
      return 'completed';
    case 'Failed':
    case 'Deleting':
      return 'failed';
    default:
      // Pending, InProgress, or a status newer than this code: keep waiting.
      return 'running';
  }
}
