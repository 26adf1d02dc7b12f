import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../../../src/lib/app/lease-keeper.js';
import { runWorkerJob, type WorkerJobContext, type WorkerJobRunner } from '../../../src/lib/app/run-worker-job.js';
import type { ReceivedMessage } from '../../../src/lib/ports/queue.js';
import { appHarness, type AppHarness } from '../../support/app-deps.js';

const HEARTBEAT_SEC = 5;

/** A worker context whose keeper never ticks during the test: only progress reports can beat. */
function context(runner: WorkerJobRunner, keeper: LeaseKeeper): WorkerJobContext {
  return {
    workerId: 'actor-test',
    mode: 'actor',
    lockSec: 30,
    heartbeatSec: HEARTBEAT_SEC,
    maxDeliveries: 5,
    runners: { simulation: runner, command: runner },
    leases: keeper,
  };
}

/** The job's queue message, received, with its lock renewals counted. */
async function received(h: AppHarness, jobId: string): Promise<{ message: ReceivedMessage; renewals: () => number }> {
  const queue = h.deps.config.queues.actor;
  await h.queues.send(queue, [{ jobId }]);
  const [message] = await h.queues.receive(queue, { maxMessages: 1, lockSec: 30 });
  if (!message) throw new Error('no message');
  let renewals = 0;
  const renewLock = message.renewLock.bind(message);
  return {
    message: Object.assign(message, {
      renewLock: () => {
        renewals++;
        return renewLock();
      },
    }),
    renewals: () => renewals,
  };
}

describe('worker heartbeat', () => {
  // Its timer (an hour) never fires here, and the run's release stops it.
  const keeper = () => new LeaseKeeper(3_600_000);

  it('writes no heartbeat for a run shorter than the interval: claim and finish are its only writes', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { queue: h.deps.config.queues.actor });
    const { message, renewals } = await received(h, job.id);
    const before = h.writes();
    const runner: WorkerJobRunner = async ({ progress }) => {
      for (let done = 1; done <= 4; done++) {
        h.advance(1); // 4 s in all, under the 5 s interval
        await progress(done, 4);
      }
      return { outcome: { kind: 'succeeded', result: { rows: 4 } } };
    };
    await runWorkerJob(h.deps, context(runner, keeper()), message, {});
    const after = await h.store.get(job.id);
    expect(after?.status).toBe('succeeded');
    // One write claims and starts the run, one finishes it; the lease written by the claim held.
    expect(h.writes() - before).toBe(2);
    expect(renewals()).toBe(0);
    expect(after?.heartbeatAt).toBeUndefined();
  });

  it('beats once an interval has passed since the claim, renewing the lock and recording progress', async () => {
    const h = appHarness();
    const job = await h.seed('queued', { queue: h.deps.config.queues.actor });
    const { message, renewals } = await received(h, job.id);
    const before = h.writes();
    let seen: { heartbeatAt?: string; progress?: unknown } | undefined;
    const runner: WorkerJobRunner = async ({ progress }) => {
      await progress(1, 3); // at the claim's instant: no beat
      h.advance(HEARTBEAT_SEC + 1);
      await progress(2, 3); // an interval later: a beat
      seen = await h.store.get(job.id);
      await progress(3, 3); // within the next interval: no beat
      return { outcome: { kind: 'succeeded', result: { rows: 3 } } };
    };
    const claimedAt = h.now().toISOString();
    await runWorkerJob(h.deps, context(runner, keeper()), message, {});
    expect(renewals()).toBe(1);
    expect(seen?.progress).toEqual({ done: 2, total: 3, unit: 'rows' });
    expect(seen?.heartbeatAt && Date.parse(seen.heartbeatAt) - Date.parse(claimedAt)).toBe((HEARTBEAT_SEC + 1) * 1000);
    // Claim, one beat, finish.
    expect(h.writes() - before).toBe(3);
    expect((await h.store.get(job.id))?.status).toBe('succeeded');
  });
});
