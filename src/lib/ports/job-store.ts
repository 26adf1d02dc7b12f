import type { JobEvent, JobRecord, JobSource, JobStatus, JobSummary } from '../core/job.js';
import type { TransitionResult } from '../core/state-machine.js';
import type { LedgerRow } from './cost-ledger.js';

/** What a mutator decides after reading the current record. */
export type JobUpdate =
  /** A change and its event; `earlier` events (e.g. a note explaining the change) commit with it, before it. */
  | (TransitionResult & { readonly earlier?: readonly JobEvent[] })
  /** Nothing to change (e.g. the job already reached the wanted state). */
  | { readonly job: JobRecord; readonly event?: undefined; readonly unchanged: true }
  /** A write that is not history: heartbeat, progress, lease renewal. */
  | { readonly job: JobRecord; readonly event?: undefined; readonly quiet: true };

/** The events an update commits, in history order: its `earlier` ones, then its own. */
export function eventsOf(update: JobUpdate): JobEvent[] {
  return [...('earlier' in update ? (update.earlier ?? []) : []), ...(update.event ? [update.event] : [])];
}

/** One filter at most is used, in this order: status, queue, provider, source. */
export interface JobListQuery {
  readonly status?: JobStatus;
  readonly queue?: string;
  readonly provider?: string;
  /** Where the job came from (the Essedum /execute list reads only its own tasks). */
  readonly source?: JobSource;
  /** Jobs on the page (at most); a page is short only when the list is exhausted. */
  readonly limit: number;
  /** A token from an earlier page (see core/page-token.ts); anything else is a ValidationError. */
  readonly continuationToken?: string;
}

export interface JobPage<T = JobRecord> {
  readonly jobs: readonly T[];
  /** Present when more jobs may follow. */
  readonly continuationToken?: string;
}

export interface IdempotencyClaim {
  /** True when this call created the key; false when the key already existed. */
  readonly created: boolean;
  readonly jobId: string;
  readonly requestHash: string;
  /**
   * `createdAt` of the job the key is bound to, so a request that finds the key but not yet the
   * job builds the very same record (same id, same time, same index position). Absent on claims
   * stored before this field existed.
   */
  readonly jobCreatedAt?: string;
}

/** What {@link JobStore.claimIdempotencyKey} binds a key to. */
export interface IdempotencyBinding {
  readonly jobId: string;
  readonly requestHash: string;
  readonly jobCreatedAt: string;
}

/**
 * Job state. Every write after creation is conditional on what was read: `update` re-reads and
 * re-applies the mutator when another writer got there first, so no update is ever lost.
 */
export interface JobStore {
  /**
   * Creates the job with its first event and any `later` events (a job created already past its
   * first state, e.g. classified at submission), all at once. Throws {@link JobExistsError} if the
   * id exists. A create that fails leaves nothing behind in any list.
   */
  create(job: JobRecord, firstEvent: JobEvent, later?: readonly JobEvent[]): Promise<void>;
  /** Point read; `undefined` when no such job (including ids that are not well-formed). */
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Read-modify-write with optimistic concurrency. The mutator is pure and may run more than once;
   * it may throw (e.g. an illegal transition), which aborts the update.
   */
  update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord>;
  /** The job's history in order. */
  events(id: string): Promise<JobEvent[]>;
  /**
   * Full records, newest first, through an index (never a table scan). Index entries whose job is
   * missing or no longer matches are skipped (and repaired) and reading goes on, so a page is short
   * only at the end of the list. Reads one record per entry, with bounded concurrency.
   */
  list(query: JobListQuery): Promise<JobPage>;
  /** As {@link list}, but only each job's summary: what `GET /api/jobs` shows by default. */
  listSummaries(query: JobListQuery): Promise<JobPage<JobSummary>>;
  /** Jobs a provider currently owns (dispatched, running, cancelling) — what its poller reads. */
  listActive(provider: string, limit?: number): Promise<JobRecord[]>;
  /** Jobs in one status, newest first, through the status index — the reconciler's input. */
  listByStatus(status: JobStatus, limit?: number): Promise<JobRecord[]>;
  /** Remembers an Idempotency-Key → job, or returns what it was bound to before. */
  claimIdempotencyKey(key: string, binding: IdempotencyBinding): Promise<IdempotencyClaim>;
  /**
   * The cost ledger: the rows (`ledgerRowOf`) of jobs that finished in [from, to), in no
   * particular order. A store commits a job's row with the write that moves it into a terminal
   * state carrying `cost` — never as a write of its own — and keys it by the job, so a finished job
   * always has exactly one row. Reading costs rows in proportion to the jobs finished in the range.
   */
  ledgerRows(from: Date, to: Date): Promise<LedgerRow[]>;
  /** Creates tables if needed. */
  ensure(): Promise<void>;
}

/**
 * A JobStore that hands every call to `inner`. Decorators (capacity release, costing, webhooks)
 * extend it and override only the calls whose behaviour they change, so a method added to the port
 * reaches them all without another hand-written forward in each.
 */
export class ForwardingJobStore implements JobStore {
  constructor(protected readonly inner: JobStore) {}

  create(job: JobRecord, firstEvent: JobEvent, later?: readonly JobEvent[]): Promise<void> {
    return this.inner.create(job, firstEvent, later);
  }
  get(id: string): Promise<JobRecord | undefined> {
    return this.inner.get(id);
  }
  update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    return this.inner.update(id, mutate);
  }
  events(id: string): Promise<JobEvent[]> {
    return this.inner.events(id);
  }
  list(query: JobListQuery): Promise<JobPage> {
    return this.inner.list(query);
  }
  listSummaries(query: JobListQuery): Promise<JobPage<JobSummary>> {
    return this.inner.listSummaries(query);
  }
  listActive(provider: string, limit?: number): Promise<JobRecord[]> {
    return this.inner.listActive(provider, limit);
  }
  listByStatus(status: JobStatus, limit?: number): Promise<JobRecord[]> {
    return this.inner.listByStatus(status, limit);
  }
  claimIdempotencyKey(key: string, binding: IdempotencyBinding): Promise<IdempotencyClaim> {
    return this.inner.claimIdempotencyKey(key, binding);
  }
  ledgerRows(from: Date, to: Date): Promise<LedgerRow[]> {
    return this.inner.ledgerRows(from, to);
  }
  ensure(): Promise<void> {
    return this.inner.ensure();
  }
}
