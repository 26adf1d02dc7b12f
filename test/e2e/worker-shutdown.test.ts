import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobWorker } from '../../src/worker/job-worker.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';
import {
  actor,
  jobState,
  ownedBy,
  spawnWorker,
  startInProcessWorker,
  type WorkerProcess,
} from '../support/worker-process.js';

/**
 * The spark worker as a real process on Storage Queues (Azurite): SIGTERM with a short and a long
 * grace period, and SIGKILL mid-job. Job state lives in the runner's tables; the runner itself runs
 * no workers, so every claim in a job's history comes from a worker this file started.
 */
describe('worker shutdown and crash on Storage Queues (worker processes)', () => {
  let r: TestRunner;
  const processes: WorkerProcess[] = [];
  const inProcess: JobWorker[] = [];

  // The A workers run the simulation at 0.01 (a 3000 s estimate takes 30 s); the replica that takes
  // over runs at 0.001 so the restarted job finishes quickly.
  const SLOW_SCALE = '0.01';
  const FAST_SCALE = 0.001;

  beforeAll(async () => {
    r = await startTestRunner(
      { WORKER_LOCK_SEC: '5', WORKER_HEARTBEAT_SEC: '0.2', SIMULATION_TIME_SCALE: SLOW_SCALE },
      { workers: false },
    );
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.dispose()));
    await Promise.all(inProcess.splice(0).map((w) => w.shutdown(0)));
  });
  afterAll(async () => {
    await r?.stop();
  });

  const spawnSpark = (env: Record<string, string> = {}) => {
    const p = spawnWorker({ ...r.deps.config.env, ...env }, 'spark');
    processes.push(p);
    return p;
  };
  const submit = async (body: Record<string, unknown>) => {
    const res = await r.post('/api/jobs', { ...body, target: r.deps.config.queues.spark });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const state = (id: string) => jobState(r.deps, id);

  it('SIGTERM during a long job with a short grace: exit 0, job released to queued, then run to succeeded once by another worker', async () => {
    const a = spawnSpark({ WORKER_SHUTDOWN_GRACE_SEC: '0.5' });
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 3000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId) && (s.job.progress?.done ?? 0) > 0,
      60_000,
      'worker A to run the job',
    );

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });

    // Released before the process exited: nothing depends on a lease running out.
    const released = await state(id);
    expect(released.job.status).toBe('queued');
    expect(released.job.lease).toBeUndefined();
    const last = released.events.at(-1)!;
    expect(last).toMatchObject({ type: 'transition', from: 'running', to: 'queued' });
    expect(last.reason).toMatch(new RegExp(`^released by ${actor(aId)} on shutdown after \\d+ rows; will restart$`));
    expect(a.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);

    // The abandoned message is visible again: a second worker process takes it from the queue.
    const b = spawnSpark({ SIMULATION_TIME_SCALE: String(FAST_SCALE) });
    const bId = await b.ready;
    const done = await waitFor(
      () => state(id),
      (s) => s.job.status === 'succeeded',
      60_000,
      'worker B to finish the job',
    );

    expect(done.job.attempts).toBe(2);
    expect(done.job.result).toBeDefined();
    const transitions = done.events.filter((e) => e.type === 'transition');
    expect(transitions.filter((e) => e.to === 'succeeded')).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(new RegExp(`^completed on ${actor(bId)}$`)) }),
    ]);
    expect(transitions.filter((e) => e.to === 'dispatched').map((e) => e.reason)).toEqual([
      expect.stringMatching(new RegExp(`^claimed by ${actor(aId)}$`)),
      expect.stringMatching(new RegExp(`^claimed by ${actor(bId)}$`)),
    ]);
    expect(transitions.filter((e) => /on shutdown/.test(e.reason))).toHaveLength(1);
    expect(transitions.map((e) => e.to)).toEqual([
      'submitted',
      'queued',
      'dispatched',
      'running',
      'queued',
      'dispatched',
      'running',
      'succeeded',
    ]);
    const summary = (await (await r.api(`/api/jobs/${id}/result`)).json()) as { result: { rows_processed: number } };
    expect(summary.result.rows_processed).toBe(1000);
    // The message was completed, not left for a third delivery.
    await waitFor(
      () => r.deps.queues.depth(r.deps.config.queues.spark),
      (d) => d.active === 0 && d.deadLetter === 0,
      30_000,
      'the spark queue to drain',
    );
  }, 120_000);

  it('SIGTERM during a job that finishes within the grace period: the same worker completes it and takes nothing new', async () => {
    const a = spawnSpark({ WORKER_SHUTDOWN_GRACE_SEC: '120', WORKER_CONCURRENCY: '1' });
    const aId = await a.ready;
    const first = await submit({ rows: 1000, estimated_runtime_sec: 400 });
    const second = await submit({ rows: 1000, estimated_runtime_sec: 400 });
    // With one slot, worker A runs one job while the other waits in the queue.
    const running = await waitFor(
      () => Promise.all([state(first), state(second)]),
      (ss) =>
        ss.some(
          (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId) && (s.job.progress?.done ?? 0) > 0,
        ) && ss.some((s) => s.job.status === 'queued'),
      60_000,
      'worker A to run one job with the other queued',
    );
    const ranIdx = running.findIndex((s) => ownedBy(s.job.lease?.owner, aId));
    const ranId = ranIdx === 0 ? first : second;
    const waitingId = ranIdx === 0 ? second : first;

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });

    const ran = await state(ranId);
    expect(ran.job.status).toBe('succeeded');
    expect(ran.job.attempts).toBe(1);
    expect(ran.events.filter((e) => e.to === 'succeeded')).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(new RegExp(`^completed on ${actor(aId)}$`)) }),
    ]);
    expect(ran.events.some((e) => /released|on shutdown|taken over/.test(e.reason))).toBe(false);
    // Shutdown stopped intake: the waiting job was never claimed by A.
    const waiting = await state(waitingId);
    expect(waiting.job.status).toBe('queued');
    expect(waiting.job.attempts).toBe(0);
    expect(waiting.events.some((e) => e.reason.includes(aId))).toBe(false);

    // And it is not lost: the next replica runs it.
    const b = startInProcessWorker(r.deps, 'spark', { timeScale: FAST_SCALE, workerId: 'spark-b-graceful' });
    inProcess.push(b);
    const later = await waitFor(
      () => state(waitingId),
      (s) => s.job.status === 'succeeded',
      60_000,
      'the waiting job to run',
    );
    expect(later.events.filter((e) => e.to === 'succeeded')).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(new RegExp(`^completed on ${actor('spark-b-graceful')}$`)),
      }),
    ]);
  }, 120_000);

  it('SIGKILL mid-job: the lock and lease run out, another worker takes over and the job succeeds once', async () => {
    const a = spawnSpark();
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 3000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId),
      60_000,
      'worker A to run the job',
    );

    // A competing replica polls the queue the whole time A runs.
    const b = startInProcessWorker(r.deps, 'spark', { timeScale: FAST_SCALE, workerId: 'spark-b-takeover' });
    inProcess.push(b);
    // A quarter of the job is at least 7.5 s of A's work, past the 5 s visibility timeout: only
    // A's renewals kept the message from B.
    const midway = await waitFor(
      () => state(id),
      (s) => (s.job.progress?.done ?? 0) >= 250,
      60_000,
      'worker A to pass a quarter of the job',
    );
    expect(ownedBy(midway.job.lease?.owner, aId)).toBe(true);
    expect(midway.job.attempts).toBe(1);
    expect(midway.events.some((e) => e.reason.includes('spark-b-takeover'))).toBe(false);

    a.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const killed = await state(id);
    expect(killed.job.status).toBe('running');

    const done = await waitFor(
      () => state(id),
      (s) => s.job.status === 'succeeded',
      90_000,
      'worker B to take over and finish',
    );
    expect(done.job.attempts).toBe(2);
    const notes = done.events.filter((e) => e.type === 'note').map((e) => e.reason);
    expect(notes).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^taken over by ${actor('spark-b-takeover')} \\(previous lease of ${actor(aId)} expired\\); restarting$`,
        ),
      ),
    );
    expect(done.events.filter((e) => e.to === 'succeeded' && e.type === 'transition')).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(new RegExp(`^completed on ${actor('spark-b-takeover')}$`)),
      }),
    ]);
    // One claim from the queue: the takeover is a note on the running job, not a second dispatch.
    expect(done.events.filter((e) => e.type === 'transition' && e.to === 'dispatched')).toHaveLength(1);
    expect(done.job.progress).toEqual({ done: 1000, total: 1000, unit: 'rows' });
    await waitFor(
      () => r.deps.queues.depth(r.deps.config.queues.spark),
      (d) => d.active === 0 && d.deadLetter === 0,
      30_000,
      'the spark queue to drain',
    );
  }, 150_000);

  it('a run whose work steps outlast the lock keeps its message and lease: no takeover while the worker lives', async () => {
    // At 0.2 a 3000 s estimate is 50 steps of 12 s: each step outlasts the 5 s lock and lease, so
    // only heartbeats between steps would leave the message to the competing replica mid-step.
    const a = spawnSpark({ SIMULATION_TIME_SCALE: '0.2' });
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 3000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId),
      60_000,
      'worker A to run the job',
    );
    const b = startInProcessWorker(r.deps, 'spark', { timeScale: FAST_SCALE, workerId: 'spark-b-long-step' });
    inProcess.push(b);

    const afterStep = await waitFor(
      () => state(id),
      (s) => (s.job.progress?.done ?? 0) >= 20 || s.events.some((e) => e.reason.includes('spark-b-long-step')),
      60_000,
      'worker A to finish its first step (or lose the job)',
    );
    expect(afterStep.events.filter((e) => e.reason.includes('spark-b-long-step'))).toEqual([]);
    expect(ownedBy(afterStep.job.lease?.owner, aId)).toBe(true);
    expect(afterStep.job.attempts).toBe(1);
    a.kill('SIGKILL');
    await a.exited;
    // Left to the replica, which restarts it once A's lease has lapsed.
    const done = await waitFor(
      () => state(id),
      (s) => s.job.status === 'succeeded',
      60_000,
      'the replica to finish the job',
    );
    expect(done.job.attempts).toBe(2);
  }, 120_000);

  it('a job whose worker died on more deliveries than QUEUE_MAX_DELIVERIES is failed, not run again (as Service Bus dead-letters it)', async () => {
    const a = spawnSpark();
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 3000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId),
      60_000,
      'worker A to run the job',
    );
    a.kill('SIGKILL');
    await a.exited;

    // Storage counts dequeues but never moves a message aside by itself. A replica allowed a single
    // delivery sees this message on its second delivery at the earliest: over the limit.
    const b = startInProcessWorker(r.deps, 'spark', {
      timeScale: FAST_SCALE,
      workerId: 'spark-b-limit',
      maxDeliveries: 1,
    });
    inProcess.push(b);
    const failed = await waitFor(
      () => state(id),
      (s) => s.job.status === 'failed',
      60_000,
      'the job to be failed',
    );

    expect(failed.job.error?.code).toBe('DEAD_LETTERED');
    expect(failed.job.error?.message).toMatch(/delivered \d+ times/);
    expect(failed.job.attempts).toBe(1);
    expect(failed.events.some((e) => e.reason.startsWith('taken over'))).toBe(false);
    expect(failed.events.at(-1)?.reason).toMatch(/^dead-lettered by spark-b-limit: MaxDeliveryCountExceeded/);
  }, 120_000);
});
