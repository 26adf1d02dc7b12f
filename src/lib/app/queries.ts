import { z } from 'zod';
import { WORKER_PROVIDER } from '../core/classifier.js';
import { JOB_STATUSES, parseOrThrow, type JobEvent, type JobRecord } from '../core/job.js';
import type { Deps } from '../deps.js';
import { NotFoundError, OrchestratorError } from '../errors.js';
import type { JobLogs } from '../ports/provider.js';
import type { QueueDepth } from '../ports/queue.js';
import type { JobPage } from '../ports/job-store.js';
import { resultBlobName } from './results.js';

export async function getJob(deps: Deps, id: string): Promise<JobRecord> {
  const job = await deps.store.get(id);
  if (!job) throw new NotFoundError('Job', id);
  return job;
}

export const ListQuerySchema = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  queue: z.string().min(1).max(63).optional(),
  provider: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  continuationToken: z.string().min(1).max(2048).optional(),
});

export async function listJobs(deps: Deps, query: Record<string, string | undefined>): Promise<JobPage> {
  const q = parseOrThrow(ListQuerySchema, query);
  return deps.store.list({
    limit: q.limit,
    ...(q.status && { status: q.status }),
    ...(q.queue && { queue: q.queue }),
    ...(q.provider && { provider: q.provider }),
    ...(q.continuationToken && { continuationToken: q.continuationToken }),
  });
}

export async function jobEvents(deps: Deps, id: string): Promise<JobEvent[]> {
  await getJob(deps, id);
  return deps.store.events(id);
}

/** The job has no result yet (it has not finished, or finished without one). */
export class ResultNotReadyError extends OrchestratorError {
  constructor(readonly job: JobRecord) {
    super('ILLEGAL_TRANSITION', `Job '${job.id}' is ${job.status}; its result is available once it has finished.`);
  }
}

export async function jobResult(deps: Deps, id: string): Promise<Record<string, unknown>> {
  const job = await getJob(deps, id);
  if (job.status !== 'succeeded' && job.status !== 'failed') throw new ResultNotReadyError(job);
  const blob = await deps.blobs.get(deps.config.containers.results, resultBlobName(id));
  if (blob) return JSON.parse(blob.toString('utf8')) as Record<string, unknown>;
  return { jobId: id, status: job.status, result: job.result?.summary ?? {}, ...(job.error && { error: job.error }) };
}

/** Blob names of the logs a worker or the local provider leaves beside the result. */
export const logBlobNames = (jobId: string) => ({ stdout: `${jobId}/stdout.txt`, stderr: `${jobId}/stderr.txt` });

export const LogsQuerySchema = z.object({ tail: z.coerce.number().int().min(1).max(1_048_576).default(65_536) });

/** Reads `?tail=` (bytes from the end, default 64 KiB, at most 1 MiB). */
export function parseLogsQuery(query: Record<string, string | undefined>): number {
  return parseOrThrow(LogsQuerySchema, query).tail;
}

export async function jobLogs(deps: Deps, id: string, tailBytes: number): Promise<JobLogs> {
  const job = await getJob(deps, id);
  if (job.provider && job.provider !== WORKER_PROVIDER) {
    const provider = await deps.providers.get(job.provider);
    const logs = await provider.logs?.(job, tailBytes);
    if (logs) return logs;
  }
  const names = logBlobNames(id);
  const [out, err] = await Promise.all([
    deps.blobs.get(deps.config.containers.results, names.stdout),
    deps.blobs.get(deps.config.containers.results, names.stderr),
  ]);
  const tail = (b: Buffer | undefined) => (b ? b.subarray(Math.max(0, b.length - tailBytes)).toString('utf8') : '');
  return { stdout: tail(out), stderr: tail(err), source: out || err ? 'results container' : 'none yet' };
}

export const StatusQuerySchema = z.object({ detail: z.enum(['true', 'false']).optional() });

/** Depth of every queue: the seed's flat `{queue: waiting}` map, or full detail with `detail=true`. */
export async function queueStatus(deps: Deps, query: Record<string, string | undefined> = {}): Promise<Record<string, QueueDepth | number>> {
  const { detail } = parseOrThrow(StatusQuerySchema, query);
  const names = Object.values(deps.config.queues);
  const depths = await Promise.all(names.map((q) => deps.queues.depth(q)));
  return Object.fromEntries(names.map((q, i) => [q, detail === 'true' ? depths[i]! : depths[i]!.active]));
}

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  readonly checks: Record<string, { ok: boolean; detail?: string }>;
}

export async function health(deps: Deps): Promise<HealthReport> {
  const check = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message.split('\n')[0]! : 'unreachable' };
    }
  };
  const [table, queue, blob] = await Promise.all([
    check(() => deps.store.get('j-00000000000000000000000000')),
    check(() => deps.queues.depth(deps.config.queues.intake)),
    check(() => deps.blobs.get(deps.config.containers.results, '.health')),
  ]);
  const checks = { tables: table, queues: queue, blobs: blob, providers: { ok: true, detail: deps.providers.configured().join(', ') } };
  return { status: Object.values(checks).every((c) => c.ok) ? 'healthy' : 'degraded', checks };
}
