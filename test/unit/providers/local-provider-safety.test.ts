import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/lib/config.js';
import type { BlobStore } from '../../../src/lib/ports/blob-store.js';
import { LocalProvider, oneShotEnv, processStartTime } from '../../../src/lib/providers/local/provider.js';
import { CANCEL_MARKER, DISPATCH_SECRETS_ENV } from '../../../src/worker/one-shot.js';
import { providerJob } from '../../support/jobs.js';
import { waitFor } from '../../support/runner.js';

const provider = (dir: string) =>
  new LocalProvider({
    config: loadConfig({ LOCAL_PROVIDER_DIR: dir, SIMULATION_TIME_SCALE: '1' }),
    blobs: {} as BlobStore,
  });
const job = (id: string) =>
  providerJob('local', id, undefined, undefined, { body: { rows: 1_000_000, estimated_runtime_sec: 600 } });
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const strangers: ChildProcess[] = [];
afterEach(() => {
  for (const s of strangers.splice(0)) s.kill('SIGKILL');
});

/** A process the provider did not start: what a PID in an old run folder may name after a restart. */
function stranger(): ChildProcess {
  const p = spawn('sleep', ['60'], { stdio: 'ignore' });
  strangers.push(p);
  return p;
}

/** A run folder as a provider in an earlier lifetime of the process left it. */
function oldRunFolder(base: string, id: string, pid: number, startTime?: string): void {
  const dir = join(base, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pid'), String(pid));
  if (startTime !== undefined) writeFileSync(join(dir, 'pid-start'), startTime);
}

describe('local provider: no signal to a PID it did not start', () => {
  it('cancel after a restart signals no one: a PID read from the run folder that now belongs to another process is left alone', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cjo-lp-'));
    const other = stranger();
    // One folder with the recorded start time of a different process, one from before start times were recorded.
    oldRunFolder(base, 'j-reused', other.pid!, '12345');
    oldRunFolder(base, 'j-legacy', other.pid!);
    const fresh = provider(base);
    await fresh.cancel(job('j-reused'));
    await fresh.cancel(job('j-legacy'));
    await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(other.pid!)).toBe(true);
    // The stop request is the marker the run watches.
    expect(existsSync(join(base, 'j-reused', CANCEL_MARKER))).toBe(true);
  });

  it('poll does not take a reused PID for the run: a different start time means the run is gone', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cjo-lp-'));
    const other = stranger();
    const real = processStartTime(other.pid!)!;
    expect(real).toMatch(/^\d+$/);
    oldRunFolder(base, 'j-reused', other.pid!, String(Number(real) + 1));
    oldRunFolder(base, 'j-same', other.pid!, real);
    const p = provider(base);
    const [reused, same] = await p.poll([job('j-reused'), job('j-same')]);
    // Gone without a status: lost to its host, so the job runs again (see lost-run.test.ts).
    expect(reused).toMatchObject({ status: 'lost', error: { code: 'WORKER_LOST' } });
    expect(same).toMatchObject({ status: 'running' });
  });

  it('a run started before a restart stops through its cancel marker', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cjo-lp-'));
    const j = job('j-marker');
    await provider(base).submit(j);
    const dir = join(base, 'j-marker');
    // The run is under way (it reports progress) before the stop is asked for.
    await waitFor(
      async () => (existsSync(join(dir, 'stdout.txt')) ? statSync(join(dir, 'stdout.txt')).size : 0),
      (n) => n > 0,
      30_000,
      'the run to start',
    );
    // Another provider object: nothing of the first one's memory, as after a restart.
    const restarted = provider(base);
    await restarted.cancel(j);
    const report = await waitFor(
      async () => (await restarted.poll([j]))[0]!,
      (r) => r.status === 'cancelled',
      30_000,
      'the run to stop',
    );
    expect(report.nativeStatus).toBe('exit 143');
  }, 60_000);
});

describe('local provider: what a run and a reply reveal', () => {
  it('a one-shot run gets none of the orchestrator’s settings: no storage connection, API key or cloud credentials', () => {
    const saved = { ...process.env };
    process.env.AZURE_CLIENT_SECRET = 'planted-in-host-env';
    process.env.IDENTITY_HEADER = 'planted-identity-header';
    try {
      const env = oneShotEnv(
        {
          JobsStorage: 'DefaultEndpointsProtocol=http;AccountKey=planted',
          LOCAL_API_KEY: 'planted-key',
          AWS_SECRET_ACCESS_KEY: 'planted-aws',
          ESSEDUM_MAX_LOG_BYTES: '2048',
          COMMAND_SANDBOX: 'uid',
        },
        0.5,
        { storage_secret_key: 'its-own' },
      );
      expect(Object.values(env).join('\n')).not.toMatch(/planted/);
      expect(env).toMatchObject({
        ESSEDUM_MAX_LOG_BYTES: '2048',
        COMMAND_SANDBOX: 'uid',
        SIMULATION_TIME_SCALE: '0.5',
      });
      expect(JSON.parse(env[DISPATCH_SECRETS_ENV]!)).toEqual({ storage_secret_key: 'its-own' });
    } finally {
      process.env = saved;
    }
  });

  it('the logs reply names the run, not a host path', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cjo-lp-'));
    mkdirSync(join(base, 'j-logs'));
    writeFileSync(join(base, 'j-logs', 'stdout.txt'), 'hello\n');
    const logs = await provider(base).logs(job('j-logs'), 1024);
    expect(logs?.stdout).toBe('hello\n');
    expect(logs?.source).not.toContain(base);
    expect(logs?.source).not.toMatch(/\//);
  });

  it('a run folder and its spec are private to the orchestrator’s user', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cjo-lp-'));
    const j = providerJob('local', 'j-private', undefined, undefined, { body: { rows: 10, estimated_runtime_sec: 0 } });
    await provider(base).submit(j);
    expect(statSync(join(base, 'j-private')).mode & 0o777).toBe(0o700);
    expect(statSync(join(base, 'j-private', 'spec.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(base, 'j-private', 'stdout.txt')).mode & 0o777).toBe(0o600);
  });
});
