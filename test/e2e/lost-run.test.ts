import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobEvent, JobRecord } from '../../src/lib/core/job.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

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
  const events = async (id: string) => ((await (await r.api(`/api/jobs/${id}/events`)).json()) as { events: JobEvent[] }).events;
  const runDir = (id: string, attempt: number) => join(r.deps.config.localProviderDir, attempt > 1 ? `${id}-a${attempt}` : id);

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

    const done = await waitFor(() => job(id), (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status), 90_000, 'the job to finish');
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(done.providerRef?.dir).toBe(runDir(id, 2));

    const history = await events(id);
    const lostNote = history.find((e) => e.type === 'note' && e.reason.startsWith('attempt 1 lost'));
    expect(lostNote?.reason).toContain(`process ${pid} ended without reporting a result`);
    expect(lostNote?.reason).toContain('re-dispatching as attempt 2 of 2');
    expect(history.filter((e) => e.to === 'queued' && e.type === 'transition').map((e) => e.reason)).toContain('re-dispatch after lost attempt 1');
    expect(history.filter((e) => e.type === 'transition' && e.to === 'succeeded')).toHaveLength(1);
    expect(history.filter((e) => e.type === 'transition' && e.to === 'dispatched')).toHaveLength(2);

    // Attempt 1's folder holds no result; attempt 2's folder ran exactly once.
    expect(existsSync(join(runDir(id, 1), 'status.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(runDir(id, 2), 'status.json'), 'utf8'))).toMatchObject({ state: 'succeeded' });
    const starts = readFileSync(join(runDir(id, 2), 'stdout.txt'), 'utf8').split('\n').filter((l) => l.includes(': processing '));
    expect(starts).toHaveLength(1);
    expect(readdirSync(r.deps.config.localProviderDir).filter((d) => d.startsWith(id)).sort()).toEqual([id, `${id}-a2`]);
  });

  it('fails the job with INFRASTRUCTURE_LOST once JOB_MAX_ATTEMPTS runs were lost in a row', async () => {
    const id = await submit();
    await killRun(id, 1);
    await killRun(id, 2);

    const done = await waitFor(() => job(id), (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status), 90_000, 'the job to fail');
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
    const done = await waitFor(() => job(id), (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status), 60_000, 'the job to end');
    expect(done.status).toBe('cancelled');
    expect(done.attempts).toBe(1);
    expect((await events(id)).some((e) => e.to === 'queued' && e.from !== 'submitted')).toBe(false);
    expect(existsSync(runDir(id, 2))).toBe(false);
  });
});
