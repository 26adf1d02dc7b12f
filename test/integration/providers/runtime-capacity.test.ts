import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { pollProvider } from '../../../src/lib/app/poll-provider.js';
import { processMessage, type MessageOutcome } from '../../../src/lib/app/process-message.js';
import { submitJob } from '../../../src/lib/app/submit-job.js';
import { runKey, type JobRecord } from '../../../src/lib/core/job.js';
import { appHarness, type AppHarness } from '../../support/app-deps.js';
import {
  azureBatchHarness,
  azureMlHarness,
  type CapacityHarness,
  sageMakerHarness,
  vertexHarness,
} from '../../support/provider-harnesses.js';

// Capacity failover after create, per provider: the real adapter submits to its wire fake, the
// fake then fails the accepted run for capacity the way the provider documents it, and the real
// poll and dispatch use cases move the job to its fallback (where it succeeds), or — no fallback —
// retry it on a new attempt and fail it with NO_CAPACITY naming every refusal.

const LOCAL = 'local';

async function deliverAll(h: AppHarness, queue: string): Promise<MessageOutcome[]> {
  const outcomes: MessageOutcome[] = [];
  for (const m of await h.queues.receive(queue, { maxMessages: 32, lockSec: 60 })) {
    outcomes.push(await processMessage(m, (body) => handleDispatchMessage(h.deps, body), { maxDeliveries: 5 }));
  }
  return outcomes;
}

/** A job for the provider as a client submits it: the harness's kind and spec, routed by target. */
async function submitFor(h: AppHarness, p: CapacityHarness, extra: Record<string, unknown>): Promise<JobRecord> {
  const template = p.newJob();
  const body = {
    ...(template.spec.max_runtime_sec !== undefined && { max_runtime_sec: template.spec.max_runtime_sec }),
    target: template.provider,
    ...(template.spec.kind !== undefined && { kind: template.spec.kind }),
    ...(template.spec.spec !== undefined && { spec: template.spec.spec }),
    ...extra,
  };
  const { job } = await submitJob(h.deps, { body, mode: 'strict', source: 'api' });
  return job;
}

/** `fresh`: a harness per case (the Batch pool keeps its failed resize, the provider its look at it). */
function runtimeFailover(name: string, make: () => CapacityHarness, fresh = false): void {
  describe(name, () => {
    let p = make();
    if (fresh) {
      beforeEach(async () => {
        p = make();
        await p.start();
      });
      afterEach(() => p.stop());
    } else {
      beforeAll(() => p.start());
      afterAll(() => p.stop());
    }
    const provider = () => p.provider();

    it(`fails over to the fallback when ${make().runtimeCapacity.what}, and the job succeeds there`, async () => {
      const h = appHarness({}, { providers: [LOCAL], real: { [provider().name]: provider() } });
      const job = await submitFor(h, p, { fallback: [LOCAL] });
      const queue = job.queue!;
      expect(await deliverAll(h, queue)).toEqual(['completed']);
      const dispatched = (await h.store.get(job.id))!;
      expect(dispatched).toMatchObject({ status: 'dispatched', provider: provider().name, attempts: 1 });

      p.runtimeCapacity.inject(dispatched);
      if (p.runtimeCapacity.stopped) expect(p.runtimeCapacity.stopped(dispatched)).toBe(false);
      await pollProvider(h.deps, provider().name);
      if (p.runtimeCapacity.stopped) expect(p.runtimeCapacity.stopped(dispatched)).toBe(true);
      const moved = await h.store.get(job.id);
      expect(moved).toMatchObject({ status: 'queued', provider: LOCAL, attempts: 1 });
      expect(moved?.decision?.failover?.steps).toEqual([
        expect.objectContaining({
          provider: provider().name,
          code: p.runtimeCapacity.code,
          outcome: 'refused',
          next: LOCAL,
          attempt: 1,
        }),
      ]);

      expect(await deliverAll(h, queue)).toEqual(['completed']);
      const atFallback = (await h.store.get(job.id))!;
      expect(atFallback).toMatchObject({ status: 'dispatched', provider: LOCAL, attempts: 2 });
      h.providers[LOCAL]!.setRun(atFallback, { status: 'succeeded', report: { result: { ok: true } } });
      await pollProvider(h.deps, LOCAL);
      expect(await h.store.get(job.id)).toMatchObject({ status: 'succeeded', provider: LOCAL });
      // One cloud job at the provider, for attempt 1 only; the move polled nothing twice into being.
      expect(p.runsNamed(p.derivedName(job.id))).toHaveLength(1);
      expect(p.runsNamed(p.derivedName(runKey({ id: job.id, attempts: 2 })))).toEqual([]);
      expect(h.providers[LOCAL]!.calls.submit).toEqual([`${job.id}-a2`]);
    });

    it('with no target left retries on a new attempt after the back-off, then fails NO_CAPACITY naming each refusal', async () => {
      const h = appHarness(
        { CAPACITY_RETRY_SCHEDULE_SEC: '5' },
        { providers: [LOCAL], real: { [provider().name]: provider() } },
      );
      const job = await submitFor(h, p, {});
      const queue = job.queue!;
      await deliverAll(h, queue);
      p.runtimeCapacity.inject((await h.store.get(job.id))!);
      await pollProvider(h.deps, provider().name);
      const waiting = await h.store.get(job.id);
      expect(waiting).toMatchObject({ status: 'queued', provider: provider().name });
      expect(waiting?.waitingForCapacity).toMatchObject({ reason: 'no-capacity', round: 1 });

      h.advance(5);
      await deliverAll(h, queue);
      const second = (await h.store.get(job.id))!;
      // The provider may accept attempt 2 (a new cloud job name) or, knowing the capacity is gone,
      // refuse it at create; either way it is the second and last refusal.
      if (second.status === 'dispatched') {
        expect(second.attempts).toBe(2);
        expect(p.runsNamed(p.derivedName(runKey(second)))).toHaveLength(1);
        p.runtimeCapacity.inject(second);
        await pollProvider(h.deps, provider().name);
      }
      const failed = await h.store.get(job.id);
      expect(failed?.status).toBe('failed');
      expect(failed?.error).toMatchObject({ code: 'NO_CAPACITY', category: 'capacity' });
      expect(failed?.error?.message).toMatch(/No capacity after 2 refusal/);
      expect(failed?.error?.message).toContain(`${provider().name} ${p.runtimeCapacity.code}`);
      expect(p.runsNamed(p.derivedName(job.id))).toHaveLength(1);
    });
  });
}

runtimeFailover('SageMaker', sageMakerHarness);
runtimeFailover('Azure ML', azureMlHarness);
runtimeFailover('Vertex AI (REST)', () => vertexHarness('rest'));
runtimeFailover('Vertex AI (gRPC)', () => vertexHarness('grpc'));
runtimeFailover('Azure Batch', azureBatchHarness, true);
