import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobWorker } from '../../src/worker/job-worker.js';
import { startServiceBusStandIn, type ServiceBusStandIn } from '../fakes/servicebus/index.js';
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
 * Lock duration of the spark queue: short, so a job outlives it and a dead worker's lock runs out
 * soon, yet long enough that a claim on a busy shared Azurite (other suites) fits in it.
 */
const LOCK_MS = 8_000;

/**
 * The spark worker on Service Bus (the wire-level stand-in), job state in Azurite tables. Worker A
 * is a real process (the stand-in listens on loopback, so a child connects to it like to the
 * emulator); the replica that picks up after it runs in the test process.
 */
describe('worker shutdown and crash on Service Bus (worker processes against the stand-in)', () => {
  let sb: ServiceBusStandIn;
  let r: TestRunner;
  const suffix = Math.random().toString(36).slice(2, 8);
  const spark = `spark-sb-${suffix}`;
  const intake = `jobqueue-sb-${suffix}`;
  const processes: WorkerProcess[] = [];
  const inProcess: JobWorker[] = [];
  const FAST_SCALE = 0.001;

  beforeAll(async () => {
    sb = await startServiceBusStandIn();
    // Created before the runner's `ensure`, which leaves existing queues as they are (as with Bicep).
    sb.createQueue(spark, { lockDurationMs: LOCK_MS, maxDeliveryCount: 10 });
    // QUEUE_MAX_DELIVERIES matches the queue's maxDeliveryCount, as the setting asks.
    // The local runner's intake trigger does not renew its lock (the Functions host does): a long
    // lock keeps a slow classification on a busy Azurite from sending the job's message twice.
    sb.createQueue(intake, { lockDurationMs: 60_000, maxDeliveryCount: 10 });
    r = await startTestRunner(
      {
        QUEUE_TRANSPORT: 'servicebus',
        ServiceBus: sb.connectionString,
        ServiceBus__administrationEndpoint: sb.adminEndpoint,
        QUEUE_SPARK: spark,
        QUEUE_INTAKE: intake,
        WORKER_LOCK_SEC: String(LOCK_MS / 1000),
        QUEUE_MAX_DELIVERIES: '10',
        WORKER_HEARTBEAT_SEC: '0.2',
        SIMULATION_TIME_SCALE: '0.01',
      },
      { workers: false },
    );
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.dispose()));
    await Promise.all(inProcess.splice(0).map((w) => w.shutdown(0)));
  });
  afterAll(async () => {
    await r?.stop();
    await r?.deps.queues.close();
    await sb?.close();
  });

  const spawnSpark = (env: Record<string, string> = {}) => {
    const p = spawnWorker({ ...r.deps.config.env, ...env }, 'spark');
    processes.push(p);
    return p;
  };
  const replica = (workerId: string) => {
    const w = startInProcessWorker(r.deps, 'spark', { timeScale: FAST_SCALE, workerId });
    inProcess.push(w);
    return w;
  };
  const submit = async (body: Record<string, unknown>) => {
    const res = await r.post('/api/jobs', { ...body, target: spark });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const state = (id: string) => jobState(r.deps, id);
  const locks = () => [...sb.broker.queue(spark)!.main.locks.values()];
  const renewals = () =>
    sb.amqp.record.management.filter(
      (m) => m.operation === 'com.microsoft:renew-lock' && m.entity.toLowerCase() === spark && m.statusCode === 200,
    ).length;
  const drained = () =>
    waitFor(
      async () => sb.counts(spark),
      (c) => c.active === 0 && c.locked === 0 && c.deadLetter === 0,
      30_000,
      'the spark queue to drain',
    );

  it('SIGTERM during a long job with a short grace: exit 0, message abandoned, job released and run once by another replica', async () => {
    const a = spawnSpark({ WORKER_SHUTDOWN_GRACE_SEC: '0.5' });
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 3000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId) && (s.job.progress?.done ?? 0) > 0,
      60_000,
      'worker A to run the job',
    );
    expect(locks()).toHaveLength(1);

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });

    const released = await state(id);
    expect(released.job.status).toBe('queued');
    expect(released.job.lease).toBeUndefined();
    expect(released.events.at(-1)).toMatchObject({ type: 'transition', from: 'running', to: 'queued' });
    expect(released.events.at(-1)!.reason).toMatch(
      new RegExp(`^released by ${actor(aId)} on shutdown after \\d+ rows; will restart$`),
    );
    // Abandoned, not left to its lock: the message is visible again at once, with one delivery behind it.
    const counts = sb.counts(spark);
    expect(counts).toMatchObject({ active: 1, locked: 0, deadLetter: 0 });
    expect(sb.broker.queue(spark)!.main.available[0]?.deliveryCount).toBe(1);

    replica('spark-b-released');
    const done = await waitFor(
      () => state(id),
      (s) => s.job.status === 'succeeded',
      60_000,
      'the replica to finish the job',
    );
    expect(done.job.attempts).toBe(2);
    const transitions = done.events.filter((e) => e.type === 'transition');
    expect(transitions.filter((e) => e.to === 'succeeded')).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(new RegExp(`^completed on ${actor('spark-b-released')}$`)),
      }),
    ]);
    expect(transitions.filter((e) => e.to === 'dispatched').map((e) => e.reason)).toEqual([
      expect.stringMatching(new RegExp(`^claimed by ${actor(aId)}$`)),
      expect.stringMatching(new RegExp(`^claimed by ${actor('spark-b-released')}$`)),
    ]);
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
    await drained();
  }, 120_000);

  it('SIGTERM during a job that finishes within a generous grace: locks are renewed past the lock duration, no second delivery, same worker completes', async () => {
    const a = spawnSpark({ WORKER_SHUTDOWN_GRACE_SEC: '120' });
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 2000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId),
      60_000,
      'worker A to run the job',
    );
    const renewalsBefore = renewals();
    replica('spark-b-competing');

    // 85 % of the job is at least 17 s of A's work: over two lock durations. Without renewals the
    // message would have gone to the competing replica by now.
    const midway = await waitFor(
      () => state(id),
      (s) => (s.job.progress?.done ?? 0) >= 850,
      60_000,
      'worker A to pass 85 % of the job',
    );
    expect(ownedBy(midway.job.lease?.owner, aId)).toBe(true);
    expect(locks()).toHaveLength(1);
    expect(locks()[0]!.message.deliveryCount).toBe(1);
    expect(renewals() - renewalsBefore).toBeGreaterThan(0);

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });

    const done = await state(id);
    expect(done.job.status).toBe('succeeded');
    expect(done.job.attempts).toBe(1);
    expect(done.events.filter((e) => e.to === 'succeeded')).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(new RegExp(`^completed on ${actor(aId)}$`)) }),
    ]);
    expect(done.events.some((e) => /released|on shutdown|taken over|spark-b-competing/.test(e.reason))).toBe(false);
    // Completed on the one delivery A held: nothing redelivered, nothing left.
    expect(sb.counts(spark)).toMatchObject({ active: 0, locked: 0, deadLetter: 0 });
  }, 120_000);

  it('SIGKILL mid-job: the lock runs out, the message is redelivered and the replica takes over once the lease lapses', async () => {
    const a = spawnSpark();
    const aId = await a.ready;
    const id = await submit({ rows: 1000, estimated_runtime_sec: 3000 });
    await waitFor(
      () => state(id),
      (s) => s.job.status === 'running' && ownedBy(s.job.lease?.owner, aId) && (s.job.progress?.done ?? 0) > 0,
      60_000,
      'worker A to run the job',
    );
    replica('spark-b-takeover');

    a.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await state(id)).job.status).toBe('running');
    // Nobody settles A's delivery: once its lock runs out the broker hands the message out again.
    await waitFor(
      async () => locks().map((l) => l.message.deliveryCount),
      (c) => c.some((n) => n >= 2),
      60_000,
      'the message to be redelivered',
    );

    const done = await waitFor(
      () => state(id),
      (s) => s.job.status === 'succeeded',
      90_000,
      'the replica to take over and finish',
    );
    expect(done.job.attempts).toBe(2);
    expect(done.events.filter((e) => e.type === 'note').map((e) => e.reason)).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^taken over by ${actor('spark-b-takeover')} \\(previous lease of ${actor(aId)} expired\\); restarting$`,
        ),
      ),
    );
    expect(done.events.filter((e) => e.type === 'transition' && e.to === 'succeeded')).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(new RegExp(`^completed on ${actor('spark-b-takeover')}$`)),
      }),
    ]);
    expect(done.events.filter((e) => e.type === 'transition' && e.to === 'dispatched')).toHaveLength(1);
    await drained();
  }, 150_000);
});
