import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import { providersList } from '../../../src/functions/providers.js';
import { sweepCapacity } from '../../../src/lib/app/capacity/admission.js';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { processMessage, type MessageOutcome } from '../../../src/lib/app/process-message.js';
import { reconcile } from '../../../src/lib/app/reconcile.js';
import { submitJob } from '../../../src/lib/app/submit-job.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { transition } from '../../../src/lib/core/state-machine.js';
import { setSharedDeps } from '../../../src/lib/deps.js';
import { jobView } from '../../../src/lib/http/http.js';
import { ProviderCapacityError, ProviderThrottledError, ValidationError } from '../../../src/lib/errors.js';
import { appHarness, type AppHarness } from '../../support/app-deps.js';

// Admission control and capacity failover, on the in-memory store, queue and capacity store with
// scripted providers named like real ones (caps are keyed by provider name).

const BATCH = 'azure-batch';
const LOCAL = 'local';

afterEach(() => setSharedDeps(undefined));

async function submit(h: AppHarness, body: Record<string, unknown> = {}): Promise<JobRecord> {
  const { job } = await submitJob(h.deps, { body: { target: BATCH, ...body }, mode: 'strict', source: 'api' });
  return job;
}

/** Delivers every visible message of the dispatch queues once, as the platform would. */
async function deliverAll(h: AppHarness): Promise<MessageOutcome[]> {
  const outcomes: MessageOutcome[] = [];
  for (const queue of [h.deps.config.queues.batch, h.deps.config.queues.ml]) {
    for (const m of await h.queues.receive(queue, { maxMessages: 32, lockSec: 60 })) {
      outcomes.push(await processMessage(m, (body) => handleDispatchMessage(h.deps, body), { maxDeliveries: 5 }));
    }
  }
  return outcomes;
}

/** The provider finishes the job (as a poll would record it). */
async function finish(h: AppHarness, id: string): Promise<void> {
  await h.deps.store.update(id, (c) =>
    transition(c, 'succeeded', 'done', { at: h.now(), patch: { result: { summary: {} } } }),
  );
}

const refusal = (provider: string, code = 'AccountCoreQuotaReached', lasting = false) =>
  new ProviderCapacityError(provider, code, 'no nodes of that size', { lasting });

async function history(h: AppHarness, id: string) {
  return h.store.events(id);
}

describe('admission control', () => {
  it('a job over the concurrency cap waits in its queue with a note and waitingForCapacity, then runs when a place frees', async () => {
    const h = appHarness(
      { CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 2 } }), CAPACITY_WAIT_SEC: '30' },
      { providers: [BATCH] },
    );
    const [a, b, c] = [await submit(h), await submit(h), await submit(h)];

    expect(await deliverAll(h)).toEqual(['completed', 'completed', 'completed']);
    expect((await h.store.get(a.id))?.status).toBe('dispatched');
    expect((await h.store.get(b.id))?.status).toBe('dispatched');
    const waiting = await h.store.get(c.id);
    expect(waiting?.status).toBe('queued');
    expect(waiting?.waitingForCapacity).toMatchObject({ reason: 'concurrency-cap', provider: BATCH });
    expect(waiting?.waitingForCapacity?.detail).toMatch(/2 of 2 azure-batch jobs/);
    // GET /api/jobs/{id} shows the wait, without the token that only pairs it with its message.
    const shown = JSON.parse(JSON.stringify(jobView(waiting!))) as { waitingForCapacity: Record<string, unknown> };
    expect(shown.waitingForCapacity).toMatchObject({
      reason: 'concurrency-cap',
      provider: BATCH,
      nextCheckAt: expect.any(String),
    });
    expect(shown.waitingForCapacity.token).toBeUndefined();
    expect((await history(h, c.id)).at(-1)).toMatchObject({ type: 'note', to: 'queued' });
    expect((await history(h, c.id)).at(-1)?.reason).toMatch(/waiting for capacity/);
    expect(h.providers[BATCH]!.calls.submit).toEqual([a.id, b.id]);
    expect(await h.capacity.slots(BATCH)).toHaveLength(2);
    expect(await h.capacity.waiting(BATCH)).toEqual([{ jobId: c.id, since: expect.any(String) }]);
    // The wait is held by a new delayed message: the first one was completed, no attempt spent.
    const resent = h.queues.sent.at(-1);
    expect(resent).toMatchObject({
      delaySec: 30,
      body: { jobId: c.id, capacityCheck: waiting?.waitingForCapacity?.token },
    });
    expect(await h.queues.receive(h.deps.config.queues.batch, { maxMessages: 32, lockSec: 60 })).toEqual([]);

    await finish(h, a.id);
    expect(await h.capacity.slots(BATCH)).toHaveLength(1);
    h.advance(30);
    const [again] = await h.queues.receive(h.deps.config.queues.batch, { maxMessages: 32, lockSec: 60 });
    expect(again?.deliveryCount).toBe(1);
    expect(await processMessage(again!, (body) => handleDispatchMessage(h.deps, body), { maxDeliveries: 5 })).toBe(
      'completed',
    );
    const dispatched = await h.store.get(c.id);
    expect(dispatched?.status).toBe('dispatched');
    expect(dispatched?.waitingForCapacity).toBeUndefined();
    expect(await h.capacity.waiting(BATCH)).toEqual([]);
    expect((await h.capacity.slots(BATCH)).map((s) => s.jobId).sort()).toEqual([b.id, c.id].sort());
  });

  it('never fails a job for a cap: hours of re-checks leave it queued with one note, and the reconciler leaves it alone', async () => {
    const h = appHarness(
      { CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 1 } }), CAPACITY_WAIT_SEC: '30' },
      { providers: [BATCH] },
    );
    const running = await submit(h);
    const held = await submit(h);
    await deliverAll(h);
    // 4 hours of checks every 30 s, the reconciler passing every 10 minutes (JOB_STUCK_AFTER_SEC is 60 here).
    for (let i = 0; i < 480; i++) {
      h.advance(30);
      expect(await deliverAll(h)).toEqual(['completed']);
      if (i % 20 === 0) expect(await reconcile(h.deps)).toMatchObject({ failed: 0, resent: 0 });
    }
    const job = await h.store.get(held.id);
    expect(job?.status).toBe('queued');
    expect(job?.waitingForCapacity?.reason).toBe('concurrency-cap');
    const events = await history(h, held.id);
    expect(events.filter((e) => e.to === 'failed')).toEqual([]);
    expect(events.filter((e) => e.type === 'note')).toHaveLength(1);
    expect(h.providers[BATCH]!.calls.submit).toEqual([running.id]);
    // Every check was a first delivery of a fresh message: the queue never dead-lettered anything.
    expect(await h.queues.depth(h.deps.config.queues.batch)).toMatchObject({ active: 1, deadLetter: 0 });
  });

  it('a job over the create-rate cap waits until the bucket has a token', async () => {
    const h = appHarness(
      { CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { createsPerMin: 2 } }) },
      { providers: [BATCH] },
    );
    const jobs = [await submit(h), await submit(h), await submit(h)];
    await deliverAll(h);
    const third = await h.store.get(jobs[2]!.id);
    expect(third?.waitingForCapacity).toMatchObject({ reason: 'rate-cap', provider: BATCH });
    // 2 a minute: the next token comes 30 s after the bucket emptied.
    expect(h.queues.sent.at(-1)?.delaySec).toBe(30);
    h.advance(29);
    expect(await deliverAll(h)).toEqual([]);
    h.advance(1);
    expect(await deliverAll(h)).toEqual(['completed']);
    expect((await h.store.get(jobs[2]!.id))?.status).toBe('dispatched');
  });

  it('caps an instance type on top of the provider: jobs naming that VM size wait, others go ahead', async () => {
    const h = appHarness(
      {
        CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 10 }, [`${BATCH}/Standard_NC6`]: { concurrent: 1 } }),
      },
      { providers: [BATCH] },
    );
    const gpu = { spec: { vmSize: 'Standard_NC6' } };
    const first = await submit(h, gpu);
    const second = await submit(h, gpu);
    const plain = await submit(h);
    await deliverAll(h);
    expect((await h.store.get(first.id))?.status).toBe('dispatched');
    expect((await h.store.get(plain.id))?.status).toBe('dispatched');
    const held = await h.store.get(second.id);
    expect(held?.waitingForCapacity?.detail).toMatch(/1 of 1 azure-batch\/Standard_NC6 jobs/);
    // The waiting job holds no place under the provider's own cap either.
    expect((await h.capacity.slots(BATCH)).map((s) => s.jobId).sort()).toEqual([first.id, plain.id].sort());
    await finish(h, first.id);
    expect(await h.capacity.slots(`${BATCH}/Standard_NC6`)).toEqual([]);
    h.advance(30);
    await deliverAll(h);
    expect((await h.store.get(second.id))?.status).toBe('dispatched');
  });

  it('drops a stale copy of the message of a waiting job, so duplicates never fork a second chain of checks', async () => {
    const h = appHarness({ CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 1 } }) }, { providers: [BATCH] });
    await submit(h);
    const held = await submit(h);
    await deliverAll(h);
    const wait = (await h.store.get(held.id))?.waitingForCapacity;
    // A copy carrying an older token (a re-send whose completion was lost) arrives before the check is due.
    await h.queues.send(h.deps.config.queues.batch, [{ jobId: held.id, capacityCheck: 'older-token' }]);
    expect(await deliverAll(h)).toEqual(['completed']);
    expect((await h.store.get(held.id))?.waitingForCapacity?.token).toBe(wait?.token);
    expect(h.queues.peek(h.deps.config.queues.batch)).toHaveLength(1);
  });

  it('the reconciler sweep releases a slot whose job left the provider without giving it back', async () => {
    const h = appHarness({ CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 2 } }) }, { providers: [BATCH] });
    const job = await submit(h);
    await deliverAll(h);
    // A host died between the job's final write and the release: the write bypassed the release.
    await h.store.update(job.id, (c) => transition(c, 'succeeded', 'done', { at: h.now() }));
    expect(await h.capacity.slots(BATCH)).toHaveLength(1);
    expect(await sweepCapacity(h.deps, 60)).toEqual({ slotsReleased: 0, waitsCleared: 0 });
    h.advance(61);
    expect(await sweepCapacity(h.deps, 60)).toEqual({ slotsReleased: 1, waitsCleared: 0 });
    expect(await h.capacity.slots(BATCH)).toEqual([]);
  });
});

describe('capacity failover', () => {
  it('moves a job the provider refuses for capacity to its next fallback in the same delivery, recorded in the decision', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    h.providers[BATCH]!.failNext('submit', refusal(BATCH));
    expect(await deliverAll(h)).toEqual(['completed']);

    const after = await h.store.get(job.id);
    expect(after).toMatchObject({ status: 'dispatched', provider: LOCAL, attempts: 1 });
    expect(after?.decision?.provider).toBe(BATCH);
    expect(after?.decision?.failover).toMatchObject({
      chain: [BATCH, LOCAL],
      steps: [{ round: 1, provider: BATCH, code: 'AccountCoreQuotaReached', next: LOCAL, outcome: 'refused' }],
    });
    const reasons = (await history(h, job.id)).map((e) => e.reason);
    expect(reasons.some((r) => /azure-batch refused for capacity .*failing over to local/.test(r))).toBe(true);
    expect(h.providers[BATCH]!.calls.submit).toEqual([job.id]);
    expect(h.providers[LOCAL]!.calls.submit).toEqual([job.id]);
  });

  it('follows the queue default chain in order, skipping (and recording) a target that cannot run the job', async () => {
    const h = appHarness(
      { CAPACITY_FALLBACK_CHAINS: JSON.stringify({ 'batch-jobs': ['sagemaker', LOCAL] }) },
      { providers: [BATCH, LOCAL] },
    );
    const job = await submit(h);
    expect(job.queue).toBe('batch-jobs');
    h.providers[BATCH]!.failNext('submit', refusal(BATCH, 'PoolQuotaReached'));
    await deliverAll(h);
    const after = await h.store.get(job.id);
    expect(after?.provider).toBe(LOCAL);
    expect(after?.decision?.failover?.steps.map((s) => [s.provider, s.outcome, s.next])).toEqual([
      [BATCH, 'refused', LOCAL],
      ['sagemaker', 'skipped', undefined],
    ]);
  });

  it('an exhausted chain waits with back-off from its first target, then fails with NO_CAPACITY naming every refusal', async () => {
    const h = appHarness({ CAPACITY_RETRY_SCHEDULE_SEC: '10,20' }, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    for (let i = 0; i < 3; i++) {
      h.providers[BATCH]!.failNext('submit', refusal(BATCH));
      h.providers[LOCAL]!.failNext('submit', refusal(LOCAL, 'InsufficientCapacity'));
    }

    expect(await deliverAll(h)).toEqual(['completed']);
    let now = await h.store.get(job.id);
    expect(now).toMatchObject({ status: 'queued', provider: BATCH });
    expect(now?.waitingForCapacity).toMatchObject({ reason: 'no-capacity', provider: BATCH, round: 1 });
    expect(h.queues.sent.at(-1)?.delaySec).toBe(10);

    h.advance(10);
    expect(await deliverAll(h)).toEqual(['completed']);
    now = await h.store.get(job.id);
    expect(now).toMatchObject({ status: 'queued', provider: BATCH });
    expect(now?.waitingForCapacity).toMatchObject({ reason: 'no-capacity', round: 2 });
    expect(h.queues.sent.at(-1)?.delaySec).toBe(20);

    h.advance(20);
    expect(await deliverAll(h)).toEqual(['completed']);
    const failed = await h.store.get(job.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({ code: 'NO_CAPACITY', category: 'capacity' });
    expect(failed?.error?.message).toMatch(/6 refusal/);
    expect(failed?.error?.message).toMatch(/azure-batch AccountCoreQuotaReached ×3/);
    expect(failed?.error?.message).toMatch(/local InsufficientCapacity ×3/);
    expect(failed?.decision?.failover?.steps.map((s) => [s.round, s.provider, s.next])).toEqual([
      [1, BATCH, LOCAL],
      [1, LOCAL, undefined],
      [2, BATCH, LOCAL],
      [2, LOCAL, undefined],
      [3, BATCH, LOCAL],
      [3, LOCAL, undefined],
    ]);
    // Failed once, at the end: never before the schedule ran out.
    expect((await history(h, job.id)).filter((e) => e.to === 'failed')).toHaveLength(1);
    expect(h.providers[BATCH]!.calls.submit).toHaveLength(3);
    expect(h.providers[LOCAL]!.calls.submit).toHaveLength(3);
    expect(await h.capacity.lastRefusal(LOCAL)).toMatchObject({ jobId: job.id, code: 'InsufficientCapacity' });
  });

  it('fails at once when every target refused for good (a quota of 0), rather than waiting through the schedule', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    h.providers[BATCH]!.failNext('submit', refusal(BATCH, 'ResourceLimitExceeded', true));
    h.providers[LOCAL]!.failNext('submit', refusal(LOCAL, 'SkuNotAvailable', true));
    await deliverAll(h);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'failed', error: { code: 'NO_CAPACITY' } });
  });

  it('a refusal with no fallback waits for the next round instead of failing', async () => {
    const h = appHarness({}, { providers: [BATCH] });
    const job = await submit(h);
    h.providers[BATCH]!.failNext('submit', refusal(BATCH));
    await deliverAll(h);
    expect(await h.store.get(job.id)).toMatchObject({
      status: 'queued',
      waitingForCapacity: { reason: 'no-capacity' },
    });
    h.advance(60);
    await deliverAll(h);
    expect((await h.store.get(job.id))?.status).toBe('dispatched');
  });

  it('throttling is not a capacity refusal: the message is redelivered and the job stays at its provider', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const job = await submit(h, { fallback: [LOCAL] });
    h.providers[BATCH]!.failNext('submit', new ProviderThrottledError(BATCH, 1000));
    expect(await deliverAll(h)).toEqual(['abandoned']);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'queued', provider: BATCH });
    expect(h.providers[LOCAL]!.calls.submit).toEqual([]);
  });
});

describe('fallback at submission', () => {
  it('refuses unknown providers, the routed provider itself, targets that cannot run the job and worker jobs, naming the field', async () => {
    const h = appHarness({}, { providers: [BATCH, LOCAL] });
    const attempt = (body: Record<string, unknown>) =>
      submitJob(h.deps, { body, mode: 'strict', source: 'api' }).then(
        () => undefined,
        (e: unknown) => e,
      );
    const unknown = await attempt({ target: BATCH, fallback: ['nowhere'] });
    expect(unknown).toBeInstanceOf(ValidationError);
    expect((unknown as ValidationError).issues).toEqual([
      { field: 'fallback.0', message: expect.stringMatching(/unknown provider/) },
    ]);
    const self = (await attempt({ target: BATCH, fallback: [LOCAL, BATCH] })) as ValidationError;
    expect(self.issues[0]).toMatchObject({ field: 'fallback.1' });
    const kinds = (await attempt({ target: BATCH, fallback: ['vertex'] })) as ValidationError;
    expect(kinds.issues[0]).toMatchObject({ field: 'fallback.0', message: expect.stringMatching(/kind/) });
    const worker = (await attempt({ latency_sensitive: true, fallback: [LOCAL] })) as ValidationError;
    expect(worker.issues[0]).toMatchObject({ field: 'fallback' });
    const twice = (await attempt({ target: BATCH, fallback: [LOCAL, LOCAL] })) as ValidationError;
    expect(twice.issues[0]).toMatchObject({ field: 'fallback' });
  });
});

describe('GET /api/providers', () => {
  it('shows caps, places in use, tokens, waiting jobs and the capacity back-off', async () => {
    const h = appHarness(
      {
        CAPACITY_LIMITS: JSON.stringify({ [BATCH]: { concurrent: 2, createsPerMin: 60 } }),
        CAPACITY_RETRY_SCHEDULE_SEC: '120',
      },
      { providers: [BATCH, LOCAL] },
    );
    await submit(h);
    await submit(h);
    await submit(h);
    const refused = await submit(h, { target: LOCAL });
    h.providers[LOCAL]!.failNext('submit', refusal(LOCAL, 'InsufficientCapacity'));
    await deliverAll(h);
    expect((await h.store.get(refused.id))?.status).toBe('queued');

    setSharedDeps(h.deps);
    const reply = await providersList.handler(
      new HttpRequest({ url: 'http://127.0.0.1/api/providers', method: 'GET' }),
      new InvocationContext({ functionName: 'providersList', invocationId: 'i-1' }),
    );
    expect(reply.status).toBe(200);
    const providers = (reply.jsonBody as { providers: Array<{ name: string; capacity: unknown }> }).providers;
    const byName = Object.fromEntries(providers.map((p) => [p.name, p.capacity]));
    expect(byName[BATCH]).toEqual({
      concurrent: 2,
      createsPerMin: 60,
      inUse: 2,
      tokens: 58,
      waiting: 1,
      lastRefusal: null,
      backingOffUntil: null,
      instanceTypes: {},
    });
    expect(byName[LOCAL]).toMatchObject({
      concurrent: null,
      inUse: null,
      waiting: 1,
      lastRefusal: { jobId: refused.id, code: 'InsufficientCapacity' },
      backingOffUntil: new Date(h.now().getTime() + 120_000).toISOString(),
    });
    expect(byName.worker).toBeNull();
  });
});
