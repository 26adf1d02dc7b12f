import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creationEvent, note, transition } from '../../src/lib/core/state-machine.js';
import { IllegalTransitionError } from '../../src/lib/errors.js';
import type { JobStore } from '../../src/lib/ports/job-store.js';
import { makeJob } from '../support/jobs.js';

async function seed(store: JobStore, overrides: Parameters<typeof makeJob>[0] = {}, body: Record<string, unknown> = {}) {
  const job = makeJob(overrides, body);
  await store.create(job, creationEvent(job, 'submitted via test'));
  return job;
}

/** One contract for every JobStore adapter. */
export function describeJobStoreContract(name: string, makeStore: () => Promise<{ store: JobStore; close?: () => Promise<void> }>): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;
    let close: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ store, close } = await makeStore());
      await store.ensure();
    });
    afterAll(async () => close?.());

    it('reads back a created job and its first history event', async () => {
      const job = await seed(store, {}, { rows: 42, labels: { team: 'ml' } });
      expect(await store.get(job.id)).toEqual(job);
      const events = await store.events(job.id);
      expect(events).toEqual([expect.objectContaining({ seq: 0, from: null, to: 'submitted', reason: 'submitted via test' })]);
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
      expect(events.slice(1).map((e) => e.reason).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `writer ${i}`).sort());
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
      await expect(store.update(job.id, (j) => transition(j, 'running', 'late start'))).rejects.toBeInstanceOf(IllegalTransitionError);
      expect((await store.get(job.id))?.status).toBe('cancelled');
      expect(await store.events(job.id)).toHaveLength(2);
    });

    it('lists by status, newest first, with working continuation tokens', async () => {
      const label = `batch-${Date.now()}`;
      const made = [];
      for (let i = 0; i < 7; i++) {
        const j = await seed(store, { createdAt: new Date(Date.now() + i * 1000 + 3_600_000).toISOString() }, { labels: { run: label } });
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
      for (const [job, p] of [[a, provider], [b, provider], [other, 'someone-else']] as const) {
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
      const first = await store.claimIdempotencyKey(key, 'j-first', 'hash-1');
      const second = await store.claimIdempotencyKey(key, 'j-second', 'hash-2');
      expect(first).toEqual({ created: true, jobId: 'j-first', requestHash: 'hash-1' });
      expect(second).toEqual({ created: false, jobId: 'j-first', requestHash: 'hash-1' });
    });
  });
}
