import { ACTIVE_STATUSES, summarizeJob, type JobEvent, type JobRecord, type JobStatus, type JobSummary } from '../../src/lib/core/job.js';
import { NotFoundError } from '../../src/lib/errors.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import type { IdempotencyBinding, IdempotencyClaim, JobListQuery, JobPage, JobStore, JobUpdate } from '../../src/lib/ports/job-store.js';

/**
 * An in-memory JobStore that passes the same contract suite as the Table Storage adapter
 * (test/unit/in-memory-stores.test.ts). For use-case tests that move thousands of jobs, where the
 * point is the use case, not the storage round trips. Records are cloned in and out, as a real store
 * serialises them, so a caller can never mutate stored state by accident.
 */
export class InMemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, { job: JobRecord; events: JobEvent[] }>();
  private readonly keys = new Map<string, IdempotencyClaim>();

  async ensure(): Promise<void> {}

  async create(job: JobRecord, firstEvent: JobEvent): Promise<void> {
    await Promise.resolve();
    if (this.jobs.has(job.id)) throw new Error(`job ${job.id} exists`);
    this.jobs.set(job.id, { job: structuredClone(job), events: [structuredClone(firstEvent)] });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    await Promise.resolve();
    const entry = this.jobs.get(id);
    return entry ? structuredClone(entry.job) : undefined;
  }

  async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    await Promise.resolve();
    const entry = this.jobs.get(id);
    if (!entry) throw new NotFoundError('Job', id);
    // Read, decide and write without yielding: the in-memory equivalent of a conditional write.
    const update = mutate(structuredClone(entry.job));
    if ('unchanged' in update) return structuredClone(entry.job);
    entry.job = structuredClone(update.job);
    if (update.event) entry.events.push(structuredClone(update.event));
    return structuredClone(entry.job);
  }

  async events(id: string): Promise<JobEvent[]> {
    await Promise.resolve();
    return structuredClone(this.jobs.get(id)?.events ?? []);
  }

  async list(query: JobListQuery): Promise<JobPage> {
    await Promise.resolve();
    const matching = [...this.jobs.values()]
      .map((e) => e.job)
      .filter((j) => (query.status === undefined || j.status === query.status) && (query.queue === undefined || j.queue === query.queue) && (query.provider === undefined || j.provider === query.provider))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    const start = Number(query.continuationToken ?? '0') || 0;
    const page = matching.slice(start, start + query.limit);
    const next = start + query.limit < matching.length ? String(start + query.limit) : undefined;
    return { jobs: structuredClone(page), ...(next && { continuationToken: next }) };
  }

  async listActive(provider: string, limit = 5000): Promise<JobRecord[]> {
    await Promise.resolve();
    const active = [...this.jobs.values()]
      .map((e) => e.job)
      .filter((j) => j.provider === provider && (ACTIVE_STATUSES as readonly JobStatus[]).includes(j.status));
    return structuredClone(active.slice(0, limit));
  }

  async listByStatus(status: JobStatus, limit = 1000): Promise<JobRecord[]> {
    return [...(await this.list({ status, limit })).jobs];
  }

  async listSummaries(query: JobListQuery): Promise<JobPage<JobSummary>> {
    const page = await this.list(query);
    return { jobs: page.jobs.map(summarizeJob), ...(page.continuationToken && { continuationToken: page.continuationToken }) };
  }

  async claimIdempotencyKey(key: string, binding: IdempotencyBinding): Promise<IdempotencyClaim> {
    await Promise.resolve();
    const existing = this.keys.get(key);
    if (existing) return { ...existing, created: false };
    const claim = { created: true, ...binding };
    this.keys.set(key, claim);
    return claim;
  }
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
