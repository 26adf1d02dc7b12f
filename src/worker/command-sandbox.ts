import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, lchown, readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { CommandSandboxMode, CommandSandboxSettings } from '../lib/command-sandbox-settings.js';
import { sleep } from '../lib/retry.js';

/**
 * The user a command runs as. In `uid` mode every running command holds one user id of a pool
 * (COMMAND_UID_BASE … +COMMAND_UID_COUNT) that no other running command holds, on this machine,
 * across processes: the worker, the local provider's one-shot runs and other replicas in the same
 * container. With its own uid a command cannot read the orchestrator's environment
 * (/proc/<pid>/environ is readable by the same uid only), another command's environment or folder
 * (0700, owned by that command's uid), and it cannot signal either. Stopping a command kills every
 * process of its uid, which catches processes that left the process group with `setsid`.
 *
 * The pool is shared between processes through abstract Unix socket names
 * (`\0cjo-command-uid-<uid>`): binding is atomic, and the kernel frees the name when its holder dies,
 * so a crashed worker leaves no stale lock behind.
 */

export interface SandboxIdentity {
  readonly uid: number;
  readonly gid: number;
}

export interface SandboxLease {
  /** The user the command runs as; undefined in `none` mode (the orchestrator's own user). */
  readonly identity?: SandboxIdentity;
  /** Gives a folder tree to the command's user, readable by it alone (0700). No-op in `none` mode. */
  own(dir: string): Promise<void>;
  /** Sends `signal` to every process of the command's user. No-op in `none` mode. */
  signalAll(signal: 'TERM' | 'KILL'): Promise<void>;
  /** Kills every process of the command's user until none is left; false if some survived. */
  reap(): Promise<boolean>;
  /** Returns the uid to the pool. */
  release(): Promise<void>;
}

export interface CommandSandbox {
  readonly mode: CommandSandboxMode;
  /**
   * A free identity for one command; waits while the pool is exhausted. Undefined when `cancelled`
   * said so while waiting. Throws {@link SandboxUnavailableError} where `uid` mode cannot work.
   */
  acquire(cancelled?: () => boolean): Promise<SandboxLease | undefined>;
}

/** `uid` mode on a process that cannot switch users: commands are refused, never run unsandboxed. */
export class SandboxUnavailableError extends Error {
  readonly code = 'SANDBOX_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}

// Linux capability bits (include/uapi/linux/capability.h).
const CAP_CHOWN = 0;
const CAP_DAC_OVERRIDE = 1;
const CAP_SETGID = 6;
const CAP_SETUID = 7;

/**
 * True when this process may run children under another uid and then read and remove what they
 * wrote: root, or a process holding CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_DAC_OVERRIDE.
 */
export function canSwitchUser(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (!hex) return false;
    const caps = BigInt(`0x${hex}`);
    return [CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SETGID, CAP_SETUID].every((bit) => (caps & (1n << BigInt(bit))) !== 0n);
  } catch {
    return false;
  }
}

/** Live (not zombie) processes whose real, effective or saved uid is `uid`. */
export async function processesOfUid(uid: number): Promise<number[]> {
  const out: number[] = [];
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const status = await readFile(join('/proc', name, 'status'), 'utf8').catch(() => undefined);
      if (!status) return;
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      if (!uids || state === 'Z' || state === 'X') return;
      if ([uids[1], uids[2], uids[3]].some((u) => Number(u) === uid)) out.push(Number(name));
    }),
  );
  return out;
}

/**
 * Sends `signal` to every process of the uid by running `kill -1` as that uid: the kernel delivers
 * it to exactly the processes that uid may signal (its own), atomically with respect to fork, and
 * no PID is read and signalled later (no PID-reuse race).
 */
function killAllAsUid(identity: SandboxIdentity, signal: 'TERM' | 'KILL'): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', `kill -s ${signal} -- -1`], {
      uid: identity.uid,
      gid: identity.gid,
      stdio: 'ignore',
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
    });
    child.once('error', () => resolve());
    child.once('exit', () => resolve());
  });
}

function lockName(uid: number): string {
  return `\0cjo-command-uid-${uid}`;
}

function tryLock(uid: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(lockName(uid), () => {
      // A held uid never keeps a process alive on its own.
      server.unref();
      resolve(server);
    });
  });
}

async function ownTree(path: string, identity: SandboxIdentity): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(path, e.name);
    if (e.isDirectory()) await ownTree(p, identity);
    else await lchown(p, identity.uid, identity.gid);
  }
  await lchown(path, identity.uid, identity.gid);
}

class UidLease implements SandboxLease {
  constructor(
    readonly identity: SandboxIdentity,
    private readonly lock: Server,
  ) {}

  async own(dir: string): Promise<void> {
    await chmod(dir, 0o700);
    await ownTree(dir, this.identity);
  }

  signalAll(signal: 'TERM' | 'KILL'): Promise<void> {
    return killAllAsUid(this.identity, signal);
  }

  async reap(): Promise<boolean> {
    // A fork bomb can outrun one pass; a few passes with a short pause leave nothing.
    for (let i = 0; i < 40; i++) {
      if ((await processesOfUid(this.identity.uid)).length === 0) return true;
      await killAllAsUid(this.identity, 'KILL');
      await sleep(i < 5 ? 10 : 50);
    }
    return (await processesOfUid(this.identity.uid)).length === 0;
  }

  release(): Promise<void> {
    return new Promise((resolve) => this.lock.close(() => resolve()));
  }
}

const NONE_LEASE: SandboxLease = {
  own: async () => undefined,
  signalAll: async () => undefined,
  reap: async () => true,
  release: async () => undefined,
};

export interface CommandSandboxOptions {
  /** Test seam: whether this process can switch users (default: its capabilities say). */
  readonly canSwitchUser?: () => boolean;
  /** Called once when `none` mode is used, so the process can warn loudly. */
  readonly warn?: (message: string) => void;
  /** How often a command waiting for a free uid looks again. */
  readonly retryMs?: number;
}

/** The sandbox `settings` describe; see {@link CommandSandbox}. */
export function createCommandSandbox(
  settings: CommandSandboxSettings,
  options: CommandSandboxOptions = {},
): CommandSandbox {
  const able = options.canSwitchUser ?? canSwitchUser;
  let warned = false;
  if (settings.mode === 'none') {
    return {
      mode: 'none',
      acquire: async () => {
        if (!warned) {
          warned = true;
          (options.warn ?? ((m: string) => console.warn(m)))(
            "WARNING: COMMAND_SANDBOX=none — /execute commands run as this process's own user and can read its settings and every other command's secrets. Use this for local development only.",
          );
        }
        return NONE_LEASE;
      },
    };
  }
  let next = Math.floor(Math.random() * settings.uidCount);
  let swept: Promise<void> | undefined;
  return {
    mode: 'uid',
    acquire: async (cancelled) => {
      if (!able()) {
        throw new SandboxUnavailableError(
          'COMMAND_SANDBOX=uid needs a process that can switch users (root, or CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_DAC_OVERRIDE); this one cannot, so the command was not run. For local development only, COMMAND_SANDBOX=none runs commands as this user.',
        );
      }
      // Once per process: what a crashed predecessor's commands left running dies now, not when
      // their uid happens to be handed out again.
      swept ??= sweepOrphans(settings);
      await swept;
      for (;;) {
        for (let i = 0; i < settings.uidCount; i++) {
          const uid = settings.uidBase + ((next + i) % settings.uidCount);
          const lock = await tryLock(uid);
          if (!lock) continue;
          next = (next + i + 1) % settings.uidCount;
          const lease = new UidLease({ uid, gid: uid }, lock);
          // Processes left by a holder that died (kill -9 of a worker) still run as this uid; they
          // belong to no running command, and the next command must not share the uid with them.
          if (await lease.reap()) return lease;
          await lease.release();
        }
        if (cancelled?.()) return undefined;
        await sleep(options.retryMs ?? 250);
        if (cancelled?.()) return undefined;
      }
    },
  };
}

/** Kills the processes of every pool uid that no running command holds. */
async function sweepOrphans(settings: CommandSandboxSettings): Promise<void> {
  const inPool = new Set<number>();
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const status = await readFile(join('/proc', name, 'status'), 'utf8').catch(() => '');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uid >= settings.uidBase && uid < settings.uidBase + settings.uidCount) inPool.add(uid);
    }),
  );
  for (const uid of inPool) {
    const lock = await tryLock(uid);
    if (!lock) continue; // a running command's
    const lease = new UidLease({ uid, gid: uid }, lock);
    await lease.reap();
    await lease.release();
  }
}

const shared = new Map<string, CommandSandbox>();

/** One sandbox per settings per process, so concurrent commands of a worker draw from one pool. */
export function commandSandbox(settings: CommandSandboxSettings): CommandSandbox {
  const key = `${settings.mode}:${settings.uidBase}:${settings.uidCount}`;
  let s = shared.get(key);
  if (!s) {
    s = createCommandSandbox(settings);
    shared.set(key, s);
  }
  return s;
}
