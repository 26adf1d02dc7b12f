import { createHash } from 'node:crypto';
import type { TableClient, TableEntity, TableEntityResult, TransactionAction } from '@azure/data-tables';
import type { Config } from '../config.js';
import {
  ACTIVE_STATUSES,
  isTerminal,
  type JobEvent,
  type JobRecord,
  type JobSource,
  type JobStatus,
  type JobSummary,
} from '../core/job.js';
import { encodePageToken, parsePageToken, type PageCursor } from '../core/page-token.js';
import { ConcurrencyError, JobExistsError, NotFoundError } from '../errors.js';
import { type LedgerRow, ledgerRowOf } from '../ports/cost-ledger.js';
import type {
  IdempotencyBinding,
  IdempotencyClaim,
  JobListQuery,
  JobPage,
  JobStore,
  JobUpdate,
} from '../ports/job-store.js';
import { eventsOf } from '../ports/job-store.js';
import { backoffDelay, mapLimit, sleep } from '../retry.js';
import { azureCredential } from './azure-credential.js';
import { ledgerEntity, readLedgerRows } from './table-cost-ledger.js';

/** Options of {@link TableJobStore.create}; the defaults suit production. */
export interface TableJobStoreOptions {
  /**
   * How old an index row must be before a read deletes it for pointing at a job that does not
   * exist (or has not reached the row's state yet). The store itself never leaves such rows (a
   * job's rows commit in its own transaction); they come from data written by hand or by a bug.
   */
  readonly orphanGraceMs?: number;
  /** Shards (partitions) a new table gets; default the config's TABLE_SHARDS. */
  readonly shards?: number;
}

/** An index row as stored: the job it points at, the `eventSeq` it was written with, and the job's summary. */
interface IndexRow {
  readonly jobId: string;
  /** The job's `eventSeq` once the write that made this row committed. */
  readonly seq?: number;
  /** 1 when the summary columns below are present (rows planted by tests or hand-made rows lack them). */
  readonly sv?: number;
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

/** One job's creation waiting for its shard's next group transaction. */
interface PendingCreate {
  readonly id: string;
  readonly actions: TransactionAction[];
  /** Characters of its entities' values, to keep a group under the transaction's size limit. */
  readonly bytes: number;
  resolve(etag: string | undefined): void;
  reject(error: unknown): void;
}

/** Characters an entity's values take on the wire, roughly (keys and values as text). */
function entityChars(entity: TableEntity): number {
  let n = 0;
  for (const [k, v] of Object.entries(entity)) n += k.length + (typeof v === 'string' ? v.length : 16) + 8;
  return n;
}

/** A version of a record this process read or wrote, tried first by the next update. */
interface Remembered {
  readonly doc: string;
  readonly etag: string;
  readonly at: number;
}

/** `listByStatus` for any store: full records of one status, following pages up to `limit`. */
export async function listByStatusThroughPages(
  store: Pick<JobStore, 'list'>,
  status: JobStatus,
  limit: number,
): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  let token: string | undefined;
  do {
    const page = await store.list({
      status,
      limit: Math.min(1000, limit - out.length),
      ...(token && { continuationToken: token }),
    });
    out.push(...page.jobs);
    token = page.continuationToken;
  } while (token && out.length < limit);
  return out;
}

/**
 * Job state in Azure Table Storage, sharded so that one job's record, its history and its index
 * rows share one partition:
 *
 *   jobs table: PK = shard (hash(jobId) mod TABLE_SHARDS, as 3 digits)
 *     RK = 'job~<id>'                                   → the record (JSON over d0..dN) + summary columns
 *     RK = 'evt~<id>~<seq, 10 digits>'                  → one history event
 *     RK = 'idx~<list>~<key>~<inverted time>~<id>'      → index row with the job's summary, for the
 *          lists 'all', 's' (status), 'q' (queue), 'v' (provider), 'o' (Essedum sources) and 'a'
 *          (the provider's active jobs)
 *     RK = 'cost~<day finished>~<id>'                   → the job's cost-ledger row, once it finished
 *          with a cost (see table-cost-ledger.ts)
 *   idempotency table: PK = sha256(key), RK = ''
 *
 * Every write is ONE entity-group transaction: the record (conditional on the ETag read), its new
 * events, the index rows it needs (upserted, carrying the new summary) and the rows it no longer
 * needs (deleted), and — in the write that finishes the job with its cost — its ledger row. So no
 * index or ledger row is ever orphaned or missing, and no partition is written by every job. A list
 * reads the same key range in every shard (in parallel, one page each) and merges them newest first;
 * every shard orders by the same key, so one position — the last job shown — resumes all of them,
 * and the page token stays the small validated cursor of core/page-token.ts.
 *
 * Summary lists read only index rows. Full-record lists read each record and still judge the row
 * against it (rows without a matching record are skipped, and deleted when provably stale): the store
 * never leaves such rows, but a hand-edited or restored table may hold them, and a page must not be
 * shortened by them.
 */
export class TableJobStore implements JobStore {
  /** Optimistic-concurrency retries before giving up with a retriable ConcurrencyError. */
  static readonly MAX_ATTEMPTS = 10;
  /** Record reads in flight at once for one list call. */
  static readonly READ_CONCURRENCY = 16;
  /** Index rows one list call examines at most; past it the call returns what it found with a token. */
  static readonly MAX_SCANNED_ROWS = 5000;
  static readonly DEFAULT_ORPHAN_GRACE_MS = 60_000;
  /**
   * How long a version this process read or wrote is tried first by `update` instead of a fresh
   * read. A stale one costs a refused transaction and a read (what a plain update costs plus one).
   */
  static readonly REMEMBER_MS = 30_000;
  static readonly REMEMBER_MAX = 2000;
  /** Larger records are not remembered (memory), only re-read. */
  static readonly REMEMBER_MAX_CHARS = 64_000;
  /** An entity-group transaction holds at most 100 entities and 4 MiB; a group stays within both. */
  static readonly GROUP_MAX_ENTITIES = 100;
  static readonly GROUP_MAX_CHARS = 2 * 1024 * 1024;

  private readonly orphanGraceMs: number;
  private readonly remembered = new Map<string, Remembered>();
  /** Creations waiting per shard while that shard's group transaction is in flight. */
  private readonly pendingCreates = new Map<string, PendingCreate[]>();
  /** The table's shard count once known (see {@link ready}). */
  private shards: number | undefined;
  private resolving: Promise<number> | undefined;

  private constructor(
    private readonly table: TableClient,
    private readonly idem: TableClient,
    private readonly configuredShards: number,
    options: TableJobStoreOptions,
  ) {
    this.orphanGraceMs = options.orphanGraceMs ?? TableJobStore.DEFAULT_ORPHAN_GRACE_MS;
  }

  static async create(
    config: Config,
    tables: Partial<Config['tables']> = {},
    options: TableJobStoreOptions = {},
  ): Promise<TableJobStore> {
    const { TableClient } = await import('@azure/data-tables');
    const names = { ...config.tables, ...tables };
    const { connectionString, tableServiceUri } = config.storage;
    const make = async (name: string): Promise<TableClient> => {
      if (connectionString)
        return TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
      if (!tableServiceUri) throw new Error('JobsStorage or JobsStorage__tableServiceUri is required');
      return new TableClient(tableServiceUri, name, await azureCredential(config));
    };
    return new TableJobStore(
      await make(names.jobs),
      await make(names.idempotency),
      options.shards ?? config.tableShards,
      options,
    );
  }

  async ensure(): Promise<void> {
    await Promise.all([this.table.createTable(), this.idem.createTable()]);
    await this.ready();
  }

  /**
   * The table's shard count. The first process to use a table records its TABLE_SHARDS in the table
   * (PK 'meta', RK 'shards'); every later one reads it (once per process) and uses it, whatever its
   * own setting says. So two processes never disagree about where a job lives, and changing the
   * setting later cannot hide jobs (it applies to new tables only).
   */
  private async ready(): Promise<number> {
    if (this.shards !== undefined) return this.shards;
    this.resolving ??= this.resolveShards().finally(() => (this.resolving = undefined));
    return this.resolving;
  }

  private async resolveShards(): Promise<number> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const meta = await this.table.getEntity<{ count: number }>(META_PK, META_SHARDS_RK);
        const count = Number(meta.count);
        if (!Number.isInteger(count) || count < 1 || count > MAX_TABLE_SHARDS)
          throw new Error(`table ${this.table.tableName}: bad shard count ${String(meta.count)}`);
        this.shards = count;
        return count;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
      try {
        await this.table.createEntity({ partitionKey: META_PK, rowKey: META_SHARDS_RK, count: this.configuredShards });
        this.shards = this.configuredShards;
        return this.configuredShards;
      } catch (error) {
        // 409: another process recorded its count first (read it); 404: no table yet, so no jobs
        // either — use ours without recording it, and look again next time.
        if (statusOf(error) === 404) return this.configuredShards;
        if (statusOf(error) !== 409) throw error;
      }
    }
    throw new Error(`table ${this.table.tableName}: could not read its shard count`);
  }

  async create(job: JobRecord, firstEvent: JobEvent, later: readonly JobEvent[] = []): Promise<void> {
    // Serialise first: a record that cannot be stored fails before anything is written.
    const record = toEntity(await this.shardOf(job.id), job);
    const actions: TransactionAction[] = [['create', record]];
    for (const event of [firstEvent, ...later])
      actions.push(['create', eventEntity(record.partitionKey, job.id, event)]);
    for (const row of indexRows(record.partitionKey, job)) actions.push(['create', row]);
    const ledger = ledgerRowOf(job);
    if (ledger) actions.push(['create', ledgerEntity(record.partitionKey, ledger)]);
    const etag = await new Promise<string | undefined>((resolve, reject) => {
      const bytes = actions.reduce((n, [, entity]) => n + entityChars(entity as TableEntity), 0);
      this.enqueueCreate(record.partitionKey, { id: job.id, actions, bytes, resolve, reject });
    });
    this.remember(job.id, record, etag);
  }

  /**
   * Group commit. Creations in one shard are written by one transaction at a time; those that
   * arrive while it is in flight wait and then go together in the next one (up to the
   * entity-group limits). One creation alone goes at once, so nothing waits when the store is
   * quiet; under load one transaction carries many jobs, each still whole (record, history, index
   * rows) and all-or-nothing. A refused group (a 409 for one job's id, a size limit) is retried job
   * by job, so each caller gets its own answer.
   */
  private enqueueCreate(pk: string, pending: PendingCreate): void {
    const queue = this.pendingCreates.get(pk);
    if (queue) {
      queue.push(pending);
      return;
    }
    this.pendingCreates.set(pk, [pending]);
    void this.flushCreates(pk);
  }

  private async flushCreates(pk: string): Promise<void> {
    for (;;) {
      const queue = this.pendingCreates.get(pk);
      if (!queue || queue.length === 0) {
        this.pendingCreates.delete(pk);
        return;
      }
      const group: PendingCreate[] = [];
      let entities = 0;
      let bytes = 0;
      while (queue.length > 0) {
        const next = queue[0]!;
        const fits =
          entities + next.actions.length <= TableJobStore.GROUP_MAX_ENTITIES &&
          bytes + next.bytes <= TableJobStore.GROUP_MAX_CHARS;
        if (group.length > 0 && !fits) break;
        group.push(queue.shift()!);
        entities += next.actions.length;
        bytes += next.bytes;
      }
      // New arrivals join the queue (still in the map) while this group is in flight.
      await this.commitGroup(group);
    }
  }

  private async commitGroup(group: readonly PendingCreate[]): Promise<void> {
    if (group.length === 1) return this.commitOne(group[0]!);
    try {
      const response = await this.table.submitTransaction(group.flatMap((p) => p.actions));
      let at = 0;
      for (const p of group) {
        p.resolve(response.subResponses[at]?.etag);
        at += p.actions.length;
      }
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined && status >= 400 && status < 500) {
        // Nothing of the group was written: each job on its own, for its own answer.
        await Promise.all(group.map((p) => this.commitOne(p)));
        return;
      }
      // Not knowing whether the group committed, answer every caller as a single create would.
      for (const p of group) p.reject(error);
    }
  }

  private async commitOne(p: PendingCreate): Promise<void> {
    try {
      const response = await this.table.submitTransaction(p.actions);
      p.resolve(response.subResponses[0]?.etag);
    } catch (error) {
      p.reject(statusOf(error) === 409 ? new JobExistsError(p.id, error) : error);
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const read = await this.read(id);
    return read?.job;
  }

  async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    if (!isSafeKey(id)) throw new NotFoundError('Job', id);
    const pk = await this.shardOf(id);
    let missingDeletes = false;
    for (let attempt = 1; ; attempt++) {
      const recalled = attempt === 1 ? this.recall(id) : undefined;
      let read = recalled ?? (await this.read(id));
      if (!read) throw new NotFoundError('Job', id);
      let update = mutate(read.job);
      // "Nothing to do" is only trusted on a fresh read.
      if ('unchanged' in update && recalled) {
        read = await this.read(id);
        if (!read) throw new NotFoundError('Job', id);
        update = mutate(read.job);
      }
      if ('unchanged' in update) return read.job;
      const record = toEntity(pk, update.job);
      const actions: TransactionAction[] = [['update', record, 'Replace', { etag: read.etag }]];
      for (const event of eventsOf(update)) actions.push(['create', eventEntity(pk, id, event)]);
      const keep = indexRows(pk, update.job);
      const kept = new Set(keep.map((r) => r.rowKey));
      for (const row of keep) actions.push(['upsert', row, 'Replace']);
      // The write that finishes the job with its cost carries its ledger row: an upsert by the job's
      // key, so even a row left by a hand-made or restored record is replaced, never doubled.
      const ledger = isTerminal(read.job.status) ? undefined : ledgerRowOf(update.job);
      if (ledger) actions.push(['upsert', ledgerEntity(pk, ledger), 'Replace']);
      const gone = indexRows(pk, read.job).filter((r) => !kept.has(r.rowKey));
      if (missingDeletes) {
        // A transaction fails whole when it deletes a row that is not there (only hand-edited data
        // lacks one): delete only the rows that exist.
        const present = await Promise.all(gone.map((r) => this.exists(pk, r.rowKey)));
        for (const [i, r] of gone.entries())
          if (present[i]) actions.push(['delete', { partitionKey: pk, rowKey: r.rowKey }]);
      } else {
        for (const r of gone) actions.push(['delete', { partitionKey: pk, rowKey: r.rowKey }]);
      }
      try {
        const response = await this.table.submitTransaction(actions);
        this.remember(id, record, response.subResponses[0]?.etag);
        return update.job;
      } catch (error) {
        // 412: someone wrote since we read (or what we remembered is old); 409: the event row
        // exists, i.e. a concurrent writer used the same sequence number. Either way re-read.
        const status = statusOf(error);
        this.remembered.delete(id);
        if (status === 404 && !missingDeletes) {
          missingDeletes = true;
          continue;
        }
        if ((status === 412 || status === 409) && attempt < TableJobStore.MAX_ATTEMPTS) {
          // The first miss of a remembered version is not contention: re-read at once.
          if (!recalled) await sleep(backoffDelay(attempt, 5, { capMs: 200, jitter: Math.random }));
          continue;
        }
        if (status === 412 || status === 409) throw new ConcurrencyError(`Job ${id} kept changing under us`, error);
        throw error;
      }
    }
  }

  async events(id: string): Promise<JobEvent[]> {
    if (!isSafeKey(id)) return [];
    const out: JobEvent[] = [];
    const { odata } = await import('@azure/data-tables');
    const from = `evt~${id}~`;
    const iter = this.table.listEntities<TableEntity<{ doc: string }>>({
      queryOptions: {
        filter: odata`PartitionKey eq ${await this.shardOf(id)} and RowKey ge ${from} and RowKey lt ${`${from}~`}`,
        select: ['doc'],
      },
    });
    for await (const e of iter) out.push(JSON.parse(e.doc) as JobEvent);
    return out.sort((a, b) => a.seq - b.seq);
  }

  list(query: JobListQuery): Promise<JobPage> {
    return this.page(query, async (row) => {
      const read = await this.read(row.jobId);
      return read && { probe: read.job, value: read.job };
    });
  }

  listSummaries(query: JobListQuery): Promise<JobPage<JobSummary>> {
    return this.page(
      query,
      async (row) =>
        summaryFromEntity(row.jobId, row as unknown as Record<string, unknown>) ?? this.readSummary(row.jobId),
    );
  }

  async listActive(provider: string, limit = 5000): Promise<JobRecord[]> {
    const prefix = listPrefix('a', provider);
    const isActive = (p: Probe) => p.provider === provider && activeStatus(p.status);
    const perShard = await Promise.all(
      (await this.shardKeys()).map((pk) => this.scanRange(pk, prefix, undefined, limit)),
    );
    const rows = perShard.flatMap((s) => s.rows).slice(0, limit);
    const found = await mapLimit(rows, 32, async (row) => {
      const read = await this.read(row.jobId);
      const verdict = await this.judge(row, read?.job, isActive);
      return verdict === 'show' ? read?.job : undefined;
    });
    return found.filter((j): j is JobRecord => j !== undefined);
  }

  listByStatus(status: JobStatus, limit = 1000): Promise<JobRecord[]> {
    return listByStatusThroughPages(this, status, limit);
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

  async ledgerRows(from: Date, to: Date): Promise<LedgerRow[]> {
    return readLedgerRows(this.table, await this.shardKeys(), from, to);
  }

  /** The shard (partition key) of a job: a stable hash of its id, so any process finds it. */
  async shardOf(id: string): Promise<string> {
    return shardKey(shardIndex(id, await this.ready()));
  }

  private async shardKeys(): Promise<string[]> {
    return Array.from({ length: await this.ready() }, (_, i) => shardKey(i));
  }

  /**
   * One page of a list, merged newest first from the same key range in every shard. Each shard is
   * read a page at a time (at most `limit` rows, more only when rows are skipped), so a clean
   * index costs one query per shard and, for full records, `limit` point reads.
   */
  private async page<T>(
    query: JobListQuery,
    resolve: (row: TableEntityResult<IndexRow>) => Promise<{ probe: Probe; value: T } | undefined>,
  ): Promise<JobPage<T>> {
    if (query.limit < 1) return { jobs: [] };
    const after = query.continuationToken === undefined ? undefined : parsePageToken(query.continuationToken);
    const { list, key, matches } = pickIndex(query);
    const prefix = listPrefix(list, key);
    const extra = (p: Probe) =>
      (!query.queue || p.queue === query.queue) &&
      (!query.provider || p.provider === query.provider) &&
      (!query.source || p.source === query.source);
    const pageSize = Math.min(1000, query.limit);
    const cursors = (await this.shardKeys()).map(
      (pk) => new ShardCursor(this, pk, prefix, after && prefix + cursorRowKey(after), pageSize),
    );
    const out: T[] = [];
    let last: string | undefined;
    let scanned = 0;
    for (;;) {
      await Promise.all(cursors.map((c) => c.fill()));
      const batch: Array<TableEntityResult<IndexRow>> = [];
      while (batch.length < query.limit - out.length) {
        let best: ShardCursor | undefined;
        for (const c of cursors) if (c.head && (!best || c.head.rowKey! < best.head!.rowKey!)) best = c;
        if (!best) break;
        batch.push(best.take());
        // A shard whose buffered page ran out must be refilled before it can be compared again.
        if (!best.head && !best.exhausted) break;
      }
      if (batch.length === 0) break;
      const resolved = await mapLimit(batch, TableJobStore.READ_CONCURRENCY, async (row) => {
        const found = await resolve(row);
        const verdict = await this.judge(row, found?.probe, matches, prefix);
        return verdict === 'show' && found && extra(found.probe) ? found.value : undefined;
      });
      for (const v of resolved) if (v !== undefined) out.push(v);
      last = batch.at(-1)!.rowKey;
      scanned += batch.length;
      if (out.length >= query.limit || scanned >= TableJobStore.MAX_SCANNED_ROWS) break;
    }
    let more = false;
    if (last && (out.length >= query.limit || scanned >= TableJobStore.MAX_SCANNED_ROWS)) {
      await Promise.all(cursors.map((c) => c.fill()));
      more = cursors.some((c) => c.head !== undefined);
    }
    const next = more && last ? rowKeyCursor(last.slice(prefix.length)) : undefined;
    return { jobs: out, ...(next && { continuationToken: encodePageToken(next) }) };
  }

  /** One page of a key range of one shard, after `afterRowKey`; `next` continues it. */
  async scanRange(
    pk: string,
    prefix: string,
    afterRowKey: string | undefined,
    pageSize: number,
    next?: string,
  ): Promise<{ rows: Array<TableEntityResult<IndexRow>>; next?: string }> {
    const { odata } = await import('@azure/data-tables');
    const from = afterRowKey ?? prefix;
    const filter = afterRowKey
      ? odata`PartitionKey eq ${pk} and RowKey gt ${from} and RowKey lt ${`${prefix}~`}`
      : odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey lt ${`${prefix}~`}`;
    const pages = this.table
      .listEntities<IndexRow>({ queryOptions: { filter } })
      .byPage({ maxPageSize: pageSize, ...(next && { continuationToken: next }) });
    for await (const page of pages)
      return { rows: [...page], ...(page.continuationToken && { next: page.continuationToken }) };
    return { rows: [] };
  }

  /**
   * Whether an index row shows its job, is skipped (the job is not there, or not in the row's state,
   * yet) or is stale; a stale row is deleted on the spot, conditional on its ETag.
   */
  private async judge(
    row: TableEntityResult<IndexRow>,
    probe: Probe | undefined,
    matches: (p: Probe) => boolean,
    timeOrderedPrefix?: string,
  ): Promise<Verdict> {
    const verdict = this.verdict(row, probe, matches, timeOrderedPrefix);
    if (verdict === 'stale') {
      await this.table.deleteEntity(row.partitionKey!, row.rowKey!, { etag: row.etag }).catch((error: unknown) => {
        if (statusOf(error) !== 404 && statusOf(error) !== 412) throw error;
      });
    }
    return verdict;
  }

  private verdict(
    row: TableEntityResult<IndexRow>,
    probe: Probe | undefined,
    matches: (p: Probe) => boolean,
    timeOrderedPrefix?: string,
  ): Verdict {
    const old = () => Date.now() - Date.parse(row.timestamp ?? '') > this.orphanGraceMs;
    if (!probe) return old() ? 'stale' : 'skip';
    // A row for the same id at another time: not this job's row.
    if (timeOrderedPrefix !== undefined && row.rowKey !== timeOrderedPrefix + indexRowKey(probe)) return 'stale';
    if (matches(probe)) return 'show';
    if ((row.seq ?? 0) > probe.eventSeq) return old() ? 'stale' : 'skip';
    return 'stale';
  }

  private async read(id: string): Promise<{ job: JobRecord; etag: string } | undefined> {
    if (!isSafeKey(id)) return undefined;
    try {
      const e = await this.table.getEntity<Record<string, unknown>>(await this.shardOf(id), `job~${id}`);
      const job = fromEntity(e);
      this.remember(id, e, e.etag);
      return { job, etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async exists(pk: string, rk: string): Promise<boolean> {
    try {
      await this.table.getEntity(pk, rk, { queryOptions: { select: ['PartitionKey'] } });
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /** The summary columns of the record (for index rows that lack them). */
  private async readSummary(id: string): Promise<{ probe: Probe; value: JobSummary } | undefined> {
    if (!isSafeKey(id)) return undefined;
    try {
      const e = await this.table.getEntity<Record<string, unknown>>(await this.shardOf(id), `job~${id}`, {
        queryOptions: { select: [...SUMMARY_COLUMNS] },
      });
      return summaryFromEntity(id, e);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private remember(id: string, entity: Record<string, unknown>, etag: string | undefined): void {
    this.remembered.delete(id);
    const doc = recordDoc(entity);
    if (!etag || doc.length > TableJobStore.REMEMBER_MAX_CHARS) return;
    this.remembered.set(id, { doc, etag, at: Date.now() });
    if (this.remembered.size > TableJobStore.REMEMBER_MAX) this.remembered.delete(this.remembered.keys().next().value!);
  }

  private recall(id: string): { job: JobRecord; etag: string } | undefined {
    const r = this.remembered.get(id);
    if (!r || Date.now() - r.at > TableJobStore.REMEMBER_MS) return undefined;
    return { job: JSON.parse(r.doc) as JobRecord, etag: r.etag };
  }
}

/** Reads one shard's key range page by page, for the merge in a list. */
class ShardCursor {
  private buffer: Array<TableEntityResult<IndexRow>> = [];
  private token: string | undefined;
  private started = false;

  constructor(
    private readonly store: TableJobStore,
    private readonly pk: string,
    private readonly prefix: string,
    private readonly after: string | undefined,
    private readonly pageSize: number,
  ) {}

  get head(): TableEntityResult<IndexRow> | undefined {
    return this.buffer[0];
  }

  get exhausted(): boolean {
    return this.started && this.token === undefined;
  }

  take(): TableEntityResult<IndexRow> {
    return this.buffer.shift()!;
  }

  /** Fetches the next page when the buffer is empty and the range has more. */
  async fill(): Promise<void> {
    while (this.buffer.length === 0 && !this.exhausted) {
      const page = await this.store.scanRange(this.pk, this.prefix, this.after, this.pageSize, this.token);
      this.started = true;
      this.token = page.next;
      this.buffer = page.rows;
    }
  }
}

/** Largest shard count: a list reads every shard, so more only costs reads. */
export const MAX_TABLE_SHARDS = 256;
/** Where a table records its shard count: outside the shard partitions ('000'…), read by no list. */
const META_PK = 'meta';
const META_SHARDS_RK = 'shards';

/** The shard a job id falls in (FNV-1a of the id, mod `shards`). Stable across processes and versions. */
export function shardIndex(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

function shardKey(i: number): string {
  return String(i).padStart(3, '0');
}

/** The lists of the index: every job, by status, queue, provider, source, and a provider's active jobs. */
export type IndexList = 'all' | 's' | 'q' | 'v' | 'o' | 'a';

/**
 * Sources with their own list: lists by them stay O(page) however many other jobs there are.
 * Exported with {@link pickIndex} and {@link indexEntries} so the in-memory double keeps the layout.
 */
export const INDEXED_SOURCES: ReadonlySet<JobSource> = new Set<JobSource>([
  'essedum-execute',
  'essedum-pipeline',
  'essedum-asset',
]);

/** The lists a job appears in, as (list, key) pairs: what its index rows are. */
export function indexEntries(
  job: Pick<JobRecord, 'status' | 'source' | 'queue' | 'provider'>,
): Array<{ list: IndexList; key: string }> {
  const out: Array<{ list: IndexList; key: string }> = [
    { list: 'all', key: '' },
    { list: 's', key: job.status },
  ];
  if (INDEXED_SOURCES.has(job.source)) out.push({ list: 'o', key: job.source });
  if (job.queue) out.push({ list: 'q', key: job.queue });
  if (job.provider) out.push({ list: 'v', key: job.provider });
  if (job.provider && activeStatus(job.status)) out.push({ list: 'a', key: job.provider });
  return out;
}

/** The list a query reads and what a row there promises about its job. */
export function pickIndex(query: JobListQuery): {
  list: IndexList;
  key: string;
  matches: (p: Pick<Probe, 'status' | 'queue' | 'provider' | 'source'>) => boolean;
} {
  if (query.status) return { list: 's', key: query.status, matches: (p) => p.status === query.status };
  if (query.queue) return { list: 'q', key: query.queue, matches: (p) => p.queue === query.queue };
  if (query.provider) return { list: 'v', key: query.provider, matches: (p) => p.provider === query.provider };
  if (query.source && INDEXED_SOURCES.has(query.source))
    return { list: 'o', key: query.source, matches: (p) => p.source === query.source };
  // Other sources are filtered out of the full list (no list of their own: see INDEXED_SOURCES).
  return { list: 'all', key: '', matches: () => true };
}

/**
 * Row-key prefix of one list: `idx~<list>~<key>~`. The key is percent-encoded (with `~` too), so
 * no key can reach into another list's range and none holds a character Table keys refuse.
 */
export function listPrefix(list: IndexList, key: string): string {
  return `idx~${list}~${encodeURIComponent(key).replace(/~/g, '%7E')}~`;
}

/** Row key of a job's entry in a list, after the list's prefix: newest first, then by id. */
export function indexRowKey(job: Pick<JobRecord, 'id' | 'createdAt'>): string {
  return cursorRowKey({ t: Date.parse(job.createdAt), id: job.id });
}

function activeStatus(status: JobStatus): boolean {
  return (ACTIVE_STATUSES as readonly JobStatus[]).includes(status);
}

/** Keys Table Storage accepts and that we could have issued; anything else is "not found". */
function isSafeKey(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(id);
}

const MAX_TIME = 9_999_999_999_999;

function cursorRowKey(cursor: PageCursor): string {
  return `${String(MAX_TIME - cursor.t).padStart(13, '0')}~${cursor.id}`;
}

function rowKeyCursor(rowKey: string): PageCursor | undefined {
  const m = /^(\d{13})~(.+)$/.exec(rowKey);
  return m ? { t: MAX_TIME - Number(m[1]), id: m[2]! } : undefined;
}

/** Summary columns of a record and of every index row (`sv` marks entities that have them). */
const SUMMARY_COLUMNS = [
  'sv',
  'status',
  'source',
  'queue',
  'provider',
  'priority',
  'labels',
  'errorCode',
  'createdAt',
  'updatedAt',
  'eventSeq',
] as const;

function summaryColumns(job: JobRecord): Record<string, unknown> {
  const labels = job.spec.labels ?? {};
  return {
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
  };
}

function indexRows(pk: string, job: JobRecord): Array<TableEntity<Record<string, unknown>>> {
  const summary = summaryColumns(job);
  const rk = indexRowKey(job);
  return indexEntries(job).map(({ list, key }) => ({
    partitionKey: pk,
    rowKey: listPrefix(list, key) + rk,
    jobId: job.id,
    seq: job.eventSeq,
    ...summary,
  }));
}

function toEntity(pk: string, job: JobRecord): TableEntity<Record<string, unknown>> {
  const doc = JSON.stringify(job);
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey: pk,
    rowKey: `job~${job.id}`,
    ...summaryColumns(job),
    chunks: Math.ceil(doc.length / 30_000),
  };
  for (let i = 0, n = 0; i < doc.length; i += 30_000, n++) entity[`d${n}`] = doc.slice(i, i + 30_000);
  return entity;
}

function recordDoc(e: Record<string, unknown>): string {
  const chunks = Number(e.chunks);
  let doc = '';
  for (let n = 0; n < chunks; n++) doc += String(e[`d${n}`] ?? '');
  return doc;
}

function fromEntity(e: Record<string, unknown>): JobRecord {
  return JSON.parse(recordDoc(e)) as JobRecord;
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

function eventEntity(pk: string, jobId: string, event: JobEvent): TableEntity<{ doc: string; to: string }> {
  return {
    partitionKey: pk,
    rowKey: `evt~${jobId}~${String(event.seq).padStart(10, '0')}`,
    to: event.to,
    doc: JSON.stringify(event),
  };
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}
