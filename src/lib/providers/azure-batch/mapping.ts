/**
 * Pure mapping between orchestrator jobs and Azure Batch entities: ids, pool/task parameters,
 * status mapping and error classification. No I/O here, so every rule is unit-testable.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { BatchServiceModels } from '@azure/batch';
import type { JobError, JobRecord, ProviderRef } from '../../core/job.js';
import { parseOrThrow, runKey } from '../../core/job.js';
import { environmentName } from '../../core/environment-names.js';
import { oneShotSpecDocument } from '../../core/one-shot-spec.js';
import {
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../errors.js';
import type { CapacityFailure, ObservedStatus, PollReport } from '../../ports/provider.js';
import { parseRetryAfter } from '../../retry.js';
import type { AzureBatchSettings } from './settings.js';

export const PROVIDER_NAME = 'azure-batch';

/** Name of the staged job spec in the task working directory. */
export const SPEC_FILE = 'job-spec.json';

/** The spec document the worker's one-shot mode reads (`OneShotSpecSchema` in src/worker/one-shot.ts). */
export function specDocument(job: JobRecord): string {
  return oneShotSpecDocument(job);
}
/**
 * Files Batch uploads on task completion: the worker's result.json and status.json (its own error
 * code and message when it fails) and the task's stdout/stderr.
 */
export const OUTPUT_FILES = ['result.json', 'status.json', 'stdout.txt', 'stderr.txt'] as const;
export type OutputFileName = (typeof OUTPUT_FILES)[number];

const BATCH_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Task id of an orchestrator job. Deterministic, so a redelivered dispatch hits TaskExists and
 * re-attaches. Ids that Batch would refuse (other characters, > 64) become a stable hash.
 */
export function taskIdFor(jobId: string): string {
  if (BATCH_ID.test(jobId)) return jobId;
  return `t-${createHash('sha256').update(jobId).digest('hex').slice(0, 40)}`;
}

/** The one long-lived Batch job per pool that holds one task per orchestrator job. */
export function batchJobIdFor(poolId: string): string {
  return `cjo-${poolId}`;
}

/** Pool of a VM size: the configured pool for the default size, `<pool>-<size>` for an allowed override. */
export function poolIdFor(settings: Pick<AzureBatchSettings, 'poolId' | 'vmSize'>, vmSize: string): string {
  if (vmSize.toLowerCase() === settings.vmSize.toLowerCase()) return settings.poolId;
  return `${settings.poolId}-${vmSize.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`.slice(0, 64);
}

/** ISO 8601 duration of whole seconds, as Batch constraints expect (`PT3600S`). */
export function isoSeconds(sec: number): string {
  return `PT${Math.max(1, Math.ceil(sec))}S`;
}

/**
 * Per-job Batch options a job may carry in `spec.spec`. Other keys in `spec.spec` are left for the
 * worker (it receives the whole spec), so only these are checked here.
 */
export const BatchJobOptionsSchema = z.object({
  vmSize: z.string().min(1).max(64).optional(),
  maxTaskRetryCount: z.number().int().min(0).max(100).optional(),
  requiredSlots: z.number().int().min(1).max(256).optional(),
  environment: z
    .record(environmentName, z.string().max(4096))
    .refine((e) => Object.keys(e).length <= 32, 'at most 32 environment variables')
    .optional(),
});
export type BatchJobOptions = z.infer<typeof BatchJobOptionsSchema>;

/** Resolved per-job choices, after checking the options against the settings' limits. */
export interface ResolvedJobOptions {
  readonly vmSize: string;
  readonly poolId: string;
  readonly batchJobId: string;
  readonly taskId: string;
  readonly maxTaskRetryCount: number;
  readonly requiredSlots: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly maxRuntimeSec: number;
}

/**
 * Validates `spec.spec` against the provider limits (allowed VM sizes, retry cap, slots per node).
 * Throws {@link ValidationError} with `spec.<field>` paths.
 */
export function resolveJobOptions(
  job: JobRecord,
  settings: AzureBatchSettings,
  defaultMaxRuntimeSec: number,
): ResolvedJobOptions {
  const options = parseOrThrow(BatchJobOptionsSchema, job.spec.spec ?? {}, 'spec');
  const vmSize = options.vmSize ?? settings.vmSize;
  const issues = [];
  if (!settings.allowedVmSizes.includes(vmSize.toLowerCase())) {
    issues.push({
      field: 'spec.vmSize',
      message: `VM size '${vmSize}' is not allowed; allowed: ${settings.allowedVmSizes.join(', ')}`,
    });
  }
  if (options.maxTaskRetryCount !== undefined && options.maxTaskRetryCount > settings.maxTaskRetries) {
    issues.push({ field: 'spec.maxTaskRetryCount', message: `at most ${settings.maxTaskRetries} retries are allowed` });
  }
  if (options.requiredSlots !== undefined && options.requiredSlots > settings.taskSlotsPerNode) {
    issues.push({ field: 'spec.requiredSlots', message: `a node has ${settings.taskSlotsPerNode} task slots` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const poolId = poolIdFor(settings, vmSize);
  return {
    vmSize,
    poolId,
    batchJobId: batchJobIdFor(poolId),
    taskId: taskIdFor(runKey(job)),
    maxTaskRetryCount: options.maxTaskRetryCount ?? settings.maxTaskRetries,
    requiredSlots: options.requiredSlots ?? 1,
    environment: options.environment ?? {},
    maxRuntimeSec: job.spec.max_runtime_sec ?? defaultMaxRuntimeSec,
  };
}

/**
 * Autoscale formula that follows the pending work ($PendingTasks = active + running tasks) and
 * drops to zero nodes when there is none. Uses the last sample, or the 5-minute average when enough
 * samples exist (a late sample must not drain a busy pool). `$NodeDeallocationOption = taskcompletion`
 * lets running tasks finish before a node is removed. Division may give a fraction; adding
 * `slots - 1` first makes a truncated target still cover every pending task.
 */
export function autoscaleFormula(slotsPerNode: number, maxNodes: number): string {
  return [
    '$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);',
    '$pending = $samples < 70 ? max(0, $PendingTasks.GetSample(1)) : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));',
    `$TargetDedicatedNodes = $pending > 0 ? min(${maxNodes}, ($pending + ${slotsPerNode - 1}) / ${slotsPerNode}) : 0;`,
    '$NodeDeallocationOption = taskcompletion;',
  ].join('\n');
}

/** Container registry entry for pool and task, when the worker image is private. */
export function registryOf(settings: AzureBatchSettings): BatchServiceModels.ContainerRegistry | undefined {
  const r = settings.registry;
  if (!r) return undefined;
  if (r.identityResourceId)
    return { registryServer: r.server, identityReference: { resourceId: r.identityResourceId } };
  if (r.userName && r.password) return { registryServer: r.server, userName: r.userName, password: r.password };
  return { registryServer: r.server };
}

/** Pool definition: VirtualMachineConfiguration (never the retired CloudServiceConfiguration) with containers. */
export function buildPoolAddParameter(
  settings: AzureBatchSettings,
  poolId: string,
  vmSize: string,
): BatchServiceModels.PoolAddParameter {
  const registry = registryOf(settings);
  return {
    id: poolId,
    displayName: `Cloud Job Orchestrator (${vmSize})`,
    vmSize,
    virtualMachineConfiguration: {
      imageReference: { ...settings.image },
      nodeAgentSKUId: settings.nodeAgentSku,
      containerConfiguration: {
        // `type: dockerCompatible` is a constant the SDK adds to the body.
        containerImageNames: [settings.workerImage],
        ...(registry ? { containerRegistries: [registry] } : {}),
      },
    },
    taskSlotsPerNode: settings.taskSlotsPerNode,
    taskSchedulingPolicy: { nodeFillType: 'pack' },
    ...(settings.autoscale
      ? {
          enableAutoScale: true,
          autoScaleFormula: settings.autoscaleFormula ?? autoscaleFormula(settings.taskSlotsPerNode, settings.maxNodes),
          autoScaleEvaluationInterval: settings.autoscaleInterval,
        }
      : { enableAutoScale: false, targetDedicatedNodes: settings.nodeCount }),
    metadata: [{ name: 'managed-by', value: 'cloud-job-orchestrator' }],
  };
}

/** Blob names of one job's staged input and uploaded outputs. */
export function blobNamesFor(
  jobId: string,
  outputPrefix: string,
): { spec: string; outputs: Record<OutputFileName, string> } {
  return {
    spec: `${jobId}/${SPEC_FILE}`,
    outputs: {
      'result.json': `${outputPrefix}/${jobId}/result.json`,
      'status.json': `${outputPrefix}/${jobId}/status.json`,
      'stdout.txt': `${outputPrefix}/${jobId}/stdout.txt`,
      'stderr.txt': `${outputPrefix}/${jobId}/stderr.txt`,
    },
  };
}

export interface TaskInputs {
  readonly jobId: string;
  readonly options: ResolvedJobOptions;
  /** Read-only SAS URL of the staged job spec. */
  readonly specUrl: string;
  /** Per output file: the results container URL with a create/write-only SAS for that one blob. */
  readonly outputContainerUrls: Record<OutputFileName, string>;
  readonly outputBlobs: Record<OutputFileName, string>;
  /** Extra environment of the worker (e.g. SIMULATION_TIME_SCALE). */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The task of one orchestrator job: the worker's one-shot mode in the container, the spec as a
 * resource file, and Batch uploading result.json/stdout/stderr on completion. The container runs
 * in the task working directory (`wd/`), where the resource file lands and result.json is written;
 * stdout.txt/stderr.txt live one level up, in the task directory, hence `../`.
 */
export function buildTaskAddParameter(
  settings: AzureBatchSettings,
  input: TaskInputs,
): BatchServiceModels.TaskAddParameter {
  const registry = registryOf(settings);
  const upload = (filePattern: string, name: OutputFileName): BatchServiceModels.OutputFile => ({
    filePattern,
    destination: { container: { containerUrl: input.outputContainerUrls[name], path: input.outputBlobs[name] } },
    uploadOptions: { uploadCondition: 'taskcompletion' },
  });
  return {
    id: input.options.taskId,
    displayName: input.jobId,
    commandLine: `node ${settings.workerEntry} --once --spec ${SPEC_FILE} --out .`,
    containerSettings: {
      imageName: settings.workerImage,
      workingDirectory: 'taskWorkingDirectory',
      containerRunOptions: '--rm',
      ...(registry ? { registry } : {}),
    },
    resourceFiles: [{ httpUrl: input.specUrl, filePath: SPEC_FILE }],
    outputFiles: [
      upload('result.json', 'result.json'),
      upload('status.json', 'status.json'),
      upload('../stdout.txt', 'stdout.txt'),
      upload('../stderr.txt', 'stderr.txt'),
    ],
    // The job's own variables first, ours last: the allow-list already keeps a job from naming
    // ours, and the order keeps ours in force should one ever slip through.
    environmentSettings: [
      ...Object.entries(input.options.environment).map(([name, value]) => ({ name, value })),
      ...Object.entries(input.environment ?? {}).map(([name, value]) => ({ name, value })),
      { name: 'CJO_JOB_ID', value: input.jobId },
    ],
    constraints: {
      maxWallClockTime: isoSeconds(input.options.maxRuntimeSec),
      retentionTime: isoSeconds(settings.retentionSec),
      maxTaskRetryCount: input.options.maxTaskRetryCount,
    },
    requiredSlots: input.options.requiredSlots,
  };
}

/** Properties the poller asks for: enough to map state, never the command line or files. */
export const POLL_SELECT = 'id,state,stateTransitionTime,executionInfo';

/** Provider handle stored on the job. Counters let a later poll notice retries and requeues. */
export function refFor(
  options: Pick<ResolvedJobOptions, 'poolId' | 'batchJobId' | 'taskId'>,
  task?: TaskSnapshot,
): ProviderRef {
  return {
    poolId: options.poolId,
    batchJobId: options.batchJobId,
    taskId: options.taskId,
    retryCount: task?.executionInfo?.retryCount ?? 0,
    requeueCount: task?.executionInfo?.requeueCount ?? 0,
  };
}

/** What the poller reads of a task (`$select`-trimmed). */
export type TaskSnapshot = Pick<BatchServiceModels.CloudTask, 'id' | 'state' | 'stateTransitionTime' | 'executionInfo'>;

/** True when someone asked the orchestrator to cancel this job. */
export function cancelRequested(job: JobRecord): boolean {
  return job.status === 'cancelling' || job.cancelRequestedAt !== undefined;
}

/** Batch's error categories arrive as `usererror`, `UserError` or `userError`; normalise them. */
export function normaliseCategory(category: string | undefined): 'usererror' | 'servererror' | undefined {
  const c = category?.toLowerCase();
  return c === 'usererror' || c === 'servererror' ? c : undefined;
}

function failureDetail(info: BatchServiceModels.TaskFailureInformation | undefined): string {
  return (info?.details ?? []).map((d) => `${d.name ?? ''} ${d.value ?? ''}`).join(' ');
}

/** Maps a task's native state to ours, with the error when it failed. */
export function observeTask(task: TaskSnapshot, job: JobRecord): { status: ObservedStatus; error?: JobError } {
  const state = task.state;
  if (state === undefined) return { status: 'missing' };
  switch (state) {
    case 'active':
    case 'preparing':
      return { status: 'dispatched' };
    case 'running':
      return { status: 'running' };
    case 'completed':
      return observeCompleted(task, job);
    default: {
      const unknown: never = state;
      throw new ProviderUnavailableError(PROVIDER_NAME, `unknown task state '${String(unknown)}'`);
    }
  }
}

function observeCompleted(task: TaskSnapshot, job: JobRecord): { status: ObservedStatus; error?: JobError } {
  const info = task.executionInfo;
  const failure = info?.failureInfo;
  const exitCode = info?.exitCode;
  const category = normaliseCategory(failure?.category as string | undefined);
  // TaskEnded is what a terminate leaves behind — ours (cancel) or someone else's. Batch also ends a
  // task that exceeded maxWallClockTime; its details say so, and that is a failure, not a cancel.
  if (failure?.code === 'TaskEnded') {
    const detail = `${failure.message ?? ''} ${failureDetail(failure)}`;
    if (!cancelRequested(job) && /maximum|wall ?clock|execution time/i.test(detail)) {
      return {
        status: 'failed',
        error: {
          code: 'MaxWallClockTimeExceeded',
          message: `The task ran longer than its maximum wall clock time. ${detail.trim()}`.trim(),
          ...(category ? { category } : {}),
        },
      };
    }
    return { status: 'cancelled' };
  }
  const succeeded =
    info?.result === 'success' || (info?.result === undefined && failure === undefined && exitCode === 0);
  if (succeeded && failure === undefined) return { status: 'succeeded' };
  const code = failure?.code ?? (exitCode !== undefined ? 'NonZeroExitCode' : 'TaskFailed');
  const parts = [
    failure?.message,
    exitCode !== undefined ? `exit code ${exitCode}` : undefined,
    failureDetail(failure) || undefined,
  ].filter(Boolean);
  return {
    status: 'failed',
    error: { code, message: parts.join('; ') || 'The task failed.', ...(category ? { category } : {}) },
  };
}

/**
 * One poll report for a task, or `undefined` when nothing changed. Retries and requeues (node
 * preemption) become notes; a running job whose task went back to `active` stays `running` in our
 * vocabulary (there is no legal running → dispatched move) and the note says why.
 */
export function reportFor(task: TaskSnapshot, job: JobRecord): Omit<PollReport, 'result'> | undefined {
  const observed = observeTask(task, job);
  const ref = job.providerRef ?? {};
  const knownRetries = typeof ref.retryCount === 'number' ? ref.retryCount : 0;
  const knownRequeues = typeof ref.requeueCount === 'number' ? ref.requeueCount : 0;
  const retries = task.executionInfo?.retryCount ?? knownRetries;
  const requeues = task.executionInfo?.requeueCount ?? knownRequeues;
  const notes: string[] = [];
  if (requeues > knownRequeues) {
    notes.push(
      `Batch requeued the task ${requeues - knownRequeues} time(s) (node preempted or lost); requeue count ${requeues}.`,
    );
  }
  if (retries > knownRetries) notes.push(`Batch retried the task after a failed attempt; retry count ${retries}.`);

  let status = observed.status;
  // A job asked to stop whose task still runs is reported as running, so the poll use case sends
  // the stop again (the first terminate may have been lost).
  const stillRunningAfterCancel = cancelRequested(job) && (status === 'dispatched' || status === 'running');
  if (!stillRunningAfterCancel && status === 'dispatched' && job.status === 'running') status = 'running';
  if (!stillRunningAfterCancel && status === job.status && notes.length === 0) return undefined;
  return {
    jobId: job.id,
    status,
    nativeStatus: task.state ?? 'unknown',
    ...(observed.error ? { error: observed.error } : {}),
    ...(notes.length > 0 ? { notes, ref: { ...ref, retryCount: retries, requeueCount: requeues } } : {}),
  };
}

/** Shape of an ms-rest-js RestError as the Batch SDK throws it. */
export interface BatchRestErrorLike {
  readonly statusCode?: number;
  readonly code?: string;
  /** Batch puts `{lang, value}` here instead of a string. */
  readonly message?: unknown;
  readonly body?: { readonly message?: { readonly value?: string } | string; readonly code?: string };
  readonly response?: { readonly headers?: { get(name: string): string | undefined } };
}

/** The service's own message of an SDK error, whichever form it arrived in. */
export function batchErrorMessage(error: unknown): string {
  const e = error as BatchRestErrorLike | null;
  const m = e?.body?.message ?? e?.message;
  if (typeof m === 'string') return m;
  if (m && typeof m === 'object' && 'value' in m && typeof (m as { value: unknown }).value === 'string')
    return (m as { value: string }).value;
  return String(e?.code ?? 'unknown error');
}

export type ErrorClass = 'throttled' | 'unavailable' | 'rejected';

/** Decides whether an SDK error heals with time. Only 4xx that name a problem with the request are final. */
export function classifyBatchError(error: unknown): ErrorClass {
  const e = error as BatchRestErrorLike | null;
  const status = e?.statusCode;
  if (status === 429) return 'throttled';
  if (status === undefined || status === 0 || status >= 500 || status === 408) return 'unavailable';
  // 401/403: a credential or role-assignment problem of this deployment, not of the job.
  if (status === 401 || status === 403) return 'unavailable';
  return 'rejected';
}

/** Translates an SDK error into the orchestrator's typed errors. */
export function toProviderError(error: unknown, fallbackRetryMs: number): Error {
  const e = error as BatchRestErrorLike | null;
  const message = batchErrorMessage(error);
  const retryAfter = parseRetryAfter(e?.response?.headers?.get('retry-after'));
  switch (classifyBatchError(error)) {
    case 'throttled':
      return new ProviderThrottledError(PROVIDER_NAME, retryAfter ?? fallbackRetryMs, error);
    case 'unavailable':
      return new ProviderUnavailableError(
        PROVIDER_NAME,
        `${e?.statusCode ?? 'network'} ${e?.code ?? ''} ${message}`.replace(/\s+/g, ' ').trim(),
        error,
        retryAfter,
      );
    case 'rejected':
      return new ProviderRejectedError(PROVIDER_NAME, e?.code ?? String(e?.statusCode ?? 'Unknown'), message, error);
  }
}

/**
 * Pool resize error codes (Batch's PoolResizeErrorCodes) that mean the pool cannot get nodes for
 * quota or capacity: the account's dedicated, low-priority or spot core quota, no VMs of the size
 * (`AllocationFailed`, `OverconstrainedAllocationRequestError`), or none within the resize timeout.
 * Closed: a new code fails compilation wherever they are mapped.
 */
export const POOL_CAPACITY_CODES = [
  'AccountCoreQuotaReached',
  'AccountLowPriorityCoreQuotaReached',
  'AccountSpotCoreQuotaReached',
  'AllocationFailed',
  'AllocationTimedOut',
  'AllocationTimedout',
  'OverconstrainedAllocationRequestError',
] as const;
export type PoolCapacityCode = (typeof POOL_CAPACITY_CODES)[number];

export function isPoolCapacityCode(code: unknown): code is PoolCapacityCode {
  return typeof code === 'string' && (POOL_CAPACITY_CODES as readonly string[]).includes(code);
}

/** What the capacity checks read of a pool (`$select`-trimmed). */
export type PoolSnapshot = Pick<
  BatchServiceModels.CloudPool,
  'id' | 'allocationState' | 'resizeErrors' | 'currentDedicatedNodes' | 'currentLowPriorityNodes'
>;

/**
 * Why a pool cannot run a task now: it holds no node and its last resize failed for quota or
 * capacity. `undefined` when it has a node (a task there waits only for a free slot) or its resize
 * failed for another reason. A task on such a pool has not started and would wait for ever (or
 * start late, beside a successor elsewhere), so the task is still there to stop: `runEnded` false.
 */
export function poolCapacityFailure(pool: PoolSnapshot): CapacityFailure | undefined {
  const nodes = (pool.currentDedicatedNodes ?? 0) + (pool.currentLowPriorityNodes ?? 0);
  if (nodes > 0) return undefined;
  const error = pool.resizeErrors?.find((e) => isPoolCapacityCode(e.code));
  if (!error || !isPoolCapacityCode(error.code)) return undefined;
  const message = `pool '${pool.id ?? '?'}' has no node and its last resize failed: ${error.message ?? error.code}`;
  switch (error.code) {
    case 'AccountCoreQuotaReached':
    case 'AccountLowPriorityCoreQuotaReached':
    case 'AccountSpotCoreQuotaReached':
    case 'AllocationFailed':
    case 'AllocationTimedOut':
    case 'AllocationTimedout':
    case 'OverconstrainedAllocationRequestError':
      return { code: error.code, message, lasting: false, runEnded: false };
    default: {
      const never: never = error.code;
      throw new Error(`unmapped pool resize code ${String(never)}`);
    }
  }
}
