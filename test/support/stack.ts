import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StackExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** `npm start` (src/local/start.ts through tsx) as a child process group of its own. */
export interface StackProcess {
  /** Also the process group id: everything the stack starts in its group shares it. */
  readonly pid: number;
  /** Resolves once the runner printed its banner (Azurite, HTTP, workers are up). */
  readonly ready: Promise<void>;
  readonly exited: Promise<StackExit>;
  /** stdout + stderr so far. */
  output(): string;
  /** Signals the whole process group, as a host dying (SIGKILL) or a terminal Ctrl-C would. */
  signalGroup(signal: NodeJS.Signals): void;
}

/**
 * Starts the local stack with `env` over this process's environment (JobsStorage removed, so it
 * starts its own Azurite unless `env` sets one). Bind every port in `env` to a free one.
 */
export function spawnStack(env: Record<string, string>, options: { built?: boolean } = {}): StackProcess {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'JobsStorage') childEnv[k] = v;
  Object.assign(childEnv, env);
  // `built`: the compiled app, as `npm start` runs it (its local runs then start without tsx too).
  const args = options.built ? ['dist/src/local/start.js'] : ['--import', 'tsx', 'src/local/start.ts'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<StackExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes('Ctrl-C to stop.')) {
        child.stdout.off('data', check);
        resolve();
      }
    };
    child.stdout.on('data', check);
    void exited.then((e) =>
      reject(new Error(`the stack exited before it was ready (${JSON.stringify(e)}): ${out.slice(-2000)}`)),
    );
  });
  ready.catch(() => undefined);
  return {
    pid: child.pid!,
    ready,
    exited,
    output: () => out,
    signalGroup: (signal) => {
      try {
        process.kill(-child.pid!, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },
  };
}

/** Live processes whose process group is `pgid` (from /proc/<pid>/stat; zombies excluded). */
export function processesInGroup(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z' && Number(rest[2]) === pgid) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
