import { describe, expect, it } from 'vitest';
import { MAX_RESENDS, reconcile } from '../../../src/lib/app/reconcile.js';
import { WORKER_PROVIDER } from '../../../src/lib/core/classifier.js';
import { appHarness } from '../../support/app-deps.js';

// Rules the reconciler owns, on the in-memory store and queue.
describe('reconcile', () => {
  it('re-sends the message of a job stuck in submitted to the intake queue, then fails it after the last re-send', async () => {
    const h = appHarness({ JOB_STUCK_AFTER_SEC: '60' });
    const job = await h.seed('submitted');
    h.advance(59);
    expect(await reconcile(h.deps)).toMatchObject({ resent: 0 });
    expect(h.queues.sent).toEqual([]);

    for (let i = 1; i <= MAX_RESENDS; i++) {
      h.advance(61);
      expect(await reconcile(h.deps)).toMatchObject({ resent: 1, failed: 0 });
      expect((await h.store.get(job.id))?.resends).toBe(i);
    }
    expect(h.queues.sent.map((m) => [m.queue, m.body.jobId])).toEqual(
      Array.from({ length: MAX_RESENDS }, () => [h.deps.config.queues.intake, job.id]),
    );
    h.advance(61);
    expect(await reconcile(h.deps)).toMatchObject({ resent: 0, failed: 1 });
    const failed = await h.store.get(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('STUCK');
  });

  it('re-sends a stuck queued job to its own queue, and the message can be received', async () => {
    const h = appHarness({ JOB_STUCK_AFTER_SEC: '60' });
    const job = await h.seed('queued', { queue: h.deps.config.queues.batch });
    h.advance(61);
    expect(await reconcile(h.deps)).toMatchObject({ resent: 1 });
    const [msg] = await h.queues.receive(h.deps.config.queues.batch, { maxMessages: 5, lockSec: 30 });
    expect(msg?.body.jobId).toBe(job.id);
    expect((await h.store.get(job.id))?.status).toBe('queued');
  });

  it('returns a worker job whose worker went silent to its queue, and leaves a live or cancelling one alone', async () => {
    const h = appHarness({ JOB_STUCK_AFTER_SEC: '60' });
    const at = () => h.now().toISOString();
    const lease = () => ({ owner: 'worker-1', until: new Date(h.now().getTime() + 30_000).toISOString() });
    const worker = { provider: WORKER_PROVIDER, queue: h.deps.config.queues.actor };
    const silent = await h.seed('running', { ...worker, heartbeatAt: at(), lease: lease() });
    const cancelling = await h.seed('cancelling', { ...worker, heartbeatAt: at(), lease: lease() });
    h.advance(100);
    const live = await h.seed('running', { ...worker, heartbeatAt: at(), lease: lease() });

    expect(await reconcile(h.deps)).toMatchObject({ requeued: 1 });
    const back = await h.store.get(silent.id);
    expect(back?.status).toBe('queued');
    expect(back?.lease).toBeUndefined();
    expect((await h.store.get(live.id))?.status).toBe('running');
    expect((await h.store.get(cancelling.id))?.status).toBe('cancelling');
    expect(h.queues.peek(h.deps.config.queues.actor).map((b) => b.jobId)).toEqual([silent.id]);
  });

  it('counts a renewed lease as a sign of life even without a heartbeat', async () => {
    const h = appHarness({ JOB_STUCK_AFTER_SEC: '60' });
    const job = await h.seed('dispatched', {
      provider: WORKER_PROVIDER,
      queue: h.deps.config.queues.actor,
      lease: { owner: 'w', until: new Date(h.now().getTime() + 120_000).toISOString() },
    });
    h.advance(150);
    expect(await reconcile(h.deps)).toMatchObject({ requeued: 0 });
    expect((await h.store.get(job.id))?.status).toBe('dispatched');
    h.advance(31);
    expect(await reconcile(h.deps)).toMatchObject({ requeued: 1 });
  });

  it('offers finished jobs for clean-up once, and a clean-up failure does not stop the pass', async () => {
    const h = appHarness();
    const offered: string[][] = [];
    h.provider.cleanup = async (jobs) => {
      offered.push(jobs.map((j) => j.id));
      return jobs.map((j) => j.id);
    };
    const done = await h.seed('succeeded', { finishedAt: h.now().toISOString() });
    await h.seed('running');
    expect(await reconcile(h.deps)).toMatchObject({ cleanedUp: 1 });
    expect(await reconcile(h.deps)).toMatchObject({ cleanedUp: 0 });
    expect(offered).toEqual([[done.id]]);

    h.provider.cleanup = async () => {
      throw new Error('boom');
    };
    await h.seed('failed');
    expect(await reconcile(h.deps)).toMatchObject({ cleanedUp: 0 });
  });
});
