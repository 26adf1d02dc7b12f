import {
  ACTIVE_STATUSES,
  isTerminal,
  summarizeJob,
  type JobEvent,
  type JobRecord,
  type JobStatus,
  type JobSummary,
} from '../../src/lib/core/job.js';
import { encodePageToken, parsePageToken, type PageCursor } from '../../src/lib/core/page-token.js';
// The index layout is the Table adapter's: the double reads the same list rules, not a copy.
import {
  indexEntries,
  indexRowKey,
  listByStatusThroughPages,
  listPrefix,
  pickIndex,
} from '../../src/lib/adapters/table-job-store.js';
import { ledgerRowKey } from '../../src/lib/adapters/table-cost-ledger.js';
import { JobExistsError, NotFoundError } from '../../src/lib/errors.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import { type LedgerRow, ledgerRowOf } from '../../src/lib/ports/cost-ledger.js';
import type {
  IdempotencyBinding,
  IdempotencyClaim,
  JobListQuery,
  JobPage,
  JobStore,
  JobUpdate,
} from '../../src/lib/ports/job-store.js';
import { eventsOf } from '../../src/lib/ports/job-store.js';

/** An index row: the job it points at, the job `eventSeq` its write commits, and when it was written. */
export interface InMemoryIndexRow {
  readonly jobId: string;
  readonly seq?: number;
  readonly writtenAt: number;
}

/**
 * The double's index, laid out as the Table adapter's index rows in ONE shard: a list per
 * {@link listPrefix} (`idx~s~<status>~`, `idx~q~<queue>~`, …, `idx~a~<provider>~`) keyed by
 * '<inverted time>~<jobId>' (newest first). Sharding changes where rows live, not what a list shows,
 * so one shard is enough for the rules. Public so a test can plant what hand-edited data holds.
 */
export class InMemoryIndex {
  private readonly partitions = new Map<string, Map<string, InMemoryIndexRow>>();

  upsert(pk: string, rk: string, row: { jobId: string; seq?: number }, now = Date.now()): void {
    let partition = this.partitions.get(pk);
    if (!partition) {
      partition = new Map();
      this.partitions.set(pk, partition);
    }
    partition.set(rk, { jobId: row.jobId, ...(row.seq !== undefined && { seq: row.seq }), writtenAt: now });
  }

  /** Deletes the row; with `ifSame`, only if it is still that very row (the ETag condition of a table delete). */
  delete(pk: string, rk: string, ifSame?: InMemoryIndexRow): void {
    const partition = this.partitions.get(pk);
    if (!partition || (ifSame && partition.get(rk) !== ifSame)) return;
    partition.delete(rk);
    if (partition.size === 0) this.partitions.delete(pk);
  }

  /** A partition's rows in row-key order, from just after `afterRowKey`. */
  scan(pk: string, afterRowKey?: string): Array<{ rk: string; row: InMemoryIndexRow }> {
    const partition = this.partitions.get(pk);
    if (!partition) return [];
    const keys = [...partition.keys()].filter((rk) => afterRowKey === undefined || rk > afterRowKey).sort();
    return keys.map((rk) => ({ rk, row: partition.get(rk)! }));
  }

  /** Every row in every partition. */
  *rows(): Iterable<{ pk: string; rk: string; row: InMemoryIndexRow }> {
    for (const [pk, partition] of this.partitions) for (const [rk, row] of partition) yield { pk, rk, row };
  }
}

/** Options of {@link InMemoryJobStore}; as the Table adapter's. */
export interface InMemoryJobStoreOptions {
  /** How old an index row must be before a read deletes it for pointing at a job that is not there (yet). */
  readonly orphanGraceMs?: number;
}

type Verdict = 'show' | 'skip' | 'stale';

/**
 * An in-memory JobStore that passes the same contract suite as the Table Storage adapter
 * (test/unit/in-memory-stores.test.ts). For use-case tests that move thousands of jobs, where the
 * point is the use case, not the storage round trips.
 *
 * It keeps the Table adapter's model so lists behave alike: records and events are stored as JSON
 * (a record that cannot be serialised is refused before anything is written, and callers can never
 * mutate stored state), lists read through an index of the same partitions and row keys, skip rows
 * whose job is missing or does not match, delete provably stale rows and page with our own tokens.
 * A write (record, events and index rows) happens without yielding: the in-memory equivalent of
 * the adapter's conditional transaction, so crashes leave index leftovers only when a test plants them.
 */
export class InMemoryJobStore implements JobStore {
  static readonly MAX_SCANNED_ROWS = 5000;
  static readonly DEFAULT_ORPHAN_GRACE_MS = 60_000;

  readonly index = new InMemoryIndex();
  private readonly jobs = new Map<string, { doc: string; events: string[] }>();
  private readonly keys = new Map<string, IdempotencyBinding>();
  /** Cost-ledger rows (as JSON) by the Table adapter's row key: day finished, then job id. */
  private readonly ledger = new Map<string, string>();
  private readonly orphanGraceMs: number;

  constructor(options: InMemoryJobStoreOptions = {}) {
    this.orphanGraceMs = options.orphanGraceMs ?? InMemoryJobStore.DEFAULT_ORPHAN_GRACE_MS;
  }

  async ensure(): Promise<void> {}

  async create(job: JobRecord, firstEvent: JobEvent, later: readonly JobEvent[] = []): Promise<void> {
    // Serialise first: a record that cannot be stored fails before anything is written.
    const doc = JSON.stringify(job);
    const events = [firstEvent, ...later].map((e) => JSON.stringify(e));
    await Promise.resolve();
    if (this.jobs.has(job.id)) throw new JobExistsError(job.id);
    this.jobs.set(job.id, { doc, events });
    this.writeIndexRows(job, undefined);
    this.writeLedgerRow(JSON.parse(doc) as JobRecord);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    await Promise.resolve();
    return this.read(id);
  }

  async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    await Promise.resolve();
    const current = this.read(id);
    const entry = this.jobs.get(id);
    if (!current || !entry) throw new NotFoundError('Job', id);
    const update = mutate(current);
    if ('unchanged' in update) return this.read(id)!;
    const doc = JSON.stringify(update.job);
    const events = eventsOf(update).map((e) => JSON.stringify(e));
    const next = JSON.parse(doc) as JobRecord;
    this.writeIndexRows(next, current);
    if (!isTerminal(current.status)) this.writeLedgerRow(next);
    entry.doc = doc;
    entry.events.push(...events);
    return JSON.parse(doc) as JobRecord;
  }

  async events(id: string): Promise<JobEvent[]> {
    await Promise.resolve();
    const events = (this.jobs.get(id)?.events ?? []).map((e) => JSON.parse(e) as JobEvent);
    return events.sort((a, b) => a.seq - b.seq);
  }

  async list(query: JobListQuery): Promise<JobPage> {
    await Promise.resolve();
    return this.page(query, (job) => job);
  }

  async listSummaries(query: JobListQuery): Promise<JobPage<JobSummary>> {
    await Promise.resolve();
    return this.page(query, summarizeJob);
  }

  async listActive(provider: string, limit = 5000): Promise<JobRecord[]> {
    await Promise.resolve();
    const pk = listPrefix('a', provider);
    const matches = (job: JobRecord) => job.provider === provider && isActive(job.status);
    const out: JobRecord[] = [];
    for (const { rk, row } of this.index.scan(pk).slice(0, limit)) {
      const job = this.read(row.jobId);
      if (this.judge(pk, rk, row, job, matches, false) === 'show') out.push(job!);
    }
    return out;
  }

  listByStatus(status: JobStatus, limit = 1000): Promise<JobRecord[]> {
    return listByStatusThroughPages(this, status, limit);
  }

  async claimIdempotencyKey(key: string, binding: IdempotencyBinding): Promise<IdempotencyClaim> {
    await Promise.resolve();
    const existing = this.keys.get(key);
    if (existing) return { created: false, ...existing };
    const stored = { jobId: binding.jobId, requestHash: binding.requestHash, jobCreatedAt: binding.jobCreatedAt };
    this.keys.set(key, stored);
    return { created: true, ...stored };
  }

  async ledgerRows(from: Date, to: Date): Promise<LedgerRow[]> {
    await Promise.resolve();
    const [fromIso, toIso] = [from.toISOString(), to.toISOString()];
    return [...this.ledger.values()]
      .map((doc) => JSON.parse(doc) as LedgerRow)
      .filter((r) => r.finishedAt >= fromIso && r.finishedAt < toIso);
  }

  /** One page through the index partition the query picks, reading on past skipped rows. */
  private page<T>(query: JobListQuery, view: (job: JobRecord) => T): JobPage<T> {
    if (query.limit < 1) return { jobs: [] };
    const after = query.continuationToken === undefined ? undefined : parsePageToken(query.continuationToken);
    const { list, key, matches } = pickIndex(query);
    const pk = listPrefix(list, key);
    const extra = (j: JobRecord) =>
      (!query.queue || j.queue === query.queue) &&
      (!query.provider || j.provider === query.provider) &&
      (!query.source || j.source === query.source);
    const rows = this.index.scan(pk, after && cursorRowKey(after));
    const out: T[] = [];
    let consumed = 0;
    for (const { rk, row } of rows) {
      if (out.length >= query.limit || consumed >= InMemoryJobStore.MAX_SCANNED_ROWS) break;
      consumed++;
      const job = this.read(row.jobId);
      if (this.judge(pk, rk, row, job, matches, true) === 'show' && extra(job!)) out.push(view(job!));
    }
    const last = consumed > 0 ? rowKeyCursor(rows[consumed - 1]!.rk) : undefined;
    const next = consumed < rows.length && last ? encodePageToken(last) : undefined;
    return { jobs: out, ...(next && { continuationToken: next }) };
  }

  /** The Table adapter's verdict on a row; a stale row is deleted, unless it was rewritten meanwhile. */
  private judge(
    pk: string,
    rk: string,
    row: InMemoryIndexRow,
    job: JobRecord | undefined,
    matches: (j: JobRecord) => boolean,
    timeOrdered: boolean,
  ): Verdict {
    const old = () => Date.now() - row.writtenAt > this.orphanGraceMs;
    let verdict: Verdict;
    if (!job) verdict = old() ? 'stale' : 'skip';
    // A row of a create that lost to an earlier job with the same id (it never committed).
    else if (timeOrdered && rk !== indexRowKey(job)) verdict = 'stale';
    else if (matches(job)) verdict = 'show';
    else if ((row.seq ?? 0) > job.eventSeq) verdict = old() ? 'stale' : 'skip';
    else verdict = 'stale';
    if (verdict === 'stale') this.index.delete(pk, rk, row);
    return verdict;
  }

  private read(id: string): JobRecord | undefined {
    const entry = this.jobs.get(id);
    return entry ? (JSON.parse(entry.doc) as JobRecord) : undefined;
  }

  /** As the Table adapter's transaction: the ledger row of a job finished with its cost. */
  private writeLedgerRow(job: JobRecord): void {
    const row = ledgerRowOf(job);
    if (row) this.ledger.set(ledgerRowKey(row), JSON.stringify(row));
  }

  /** As the Table adapter's transaction: every row of `next` (re)written, the rows only `prev` had deleted. */
  private writeIndexRows(next: JobRecord, prev: JobRecord | undefined): void {
    const rk = indexRowKey(next);
    const keep = new Set<string>();
    for (const { list, key } of indexEntries(next)) {
      const pk = listPrefix(list, key);
      keep.add(pk);
      this.index.upsert(pk, rk, { jobId: next.id, seq: next.eventSeq });
    }
    if (!prev) return;
    for (const { list, key } of indexEntries(prev)) {
      const pk = listPrefix(list, key);
      if (!keep.has(pk)) this.index.delete(pk, indexRowKey(prev));
    }
  }
}

function isActive(status: JobStatus): boolean {
  return (ACTIVE_STATUSES as readonly JobStatus[]).includes(status);
}

const MAX_TIME = 9_999_999_999_999;

/** Row key of a job in a list: newest first, then by id (the Table adapter's). */
export const inMemoryIndexRowKey = indexRowKey;

function cursorRowKey(cursor: PageCursor): string {
  return `${String(MAX_TIME - cursor.t).padStart(13, '0')}~${cursor.id}`;
}

function rowKeyCursor(rowKey: string): PageCursor | undefined {
  const m = /^(\d{13})~(.+)$/.exec(rowKey);
  return m ? { t: MAX_TIME - Number(m[1]), id: m[2]! } : undefined;
}

/** An in-memory BlobStore: documents by container and name. */
export class InMemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Buffer>();

  async put(container: string, name: string, content: string | Uint8Array): Promise<void> {
    this.blobs.set(`${container}/${name}`, Buffer.from(content));
  }
  async get(container: string, name: string): Promise<Buffer | undefined> {
    const b = this.blobs.get(`${container}/${name}`);
    return b ? Buffer.from(b) : undefined;
  }
  async delete(container: string, name: string): Promise<void> {
    this.blobs.delete(`${container}/${name}`);
  }
  async list(container: string, prefix: string): Promise<string[]> {
    const head = `${container}/${prefix}`;
    return [...this.blobs.keys()].filter((k) => k.startsWith(head)).map((k) => k.slice(container.length + 1));
  }
  async ensure(): Promise<void> {}
}
