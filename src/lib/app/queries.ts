import { z } from 'zod';
import { WORKER_PROVIDER } from '../core/classifier.js';
import { JOB_STATUSES, parseOrThrow, type JobEvent, type JobRecord, type JobSummary } from '../core/job.js';
import { BAD_PAGE_TOKEN_MESSAGE, decodePageToken } from '../core/page-token.js';
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

/** Most jobs on one page: summaries are small; full records can each be up to MAX_BODY_BYTES. */
export const LIST_LIMITS = { summary: 1000, full: 100 } as const;

export const ListQuerySchema = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    queue: z.string().min(1).max(63).optional(),
    provider: z.string().min(1).max(64).optional(),
    view: z.enum(['summary', 'full']).default('summary'),
    limit: z.coerce.number().int().min(1).max(LIST_LIMITS.summary).default(50),
    // Checked here, before any storage call: only tokens we issued are accepted (any length: the
    // decoder refuses long ones before reading them).
    continuationToken: z
      .string()
      .refine((t) => decodePageToken(t) !== undefined, BAD_PAGE_TOKEN_MESSAGE)
      .optional(),
  })
  .refine((q) => q.view === 'summary' || q.limit <= LIST_LIMITS.full, {
    path: ['limit'],
    message: `at most ${LIST_LIMITS.full} with view=full`,
  });

export type JobListing =
  | { readonly view: 'summary'; readonly page: JobPage<JobSummary> }
  | { readonly view: 'full'; readonly page: JobPage };

/** `GET /api/jobs`: a page of summaries, or of full records with `view=full`. */
export async function listJobs(deps: Deps, query: Record<string, string | undefined>): Promise<JobListing> {
  const q = parseOrThrow(ListQuerySchema, query);
  const listQuery = {
    limit: q.limit,
    ...(q.status && { status: q.status }),
    ...(q.queue && { queue: q.queue }),
    ...(q.provider && { provider: q.provider }),
    ...(q.continuationToken && { continuationToken: q.continuationToken }),
  };
  return q.view === 'full'
    ? { view: 'full', page: await deps.store.list(listQuery) }
    : { view: 'summary', page: await deps.store.listSummaries(listQuery) };
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
export async function queueStatus(
  deps: Deps,
  query: Record<string, string | undefined> = {},
): Promise<Record<string, QueueDepth | number>> {
  const { detail } = parseOrThrow(StatusQuerySchema, query);
  const names = Object.values(deps.config.queues);
  const depths = await Promise.all(names.map((q) => deps.queues.depth(q)));
  return Object.fromEntries(names.map((q, i) => [q, detail === 'true' ? depths[i]! : depths[i]!.active]));
}
