import { describe, expect, it } from 'vitest';
import { cancelJob } from '../../../src/lib/app/cancel-job.js';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { processMessage } from '../../../src/lib/app/process-message.js';
import { ProviderRejectedError, ProviderThrottledError } from '../../../src/lib/errors.js';
import { appHarness } from '../../support/app-deps.js';

// Rules the dispatch handler owns, on the in-memory store and queue with a scripted provider.
describe('dispatch-job', () => {
  it('submits a queued job as attempt 1 and records it dispatched with the provider handle', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { provider: h.provider.name });
    await handleDispatchMessage(h.deps, { jobId: job.id });
    const after = await h.store.get(job.id);
    expect(after).toMatchObject({ status: 'dispatched', attempts: 1, providerRef: { runName: job.id } });
    expect(h.provider.calls.submit).toEqual([job.id]);
  });

  it('a redelivery after the first delivery started the run but crashed before recording it re-attaches, starting nothing new', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { provider: h.provider.name });
    // The first delivery's submit reached the provider; then its host died.
    await h.provider.submit({ ...job, attempts: 1 });
    await handleDispatchMessage(h.deps, { jobId: job.id });

    expect(h.provider.runs.size).toBe(1);
    const after = await h.store.get(job.id);
    expect(after).toMatchObject({ status: 'dispatched', attempts: 1 });
    const events = await h.store.events(job.id);
    expect(events.at(-1)?.reason).toMatch(/re-attached/);

    // And a redelivery once the job is dispatched does not even ask the provider.
    await handleDispatchMessage(h.deps, { jobId: job.id });
    expect(h.provider.calls.submit).toHaveLength(2);
    expect((await h.store.get(job.id))?.eventSeq).toBe(after?.eventSeq);
  });

  it('a re-dispatch after a lost attempt starts a run of its own for the next attempt', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { provider: h.provider.name, attempts: 1 });
    h.provider.setRun(job, { status: 'lost' });
    await handleDispatchMessage(h.deps, { jobId: job.id });
    expect(await h.store.get(job.id)).toMatchObject({ status: 'dispatched', attempts: 2 });
    expect(h.provider.calls.submit).toEqual([`${job.id}-a2`]);
    expect(h.provider.runs.size).toBe(2);
  });

  it('a job the provider reports running at submit becomes dispatched and running in one write', async () => {
    const h = appHarness();
    h.provider.startStatus = 'running';
    const job = await h.seed('queued', { provider: h.provider.name });
    const before = h.writes();
    await handleDispatchMessage(h.deps, { jobId: job.id });
    expect(h.writes() - before).toBe(1);
    expect((await h.store.get(job.id))?.status).toBe('running');
    const transitions = (await h.store.events(job.id)).filter((e) => e.type === 'transition').map((e) => e.to);
    expect(transitions).toEqual(['queued', 'dispatched', 'running']);
  });

  it('a cancel that lands while the provider is submitting stops the cloud job just started', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { provider: h.provider.name });
    h.provider.during('submit', async () => {
      await cancelJob(h.deps, job.id);
    });
    await handleDispatchMessage(h.deps, { jobId: job.id });

    expect((await h.store.get(job.id))?.status).toBe('cancelled');
    expect(h.provider.calls.cancel).toEqual([job.id]);
    expect(h.provider.run({ id: job.id, attempts: 1 })?.status).toBe('cancelling');
    const last = (await h.store.events(job.id)).at(-1);
    expect(last?.type).toBe('note');
    expect(last?.reason).toMatch(/raced the cancel/);
  });

  it('a throttled submit leaves the job queued and the message redelivered; the next delivery dispatches it', async () => {
    const h = appHarness();
    const queue = h.deps.config.queues.ml;
    const job = await h.seed('queued', { provider: h.provider.name });
    await h.queues.send(queue, [{ jobId: job.id }]);
    h.provider.failNext('submit', new ProviderThrottledError(h.provider.name, 1000));
    const handle = (body: Record<string, unknown>) => handleDispatchMessage(h.deps, body);

    const [first] = await h.queues.receive(queue, { maxMessages: 1, lockSec: 30 });
    expect(await processMessage(first!, handle, { maxDeliveries: 5 })).toBe('abandoned');
    expect((await h.store.get(job.id))?.status).toBe('queued');

    const [second] = await h.queues.receive(queue, { maxMessages: 1, lockSec: 30 });
    expect(second?.deliveryCount).toBe(2);
    expect(await processMessage(second!, handle, { maxDeliveries: 5 })).toBe('completed');
    expect((await h.store.get(job.id))?.status).toBe('dispatched');
    expect(await h.queues.depth(queue)).toMatchObject({ active: 0, deadLetter: 0 });
  });

  it('a job the provider refuses for good fails with the reason and the message is consumed', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { provider: h.provider.name });
    h.provider.failNext(
      'submit',
      new ProviderRejectedError(h.provider.name, 'QuotaExceeded', 'no GPUs in this region'),
    );
    await handleDispatchMessage(h.deps, { jobId: job.id });
    const failed = await h.store.get(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({ code: 'QuotaExceeded', category: 'provider' });
  });

  it('drops a message for a job that does not exist, and refuses a malformed one', async () => {
    const h = appHarness();
    await expect(handleDispatchMessage(h.deps, { jobId: 'no-such-job' })).resolves.toBeUndefined();
    await expect(handleDispatchMessage(h.deps, { job: 1 })).rejects.toThrow(/jobId/);
    expect(h.provider.calls.submit).toEqual([]);
  });
});
