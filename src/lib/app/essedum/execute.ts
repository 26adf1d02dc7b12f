import { classifyJob, WORKER_PROVIDER, type ClassifierConfig } from '../../core/classifier.js';
import { isTerminal, SPEC_DEFAULTS, type JobRecord, type JobSpec, type JobStatus } from '../../core/job.js';
import type { Deps } from '../../deps.js';
import { FeatureDisabledError, NotFoundError, ValidationError } from '../../errors.js';
import { parseEssedumSettings } from '../../essedum-settings.js';
import { cancelJob } from '../cancel-job.js';
import { jobLogs, logBlobNames } from '../queries.js';
import { submitJob } from '../submit-job.js';
import { elapsedSeconds, formatEssedumDate } from './dates.js';
import { checkStorageEndpoint } from './endpoint-guard.js';
import { ESSEDUM_EXECUTE_KIND, parseExecuteBody, SECRET_KEYS } from './execute-spec.js';

/** The executors' task states. The Essedum backend compares them case-sensitively. */
export type TaskStatus = 'WAITING' | 'RUNNING' | 'COMPLETED' | 'ERROR' | 'CANCELLED';

/**
 * Our job state → the executors' task state. `cancelling` stays RUNNING: the command may still be
 * running (and billing) until the worker or provider confirms the stop, and a client that saw
 * CANCELLED would stop watching a process that is still alive. The confirmation turns it CANCELLED.
 */
export function taskStatus(status: JobStatus): TaskStatus {
  switch (status) {
    case 'submitted':
    case 'queued':
      return 'WAITING';
    case 'dispatched':
    case 'running':
    case 'cancelling':
      return 'RUNNING';
    case 'succeeded':
      return 'COMPLETED';
    case 'failed':
      return 'ERROR';
    case 'cancelled':
      return 'CANCELLED';
    default: {
      const unreachable: never = status;
      throw new Error(`unmapped job status ${String(unreachable)}`);
    }
  }
}

/** Where an /execute command may run: never inside the Function App. */
const COMMAND_PROVIDERS = new Set([WORKER_PROVIDER, 'local', 'azure-batch']);

/** An /execute id we do not know (or that belongs to another API). */
export class EssedumTaskNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('Task', id);
  }
}

/**
 * Refuses to run commands unless the deployment enabled it and callers must authenticate: in
 * Azure the function key guards every route; the local runner only checks keys when LOCAL_API_KEY
 * is set, so without one it must not execute anything.
 */
export function assertExecuteAllowed(deps: Deps): void {
  const settings = parseEssedumSettings(deps.config.env);
  if (!settings.executeEnabled) {
    throw new FeatureDisabledError(
      'Running commands through /execute is disabled; set ESSEDUM_EXECUTE_ENABLED=true to enable it.',
    );
  }
  const inAzure = Boolean(deps.config.env.WEBSITE_SITE_NAME?.trim());
  if (!inAzure && !deps.config.local.apiKey) {
    throw new FeatureDisabledError(
      'ESSEDUM_EXECUTE_ENABLED is set but LOCAL_API_KEY is not: the local runner executes commands only for callers that present a key.',
    );
  }
}

/**
 * What a command's input artifacts need from the place it runs: nothing, the caller's storage
 * credentials (dispatch secrets), or our Blob Storage (`storage: "local"`).
 */
export type ArtifactNeeds = 'none' | 'credentials' | 'blob-store';

const RUNS_WITH: Record<ArtifactNeeds, ReadonlySet<string>> = {
  none: COMMAND_PROVIDERS,
  // Azure Batch tasks never receive dispatch secrets.
  credentials: new Set([WORKER_PROVIDER, 'local']),
  // Only the queue workers hold a Blob Storage client; one-shot runs (local, Batch) have none.
  'blob-store': new Set([WORKER_PROVIDER]),
};

/**
 * Where an /execute command may run, as a `target` (undefined: where the classifier puts it).
 * Pure. Commands run on the workers, the local provider or Azure Batch — never on an ML provider —
 * and only where their artifacts can be fetched ({@link ArtifactNeeds}). When the classifier's
 * choice does not fit, the batch provider is used if it fits, else the spark workers. An explicit
 * `configs.target` that does not fit is a 400, not a silent re-route.
 */
export function commandTarget(spec: JobSpec, config: ClassifierConfig, needs: ArtifactNeeds): string | undefined {
  const decision = classifyJob(spec, config);
  if (!decision) throw new ValidationError([{ field: 'configs.target', message: `unknown target '${spec.target}'` }]);
  const fits = (provider: string) => RUNS_WITH[needs].has(provider);
  if (fits(decision.provider)) return spec.target;
  if (spec.target !== undefined) {
    const why = COMMAND_PROVIDERS.has(decision.provider)
      ? `${decision.provider}, which cannot fetch these input_artifacts (${needs === 'credentials' ? 'it never receives storage credentials' : 'it has no Blob Storage access'})`
      : `${decision.provider}, which cannot run shell commands`;
    throw new ValidationError([
      {
        field: 'configs.target',
        message: `'${spec.target}' runs on ${why}; use ${needs === 'blob-store' ? 'a worker queue' : 'a worker queue or local'}`,
      },
    ]);
  }
  return fits(config.batchProvider) ? config.queues.batch : config.queues.spark;
}

export interface ExecuteAccepted {
  readonly task_id: string;
  readonly task_status: 'Submitted';
  readonly log_path: string;
}

/** `log_path` of a task: the blob (container/name) its output is written to. */
export function logPathOf(deps: Deps, jobId: string): string {
  return `${deps.config.containers.results}/${logBlobNames(jobId).stdout}`;
}

/**
 * `POST /execute`: records the command as a job (credentials only as dispatch secrets), classifies
 * and routes it like any job from the `configs` hints, keeping it on workers, the local provider or
 * Azure Batch.
 */
export async function submitExecute(deps: Deps, body: unknown): Promise<ExecuteAccepted> {
  assertExecuteAllowed(deps);
  const settings = parseEssedumSettings(deps.config.env);
  const parsed = parseExecuteBody(body, settings.artifactsContainer);
  // SSRF guard at submission: an endpoint outside the allow-list, or one resolving to an address it
  // does not admit, is a 400 now (the worker checks again, and connects only to what it checked).
  const endpoint = parsed.secrets[SECRET_KEYS.endpoint];
  if (parsed.spec.storage !== 'local' && parsed.spec.input_artifacts.length > 0 && endpoint) {
    await checkStorageEndpoint(endpoint, settings.storageEndpointAllowlist);
  }
  const r = parsed.routing;
  let spec: JobSpec = {
    rows: r.rows ?? SPEC_DEFAULTS.rows,
    estimated_runtime_sec: r.estimated_runtime_sec ?? SPEC_DEFAULTS.estimated_runtime_sec,
    priority: r.priority ?? SPEC_DEFAULTS.priority,
    latency_sensitive: r.latency_sensitive ?? SPEC_DEFAULTS.latency_sensitive,
    data: {},
    labels: {},
    max_runtime_sec: r.max_runtime_sec ?? settings.commandTimeoutSec,
    kind: ESSEDUM_EXECUTE_KIND,
    spec: { ...parsed.spec },
    ...(r.target !== undefined && { target: r.target }),
  };
  const needs: ArtifactNeeds =
    parsed.spec.input_artifacts.length === 0 ? 'none' : parsed.spec.storage === 'local' ? 'blob-store' : 'credentials';
  const target = commandTarget(spec, deps.config.classifier, needs);
  if (target !== spec.target) spec = { ...spec, target };
  const secrets = Object.keys(parsed.secrets).length > 0 ? parsed.secrets : undefined;
  const { job } = await submitJob(deps, {
    body: undefined,
    mode: 'lenient',
    source: 'essedum-execute',
    spec,
    ...(secrets && { secrets }),
  });
  return { task_id: job.id, task_status: 'Submitted', log_path: logPathOf(deps, job.id) };
}

async function executeJob(deps: Deps, id: string): Promise<JobRecord> {
  const job = await deps.store.get(id);
  if (job?.source !== 'essedum-execute') throw new EssedumTaskNotFoundError(id);
  return job;
}

export interface TaskStatusReply {
  readonly task_id: string;
  readonly pid: number | null;
  readonly task_status: TaskStatus;
  readonly log_path: string;
  readonly submitted: string;
  readonly started: string | null;
  readonly finished: string | null;
  /** Elapsed seconds from start to finish; present whenever the task has finished. */
  readonly timestamp: number | null;
}

/** The getStatus reply of a job. Pure. */
export function statusReply(job: JobRecord, logPath: string): TaskStatusReply {
  const status = taskStatus(job.status);
  const done = isTerminal(job.status);
  // A job that ended before it ever ran (cancelled while queued, rejected at dispatch) still gets a
  // start time when finished: the backend parses `started` on COMPLETED/ERROR and throws on null.
  const startedAt = job.startedAt ?? (done ? (job.dispatchedAt ?? job.createdAt) : undefined);
  const finishedAt = done ? (job.finishedAt ?? job.updatedAt) : undefined;
  const pid = job.providerRef?.pid;
  return {
    task_id: job.id,
    pid: typeof pid === 'number' ? pid : null,
    task_status: status,
    log_path: logPath,
    submitted: formatEssedumDate(job.createdAt),
    started: startedAt ? formatEssedumDate(startedAt) : null,
    finished: finishedAt ? formatEssedumDate(finishedAt) : null,
    timestamp: startedAt && finishedAt ? elapsedSeconds(startedAt, finishedAt) : null,
  };
}

export async function executeStatus(deps: Deps, id: string): Promise<TaskStatusReply> {
  return statusReply(await executeJob(deps, id), logPathOf(deps, id));
}

/** Most log bytes one getLog returns (the tail). */
const LOG_TAIL_BYTES = 1024 * 1024;

export async function executeLog(deps: Deps, id: string): Promise<{ logs: { content: string } }> {
  await executeJob(deps, id);
  const logs = await jobLogs(deps, id, LOG_TAIL_BYTES);
  return {
    logs: {
      content: logs.stderr
        ? `${logs.stdout}${logs.stdout && !logs.stdout.endsWith('\n') ? '\n' : ''}${logs.stderr}`
        : logs.stdout,
    },
  };
}

/**
 * `GET /execute/{id}/stop`: `true` when this call (or an earlier one still being carried out)
 * stops the task; `false` when there was nothing left to stop (it had already finished), as the
 * executors answered for a task that was neither waiting nor running.
 */
export async function executeStop(deps: Deps, id: string): Promise<{ 'Task cancelled': boolean }> {
  const job = await executeJob(deps, id);
  if (isTerminal(job.status)) return { 'Task cancelled': false };
  const after = await cancelJob(deps, id, 'stop requested via Essedum /execute/{id}/stop').catch(
    async (error: unknown) => {
      // Finished between our read and the cancel: report what it finished as.
      const current = await deps.store.get(id);
      if (current && isTerminal(current.status)) return current;
      throw error;
    },
  );
  return {
    'Task cancelled': (after.status === 'cancelling' || after.status === 'cancelled') && !isTerminal(job.status),
  };
}

export interface TaskListItem {
  readonly id: string;
  readonly pid: number | null;
  readonly status: TaskStatus;
  readonly submitted: string;
}

/**
 * `GET /execute`: the last 100 /execute tasks, newest first — read from the tasks' own index, so
 * it costs at most `max` record reads however many other jobs there are; nothing is read while
 * /execute is disabled (403, as the other /execute routes).
 */
export async function executeList(deps: Deps, max = 100): Promise<TaskListItem[]> {
  assertExecuteAllowed(deps);
  const { jobs } = await deps.store.list({ source: 'essedum-execute', limit: max });
  return jobs.map((job) => {
    const pid = job.providerRef?.pid;
    return {
      id: job.id,
      pid: typeof pid === 'number' ? pid : null,
      status: taskStatus(job.status),
      submitted: formatEssedumDate(job.createdAt),
    };
  });
}
