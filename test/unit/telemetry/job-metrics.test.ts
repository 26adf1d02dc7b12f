import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { creationEvent, transition } from '../../../src/lib/core/state-machine.js';
import { PollThrottledError } from '../../../src/lib/errors.js';
import type { JobProvider } from '../../../src/lib/ports/provider.js';
import { instrumentedStore } from '../../../src/lib/telemetry/instrumented-store.js';
import { countingPollCycle } from '../../../src/lib/telemetry/metrics.js';
import { tracedProvider } from '../../../src/lib/telemetry/traced-provider.js';
import { InMemoryJobStore } from '../../fakes/in-memory-stores.js';
import { makeJob } from '../../support/jobs.js';
import { startTestTelemetry, type TestTelemetry } from '../../support/telemetry.js';

describe('job metrics', () => {
  let t: TestTelemetry;
  beforeAll(async () => {
    t = await startTestTelemetry();
  });
  afterAll(async () => t?.stop());
  beforeEach(() => t.spans.reset());

  it('counts each committed transition once (not unchanged updates), with time queued, dispatched and run', async () => {
    const store = instrumentedStore(new InMemoryJobStore());
    const job = makeJob();
    await store.create(job, creationEvent(job, 'test'));
    const t0 = Date.parse(job.createdAt);
    const at = (s: number) => new Date(t0 + s * 1000);
    const before = await t.counter('cjo.job.transitions', { from: 'queued', to: 'dispatched' });

    await store.update(job.id, (c) =>
      transition(c, 'queued', 'classified', { at: at(1), patch: { queue: 'batch-jobs', provider: 'local' } }),
    );
    await store.update(job.id, (c) => transition(c, 'dispatched', 'submitted', { at: at(4) }));
    await store.update(job.id, (c) => transition(c, 'running', 'started', { at: at(5) }));
    await store.update(job.id, (c) => ({ job: c, unchanged: true }));
    await store.update(job.id, (c) => transition(c, 'succeeded', 'done', { at: at(15) }));

    expect((await t.counter('cjo.job.transitions', { from: 'queued', to: 'dispatched' })) - before).toBe(1);
    expect(await t.counter('cjo.job.transitions', { from: 'none', to: 'submitted' })).toBeGreaterThanOrEqual(1);
    const queued = await t.histogram('cjo.job.queued.duration', { queue: 'batch-jobs' });
    expect(queued).toEqual({ count: 1, sum: 3 });
    expect(await t.histogram('cjo.job.dispatched.duration', { provider: 'local' })).toEqual({ count: 1, sum: 1 });
    expect(await t.histogram('cjo.job.run.duration', { provider: 'local', outcome: 'succeeded' })).toEqual({
      count: 1,
      sum: 10,
    });
  });

  it('passes every other store method through to the store itself', async () => {
    const inner = new InMemoryJobStore();
    const store = instrumentedStore(inner);
    expect(instrumentedStore(store)).toBe(store);
    const job = makeJob();
    await store.create(job, creationEvent(job, 'test'));
    expect((await store.get(job.id))?.id).toBe(job.id);
    expect((await inner.events(job.id)).map((e) => e.to)).toEqual(['submitted']);
  });

  it('traces provider calls and counts the throttled ones of a poll cycle', async () => {
    const job = makeJob({ status: 'running', provider: 'fake' });
    let throttle = false;
    const fake: JobProvider = {
      name: 'fake',
      submit: async () => ({ ref: {}, attached: false, status: 'dispatched' }),
      poll: async () => {
        if (throttle) throw new PollThrottledError('fake', 1000, [], [job.id]);
        return [{ jobId: job.id, status: 'running' }];
      },
      cancel: async () => undefined,
    };
    const provider = tracedProvider(fake);
    expect(provider.name).toBe('fake');
    expect(provider.result).toBeUndefined();

    await countingPollCycle('fake', async () => {
      await provider.poll([job]);
      throttle = true;
      await expect(provider.poll([job])).rejects.toBeInstanceOf(PollThrottledError);
    });

    const cycle = {
      calls: await t.histogram('cjo.poll.provider_calls', { provider: 'fake' }),
      throttles: await t.histogram('cjo.poll.throttles', { provider: 'fake' }),
    };
    expect(cycle).toEqual({ calls: { count: 1, sum: 2 }, throttles: { count: 1, sum: 1 } });
    expect(await t.counter('cjo.provider.calls', { provider: 'fake', operation: 'poll', throttled: true })).toBe(1);
    const spans = (await t.finished()).filter((s) => s.name === 'provider.poll');
    expect(spans.map((s) => s.attributes['provider.throttled'])).toEqual([false, true]);
    expect(spans[1]!.attributes['provider.outcome']).toBe('error');
  });
});
