import { afterEach, describe, expect, it } from 'vitest';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { pollProvider } from '../../../src/lib/app/poll-provider.js';
import { reconcile } from '../../../src/lib/app/reconcile.js';
import { processMessage, type MessageOutcome } from '../../../src/lib/app/process-message.js';
import { submitJob } from '../../../src/lib/app/submit-job.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { setSharedDeps } from '../../../src/lib/deps.js';
import { ProviderCapacityError, ProviderUnavailableError } from '../../../src/lib/errors.js';
import type { CapacityFailure } from '../../../src/lib/ports/provider.js';
import { appHarness, type AppHarness } from '../../support/app-deps.js';

// Capacity failover after create: the provider accepted the job, then a poll sees it could not run
// it for capacity. The job moves along its chain exactly like a refusal of the create call. On the
// in-memory store, queue and capacity store with scripted providers named like real ones.

const BATCH = 'azure-batch';
const LOCAL = 'local';

afterEach(() => setSharedDeps(undefined));

async function submit(h: AppHarness, body: Record<string, unknown> = {}): Promise<JobRecord> {
  const { job } = await submitJob(h.deps, { body: { target: BATCH, ...body }, mode: 'strict', source: 'api' });
  return job;
}

async function deliverAll(h: AppHarness): Promise<MessageOutcome[]> {
  const outcomes: MessageOutcome[] = [];
  for (const m of await h.queues.receive(h.deps.config.queues.batch, { maxMessages: 32, lockSec: 60 })) {
    outcomes.push(await processMessage(m, (body) => handleDispatchMessage(h.deps, body), { maxDeliveries: 5 }));
  }
  return outcomes;
}

const failure = (code: string, over: Partial<CapacityFailure> = {}): CapacityFailure => ({
  code,
  message: `${code}: no machines of the size`,
  lasting: false,
  runEnded: true,
  ...over,
});

/** The provider fails the job's current attempt for capacity (as its status mapping reports it). */
async function failRunForCapacity(h: AppHarness, provider: string, id: string, capacity: CapacityFailure) {
  const job = (await h.store.get(id))!;
  h.providers[provider]!.setRun(job, {
    status: 'no-capacity',
    nativeStatus: 'Failed',
    report: { capacity, error: { code: capacity.code, message: capacity.message, category: 'capacity' } },
  });
  return job;
}

describe('capacity failover after create', () => {
  it('moves a job whose accepted run failed for capacity to its fallback, where a new attempt runs and succeeds', async () => {
    const h = appHarness(
      { CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 1 }, [LOCAL]: { concurrent: 1 } }) },
      { providers: [BATCH, LOCAL] },
    );
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    expect(await h.capacity.slots(BATCH)).toHaveLength(1);
    await failRunForCapacity(h, BATCH, job.id, failure('AccountCoreQuotaReached'));

    const summary = await pollProvider(h.deps, BATCH);
    expect(summary.changed).toBe(1);
    const moved = await h.store.get(job.id);
    expect(moved).toMatchObject({ status: 'queued', provider: LOCAL, attempts: 1 });
    expect(moved?.dispatchedAt).toBeUndefined();
    expect(moved?.decision?.failover).toMatchObject({
      chain: [BATCH, LOCAL],
      steps: [{ round: 1, provider: BATCH, code: 'AccountCoreQuotaReached', next: LOCAL, attempt: 1 }],
    });
    // The failed attempt's place under the cap is given back at once.
    expect(await h.capacity.slots(BATCH)).toEqual([]);
    expect(await h.capacity.lastRefusal(BATCH)).toMatchObject({ jobId: job.id, code: 'AccountCoreQuotaReached' });

    expect(await deliverAll(h)).toEqual(['completed']);
    const dispatched = await h.store.get(job.id);
    expect(dispatched).toMatchObject({ status: 'dispatched', provider: LOCAL, attempts: 2 });
    expect((await h.capacity.slots(LOCAL)).map((s) => s.jobId)).toEqual([job.id]);
    // A new attempt is a new cloud job name: never a second run of attempt 1 anywhere.
    expect(h.providers[BATCH]!.calls.submit).toEqual([job.id]);
    expect(h.providers[LOCAL]!.calls.submit).toEqual([`${job.id}-a2`]);

    h.providers[LOCAL]!.setRun(dispatched!, { status: 'succeeded', report: { result: { ok: true } } });
    await pollProvider(h.deps, LOCAL);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'succeeded', provider: LOCAL });
    const events = await h.store.events(job.id);
    expect(events.filter((e) => e.to === 'failed')).toEqual([]);
    const move = events.find((e) => e.from === 'dispatched' && e.to === 'queued');
    expect(move?.reason).toMatch(
      /azure-batch could not run attempt 1 for capacity \(AccountCoreQuotaReached.*failing over to local/,
    );
    expect(move?.detail).toMatchObject({ failover: { from: BATCH, to: LOCAL, code: 'AccountCoreQuotaReached' } });
  });

  it('two pollers applying the same report move the job once: one message, one run at the fallback', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    await failRunForCapacity(h, BATCH, job.id, failure('AllocationFailed'));
    const sentBefore = h.queues.sent.length;

    await Promise.all([pollProvider(h.deps, BATCH), pollProvider(h.deps, BATCH)]);
    expect(h.queues.sent.length - sentBefore).toBe(1);
    expect((await h.store.get(job.id))?.decision?.failover?.steps).toHaveLength(1);

    // The dispatch is redelivered too (a lost settle): it finds the job dispatched and does nothing.
    const [message] = await h.queues.receive(h.deps.config.queues.batch, { maxMessages: 32, lockSec: 60 });
    await handleDispatchMessage(h.deps, message!.body);
    await handleDispatchMessage(h.deps, message!.body);
    expect(h.providers[LOCAL]!.calls.submit).toEqual([`${job.id}-a2`]);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'dispatched', provider: LOCAL, attempts: 2 });
  });

  it('a poller that dies between the move and its message: the reconciler re-sends and the job reaches its fallback once', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    await failRunForCapacity(h, BATCH, job.id, failure('AllocationFailed'));
    const send = h.queues.send.bind(h.queues);
    h.queues.send = async () => {
      h.queues.send = send;
      throw new Error('process killed before the send');
    };

    await expect(pollProvider(h.deps, BATCH)).rejects.toThrow(/killed/);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'queued', provider: LOCAL });
    expect(await deliverAll(h)).toEqual([]);
    // A second poll finds nothing to move again: the job left the provider with the write.
    await pollProvider(h.deps, BATCH);
    expect((await h.store.get(job.id))?.decision?.failover?.steps).toHaveLength(1);

    h.advance(61);
    expect(await reconcile(h.deps)).toMatchObject({ resent: 1, failed: 0 });
    expect(await deliverAll(h)).toEqual(['completed']);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'dispatched', provider: LOCAL, attempts: 2 });
    expect(h.providers[LOCAL]!.calls.submit).toEqual([`${job.id}-a2`]);
  });

  it('stops a run still waiting at the provider before moving on, and moves nothing while that stop fails', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    await failRunForCapacity(h, BATCH, job.id, failure('AccountCoreQuotaReached', { runEnded: false }));

    h.providers[BATCH]!.failNext('cancel', new ProviderUnavailableError(BATCH, 'down'));
    await pollProvider(h.deps, BATCH);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'dispatched', provider: BATCH });
    expect(h.queues.sent.filter((m) => m.body.jobId === job.id)).toHaveLength(1);

    await pollProvider(h.deps, BATCH);
    expect(h.providers[BATCH]!.calls.cancel).toEqual([job.id, job.id]);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'queued', provider: LOCAL });
  });

  it('an exhausted chain waits with back-off from its first target, then fails NO_CAPACITY naming runtime and create refusals', async () => {
    const h = appHarness({ CAPACITY_RETRY_SCHEDULE_SEC: '10' }, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    await failRunForCapacity(h, BATCH, job.id, failure('AccountCoreQuotaReached', { runEnded: false }));
    await pollProvider(h.deps, BATCH);
    await deliverAll(h);
    await failRunForCapacity(h, LOCAL, job.id, failure('InsufficientCapacity'));
    await pollProvider(h.deps, LOCAL);

    const waiting = await h.store.get(job.id);
    expect(waiting).toMatchObject({ status: 'queued', provider: BATCH, attempts: 2 });
    expect(waiting?.waitingForCapacity).toMatchObject({ reason: 'no-capacity', provider: BATCH, round: 1 });
    const held = h.queues.sent.at(-1);
    expect(held).toMatchObject({
      delaySec: 10,
      body: { jobId: job.id, capacityCheck: waiting?.waitingForCapacity?.token },
    });
    expect(await h.capacity.waiting(BATCH)).toEqual([{ jobId: job.id, since: expect.any(String) }]);
    expect(await deliverAll(h)).toEqual([]);

    // Round 2: Batch refuses the create call this time, Vertex-style stockout at the fallback after it.
    h.advance(10);
    h.providers[BATCH]!.failNext(
      'submit',
      new ProviderCapacityError(BATCH, 'PoolQuotaReached', 'The specified account has reached its pool quota.'),
    );
    expect(await deliverAll(h)).toEqual(['completed']);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'dispatched', provider: LOCAL, attempts: 3 });
    await failRunForCapacity(h, LOCAL, job.id, failure('InsufficientCapacity'));
    await pollProvider(h.deps, LOCAL);

    const failed = await h.store.get(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({ code: 'NO_CAPACITY', category: 'capacity' });
    expect(failed?.error?.message).toMatch(/4 refusal/);
    expect(failed?.error?.message).toMatch(/azure-batch AccountCoreQuotaReached/);
    expect(failed?.error?.message).toMatch(/azure-batch PoolQuotaReached/);
    expect(failed?.error?.message).toMatch(/local InsufficientCapacity ×2/);
    expect(failed?.decision?.failover?.steps.map((s) => [s.round, s.provider, s.code, s.next, s.attempt])).toEqual([
      [1, BATCH, 'AccountCoreQuotaReached', LOCAL, 1],
      [1, LOCAL, 'InsufficientCapacity', undefined, 2],
      [2, BATCH, 'PoolQuotaReached', LOCAL, undefined],
      [2, LOCAL, 'InsufficientCapacity', undefined, 3],
    ]);
    expect((await h.store.events(job.id)).filter((e) => e.to === 'failed')).toHaveLength(1);
    // Every attempt made one cloud job at most, and the one still waiting at Batch was stopped.
    expect(h.providers[BATCH]!.calls.submit).toEqual([job.id, `${job.id}-a3`]);
    expect(h.providers[LOCAL]!.calls.submit).toEqual([`${job.id}-a2`, `${job.id}-a3`]);
    expect(h.providers[BATCH]!.calls.cancel).toEqual([job.id]);
    expect(await h.capacity.waiting(BATCH)).toEqual([]);
  });

  it('fails at once when the only target failed the run for good (a quota of 0)', async () => {
    const h = appHarness({}, { providers: [BATCH] });
    const job = await submit(h);
    await deliverAll(h);
    await failRunForCapacity(h, BATCH, job.id, failure('ResourceLimitExceeded', { lasting: true }));
    await pollProvider(h.deps, BATCH);
    expect(await h.store.get(job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'NO_CAPACITY', message: expect.stringMatching(/azure-batch ResourceLimitExceeded/) },
    });
  });

  it('a job being cancelled whose run failed for capacity ends cancelled, not moved', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    await h.store.update(job.id, (c) => ({
      job: { ...c, status: 'cancelling', cancelRequestedAt: h.now().toISOString(), eventSeq: c.eventSeq },
      quiet: true,
    }));
    await failRunForCapacity(h, BATCH, job.id, failure('AllocationFailed'));
    await pollProvider(h.deps, BATCH);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'cancelled', provider: BATCH });
    expect(h.providers[LOCAL]!.calls.submit).toEqual([]);
  });

  it('attempts lost to capacity do not count against JOB_MAX_ATTEMPTS for runs lost to infrastructure', async () => {
    const h = appHarness({ JOB_MAX_ATTEMPTS: '2' }, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    await deliverAll(h);
    await failRunForCapacity(h, BATCH, job.id, failure('AllocationFailed'));
    await pollProvider(h.deps, BATCH);
    await deliverAll(h);

    // Attempt 2 (the first at LOCAL) is lost: one loss of two allowed, so it runs again.
    h.providers[LOCAL]!.setRun((await h.store.get(job.id))!, { status: 'lost' });
    await pollProvider(h.deps, LOCAL);
    const again = await h.store.get(job.id);
    expect(again).toMatchObject({ status: 'queued', provider: LOCAL, attempts: 2 });
    expect((await h.store.events(job.id)).at(-2)?.reason).toMatch(/re-dispatching as attempt 3 of 3/);

    await deliverAll(h);
    h.providers[LOCAL]!.setRun((await h.store.get(job.id))!, { status: 'lost' });
    await pollProvider(h.deps, LOCAL);
    expect(await h.store.get(job.id)).toMatchObject({
      status: 'failed',
      attempts: 3,
      error: { code: 'INFRASTRUCTURE_LOST', message: expect.stringMatching(/All 2 attempts/) },
    });
  });
});
