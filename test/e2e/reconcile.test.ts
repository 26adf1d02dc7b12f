import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RESENDS, reconcile } from '../../src/lib/app/reconcile.js';
import { transition } from '../../src/lib/core/state-machine.js';
import type { Deps } from '../../src/lib/deps.js';
import type { JobRecord } from '../../src/lib/core/job.js';
import type { JobProvider, ProviderRegistry } from '../../src/lib/ports/provider.js';
import { makeJob } from '../support/jobs.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';
import { creationEvent } from '../../src/lib/core/state-machine.js';

describe('reconcile', () => {
  let r: TestRunner;
  const offered: string[][] = [];
  const cleaning: JobProvider = {
    name: 'azure-ml',
    submit: async () => ({ ref: {}, attached: false, status: 'dispatched' }),
    poll: async () => [],
    cancel: async () => undefined,
    // Done with every job but the ones labelled "keep" (still inside the provider's retention).
    cleanup: async (jobs) => {
      offered.push(jobs.map((j) => j.id));
      return jobs.filter((j) => j.spec.labels.keep !== 'yes').map((j) => j.id);
    },
  };
  beforeAll(async () => {
    // No triggers or workers: the test drives reconcile itself.
    r = await startTestRunner({ JOB_STUCK_AFTER_SEC: '60' }, { workers: false, functions: [] });
  });
  afterAll(async () => r?.stop());

  const later = (deps: Deps, minutes: number, providers?: ProviderRegistry): Deps => ({
    ...deps,
    now: () => new Date(Date.now() + minutes * 60_000),
    ...(providers && { providers }),
  });

  async function seed(
    status: JobRecord['status'],
    patch: Partial<JobRecord> = {},
    labels: Record<string, string> = {},
  ): Promise<JobRecord> {
    const job = makeJob({}, { labels });
    await r.deps.store.create(job, creationEvent(job, 'test'));
    const path: JobRecord['status'][] = ['queued', 'dispatched', 'running', 'succeeded'];
    let current = job;
    for (const s of path.slice(0, path.indexOf(status as never) + 1)) {
      current = await r.deps.store.update(job.id, (c) =>
        transition(c, s, 'test', {
          patch: s === 'queued' ? { queue: r.deps.config.queues.spark, ...patch } : s === 'dispatched' ? patch : {},
        }),
      );
    }
    return current;
  }

  it('re-sends the message of a job stuck in submitted, and fails it after the last re-send', async () => {
    const job = await seed('submitted');
    for (let i = 0; i < MAX_RESENDS; i++) {
      await reconcile(later(r.deps, 2 + i * 2));
      expect((await r.deps.store.get(job.id))?.resends).toBe(i + 1);
    }
    const intake = await r.deps.queues.depth(r.deps.config.queues.intake);
    expect(intake.active).toBeGreaterThanOrEqual(MAX_RESENDS);
    await reconcile(later(r.deps, 30));
    const failed = await r.deps.store.get(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('STUCK');
  });

  it('leaves a job alone while it is within the stuck limit', async () => {
    const job = await seed('queued');
    await reconcile(r.deps);
    expect((await r.deps.store.get(job.id))?.resends).toBeUndefined();
  });

  it('returns the job of a worker that went silent to its queue', async () => {
    const job = await seed('running', {
      provider: 'worker',
      lease: { owner: 'spark-gone/1', until: new Date(Date.now() + 1000).toISOString() },
    });
    const summary = await reconcile(later(r.deps, 10));
    expect(summary.requeued).toBeGreaterThanOrEqual(1);
    const after = await r.deps.store.get(job.id);
    expect(after?.status).toBe('queued');
    expect(after?.lease).toBeUndefined();
    const events = await r.deps.store.events(job.id);
    expect(events.at(-1)?.reason).toContain('spark-gone/1 went silent');
  });

  it('offers finished jobs to their provider for clean-up once, keeping those it is not done with', async () => {
    const registry: ProviderRegistry = { configured: () => ['azure-ml'], get: async () => cleaning };
    const done = await seed('succeeded', { provider: 'azure-ml' });
    const kept = await seed('succeeded', { provider: 'azure-ml' }, { keep: 'yes' });
    const running = await seed('running', { provider: 'azure-ml' });
    await reconcile(later(r.deps, 1, registry));
    expect(offered.at(-1)?.sort()).toEqual([done.id, kept.id].sort());
    expect((await r.deps.store.get(done.id))?.providerRef?.cleanedUp).toBe(true);
    await reconcile(later(r.deps, 1, registry));
    expect(offered.at(-1)).toEqual([kept.id]);
    expect(offered.flat()).not.toContain(running.id);
  });
});
