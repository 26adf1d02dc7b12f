import { createHash } from 'node:crypto';
import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import type { Config } from '../config.js';
import { ACTIVE_STATUSES, isTerminal, type JobEvent, type JobRecord, type JobStatus } from '../core/job.js';
import { ConcurrencyError, NotFoundError } from '../errors.js';
import type { IdempotencyClaim, JobListQuery, JobPage, JobStore, JobUpdate } from '../ports/job-store.js';
import { azureCredential } from './azure-credential.js';

/**
 * Job state in Azure Table Storage.
 *
 * Layout (one partition per job, so a state change and its history event commit in one
 * entity-group transaction):
 *   jobs:      PK = jobId, RK = 'job'           → the record (JSON split over d0..dN, ≤ 30 000 chars each)
 *              PK = jobId, RK = 'evt~0000000001' → one history event
 *   jobindex:  PK = 's~<status>' | 'q~<queue>' | 'v~<provider>' | 'all', RK = '<inverted time>~<jobId>'
 *              PK = 'a~<provider>', RK = jobId  → the provider's active jobs (what its poller reads)
 *   idempotency: PK = sha256(key), RK = ''
 *
 * Index rows are written *before* the job moves into the state they index and removed *after* it
 * leaves it, so a crash leaves at worst a stale row (filtered and repaired on read), never a job
 * missing from its index.
 */
export class TableJobStore implements JobStore {
  /** Optimistic-concurrency retries before giving up with a retriable ConcurrencyError. */
  static readonly MAX_ATTEMPTS = 10;
  private static readonly CHUNK = 30_000;

  private constructor(
    private readonly jobs: TableClient,
    private readonly index: TableClient,
    private readonly idem: TableClient,
  ) {}

  static async create(config: Config, tables: Partial<Config['tables']> = {}): Promise<TableJobStore> {
    const { TableClient } = await import('@azure/data-tables');
    const names = { ...config.tables, ...tables };
    const { connectionString, tableServiceUri } = config.storage;
    const make = async (name: string): Promise<TableClient> => {
      if (connectionString) return TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
      if (!tableServiceUri) throw new Error('JobsStorage or JobsStorage__tableServiceUri is required');
      return new TableClient(tableServiceUri, name, await azureCredential(config));
    };
    return new TableJobStore(await make(names.jobs), await make(names.index), await make(names.idempotency));
  }

  async ensure(): Promise<void> {
    await Promise.all([this.jobs.createTable(), this.index.createTable(), this.idem.createTable()]);
  }

  async create(job: JobRecord, firstEvent: JobEvent): Promise<void> {
    await this.writeIndexRows(job, undefined);
    await this.jobs.submitTransaction([
      ['create', toEntity(job)],
      ['create', eventEntity(job.id, firstEvent)],
    ]);
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
          await sleep(Math.min(200, 5 * 2 ** attempt) * Math.random());
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

  async list(query: JobListQuery): Promise<JobPage> {
    const pk = query.status ? `s~${query.status}` : query.queue ? `q~${query.queue}` : query.provider ? `v~${query.provider}` : 'all';
    const { odata } = await import('@azure/data-tables');
    const pages = this.index
      .listEntities<TableEntity<{ jobId: string }>>({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['jobId', 'RowKey'] } })
      .byPage({ maxPageSize: query.limit, ...(query.continuationToken && { continuationToken: query.continuationToken }) });
    const page = await pages.next();
    if (page.done) return { jobs: [] };
    const rows = page.value;
    const jobs = await Promise.all(rows.map((r) => this.get(r.jobId)));
    const matching: JobRecord[] = [];
    jobs.forEach((job, i) => {
      if (!job) return;
      // A status row that no longer matches is a leftover of an interrupted update: repair it.
      if (query.status && job.status !== query.status) {
        void this.index.deleteEntity(pk, rows[i]!.rowKey!).catch(() => undefined);
        return;
      }
      if (query.queue && job.queue !== query.queue) return;
      if (query.provider && job.provider !== query.provider) return;
      matching.push(job);
    });
    return { jobs: matching, ...(rows.continuationToken && { continuationToken: rows.continuationToken }) };
  }

  async listActive(provider: string, limit = 5000): Promise<JobRecord[]> {
    const { odata } = await import('@azure/data-tables');
    const pk = `a~${provider}`;
    const ids: string[] = [];
    for await (const row of this.index.listEntities<TableEntity<{ jobId: string }>>({
      queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['jobId'] },
    })) {
      ids.push(row.jobId);
      if (ids.length >= limit) break;
    }
    const jobs = await mapLimit(ids, 32, (id) => this.get(id));
    const active: JobRecord[] = [];
    jobs.forEach((job, i) => {
      if (job && job.provider === provider && (ACTIVE_STATUSES as readonly JobStatus[]).includes(job.status)) active.push(job);
      else if (!job || isTerminal(job.status)) void this.index.deleteEntity(pk, ids[i]!).catch(() => undefined);
    });
    return active;
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

  async claimIdempotencyKey(key: string, jobId: string, requestHash: string): Promise<IdempotencyClaim> {
    const pk = createHash('sha256').update(key).digest('hex');
    try {
      await this.idem.createEntity({ partitionKey: pk, rowKey: '', jobId, requestHash, createdAt: new Date().toISOString() });
      return { created: true, jobId, requestHash };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.idem.getEntity<{ jobId: string; requestHash: string }>(pk, '');
      return { created: false, jobId: existing.jobId, requestHash: existing.requestHash };
    }
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

  private async writeIndexRows(next: JobRecord, prev: JobRecord | undefined): Promise<void> {
    const rk = indexRowKey(next);
    const rows: TableEntity<{ jobId: string }>[] = [];
    if (!prev) rows.push({ partitionKey: 'all', rowKey: rk, jobId: next.id });
    if (prev?.status !== next.status) rows.push({ partitionKey: `s~${next.status}`, rowKey: rk, jobId: next.id });
    if (next.queue && prev?.queue !== next.queue) rows.push({ partitionKey: `q~${next.queue}`, rowKey: rk, jobId: next.id });
    if (next.provider && prev?.provider !== next.provider) rows.push({ partitionKey: `v~${next.provider}`, rowKey: rk, jobId: next.id });
    if (next.provider && (ACTIVE_STATUSES as readonly JobStatus[]).includes(next.status) && !(prev && prev.provider === next.provider && (ACTIVE_STATUSES as readonly JobStatus[]).includes(prev.status))) {
      rows.push({ partitionKey: `a~${next.provider}`, rowKey: next.id, jobId: next.id });
    }
    await Promise.all(rows.map((r) => this.index.upsertEntity(r, 'Replace')));
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

/** Keys Table Storage accepts and that we could have issued; anything else is "not found". */
function isSafeKey(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(id);
}

function indexRowKey(job: JobRecord): string {
  const inverted = String(9_999_999_999_999 - Date.parse(job.createdAt)).padStart(13, '0');
  return `${inverted}~${job.id}`;
}

function toEntity(job: JobRecord): TableEntity<Record<string, unknown>> {
  const doc = JSON.stringify(job);
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey: job.id,
    rowKey: 'job',
    status: job.status,
    queue: job.queue ?? '',
    provider: job.provider ?? '',
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
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

function eventEntity(jobId: string, event: JobEvent): TableEntity<{ doc: string; to: string }> {
  return { partitionKey: jobId, rowKey: `evt~${String(event.seq).padStart(10, '0')}`, to: event.to, doc: JSON.stringify(event) };
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
