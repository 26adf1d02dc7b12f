import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKey, type JobRecord } from '../../core/job.js';
import { oneShotSpecDocument } from '../../core/one-shot-spec.js';
import type {
  DispatchSecrets,
  JobLogs,
  JobProvider,
  PollReport,
  StoppedRun,
  SubmitOutcome,
} from '../../ports/provider.js';
import { CANCEL_MARKER, DISPATCH_SECRETS_ENV, HOSTED_RUN_ENV } from '../../../worker/one-shot.js';
import { COMMAND_SANDBOX_SETTINGS } from '../../command-sandbox-settings.js';
import { ESSEDUM_SETTINGS } from '../../essedum-settings.js';
import type { ProviderContext } from '../provider-context.js';

interface RunStatusFile {
  state: 'succeeded' | 'failed' | 'cancelled';
  exitCode: number;
  error?: { code: string; message: string };
}

/**
 * Settings a one-shot run reads, and the only ones it is given: never the orchestrator's storage
 * connection, API key or cloud credentials, which a command must not be able to reach through the
 * run's environment.
 */
const ONE_SHOT_SETTINGS: readonly string[] = [
  ...ESSEDUM_SETTINGS.map((s) => s.name),
  ...COMMAND_SANDBOX_SETTINGS.map((s) => s.name),
];
/** What Node and a shell need from the host's own environment. */
const HOST_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'NODE_ENV', 'SYSTEMROOT'];

/** The environment of a one-shot run: host basics, the settings it reads, and its job's secrets. */
export function oneShotEnv(
  settings: Readonly<Record<string, string | undefined>>,
  timeScale: number,
  secrets?: DispatchSecrets,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of HOST_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  for (const k of ONE_SHOT_SETTINGS) {
    const v = settings[k] ?? process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.SIMULATION_TIME_SCALE = String(timeScale);
  // Ctrl-C reaches the whole terminal process group; the host decides when this run stops.
  env[HOSTED_RUN_ENV] = '1';
  if (secrets && Object.keys(secrets).length > 0) env[DISPATCH_SECRETS_ENV] = JSON.stringify(secrets);
  return env;
}

/**
 * Runs jobs on this machine, each in its own worker process (the worker's one-shot mode, the same
 * program an Azure Batch task runs), so the whole flow works with no cloud account. One folder per
 * job (0700: it holds the spec and the logs) holds the spec, pid, stdout/stderr, result.json and
 * status.json; the folder's existence is what makes submission idempotent. A stop is a marker file
 * the run watches; only a process this provider started in this process's lifetime is signalled.
 */
export class LocalProvider implements JobProvider {
  readonly name = 'local';
  private readonly baseDir: string;
  /** Runs started by this provider object, until they exit: the only processes it ever signals. */
  private readonly children = new Map<string, ChildProcess>();
  /** Runs this process started and that still run, by pid (what a host shutdown waits for). */
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
    // The run's folder name, never its host path: the ref is shown in the job record and its history.
    const ref = { run: basename(dir) };
    await mkdir(this.baseDir, { recursive: true, mode: 0o700 });
    try {
      // Exclusive create: of two concurrent deliveries of the same dispatch, exactly one starts a run.
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { ref, attached: true, status: 'running' };
      throw error;
    }
    const specPath = join(dir, 'spec.json');
    await writeFile(specPath, oneShotSpecDocument(job), { mode: 0o600 });
    const out = openSync(join(dir, 'stdout.txt'), 'a', 0o600);
    const err = openSync(join(dir, 'stderr.txt'), 'a', 0o600);
    try {
      const child = spawn(process.execPath, [...workerCommand(), '--once', '--spec', specPath, '--out', dir], {
        stdio: ['ignore', out, err],
        // Secrets reach the child only through its environment (never spec.json on disk), which
        // only this user can read; a command it runs gets a uid of its own (COMMAND_SANDBOX).
        env: oneShotEnv(this.ctx.config.env, this.ctx.config.simulationTimeScale, secrets),
      });
      child.on('error', () => undefined);
      this.children.set(job.id, child);
      child.once('exit', () => this.children.delete(job.id));
      if (child.pid !== undefined) {
        const pid = child.pid;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        this.hosted.set(pid, { run: { jobId: job.id, attempt: job.attempts }, exited });
        void exited.then(() => this.hosted.delete(pid));
      }
      await writeFile(join(dir, 'pid'), String(child.pid ?? ''));
      // With the start time, a pid read back later is recognised as ours or as a reused number.
      const started = child.pid ? processStartTime(child.pid) : undefined;
      if (started) await writeFile(join(dir, 'pid-start'), started);
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
    const started = await readFile(join(dir, 'pid-start'), 'utf8').catch(() => undefined);
    const alive = pid > 0 && isAlive(pid, started);
    const status = await readJson<RunStatusFile>(join(dir, 'status.json'));
    if (status) {
      switch (status.state) {
        case 'succeeded':
          return {
            jobId: job.id,
            status: 'succeeded',
            nativeStatus: 'exit 0',
            result: (await readJson<Record<string, unknown>>(join(dir, 'result.json'))) ?? {},
          };
        case 'failed':
          return {
            jobId: job.id,
            status: 'failed',
            nativeStatus: `exit ${status.exitCode}`,
            error: status.error ?? {
              code: `EXIT_${status.exitCode}`,
              message: `worker exited with ${status.exitCode}`,
            },
          };
        case 'cancelled':
          return { jobId: job.id, status: 'cancelled', nativeStatus: `exit ${status.exitCode}` };
      }
    }
    if (alive)
      return {
        jobId: job.id,
        status: job.status === 'cancelling' ? 'cancelling' : 'running',
        nativeStatus: `pid ${pid}`,
      };
    // A process stopped before it could install its SIGTERM handler writes no status: the marker says we stopped it.
    if (existsSync(join(dir, CANCEL_MARKER)))
      return { jobId: job.id, status: 'cancelled', nativeStatus: 'stopped by request' };
    // No status file and no process: it was killed (or the machine restarted) before finishing.
    // The job did not fail, its host did: report the run lost so the job runs again.
    return {
      jobId: job.id,
      status: 'lost',
      nativeStatus: 'process gone',
      error: {
        code: 'WORKER_LOST',
        message: `the local worker process${pid > 0 ? ` ${pid}` : ''} ended without reporting a result`,
      },
    };
  }

  async cancel(job: JobRecord): Promise<void> {
    const dir = this.dir(job);
    if (!existsSync(dir)) return;
    // The run watches for the marker, whoever started it: after a restart no PID is read and signalled.
    await writeFile(join(dir, CANCEL_MARKER), new Date().toISOString(), { mode: 0o600 });
    // A run this object started and Node has not yet seen exit still owns its pid: SIGTERM is quicker.
    const child = this.children.get(job.id);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
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
    // The folder's path is this machine's business: replies name the run, not where it lives.
    return { stdout: await tail('stdout.txt'), stderr: await tail('stderr.txt'), source: `local run of job ${job.id}` };
  }
}

/** node arguments that start the worker: built JS in production, TypeScript through tsx under tests. */
export function workerCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const main = join(dirname(here), '..', '..', '..', 'worker', fromSource ? 'main.ts' : 'main.js');
  return fromSource ? ['--import', 'tsx', main] : [main];
}

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Whether `pid` is still the process that was recorded (same start time when one was recorded). */
function isAlive(pid: number, startTime?: string): boolean {
  if (startTime !== undefined && process.platform === 'linux') return processStartTime(pid) === startTime.trim();
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

/** The provider module entry (see the descriptor in index.ts). */
export function createProvider(ctx: ProviderContext): LocalProvider {
  return new LocalProvider(ctx);
}
