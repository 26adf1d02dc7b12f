import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../src/functions/all.js';
import type { JobEvent, JobRecord } from '../../src/lib/core/job.js';
import { startLocalRunner, type LocalRunner } from '../../src/local/runner.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';
import { isRunning } from '../support/stack.js';

/**
 * A local-provider run killed from outside (its host died, not the job) is re-dispatched as a new
 * attempt in a run folder of its own; only JOB_MAX_ATTEMPTS losses in a row fail the job.
 * Deterministic: each run lasts seconds, and it is killed as soon as its pid file appears, long
 * before the worker has even loaded.
 */
describe('lost local runs (process killed from outside)', () => {
  let r: TestRunner;

  beforeAll(async () => {
    // 300 s × 0.01 → a 3 s run; the poller looks every second.
    r = await startTestRunner({ ML_JOBS_PROVIDER: 'local', JOB_MAX_ATTEMPTS: '2', SIMULATION_TIME_SCALE: '0.01' });
  });
  afterAll(async () => {
    await r?.stop();
  });

  const submit = async () => {
    const res = await r.post('/api/jobs', { rows: 1000, estimated_runtime_sec: 300, target: r.deps.config.queues.ml });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const job = async (id: string) => (await (await r.api(`/api/jobs/${id}`)).json()) as JobRecord;
  const events = async (id: string) =>
    ((await (await r.api(`/api/jobs/${id}/events`)).json()) as { events: JobEvent[] }).events;
  const runDir = (id: string, attempt: number) =>
    join(r.deps.config.localProviderDir, attempt > 1 ? `${id}-a${attempt}` : id);

  /** Waits for attempt `attempt`'s worker to be started, then SIGKILLs it. */
  const killRun = async (id: string, attempt: number) => {
    const pidFile = join(runDir(id, attempt), 'pid');
    const pid = await waitFor(
      async () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0),
      (p) => p > 0,
      60_000,
      `attempt ${attempt}'s pid file`,
    );
    process.kill(pid, 'SIGKILL');
    return pid;
  };

  it('re-dispatches a killed run as attempt 2 with a note, and the job succeeds once', async () => {
    const id = await submit();
    const pid = await killRun(id, 1);

    const done = await waitFor(
      () => job(id),
      (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
      90_000,
      'the job to finish',
    );
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    // The ref names the attempt's run folder, never its host path.
    expect(done.providerRef?.run).toBe(basename(runDir(id, 2)));

    const history = await events(id);
    const lostNote = history.find((e) => e.type === 'note' && e.reason.startsWith('attempt 1 lost'));
    expect(lostNote?.reason).toContain(`process ${pid} ended without reporting a result`);
    expect(lostNote?.reason).toContain('re-dispatching as attempt 2 of 2');
    expect(history.filter((e) => e.to === 'queued' && e.type === 'transition').map((e) => e.reason)).toContain(
      're-dispatch after lost attempt 1',
    );
    expect(history.filter((e) => e.type === 'transition' && e.to === 'succeeded')).toHaveLength(1);
    expect(history.filter((e) => e.type === 'transition' && e.to === 'dispatched')).toHaveLength(2);

    // Attempt 1's folder holds no result; attempt 2's folder ran exactly once.
    expect(existsSync(join(runDir(id, 1), 'status.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(runDir(id, 2), 'status.json'), 'utf8'))).toMatchObject({ state: 'succeeded' });
    const starts = readFileSync(join(runDir(id, 2), 'stdout.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(': processing '));
    expect(starts).toHaveLength(1);
    expect(
      readdirSync(r.deps.config.localProviderDir)
        .filter((d) => d.startsWith(id))
        .sort(),
    ).toEqual([id, `${id}-a2`]);
  });

  it('fails the job with INFRASTRUCTURE_LOST once JOB_MAX_ATTEMPTS runs were lost in a row', async () => {
    const id = await submit();
    await killRun(id, 1);
    await killRun(id, 2);

    const done = await waitFor(
      () => job(id),
      (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
      90_000,
      'the job to fail',
    );
    expect(done.status).toBe('failed');
    expect(done.attempts).toBe(2);
    expect(done.error).toMatchObject({ code: 'INFRASTRUCTURE_LOST', category: 'infrastructure' });
    expect(done.error?.message).toMatch(/^All 2 attempts were lost to infrastructure/);
    const last = (await events(id)).at(-1)!;
    expect(last).toMatchObject({ type: 'transition', to: 'failed' });
    expect(last.reason).toMatch(/^attempt 2 lost \(.*\); 2 of 2 attempts lost to infrastructure$/);
    // No third run was started.
    expect(existsSync(runDir(id, 3))).toBe(false);
  });

  it('never re-dispatches a cancelled job whose run is then lost', async () => {
    const id = await submit();
    const pidFile = join(runDir(id, 1), 'pid');
    await waitFor(async () => existsSync(pidFile), Boolean, 60_000, 'the run to start');
    const res = await r.post(`/api/jobs/${id}/cancel`, {});
    expect(res.status).toBeLessThan(300);
    // Kill it before the cancel's SIGTERM handler can write a status: the run is simply gone.
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // Already stopped by the cancel.
    }
    const done = await waitFor(
      () => job(id),
      (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
      60_000,
      'the job to end',
    );
    expect(done.status).toBe('cancelled');
    expect(done.attempts).toBe(1);
    expect((await events(id)).some((e) => e.to === 'queued' && e.from !== 'submitted')).toBe(false);
    expect(existsSync(runDir(id, 2))).toBe(false);
  });
});

describe('runner shutdown with local runs in flight', () => {
  const runners: LocalRunner[] = [];
  afterAll(async () => {
    for (const r of runners.splice(0)) await r.stop();
  });

  it('lets a run finish within the grace period, gives the unfinished one back to its queue, and the next start resumes it', async () => {
    const first = await startTestRunner({
      ML_JOBS_PROVIDER: 'local',
      SIMULATION_TIME_SCALE: '0.01',
      WORKER_SHUTDOWN_GRACE_SEC: '8',
    });
    runners.push(first);
    const submit = async (estimated_runtime_sec: number) => {
      const res = await first.post('/api/jobs', {
        rows: 1000,
        estimated_runtime_sec,
        target: first.deps.config.queues.ml,
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const dirOf = (id: string) => join(first.deps.config.localProviderDir, id);
    const short = await submit(200); // 2 s of work: finishes within the 8 s grace
    const long = await submit(30_000); // 300 s of work: does not
    // Both workers loaded and simulating (not merely spawned) before the stop.
    for (const id of [short, long]) {
      await waitFor(
        async () =>
          existsSync(join(dirOf(id), 'stdout.txt')) ? readFileSync(join(dirOf(id), 'stdout.txt'), 'utf8') : '',
        (t) => t.includes(': processing '),
        60_000,
        `${id} to start working`,
      );
    }
    const longPid = Number(readFileSync(join(dirOf(long), 'pid'), 'utf8'));

    runners.splice(runners.indexOf(first), 1);
    await first.stop();

    expect(JSON.parse(readFileSync(join(dirOf(short), 'status.json'), 'utf8'))).toMatchObject({ state: 'succeeded' });
    expect(isRunning(longPid)).toBe(false);
    expect(existsSync(join(dirOf(long), 'status.json'))).toBe(false);
    const released = await first.deps.store.get(long);
    expect(released).toMatchObject({ status: 'queued', attempts: 1 });
    const lastEvent = (await first.deps.store.events(long)).at(-1)!;
    expect(lastEvent.reason).toMatch(
      /^released on shutdown: local run of attempt 1 did not finish within 8 s; runs again as attempt 2$/,
    );

    // The next start (faster simulation) records the finished run and runs the released one again.
    const second = await startLocalRunner({
      env: { ...first.deps.config.env, SIMULATION_TIME_SCALE: '0.0005' },
      functions: FUNCTIONS,
      quiet: true,
      queuePollMs: 200,
    });
    runners.push(second);
    const end = async (id: string) =>
      waitFor(
        () => second.deps.store.get(id),
        (j) => j?.status === 'succeeded' || j?.status === 'failed',
        90_000,
        `${id} to finish`,
      );
    expect(await end(short)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await end(long)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(
      (await second.deps.store.events(long)).filter((e) => e.type === 'transition' && e.to === 'succeeded'),
    ).toHaveLength(1);
  });
});
