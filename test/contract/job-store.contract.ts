import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newJobId } from '../../src/lib/core/ids.js';
import type { JobCost } from '../../src/lib/core/costs.js';
import { summarizeJob, type JobRecord } from '../../src/lib/core/job.js';
import { creationEvent, note, transition } from '../../src/lib/core/state-machine.js';
import { IllegalTransitionError, JobExistsError, ValidationError } from '../../src/lib/errors.js';
import type { JobListQuery, JobStore } from '../../src/lib/ports/job-store.js';
import { makeJob } from '../support/jobs.js';

async function seed(
  store: JobStore,
  overrides: Parameters<typeof makeJob>[0] = {},
  body: Record<string, unknown> = {},
) {
  const job = makeJob(overrides, body);
  await store.create(job, creationEvent(job, 'submitted via test'));
  return job;
}

/**
 * What a crash or a lost race leaves in a store's index, made on purpose, and a look at the raw
 * index: each adapter says how (the rules the suite checks are the same for all).
 */
export interface IndexLeftovers {
  /**
   * Writes an index entry, as an interrupted write would leave it, in the list `where` selects (the
   * partition of `status`/`queue`/`provider`, or `activeFor`'s active list), pointing at `jobId`
   * created at `createdAt`. `seq`: the job `eventSeq` the interrupted write would have committed.
   */
  plant(
    where: Pick<JobListQuery, 'status' | 'queue' | 'provider'> | { activeFor: string },
    jobId: string,
    createdAt: string,
    seq?: number,
  ): Promise<void>;
  /** Index entries (in any list) that point at `jobId`. */
  count(jobId: string): Promise<number>;
}

/** A priced job's cost, as the costing decorator sets it on the write that finishes the job. */
function costOf(actual: number | null): JobCost {
  return {
    currency: 'USD',
    actual,
    estimated: 0.5,
    runtimeSec: 60,
    billedSec: 60,
    instances: [],
    basis: 'orchestrator-times',
    priceTableAsOf: '2026-12-01',
  };
}

/** A job moved to `running` on the worker, ready to finish. */
async function running(store: JobStore, labels: Record<string, string> = {}): Promise<JobRecord> {
  const job = await seed(store, {}, { labels });
  await store.update(job.id, (j) => transition(j, 'queued', 'q', { patch: { queue: 'spark-jobs' } }));
  await store.update(job.id, (j) => transition(j, 'dispatched', 'd', { patch: { provider: 'worker' } }));
  return store.update(job.id, (j) => transition(j, 'running', 'r'));
}

/** The ledger rows of these jobs among all rows of [from, to). */
async function ledgerOf(store: JobStore, ids: readonly string[], from: Date, to: Date) {
  return (await store.ledgerRows(from, to)).filter((r) => ids.includes(r.jobId));
}

/** Every job of a list, following continuation tokens; also returns each page's size. */
async function listAll(
  store: JobStore,
  query: Omit<JobListQuery, 'continuationToken'>,
): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let token: string | undefined;
  do {
    const page = await store.list({ ...query, ...(token && { continuationToken: token }) });
    ids.push(...page.jobs.map((j) => j.id));
    sizes.push(page.jobs.length);
    token = page.continuationToken;
  } while (token && sizes.length < 50);
  return { ids, sizes };
}

/** One contract for every JobStore adapter. */
export function describeJobStoreContract(
  name: string,
  makeStore: () => Promise<{ store: JobStore; leftovers: IndexLeftovers; close?: () => Promise<void> }>,
): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;
    let leftovers: IndexLeftovers;
    let close: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ store, leftovers, close } = await makeStore());
      await store.ensure();
    });
    afterAll(async () => close?.());

    it('reads back a created job and its first history event', async () => {
      const job = await seed(store, {}, { rows: 42, labels: { team: 'ml' } });
      expect(await store.get(job.id)).toEqual(job);
      const events = await store.events(job.id);
      expect(events).toEqual([
        expect.objectContaining({ seq: 0, from: null, to: 'submitted', reason: 'submitted via test' }),
      ]);
    });

    it('refuses to create the same id twice', async () => {
      const job = await seed(store);
      await expect(store.create(job, creationEvent(job, 'again'))).rejects.toThrow();
    });

    it('treats unknown and hostile ids as jobs that do not exist', async () => {
      expect(await store.get('j-00000000000000000000000000')).toBeUndefined();
      expect(await store.get("x' or PartitionKey ne '")).toBeUndefined();
      expect(await store.get('a/b#c?d')).toBeUndefined();
      expect(await store.events("x' or PartitionKey ne '")).toEqual([]);
      const hostile = await store.list({ queue: "x' or PartitionKey ne '", limit: 10 });
      expect(hostile.jobs).toEqual([]);
    });

    it('keeps large job data intact', async () => {
      const data = { blob: 'y'.repeat(200_000), n: 1 };
      const job = await seed(store, {}, { data });
      expect((await store.get(job.id))?.spec.data).toEqual(data);
    });

    it('appends one event per transition, in order, and the record follows', async () => {
      const job = await seed(store);
      await store.update(job.id, (j) => transition(j, 'queued', 'classified', { patch: { queue: 'batch-jobs' } }));
      await store.update(job.id, (j) => transition(j, 'dispatched', 'sent', { patch: { provider: 'local' } }));
      const after = await store.update(job.id, (j) => transition(j, 'running', 'started'));
      expect(after.status).toBe('running');
      expect(after.startedAt).toBeDefined();
      expect((await store.get(job.id))?.status).toBe('running');
      const events = await store.events(job.id);
      expect(events.map((e) => [e.seq, e.from, e.to])).toEqual([
        [0, null, 'submitted'],
        [1, 'submitted', 'queued'],
        [2, 'queued', 'dispatched'],
        [3, 'dispatched', 'running'],
      ]);
    });

    it('loses no update when many writers race (ETag conflicts are re-read and re-applied)', async () => {
      const job = await seed(store);
      await Promise.all(Array.from({ length: 8 }, (_, i) => store.update(job.id, (j) => note(j, `writer ${i}`))));
      const events = await store.events(job.id);
      expect(events).toHaveLength(9);
      expect(new Set(events.map((e) => e.seq)).size).toBe(9);
      expect((await store.get(job.id))?.eventSeq).toBe(9);
      expect(
        events
          .slice(1)
          .map((e) => e.reason)
          .sort(),
      ).toEqual(Array.from({ length: 8 }, (_, i) => `writer ${i}`).sort());
    });

    it('applies racing transitions one after the other, never both from the same read', async () => {
      const job = await seed(store);
      const results = await Promise.allSettled([
        store.update(job.id, (j) => transition(j, 'cancelled', 'user cancelled')),
        store.update(job.id, (j) => transition(j, 'queued', 'classified')),
      ]);
      const final = await store.get(job.id);
      // queued→cancelled is legal and cancelled→queued is not, so either order ends cancelled.
      expect(final?.status).toBe('cancelled');
      const events = await store.events(job.id);
      expect(events.at(-1)?.to).toBe('cancelled');
      expect(events.filter((e) => e.to === 'cancelled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    });

    it('rejects an illegal transition and leaves the job untouched', async () => {
      const job = await seed(store);
      await store.update(job.id, (j) => transition(j, 'cancelled', 'cancel'));
      await expect(store.update(job.id, (j) => transition(j, 'running', 'late start'))).rejects.toBeInstanceOf(
        IllegalTransitionError,
      );
      expect((await store.get(job.id))?.status).toBe('cancelled');
      expect(await store.events(job.id)).toHaveLength(2);
    });

    it('lists by status, newest first, with working continuation tokens', async () => {
      const label = `batch-${Date.now()}`;
      const made = [];
      for (let i = 0; i < 7; i++) {
        const j = await seed(
          store,
          { createdAt: new Date(Date.now() + i * 1000 + 3_600_000).toISOString() },
          { labels: { run: label } },
        );
        await store.update(j.id, (x) => transition(x, 'queued', 'q', { patch: { queue: `q-${label.slice(-6)}` } }));
        made.push(j.id);
      }
      const queue = `q-${label.slice(-6)}`;
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ queue, limit: 3, ...(token && { continuationToken: token }) });
        seen.push(...page.jobs.map((j) => j.id));
        token = page.continuationToken;
        pages++;
      } while (token && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([...made].reverse());
      const queued = await store.list({ status: 'queued', limit: 1000 });
      expect(queued.jobs.every((j) => j.status === 'queued')).toBe(true);
      expect(made.every((id) => queued.jobs.some((j) => j.id === id))).toBe(true);
    });

    it("gives a poller only its provider's active jobs", async () => {
      const provider = `p${Date.now()}`;
      const a = await seed(store);
      const b = await seed(store);
      const other = await seed(store);
      for (const [job, p] of [
        [a, provider],
        [b, provider],
        [other, 'someone-else'],
      ] as const) {
        await store.update(job.id, (j) => transition(j, 'queued', 'q'));
        await store.update(job.id, (j) => transition(j, 'dispatched', 'd', { patch: { provider: p } }));
      }
      expect((await store.listActive(provider)).map((j) => j.id).sort()).toEqual([a.id, b.id].sort());
      await store.update(a.id, (j) => transition(j, 'succeeded', 'done'));
      expect((await store.listActive(provider)).map((j) => j.id)).toEqual([b.id]);
      const byProvider = await store.list({ provider, limit: 10 });
      expect(byProvider.jobs.map((j) => j.id).sort()).toEqual([a.id, b.id].sort());
    });

    it('binds an idempotency key to the first job and reports it to later callers', async () => {
      const key = `key-${Date.now()}-${Math.random()}`;
      const at = '2026-01-02T03:04:05.678Z';
      const first = await store.claimIdempotencyKey(key, { jobId: 'j-first', requestHash: 'hash-1', jobCreatedAt: at });
      const second = await store.claimIdempotencyKey(key, {
        jobId: 'j-second',
        requestHash: 'hash-2',
        jobCreatedAt: new Date().toISOString(),
      });
      expect(first).toEqual({ created: true, jobId: 'j-first', requestHash: 'hash-1', jobCreatedAt: at });
      expect(second).toEqual({ created: false, jobId: 'j-first', requestHash: 'hash-1', jobCreatedAt: at });
    });

    it('binds a key to exactly one job when many claim it at once', async () => {
      const key = `race-${Date.now()}-${Math.random()}`;
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.claimIdempotencyKey(key, { jobId: `j-${i}`, requestHash: 'h', jobCreatedAt: new Date().toISOString() }),
        ),
      );
      expect(claims.filter((c) => c.created)).toHaveLength(1);
      expect(new Set(claims.map((c) => c.jobId)).size).toBe(1);
    });

    it('leaves no index entry behind when a create fails', async () => {
      const job = await seed(store);
      // The same id again, at another time: refused, and its entries are gone.
      const twin = { ...job, createdAt: new Date(Date.parse(job.createdAt) + 5000).toISOString() };
      await expect(store.create(twin, creationEvent(twin, 'again'))).rejects.toBeInstanceOf(JobExistsError);
      expect(await leftovers.count(job.id)).toBe(2); // the job's own: the full list and its status
      // A record that cannot be stored is refused before anything is written.
      const bad = makeJob({}, { data: { n: 1 } });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const unstorable = { ...bad, spec: { ...bad.spec, data: cyclic } } as JobRecord;
      await expect(store.create(unstorable, creationEvent(bad, 'cyclic'))).rejects.toThrow();
      expect(await store.get(bad.id)).toBeUndefined();
      expect(await leftovers.count(bad.id)).toBe(0);
    });

    it('creates one job when the same record is created many times at once, with one set of index entries', async () => {
      const job = makeJob({}, { labels: { run: 'race' } });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => store.create(job, creationEvent(job, 'racing'))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(JobExistsError);
      expect(await store.get(job.id)).toEqual(job);
      expect(await leftovers.count(job.id)).toBe(2);
      expect((await store.events(job.id)).length).toBe(1);
    });

    it('never lets an entry whose job is missing or elsewhere shorten a page, and repairs stale ones', async () => {
      const queue = `q-orphans-${Math.random().toString(36).slice(2, 8)}`;
      const base = Date.now() + 7_200_000;
      const real: JobRecord[] = [];
      for (let i = 0; i < 4; i++) {
        const j = await seed(store, { createdAt: new Date(base + i * 10_000).toISOString() });
        await store.update(j.id, (x) => transition(x, 'queued', 'q', { patch: { queue } }));
        real.push(j);
      }
      // Entries for jobs that were never created (a create that crashed), newest and in between.
      for (let i = 0; i < 6; i++)
        await leftovers.plant({ queue }, newJobId(), new Date(base + 45_000 - i * 7_000).toISOString(), 1);
      // A status entry left by an update that moved the job on (written at its creation, seq 1).
      const movedOn = real[0]!;
      await leftovers.plant({ status: 'submitted' }, movedOn.id, movedOn.createdAt, 1);

      const { ids, sizes } = await listAll(store, { queue, limit: 2 });
      expect(ids).toEqual(real.map((j) => j.id).reverse());
      expect(sizes.slice(0, 2)).toEqual([2, 2]);
      expect(sizes.slice(2).every((n) => n === 0)).toBe(true);

      const submitted = await store.listByStatus('submitted', 100_000);
      expect(submitted.some((j) => j.id === movedOn.id)).toBe(false);
      expect(submitted.every((j) => j.status === 'submitted')).toBe(true);
      // The stale status entry is gone; the job keeps its own (full list, queued, queue).
      expect(await leftovers.count(movedOn.id)).toBe(3);
    });

    it('skips an entry for a state the job has not committed yet, without deleting it', async () => {
      const job = await seed(store);
      // As an update to `queued` leaves it before its transaction commits (eventSeq 1 → 2).
      await leftovers.plant({ status: 'queued' }, job.id, job.createdAt, 2);
      const queued = await store.listByStatus('queued', 100_000);
      expect(queued.some((j) => j.id === job.id)).toBe(false);
      expect(await leftovers.count(job.id)).toBe(3);
      // Once the update commits, the job is listed there once.
      await store.update(job.id, (x) => transition(x, 'queued', 'q'));
      const after = await store.listByStatus('queued', 100_000);
      expect(after.filter((j) => j.id === job.id)).toHaveLength(1);
    });

    it('gives a poller only active jobs even when its list holds stale entries', async () => {
      const provider = `pstale${Math.random().toString(36).slice(2, 8)}`;
      const live = await seed(store);
      const done = await seed(store);
      for (const job of [live, done]) {
        await store.update(job.id, (j) => transition(j, 'queued', 'q'));
        await store.update(job.id, (j) => transition(j, 'dispatched', 'd', { patch: { provider } }));
      }
      await store.update(done.id, (j) => transition(j, 'succeeded', 'done'));
      // The finished job's active entry, as a crash before its removal leaves it.
      await leftovers.plant({ activeFor: provider }, done.id, done.createdAt, 3);
      expect((await store.listActive(provider)).map((j) => j.id)).toEqual([live.id]);
      // Repaired: the finished job keeps only its full-list, status and provider entries.
      expect(await leftovers.count(done.id)).toBe(3);
    });

    it('lists summaries without the job body, and one source through its own list', async () => {
      const task = await seed(
        store,
        { source: 'essedum-execute' },
        { data: { secretish: 'x'.repeat(1000) }, labels: { team: 'a' } },
      );
      const other = await seed(store, { source: 'api' });
      const page = await store.listSummaries({ limit: 1000 });
      const mine = page.jobs.find((j) => j.id === task.id);
      expect(mine).toEqual(summarizeJob(task));
      expect(JSON.stringify(mine)).not.toContain('secretish');
      const tasks = await listAll(store, { source: 'essedum-execute', limit: 10 });
      expect(tasks.ids).toContain(task.id);
      expect(tasks.ids).not.toContain(other.id);
      const apiJobs = await store.list({ source: 'api', limit: 1000 });
      expect(apiJobs.jobs.every((j) => j.source === 'api')).toBe(true);
    });

    it('summarises failed jobs with their error code and reads at most the page', async () => {
      const queue = `q-sum-${Math.random().toString(36).slice(2, 8)}`;
      const job = await seed(store);
      await store.update(job.id, (x) => transition(x, 'queued', 'q', { patch: { queue } }));
      const failed = await store.update(job.id, (x) =>
        transition(x, 'failed', 'boom', { patch: { error: { code: 'STUCK', message: 'no' } } }),
      );
      const page = await store.listSummaries({ queue, limit: 5 });
      expect(page.jobs).toEqual([summarizeJob(failed)]);
      expect(page.jobs[0]?.errorCode).toBe('STUCK');
      expect(page.continuationToken).toBeUndefined();
    });

    it('creates a job already past its first state with its whole history in one write', async () => {
      const submitted = makeJob();
      const classified = transition(submitted, 'queued', 'classified: test', {
        patch: { queue: `q-born-${submitted.id.slice(-6)}` },
      });
      await store.create(classified.job, creationEvent(submitted, 'submitted via test'), [classified.event]);
      expect(await store.get(submitted.id)).toEqual(classified.job);
      expect((await store.events(submitted.id)).map((e) => [e.seq, e.from, e.to])).toEqual([
        [0, null, 'submitted'],
        [1, 'submitted', 'queued'],
      ]);
      expect((await store.list({ queue: classified.job.queue!, limit: 5 })).jobs.map((j) => j.id)).toEqual([
        submitted.id,
      ]);
      // Full list, status and queue: nothing under `submitted`, which the job never sat in.
      expect(await leftovers.count(submitted.id)).toBe(3);
    });

    it('keeps every list in step with the job: summaries show the latest state, old entries go', async () => {
      const provider = `pstep${Math.random().toString(36).slice(2, 8)}`;
      const job = await seed(store, {}, { labels: { step: 'yes' } });
      await store.update(job.id, (j) => transition(j, 'queued', 'q', { patch: { queue: `q-${provider}` } }));
      await store.update(job.id, (j) => transition(j, 'dispatched', 'd', { patch: { provider } }));
      const running = await store.update(job.id, (j) => transition(j, 'running', 'r'));
      // Full list, running, queue, provider, active.
      expect(await leftovers.count(job.id)).toBe(5);
      const byQueue = await store.listSummaries({ queue: `q-${provider}`, limit: 5 });
      expect(byQueue.jobs).toEqual([summarizeJob(running)]);
      const failed = await store.update(job.id, (j) =>
        transition(j, 'failed', 'boom', { patch: { error: { code: 'BOOM', message: 'x' } } }),
      );
      expect(await leftovers.count(job.id)).toBe(4);
      expect((await store.listSummaries({ provider, limit: 5 })).jobs).toEqual([summarizeJob(failed)]);
      expect((await store.listByStatus('running', 100_000)).some((j) => j.id === job.id)).toBe(false);
      expect(await store.listActive(provider)).toEqual([]);
    });

    it('pages newest first across every partition without gaps or repeats, whatever the page size', async () => {
      const queue = `q-pages-${Math.random().toString(36).slice(2, 8)}`;
      const base = Date.now() + 10_800_000;
      const made: string[] = [];
      // 24 jobs spread over the shards, four at a time created in the same millisecond (ordered by id).
      for (let i = 0; i < 24; i++) {
        const j = makeJob({ createdAt: new Date(base + Math.floor(i / 4) * 4 * 1000).toISOString() });
        const t = transition(j, 'queued', 'q', { patch: { queue } });
        await store.create(t.job, creationEvent(j, 'test'), [t.event]);
        made.push(j.id);
      }
      const expected = [...made]
        .map((id, i) => ({ id, t: base + Math.floor(i / 4) * 4 * 1000 }))
        .sort((a, b) => b.t - a.t || (a.id < b.id ? -1 : 1))
        .map((x) => x.id);
      for (const limit of [2, 7, 50]) {
        const { ids, sizes } = await listAll(store, { queue, limit });
        expect(ids).toEqual(expected);
        // Never short before the end.
        expect(sizes.slice(0, -1).every((n) => n === limit)).toBe(true);
      }
      const summaries: string[] = [];
      let token: string | undefined;
      do {
        const page = await store.listSummaries({ queue, limit: 6, ...(token && { continuationToken: token }) });
        summaries.push(...page.jobs.map((j) => j.id));
        token = page.continuationToken;
      } while (token);
      expect(summaries).toEqual(expected);
    });

    it('commits a ledger row with the write that finishes a job with its cost, and with no other write', async () => {
      const job = await running(store, { team: 'ledger' });
      const day = [new Date('2031-03-04T00:00:00Z'), new Date('2031-03-05T00:00:00Z')] as const;
      await store.update(job.id, (j) => ({ job: { ...j, heartbeatAt: new Date().toISOString() }, quiet: true }));
      await store.update(job.id, (j) => note(j, 'a note, no cost'));
      expect(await ledgerOf(store, [job.id], ...day)).toEqual([]);

      const at = new Date('2031-03-04T10:00:00.000Z');
      const done = await store.update(job.id, (j) => {
        const t = transition(j, 'succeeded', 'done', { at });
        return { ...t, job: { ...t.job, cost: costOf(0.25) } };
      });
      expect(done.cost?.actual).toBe(0.25);
      expect(await ledgerOf(store, [job.id], ...day)).toEqual([
        {
          jobId: job.id,
          finishedAt: at.toISOString(),
          status: 'succeeded',
          provider: 'worker',
          queue: 'spark-jobs',
          labels: { team: 'ledger' },
          currency: 'USD',
          cost: 0.25,
          estimated: 0.5,
          billedSec: 60,
        },
      ]);
      // A redelivered completion finds the job finished; later writes to it add no second row.
      await store.update(job.id, (j) =>
        j.status === 'succeeded' ? { job: j, unchanged: true } : transition(j, 'succeeded', 'again'),
      );
      await store.update(job.id, (j) => note(j, 'after the end'));
      expect(await ledgerOf(store, [job.id], ...day)).toHaveLength(1);
    });

    it('writes no ledger row for a job that finishes without a cost', async () => {
      const job = await running(store);
      const at = new Date('2031-03-06T10:00:00.000Z');
      await store.update(job.id, (j) => transition(j, 'failed', 'no price table', { at }));
      expect(
        await ledgerOf(store, [job.id], new Date('2031-03-06T00:00:00Z'), new Date('2031-03-07T00:00:00Z')),
      ).toEqual([]);
    });

    it('counts a job once when racing writers both try to finish it', async () => {
      const job = await running(store);
      const at = new Date('2031-03-08T10:00:00.000Z');
      const finish = (reason: string) =>
        store.update(job.id, (j) => {
          if (j.status === 'succeeded') return { job: j, unchanged: true };
          const t = transition(j, 'succeeded', reason, { at });
          return { ...t, job: { ...t.job, cost: costOf(1) } };
        });
      await Promise.all([finish('worker'), finish('redelivery'), finish('poll')]);
      const rows = await ledgerOf(store, [job.id], new Date('2031-03-08T00:00:00Z'), new Date('2031-03-09T00:00:00Z'));
      expect(rows.map((r) => [r.jobId, r.cost])).toEqual([[job.id, 1]]);
      expect((await store.events(job.id)).filter((e) => e.to === 'succeeded')).toHaveLength(1);
    });

    it('reads ledger rows by finish time, [from, to) exactly, across days and partitions', async () => {
      const times = [
        '2031-04-30T23:59:59.000Z', // before
        '2031-05-01T00:00:00.000Z', // first instant
        '2031-05-02T12:00:00.000Z',
        '2031-05-02T23:59:59.999Z', // last instant
        '2031-05-03T00:00:00.000Z', // after
      ];
      const ids: string[] = [];
      for (const [i, time] of times.entries()) {
        const job = await running(store);
        await store.update(job.id, (j) => {
          const t = transition(j, i === 2 ? 'cancelled' : 'succeeded', 'done', { at: new Date(time) });
          return { ...t, job: { ...t.job, cost: costOf(i === 2 ? null : i) } };
        });
        ids.push(job.id);
      }
      const rows = await ledgerOf(store, ids, new Date('2031-05-01T00:00:00Z'), new Date('2031-05-03T00:00:00Z'));
      expect(rows.map((r) => r.jobId).sort()).toEqual(ids.slice(1, 4).sort());
      expect(rows.find((r) => r.jobId === ids[2])).toMatchObject({ status: 'cancelled', cost: null, labels: {} });
      // Part of a day: the finish time bounds it, not the day.
      const noon = await ledgerOf(store, ids, new Date('2031-05-02T12:00:00.001Z'), new Date('2031-05-03T00:00:00Z'));
      expect(noon.map((r) => r.jobId)).toEqual([ids[3]]);
      expect(await ledgerOf(store, ids, new Date('2031-05-02T00:00:00Z'), new Date('2031-05-02T00:00:00Z'))).toEqual(
        [],
      );
    });

    it('keeps ledger rows out of every list', async () => {
      const job = await running(store);
      await store.update(job.id, (j) => {
        const t = transition(j, 'succeeded', 'done', { at: new Date('2031-06-01T00:00:00Z') });
        return { ...t, job: { ...t.job, cost: costOf(2) } };
      });
      const listed = await store.listByStatus('succeeded', 5000);
      expect(listed.filter((j) => j.id === job.id)).toHaveLength(1);
      const all = await listAll(store, { limit: 500 });
      expect(all.ids.filter((id) => id === job.id)).toHaveLength(1);
      expect(
        await ledgerOf(store, [job.id], new Date('2031-06-01T00:00:00Z'), new Date('2031-06-02T00:00:00Z')),
      ).toHaveLength(1);
    });

    it('refuses continuation tokens it did not issue, naming the field', async () => {
      const b64 = (s: string) => Buffer.from(s).toString('base64url');
      for (const token of [
        'junk',
        'junk!',
        '',
        b64('not json'),
        b64('null'),
        b64('1'),
        b64('{"nextPartitionKey":{}}'),
        b64('{"v":1,"t":-1,"id":"x"}'),
        'A'.repeat(5000),
      ]) {
        const error = await store.list({ limit: 5, continuationToken: token }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).issues[0]?.field).toBe('continuationToken');
      }
    });
  });
}
