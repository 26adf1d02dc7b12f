import { createHash } from 'node:crypto';
import type { TableClient, TableEntity, TableEntityResult, TransactionAction } from '@azure/data-tables';
import type { Config } from '../config.js';
import {
  ACTIVE_STATUSES,
  isTerminal,
  summarizeJob,
  type JobEvent,
  type JobRecord,
  type JobSource,
  type JobStatus,
  type JobSummary,
} from '../core/job.js';
import { encodePageToken, parsePageToken, type PageCursor } from '../core/page-token.js';
import { ConcurrencyError, JobExistsError, NotFoundError } from '../errors.js';
import type { IdempotencyBinding, IdempotencyClaim, JobListQuery, JobPage, JobStore, JobUpdate } from '../ports/job-store.js';
import { backoffDelay, mapLimit, sleep } from '../retry.js';
import { azureCredential } from './azure-credential.js';

/** Options of {@link TableJobStore.create}; the defaults suit production. */
export interface TableJobStoreOptions {
  /**
   * How old an index row must be before a read deletes it for pointing at a job that does not
   * exist (or has not reached the row's state yet): a younger one may belong to a create or update
   * still in flight, so it is only skipped.
   */
  readonly orphanGraceMs?: number;
}

/** An index row as stored: the job it points at and the write that made it. */
interface IndexRow {
  readonly jobId: string;
  /**
   * The job's `eventSeq` once the write that made this row has committed (absent on rows from
   * older versions). A job whose `eventSeq` is lower has not committed it yet; one at or past it
   * that does not match the row has moved on, so the row is stale.
   */
  readonly seq?: number;
}

/** What a read needs to know about a job to decide whether an index row still points at it. */
interface Probe {
  readonly id: string;
  readonly status: JobStatus;
  readonly source: JobSource;
  readonly createdAt: string;
  readonly eventSeq: number;
  readonly queue?: string;
  readonly provider?: string;
}

type Verdict = 'show' | 'skip' | 'stale';

/**
 * Job state in Azure Table Storage.
 *
 * Layout (one partition per job, so a state change and its history event commit in one
 * entity-group transaction):
 *   jobs:      PK = jobId, RK = 'job'           → the record (JSON split over d0..dN, ≤ 30 000 chars each)
 *                                                  and its summary columns (status, queue, provider, …)
 *              PK = jobId, RK = 'evt~0000000001' → one history event
 *   jobindex:  PK = 's~<status>' | 'q~<queue>' | 'v~<provider>' | 'o~<source>' | 'all',
 *              RK = '<inverted time>~<jobId>'   → newest first; `o~` only for the Essedum sources
 *              PK = 'a~<provider>', RK = jobId  → the provider's active jobs (what its poller reads)
 *   idempotency: PK = sha256(key), RK = ''
 *
 * Index rows are written *before* the job moves into the state they index and removed *after* it
 * leaves it, so a crash leaves at worst a stale row, never a job missing from its index. A create
 * that fails removes the rows it wrote. Reads skip rows whose job is missing or does not match,
 * delete the ones that are provably stale (see {@link IndexRow.seq}, {@link TableJobStoreOptions})
 * and keep reading, so a page is short only at the end of the index.
 */
export class TableJobStore implements JobStore {
  /** Optimistic-concurrency retries before giving up with a retriable ConcurrencyError. */
  static readonly MAX_ATTEMPTS = 10;
  /** Record reads in flight at once for one list call. */
  static readonly READ_CONCURRENCY = 16;
  /**
   * Index rows one list call examines at most. Only a partition full of stale rows gets near it;
   * the call then returns what it found with a token to go on from there (the rows it passed are
   * repaired by then).
   */
  static readonly MAX_SCANNED_ROWS = 5000;
  static readonly DEFAULT_ORPHAN_GRACE_MS = 60_000;

  private readonly orphanGraceMs: number;

  private constructor(
    private readonly jobs: TableClient,
    private readonly index: TableClient,
    private readonly idem: TableClient,
    options: TableJobStoreOptions,
  ) {
    this.orphanGraceMs = options.orphanGraceMs ?? TableJobStore.DEFAULT_ORPHAN_GRACE_MS;
  }

  static async create(config: Config, tables: Partial<Config['tables']> = {}, options: TableJobStoreOptions = {}): Promise<TableJobStore> {
    const { TableClient } = await import('@azure/data-tables');
    const names = { ...config.tables, ...tables };
    const { connectionString, tableServiceUri } = config.storage;
    const make = async (name: string): Promise<TableClient> => {
      if (connectionString) return TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
      if (!tableServiceUri) throw new Error('JobsStorage or JobsStorage__tableServiceUri is required');
      return new TableClient(tableServiceUri, name, await azureCredential(config));
    };
    return new TableJobStore(await make(names.jobs), await make(names.index), await make(names.idempotency), options);
  }

  async ensure(): Promise<void> {
    await Promise.all([this.jobs.createTable(), this.index.createTable(), this.idem.createTable()]);
  }

  async create(job: JobRecord, firstEvent: JobEvent): Promise<void> {
    // Serialise first: a record that cannot be stored fails before anything is written.
    const actions: TransactionAction[] = [
      ['create', toEntity(job)],
      ['create', eventEntity(job.id, firstEvent)],
    ];
    const written = await this.writeIndexRows(job, undefined);
    try {
      await this.jobs.submitTransaction(actions);
    } catch (error) {
      await this.undoCreateIndexRows(job, written);
      if (statusOf(error) === 409) throw new JobExistsError(job.id, error);
      throw error;
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const read = await this.read(id);
    return read?.job;
  }

  async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    for (let attempt = 1; ; attempt++) {
      const read = await this.read(id);
      if (!read) throw new NotFoundError('Job', id);
      const update = mutate(read.job);
      if ('unchanged' in update) return read.job;
      await this.writeIndexRows(update.job, read.job);
      const actions: TransactionAction[] = [['update', toEntity(update.job), 'Replace', { etag: read.etag }]];
      for (const event of 'earlier' in update ? (update.earlier ?? []) : []) actions.push(['create', eventEntity(id, event)]);
      if (update.event) actions.push(['create', eventEntity(id, update.event)]);
      try {
        await this.jobs.submitTransaction(actions);
      } catch (error) {
        // 412: someone wrote since we read; 409: the event row exists, i.e. a concurrent writer used
        // the same sequence number. Either way re-read and re-apply.
        const status = statusOf(error);
        if ((status === 412 || status === 409) && attempt < TableJobStore.MAX_ATTEMPTS) {
          await sleep(backoffDelay(attempt, 5, { capMs: 200, jitter: Math.random }));
          continue;
        }
        if (status === 412 || status === 409) throw new ConcurrencyError(`Job ${id} kept changing under us`, error);
        throw error;
      }
      await this.removeIndexRows(update.job, read.job);
      return update.job;
    }
  }

  async events(id: string): Promise<JobEvent[]> {
    if (!isSafeKey(id)) return [];
    const out: JobEvent[] = [];
    const { odata } = await import('@azure/data-tables');
    const iter = this.jobs.listEntities<TableEntity<{ doc: string }>>({
      queryOptions: { filter: odata`PartitionKey eq ${id} and RowKey ge ${'evt~'} and RowKey lt ${'evt~~'}` },
    });
    for await (const e of iter) out.push(JSON.parse(e.doc) as JobEvent);
    return out.sort((a, b) => a.seq - b.seq);
  }

  list(query: JobListQuery): Promise<JobPage> {
    return this.page(query, async (id) => {
      const read = await this.read(id);
      return read && { probe: read.job, value: read.job };
    });
  }

  listSummaries(query: JobListQuery): Promise<JobPage<JobSummary>> {
    return this.page(query, (id) => this.readSummary(id));
  }

  async listActive(provider: string, limit = 5000): Promise<JobRecord[]> {
    const { odata } = await import('@azure/data-tables');
    const pk = `a~${provider}`;
    const rows: TableEntityResult<IndexRow>[] = [];
    for await (const row of this.index.listEntities<IndexRow>({
      queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['RowKey', 'Timestamp', 'jobId', 'seq'] },
    })) {
      rows.push(row);
      if (rows.length >= limit) break;
    }
    const isActive = (p: Probe) => p.provider === provider && (ACTIVE_STATUSES as readonly JobStatus[]).includes(p.status);
    const found = await mapLimit(rows, 32, async (row) => {
      const read = await this.read(row.jobId);
      const verdict = await this.judge(pk, row, read?.job, isActive, false);
      return verdict === 'show' ? read?.job : undefined;
    });
    return found.filter((j): j is JobRecord => j !== undefined);
  }

  async listByStatus(status: JobStatus, limit = 1000): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.list({ status, limit: Math.min(1000, limit - out.length), ...(token && { continuationToken: token }) });
      out.push(...page.jobs);
      token = page.continuationToken;
    } while (token && out.length < limit);
    return out;
  }

  async claimIdempotencyKey(key: string, binding: IdempotencyBinding): Promise<IdempotencyClaim> {
    const pk = createHash('sha256').update(key).digest('hex');
    try {
      await this.idem.createEntity({ partitionKey: pk, rowKey: '', ...binding, createdAt: new Date().toISOString() });
      return { created: true, ...binding };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.idem.getEntity<{ jobId: string; requestHash: string; jobCreatedAt?: string }>(pk, '');
      return {
        created: false,
        jobId: existing.jobId,
        requestHash: existing.requestHash,
        ...(typeof existing.jobCreatedAt === 'string' && { jobCreatedAt: existing.jobCreatedAt }),
      };
    }
  }

  /**
   * One page through the index partition the query picks. Rows are resolved `need` at a time (so a
   * clean index costs exactly `limit` reads); skipped rows make it read on until the page is full.
   */
  private async page<T>(query: JobListQuery, read: (id: string) => Promise<{ probe: Probe; value: T } | undefined>): Promise<JobPage<T>> {
    if (query.limit < 1) return { jobs: [] };
    const after = query.continuationToken === undefined ? undefined : parsePageToken(query.continuationToken);
    const { pk, matches } = pickPartition(query);
    const extra = (p: Probe) =>
      (!query.queue || p.queue === query.queue) && (!query.provider || p.provider === query.provider) && (!query.source || p.source === query.source);
    const { odata } = await import('@azure/data-tables');
    const filter = after ? odata`PartitionKey eq ${pk} and RowKey gt ${cursorRowKey(after)}` : odata`PartitionKey eq ${pk}`;
    const pages = this.index
      .listEntities<IndexRow>({ queryOptions: { filter, select: ['RowKey', 'Timestamp', 'jobId', 'seq'] } })
      .byPage({ maxPageSize: Math.min(1000, query.limit) });
    const out: T[] = [];
    let last: string | undefined;
    let scanned = 0;
    let more = false;
    outer: for await (const page of pages) {
      const rows = [...page];
      while (rows.length > 0) {
        const batch = rows.splice(0, query.limit - out.length);
        const resolved = await mapLimit(batch, TableJobStore.READ_CONCURRENCY, async (row) => {
          const found = await read(row.jobId);
          const verdict = await this.judge(pk, row, found?.probe, matches, true);
          return verdict === 'show' && found && extra(found.probe) ? found.value : undefined;
        });
        for (const v of resolved) if (v !== undefined) out.push(v);
        last = batch.at(-1)!.rowKey;
        scanned += batch.length;
        if (out.length >= query.limit || scanned >= TableJobStore.MAX_SCANNED_ROWS) {
          more = rows.length > 0 || Boolean(page.continuationToken);
          break outer;
        }
      }
    }
    const next = more && last ? rowKeyCursor(last) : undefined;
    return { jobs: out, ...(next && { continuationToken: encodePageToken(next) }) };
  }

  /**
   * Whether an index row shows its job, is skipped (the job is not there yet, or not in the row's
   * state yet) or is stale; a stale row is deleted on the spot, conditional on its ETag so a row a
   * writer has just rewritten survives.
   */
  private async judge(pk: string, row: TableEntityResult<IndexRow>, probe: Probe | undefined, matches: (p: Probe) => boolean, timeOrdered: boolean): Promise<Verdict> {
    const verdict = this.verdict(row, probe, matches, timeOrdered);
    if (verdict === 'stale') {
      await this.index.deleteEntity(pk, row.rowKey!, { etag: row.etag }).catch((error: unknown) => {
        if (statusOf(error) !== 404 && statusOf(error) !== 412) throw error;
      });
    }
    return verdict;
  }

  private verdict(row: TableEntityResult<IndexRow>, probe: Probe | undefined, matches: (p: Probe) => boolean, timeOrdered: boolean): Verdict {
    const old = () => Date.now() - Date.parse(row.timestamp ?? '') > this.orphanGraceMs;
    if (!probe) return old() ? 'stale' : 'skip';
    // A row of a create that lost to an earlier job with the same id (it never committed).
    if (timeOrdered && row.rowKey !== indexRowKey(probe)) return 'stale';
    if (matches(probe)) return 'show';
    if ((row.seq ?? 0) > probe.eventSeq) return old() ? 'stale' : 'skip';
    return 'stale';
  }

  private async read(id: string): Promise<{ job: JobRecord; etag: string } | undefined> {
    if (!isSafeKey(id)) return undefined;
    try {
      const e = await this.jobs.getEntity<Record<string, unknown>>(id, 'job');
      return { job: fromEntity(e), etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** The summary columns only (not the record's chunks); records from older versions are read whole. */
  private async readSummary(id: string): Promise<{ probe: Probe; value: JobSummary } | undefined> {
    if (!isSafeKey(id)) return undefined;
    let e: Record<string, unknown>;
    try {
      e = await this.jobs.getEntity<Record<string, unknown>>(id, 'job', { queryOptions: { select: [...SUMMARY_COLUMNS] } });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
    const summary = summaryFromEntity(id, e);
    if (summary) return summary;
    const read = await this.read(id);
    return read && { probe: read.job, value: summarizeJob(read.job) };
  }

  /** Writes the rows `next` needs that `prev` did not have; returns what it wrote (with ETags). */
  private async writeIndexRows(next: JobRecord, prev: JobRecord | undefined): Promise<Array<{ pk: string; rk: string; etag: string | undefined }>> {
    const rk = indexRowKey(next);
    // See IndexRow.seq: an update (with or without an event) commits eventSeq ≥ prev + 1.
    const seq = prev ? prev.eventSeq + 1 : next.eventSeq;
    const rows: Array<TableEntity<IndexRow>> = [];
    const row = (partitionKey: string, rowKey = rk) => rows.push({ partitionKey, rowKey, jobId: next.id, seq });
    if (!prev) row('all');
    if (!prev && INDEXED_SOURCES.has(next.source)) row(`o~${next.source}`);
    if (prev?.status !== next.status) row(`s~${next.status}`);
    if (next.queue && prev?.queue !== next.queue) row(`q~${next.queue}`);
    if (next.provider && prev?.provider !== next.provider) row(`v~${next.provider}`);
    if (next.provider && isActive(next.status) && !(prev && prev.provider === next.provider && isActive(prev.status))) {
      row(`a~${next.provider}`, next.id);
    }
    return Promise.all(
      rows.map(async (r) => ({ pk: r.partitionKey, rk: r.rowKey, etag: (await this.index.upsertEntity(r, 'Replace')).etag })),
    );
  }

  /**
   * Removes the rows of a create that did not commit — unless the job exists with the same index
   * position (a concurrent create of the same record won: the rows are its rows too). If the job
   * cannot be read, the rows stay for a read to repair.
   */
  private async undoCreateIndexRows(job: JobRecord, written: ReadonlyArray<{ pk: string; rk: string; etag: string | undefined }>): Promise<void> {
    let existing: JobRecord | undefined;
    try {
      existing = await this.get(job.id);
    } catch {
      return;
    }
    if (existing && indexRowKey(existing) === indexRowKey(job)) return;
    await Promise.allSettled(
      written.filter((w) => !(existing && w.rk === job.id)).map((w) => this.index.deleteEntity(w.pk, w.rk, { etag: w.etag })),
    );
  }

  private async removeIndexRows(next: JobRecord, prev: JobRecord): Promise<void> {
    const deletes: Array<[string, string]> = [];
    if (prev.status !== next.status) deletes.push([`s~${prev.status}`, indexRowKey(prev)]);
    if (prev.provider && isTerminal(next.status)) deletes.push([`a~${prev.provider}`, prev.id]);
    await Promise.all(
      deletes.map(([pk, rk]) =>
        this.index.deleteEntity(pk, rk).catch((error: unknown) => {
          if (statusOf(error) !== 404) throw error;
        }),
      ),
    );
  }
}

/**
 * Sources with their own index partition: lists by them stay O(page) however many other jobs there
 * are. Exported with {@link pickPartition} so the in-memory test double keeps the same layout.
 */
export const INDEXED_SOURCES: ReadonlySet<JobSource> = new Set<JobSource>(['essedum-execute', 'essedum-pipeline']);

/** The index partition a query reads and what a row there promises about its job. */
export function pickPartition(query: JobListQuery): { pk: string; matches: (p: Pick<Probe, 'status' | 'queue' | 'provider' | 'source'>) => boolean } {
  if (query.status) return { pk: `s~${query.status}`, matches: (p) => p.status === query.status };
  if (query.queue) return { pk: `q~${query.queue}`, matches: (p) => p.queue === query.queue };
  if (query.provider) return { pk: `v~${query.provider}`, matches: (p) => p.provider === query.provider };
  if (query.source && INDEXED_SOURCES.has(query.source)) return { pk: `o~${query.source}`, matches: (p) => p.source === query.source };
  // Other sources are filtered out of the full list (no partition of their own: see INDEXED_SOURCES).
  return { pk: 'all', matches: () => true };
}

function isActive(status: JobStatus): boolean {
  return (ACTIVE_STATUSES as readonly JobStatus[]).includes(status);
}

/** Keys Table Storage accepts and that we could have issued; anything else is "not found". */
function isSafeKey(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(id);
}

const MAX_TIME = 9_999_999_999_999;

function indexRowKey(job: Pick<JobRecord, 'id' | 'createdAt'>): string {
  return cursorRowKey({ t: Date.parse(job.createdAt), id: job.id });
}

/** Row keys sort newest first: inverted creation time, then the id. */
function cursorRowKey(cursor: PageCursor): string {
  return `${String(MAX_TIME - cursor.t).padStart(13, '0')}~${cursor.id}`;
}

function rowKeyCursor(rowKey: string): PageCursor | undefined {
  const m = /^(\d{13})~(.+)$/.exec(rowKey);
  return m ? { t: MAX_TIME - Number(m[1]), id: m[2]! } : undefined;
}

/** Columns beside the record that a summary read selects (`sv` marks records that have them). */
const SUMMARY_COLUMNS = ['sv', 'status', 'source', 'queue', 'provider', 'priority', 'labels', 'errorCode', 'createdAt', 'updatedAt', 'eventSeq'] as const;

function toEntity(job: JobRecord): TableEntity<Record<string, unknown>> {
  const doc = JSON.stringify(job);
  const labels = job.spec.labels ?? {};
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey: job.id,
    rowKey: 'job',
    sv: 1,
    status: job.status,
    source: job.source,
    queue: job.queue ?? '',
    provider: job.provider ?? '',
    priority: job.spec.priority,
    labels: Object.keys(labels).length > 0 ? JSON.stringify(labels) : '',
    errorCode: job.error?.code ?? '',
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    eventSeq: job.eventSeq,
    chunks: Math.ceil(doc.length / 30_000),
  };
  for (let i = 0, n = 0; i < doc.length; i += 30_000, n++) entity[`d${n}`] = doc.slice(i, i + 30_000);
  return entity;
}

function fromEntity(e: Record<string, unknown>): JobRecord {
  const chunks = Number(e.chunks);
  let doc = '';
  for (let n = 0; n < chunks; n++) doc += String(e[`d${n}`] ?? '');
  return JSON.parse(doc) as JobRecord;
}

function summaryFromEntity(id: string, e: Record<string, unknown>): { probe: Probe; value: JobSummary } | undefined {
  if (e.sv !== 1) return undefined;
  const str = (k: string) => (typeof e[k] === 'string' && e[k] !== '' ? (e[k] as string) : undefined);
  const probe: Probe = {
    id,
    status: e.status as JobStatus,
    source: e.source as JobSource,
    createdAt: String(e.createdAt),
    eventSeq: Number(e.eventSeq),
    ...(str('queue') && { queue: str('queue') }),
    ...(str('provider') && { provider: str('provider') }),
  };
  const labels = str('labels');
  const value: JobSummary = {
    id,
    status: probe.status,
    source: probe.source,
    priority: e.priority as JobSummary['priority'],
    createdAt: probe.createdAt,
    updatedAt: String(e.updatedAt),
    ...(probe.queue && { queue: probe.queue }),
    ...(probe.provider && { provider: probe.provider }),
    ...(labels && { labels: JSON.parse(labels) as Record<string, string> }),
    ...(str('errorCode') && { errorCode: str('errorCode') }),
  };
  return { probe, value };
}

function eventEntity(jobId: string, event: JobEvent): TableEntity<{ doc: string; to: string }> {
  return { partitionKey: jobId, rowKey: `evt~${String(event.seq).padStart(10, '0')}`, to: event.to, doc: JSON.stringify(event) };
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}
