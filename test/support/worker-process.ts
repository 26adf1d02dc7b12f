import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { JobEvent, JobRecord } from '../../src/lib/core/job.js';
import type { Deps } from '../../src/lib/deps.js';
import { JobWorker, type WorkerOptions } from '../../src/worker/job-worker.js';
import { workerOptions } from '../../src/worker/main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One JSON log line of the worker (the console logger's format), or `{ text }` for anything else. */
export type WorkerLogLine = Record<string, unknown> & { readonly msg?: string; readonly stream: 'stdout' | 'stderr' };

export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The queue worker as a real OS process: `node --import tsx src/worker/main.ts --mode <mode>`. */
export interface WorkerProcess {
  readonly pid: number;
  readonly logs: readonly WorkerLogLine[];
  /** Resolves with the worker id once the process logged `worker started` (its receive loop runs). */
  readonly ready: Promise<string>;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<WorkerExit>;
  kill(signal: NodeJS.Signals): void;
  /** Kills the process (SIGKILL) if it still runs and waits for it; for test clean-up. */
  dispose(): Promise<void>;
}

/**
 * Spawns the worker entry point with exactly `env` (plus PATH/HOME so Node and tsx work), the way a
 * container runs it, so signals reach the real SIGTERM handler and `process.exit` is observable.
 */
export function spawnWorker(env: Readonly<Record<string, string | undefined>>, mode: 'actor' | 'spark'): WorkerProcess {
  const childEnv: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const v = process.env[key];
    if (v !== undefined) childEnv[key] = v;
  }
  // Tests send from another process: a short idle back-off keeps pickup quick without a wake-up.
  childEnv.IDLE_POLL_MAX_SEC = '0.5';
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts', '--mode', mode], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: WorkerLogLine[] = [];
  let readyResolve!: (id: string) => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<string>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  // Nobody may be waiting on `ready` when a test ends early.
  ready.catch(() => undefined);
  const collect = (stream: 'stdout' | 'stderr') => {
    let buffer = '';
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        let entry: WorkerLogLine;
        try {
          const parsed: unknown = JSON.parse(line);
          entry =
            parsed && typeof parsed === 'object' && !Array.isArray(parsed)
              ? { ...(parsed as Record<string, unknown>), stream }
              : { text: line, stream };
        } catch {
          entry = { text: line, stream };
        }
        logs.push(entry);
        if (entry.msg === 'worker started' && typeof entry.worker === 'string') readyResolve(entry.worker);
      }
    });
  };
  collect('stdout');
  collect('stderr');
  const exited = new Promise<WorkerExit>((res) => {
    child.once('exit', (code, signal) => {
      readyReject(
        new Error(
          `worker exited before it started (code ${String(code)}, signal ${String(signal)}): ${JSON.stringify(logs).slice(0, 2000)}`,
        ),
      );
      res({ code, signal });
    });
  });
  return {
    pid: child.pid ?? -1,
    logs,
    ready,
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
    dispose: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A second worker in the test process (the runner's deps), with its own id and time scale: the
 * replica that picks up what a stopped or crashed worker process left behind.
 */
export function startInProcessWorker(
  deps: Deps,
  mode: 'actor' | 'spark',
  overrides: Partial<WorkerOptions> = {},
): JobWorker {
  const worker = new JobWorker(deps, { ...workerOptions(deps.config, mode), maxPollMs: 500, ...overrides });
  worker.start();
  return worker;
}

/** A job's record and history, read straight from the store. */
export async function jobState(deps: Deps, id: string): Promise<{ job: JobRecord; events: JobEvent[] }> {
  const [job, events] = await Promise.all([deps.store.get(id), deps.store.events(id)]);
  if (!job) throw new Error(`job ${id} not found`);
  return { job, events };
}

/**
 * True when a lease (or a history reason's actor) belongs to worker `workerId`: the owner is the
 * worker id, or a run of that worker (`<workerId>/<run>`).
 */
export function ownedBy(owner: string | undefined, workerId: string): boolean {
  return owner !== undefined && (owner === workerId || owner.startsWith(`${workerId}/`));
}

/** A pattern for the actor in history reasons: the worker id, optionally followed by `/<run>`. */
export function actor(workerId: string): string {
  return `${workerId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:/[0-9A-Za-z-]+)?`;
}
