import { describe, expect, it } from 'vitest';
import { pollProvider } from '../../../src/lib/app/poll-provider.js';
import { PollThrottledError, ProviderThrottledError, ProviderUnavailableError } from '../../../src/lib/errors.js';
import { appHarness } from '../../support/app-deps.js';

// Rules the poll use case owns, on the in-memory store and queue and a scripted provider.
describe('poll-provider', () => {
  it('a throttled poll fails no job, not even an overdue one, and waits out the Retry-After before asking again', async () => {
    const h = appHarness({ JOB_DEFAULT_MAX_RUNTIME_SEC: '600' });
    const job = await h.seed('running');
    h.provider.setRun(job, { status: 'running' });
    h.advance(601);
    h.provider.failNext('poll', new ProviderThrottledError(h.provider.name, 30_000));

    const first = await pollProvider(h.deps, h.provider.name);
    expect(first).toMatchObject({ active: 1, timedOut: 0, changed: 0, retryAfterMs: 30_000 });
    expect((await h.store.get(job.id))?.status).toBe('running');
    expect(h.provider.calls.cancel).toEqual([]);

    h.advance(29);
    expect(await pollProvider(h.deps, h.provider.name)).toMatchObject({ skipped: 'backing-off' });
    expect(h.provider.calls.poll).toHaveLength(1);

    // After the wait the job is read; the provider says it finished in time.
    h.advance(2);
    h.provider.setRun(job, { status: 'succeeded', nativeStatus: 'Completed' });
    expect(await pollProvider(h.deps, h.provider.name)).toMatchObject({ changed: 1, timedOut: 0 });
    expect((await h.store.get(job.id))?.status).toBe('succeeded');
  });

  it('an outage changes no job and backs off for the default pause when the provider gave no Retry-After', async () => {
    const h = appHarness();
    const job = await h.seed('dispatched');
    h.provider.failNext('poll', new ProviderUnavailableError(h.provider.name, '503'));
    expect(await pollProvider(h.deps, h.provider.name)).toMatchObject({ retryAfterMs: 30_000, changed: 0 });
    expect((await h.store.get(job.id))?.eventSeq).toBe(job.eventSeq);
  });

  it('a poll throttled part-way applies what it read, times out none of the jobs it did not reach, and reads those first next cycle', async () => {
    const h = appHarness({ JOB_DEFAULT_MAX_RUNTIME_SEC: '600' });
    const kept = await h.seed('running', {}, { max_runtime_sec: 36_000 });
    h.advance(1);
    const read = await h.seed('running');
    h.advance(1);
    const unread = await h.seed('running');
    for (const job of [kept, unread]) h.provider.setRun(job, { status: 'running' });
    h.advance(700); // `read` and `unread` are overdue
    h.provider.failNext(
      'poll',
      new PollThrottledError(
        h.provider.name,
        5_000,
        [
          { jobId: kept.id, status: 'running' },
          { jobId: read.id, status: 'succeeded' },
        ],
        [unread.id],
      ),
    );

    const summary = await pollProvider(h.deps, h.provider.name);
    expect(summary).toMatchObject({ reports: 2, changed: 1, timedOut: 0, carried: 1 });
    expect((await h.store.get(read.id))?.status).toBe('succeeded');
    expect((await h.store.get(unread.id))?.status).toBe('running');

    // Next cycle the carried job goes to the provider before the one read last cycle, though that one is older.
    h.advance(6);
    await pollProvider(h.deps, h.provider.name);
    expect(h.provider.calls.poll.at(-1)).toEqual([unread.id, kept.id]);
  });

  it('reads an overdue job before timing it out: one that finished in time succeeds, one still running is stopped and failed', async () => {
    const h = appHarness({ JOB_DEFAULT_MAX_RUNTIME_SEC: '600' });
    const done = await h.seed('running');
    const stuck = await h.seed('running');
    h.provider.setRun(done, { status: 'succeeded', report: { result: { accuracy: 0.9 } } });
    h.provider.setRun(stuck, { status: 'running' });
    h.advance(601);

    expect(await pollProvider(h.deps, h.provider.name)).toMatchObject({ changed: 1, timedOut: 1 });
    const finished = await h.store.get(done.id);
    expect(finished?.status).toBe('succeeded');
    expect(finished?.result?.summary).toEqual({ accuracy: 0.9 });
    const failed = await h.store.get(stuck.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('TIMEOUT');
    expect(h.provider.calls.cancel).toEqual([stuck.id]);
  });

  it('a job within its limit is never timed out', async () => {
    const h = appHarness({ JOB_DEFAULT_MAX_RUNTIME_SEC: '600' });
    const job = await h.seed('running', {}, { max_runtime_sec: 3600 });
    h.provider.setRun(job, { status: 'running' });
    h.advance(601);
    expect(await pollProvider(h.deps, h.provider.name)).toMatchObject({ timedOut: 0 });
    expect((await h.store.get(job.id))?.status).toBe('running');
  });

  it('a vanished run counts as lost only after the grace period, is re-queued as the next attempt, and fails after the last', async () => {
    const h = appHarness({ JOB_STUCK_AFTER_SEC: '60', JOB_MAX_ATTEMPTS: '2' });
    const job = await h.seed('running');
    // No run at the provider: `missing`. A run just created may not be listed yet.
    h.advance(30);
    await pollProvider(h.deps, h.provider.name);
    expect((await h.store.get(job.id))?.status).toBe('running');
    expect(h.queues.sent).toEqual([]);

    h.advance(31);
    await pollProvider(h.deps, h.provider.name);
    const requeued = await h.store.get(job.id);
    expect(requeued).toMatchObject({ status: 'queued', attempts: 1 });
    expect(requeued?.dispatchedAt).toBeUndefined();
    expect(h.queues.sent.map((m) => [m.queue, m.body.jobId])).toEqual([[h.deps.config.queues.ml, job.id]]);
    const history = await h.store.events(job.id);
    expect(history.some((e) => e.type === 'note' && /attempt 1 lost/.test(e.reason))).toBe(true);

    // Attempt 2 is dispatched, and lost too: with JOB_MAX_ATTEMPTS=2 the job fails.
    await h.store.update(job.id, (c) => ({
      job: { ...c, status: 'running', attempts: 2, dispatchedAt: h.now().toISOString() },
      quiet: true as const,
    }));
    h.advance(61);
    await pollProvider(h.deps, h.provider.name);
    const failed = await h.store.get(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('INFRASTRUCTURE_LOST');
    expect(h.queues.sent).toHaveLength(1);
  });

  it('a run that ended without a verdict (lost) is re-dispatched at once, never failed', async () => {
    const h = appHarness({ JOB_MAX_ATTEMPTS: '3' });
    const job = await h.seed('running');
    h.provider.setRun(job, { status: 'lost', nativeStatus: 'NodePreempted' });
    await pollProvider(h.deps, h.provider.name);
    expect((await h.store.get(job.id))?.status).toBe('queued');
    expect(h.queues.peek(h.deps.config.queues.ml).map((b) => b.jobId)).toEqual([job.id]);
  });

  it('re-sends the stop while a cancelling job still runs, and confirms cancelled once the provider no longer has it', async () => {
    const h = appHarness();
    const job = await h.seed('cancelling');
    h.provider.setRun(job, { status: 'running' });
    await pollProvider(h.deps, h.provider.name);
    expect(h.provider.calls.cancel).toEqual([job.id]);
    expect((await h.store.get(job.id))?.status).toBe('cancelling');

    h.provider.vanish(job);
    await pollProvider(h.deps, h.provider.name);
    expect((await h.store.get(job.id))?.status).toBe('cancelled');
  });

  it('ignores a report about an earlier attempt of a job re-dispatched meanwhile', async () => {
    const h = appHarness();
    const job = await h.seed('running');
    h.provider.setRun(job, { status: 'failed', report: { error: { code: 'OOM', message: 'old run' } } });
    // The poll read attempt 1; before it applies the report, the job moved on to attempt 2.
    h.provider.during('poll', async () => {
      await h.store.update(job.id, (c) => ({ job: { ...c, attempts: 2 }, quiet: true as const }));
    });
    await pollProvider(h.deps, h.provider.name);
    expect((await h.store.get(job.id))?.status).toBe('running');
  });
});
