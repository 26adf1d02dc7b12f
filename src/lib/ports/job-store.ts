import type { JobEvent, JobRecord, JobStatus } from '../core/job.js';
import type { TransitionResult } from '../core/state-machine.js';

/** What a mutator decides after reading the current record. */
export type JobUpdate =
  /** A change and its event; `earlier` events (e.g. a note explaining the change) commit with it, before it. */
  | (TransitionResult & { readonly earlier?: readonly JobEvent[] })
  /** Nothing to change (e.g. the job already reached the wanted state). */
  | { readonly job: JobRecord; readonly event?: undefined; readonly unchanged: true }
  /** A write that is not history: heartbeat, progress, lease renewal. */
  | { readonly job: JobRecord; readonly event?: undefined; readonly quiet: true };

export interface JobListQuery {
  readonly status?: JobStatus;
  readonly queue?: string;
  readonly provider?: string;
  readonly limit: number;
  readonly continuationToken?: string;
}

export interface JobPage {
  readonly jobs: readonly JobRecord[];
  readonly continuationToken?: string;
}

export interface IdempotencyClaim {
  /** True when this call created the key; false when the key already existed. */
  readonly created: boolean;
  readonly jobId: string;
  readonly requestHash: string;
}

/**
 * Job state. Every write after creation is conditional on what was read: `update` re-reads and
 * re-applies the mutator when another writer got there first, so no update is ever lost.
 */
export interface JobStore {
  /** Creates the job and its first event. Fails if the id exists. */
  create(job: JobRecord, firstEvent: JobEvent): Promise<void>;
  /** Point read; `undefined` when no such job (including ids that are not well-formed). */
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Read-modify-write with optimistic concurrency. The mutator is pure and may run more than once;
   * it may throw (e.g. an illegal transition), which aborts the update.
   */
  update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord>;
  /** The job's history in order. */
  events(id: string): Promise<JobEvent[]>;
  /** Lists newest first, using an index for status/queue/provider rather than a table scan. */
  list(query: JobListQuery): Promise<JobPage>;
  /** Jobs a provider currently owns (dispatched, running, cancelling) — what its poller reads. */
  listActive(provider: string, limit?: number): Promise<JobRecord[]>;
  /** Jobs in one status, newest first, through the status index — the reconciler's input. */
  listByStatus(status: JobStatus, limit?: number): Promise<JobRecord[]>;
  /** Remembers an Idempotency-Key → job id, or returns what it was bound to before. */
  claimIdempotencyKey(key: string, jobId: string, requestHash: string): Promise<IdempotencyClaim>;
  /** Creates tables if needed. */
  ensure(): Promise<void>;
}
