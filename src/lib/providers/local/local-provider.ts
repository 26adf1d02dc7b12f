import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKey, type JobRecord } from '../../core/job.js';
import type { DispatchSecrets, JobLogs, JobProvider, PollReport, StoppedRun, SubmitOutcome } from '../../ports/provider.js';
import { DISPATCH_SECRETS_ENV, HOSTED_RUN_ENV } from '../../../worker/one-shot.js';
import type { ProviderContext } from '../provider-context.js';

interface RunStatusFile {
  state: 'succeeded' | 'failed' | 'cancelled';
  exitCode: number;
  error?: { code: string; message: string };
}

/**
 * Runs jobs on this machine, each in its own worker process (the worker's one-shot mode, the same
 * program an Azure Batch task runs), so the whole flow works with no cloud account. One folder per
 * job holds the spec, pid, stdout/stderr, result.json and status.json; the folder's existence is
 * what makes submission idempotent.
 */
export class LocalProvider implements JobProvider {
  readonly name = 'local';
  private readonly baseDir: string;
  /** Runs this process started and that still run, by pid. */
  private readonly hosted = new Map<number, { readonly run: StoppedRun; readonly exited: Promise<void> }>();

  constructor(private readonly ctx: ProviderContext) {
    this.baseDir = resolve(ctx.config.localProviderDir);
  }

  /** The run folder of the job's current attempt (attempt 1: the job id, as before attempts existed). */
  private dir(job: JobRecord): string {
    // Job ids are validated before they get here; basename-only keeps a bad one inside baseDir.
    return join(this.baseDir, runKey(job).replace(/[^A-Za-z0-9_-]/g, '_'));
  }

  async submit(job: JobRecord, secrets?: DispatchSecrets): Promise<SubmitOutcome> {
    const dir = this.dir(job);
    const ref = { dir };
    await mkdir(this.baseDir, { recursive: true });
    try {
      // Exclusive create: of two concurrent deliveries of the same dispatch, exactly one starts a run.
      await mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { ref, attached: true, status: 'running' };
      throw error;
    }
    const specPath = join(dir, 'spec.json');
    await writeFile(specPath, JSON.stringify({ jobId: job.id, spec: job.spec }));
    const out = openSync(join(dir, 'stdout.txt'), 'a');
    const err = openSync(join(dir, 'stderr.txt'), 'a');
    try {
      const child = spawn(process.execPath, [...workerCommand(), '--once', '--spec', specPath, '--out', dir], {
        stdio: ['ignore', out, err],
        // Secrets reach the child only through its environment (never spec.json on disk); the
        // child removes them from its environment before running anything.
        env: {
          ...process.env,
          // Ctrl-C reaches the whole terminal process group; the host decides when this run stops.
          [HOSTED_RUN_ENV]: '1',
          SIMULATION_TIME_SCALE: String(this.ctx.config.simulationTimeScale),
          ...(secrets && Object.keys(secrets).length > 0 && { [DISPATCH_SECRETS_ENV]: JSON.stringify(secrets) }),
        },
      });
      child.on('error', () => undefined);
      if (child.pid !== undefined) {
        const pid = child.pid;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        this.hosted.set(pid, { run: { jobId: job.id, attempt: job.attempts }, exited });
        void exited.then(() => this.hosted.delete(pid));
      }
      await writeFile(join(dir, 'pid'), String(child.pid ?? ''));
    } finally {
      closeSync(out);
      closeSync(err);
    }
    return { ref, attached: false, status: 'running' };
  }

  async poll(jobs: readonly JobRecord[]): Promise<PollReport[]> {
    return Promise.all(jobs.map((job) => this.pollOne(job)));
  }

  private async pollOne(job: JobRecord): Promise<PollReport> {
    const dir = this.dir(job);
    if (!existsSync(dir)) return { jobId: job.id, status: 'missing' };
    // Liveness first, status file second: a child writes status.json and then exits, so a process
    // seen dead here has already written its status (read in the other order, a run finishing
    // between the two reads looked lost).
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => ''));
    const alive = pid > 0 && isAlive(pid) && runsIn(pid, dir);
    const status = await readJson<RunStatusFile>(join(dir, 'status.json'));
    if (status) {
      switch (status.state) {
        case 'succeeded':
          return { jobId: job.id, status: 'succeeded', nativeStatus: 'exit 0', result: (await readJson<Record<string, unknown>>(join(dir, 'result.json'))) ?? {} };
        case 'failed':
          return { jobId: job.id, status: 'failed', nativeStatus: `exit ${status.exitCode}`, error: status.error ?? { code: `EXIT_${status.exitCode}`, message: `worker exited with ${status.exitCode}` } };
        case 'cancelled':
          return { jobId: job.id, status: 'cancelled', nativeStatus: `exit ${status.exitCode}` };
      }
    }
    if (alive) return { jobId: job.id, status: job.status === 'cancelling' ? 'cancelling' : 'running', nativeStatus: `pid ${pid}` };
    // A process stopped before it could install its SIGTERM handler writes no status: the marker says we stopped it.
    if (existsSync(join(dir, 'cancel-requested'))) return { jobId: job.id, status: 'cancelled', nativeStatus: 'stopped by request' };
    // No status file and no process: it was killed (or the machine restarted) before finishing.
    // The job did not fail, its host did: report the run lost so the job runs again.
    return { jobId: job.id, status: 'lost', nativeStatus: 'process gone', error: { code: 'WORKER_LOST', message: `the local worker process${pid > 0 ? ` ${pid}` : ''} ended without reporting a result` } };
  }

  async cancel(job: JobRecord): Promise<void> {
    if (!existsSync(this.dir(job))) return;
    await writeFile(join(this.dir(job), 'cancel-requested'), new Date().toISOString());
    const pid = Number(await readFile(join(this.dir(job), 'pid'), 'utf8').catch(() => ''));
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGTERM');
  }

  /**
   * Host shutdown: waits up to `graceMs` for the runs this process started, then SIGKILLs the rest
   * (not SIGTERM: that is a cancel, and the job was not cancelled) and returns them.
   */
  async shutdown(graceMs: number): Promise<readonly StoppedRun[]> {
    if (this.hosted.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.hosted.values()].map((h) => h.exited)),
        new Promise<void>((r) => (timer = setTimeout(r, graceMs))),
      ]);
      clearTimeout(timer);
    }
    const stopped: StoppedRun[] = [];
    for (const [pid, h] of [...this.hosted]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It ended just now.
      }
      await h.exited;
      stopped.push(h.run);
    }
    return stopped;
  }

  async result(job: JobRecord): Promise<Record<string, unknown> | undefined> {
    return readJson(join(this.dir(job), 'result.json'));
  }

  async logs(job: JobRecord, tailBytes: number): Promise<JobLogs | undefined> {
    const dir = this.dir(job);
    if (!existsSync(dir)) return undefined;
    const tail = async (f: string) => {
      const b = await readFile(join(dir, f)).catch(() => Buffer.alloc(0));
      return b.subarray(Math.max(0, b.length - tailBytes)).toString('utf8');
    };
    return { stdout: await tail('stdout.txt'), stderr: await tail('stderr.txt'), source: `local run folder ${dir}` };
  }
}

/** node arguments that start the worker: built JS in production, TypeScript through tsx under tests. */
export function workerCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const main = join(dirname(here), '..', '..', '..', 'worker', fromSource ? 'main.ts' : 'main.js');
  return fromSource ? ['--import', 'tsx', main] : [main];
}

/**
 * Whether `pid` is still this run's worker and not a process that got the number after a host
 * restart. Where /proc is unreadable (not Linux) the pid alone decides.
 */
function runsIn(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
