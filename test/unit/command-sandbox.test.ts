import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EssedumCommandSpec } from '../../src/lib/app/essedum/execute-spec.js';
import { parseCommandSandboxSettings } from '../../src/lib/command-sandbox-settings.js';
import { ConfigurationError } from '../../src/lib/errors.js';
import {
  canSwitchUser,
  createCommandSandbox,
  SandboxUnavailableError,
  type SandboxLease,
} from '../../src/worker/command-sandbox.js';
import { runCommand, type RunCommandInput } from '../../src/worker/run-command.js';
import type { StopReason } from '../../src/worker/simulate.js';

const ROOT = canSwitchUser();
const quiet = { warn: () => undefined };

const spec = (command: string): EssedumCommandSpec => ({
  command,
  storage: 'local',
  bucket: '',
  input_artifacts: [],
  project_id: 'p',
  name: 'n',
  version: '1',
  environment: {},
});

/** A pool of its own per test, away from the default pool other test files use. */
let nextBase = 62_000 + (process.pid % 50) * 40;
const pool = (count: number) => {
  const base = nextBase;
  nextBase += count;
  return createCommandSandbox(
    parseCommandSandboxSettings({ COMMAND_UID_BASE: String(base), COMMAND_UID_COUNT: String(count) }),
    { ...quiet, retryMs: 50 },
  );
};

const input = (command: string, over: Partial<RunCommandInput> = {}): RunCommandInput => ({
  jobId: 'j-sandbox',
  spec: spec(command),
  secrets: {},
  // Straight under the temp folder, as the worker does: the command's uid must reach its folder.
  workDir: join(tmpdir(), `cjo-sbx-${process.pid}-${Math.random().toString(36).slice(2)}`),
  maxLogBytes: 64 * 1024,
  shouldStop: () => undefined,
  killGraceMs: 300,
  sandbox: pool(4),
  storageEndpointAllowlist: [],
  ...over,
});

/** True while `pid` is a live process (a zombie waiting for its parent counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

const leases: SandboxLease[] = [];
const strangers: Array<ReturnType<typeof spawn>> = [];
afterEach(async () => {
  await Promise.all(leases.splice(0).map((l) => l.release()));
  for (const s of strangers.splice(0)) s.kill('SIGKILL');
});

describe('command sandbox settings', () => {
  it('defaults to a uid pool of 64 from 61000', () => {
    expect(parseCommandSandboxSettings({})).toEqual({ mode: 'uid', uidBase: 61_000, uidCount: 64 });
  });

  it('rejects an unknown mode and a pool that reaches system or nobody ids', () => {
    expect(() => parseCommandSandboxSettings({ COMMAND_SANDBOX: 'chroot' })).toThrow(ConfigurationError);
    expect(() => parseCommandSandboxSettings({ COMMAND_UID_BASE: '0' })).toThrow(/COMMAND_UID_BASE/);
    expect(() => parseCommandSandboxSettings({ COMMAND_UID_BASE: '65000', COMMAND_UID_COUNT: '600' })).toThrow(/65534/);
  });
});

describe('where the process cannot switch users', () => {
  it('refuses to run a command rather than run it as the orchestrator’s user', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cjo-sbx-refuse-'));
    const marker = join(dir, 'ran');
    const sandbox = createCommandSandbox(parseCommandSandboxSettings({}), { ...quiet, canSwitchUser: () => false });
    const r = await runCommand(input(`touch ${marker}`, { sandbox }));
    expect(r).toMatchObject({ kind: 'failed', code: 'SANDBOX_UNAVAILABLE' });
    expect(r.kind === 'failed' && r.message).toMatch(/COMMAND_SANDBOX=none/);
    expect(existsSync(marker)).toBe(false);
  });

  it('runs as the orchestrator’s user only when COMMAND_SANDBOX=none says so, with a warning', async () => {
    const warnings: string[] = [];
    const sandbox = createCommandSandbox(parseCommandSandboxSettings({ COMMAND_SANDBOX: 'none' }), {
      warn: (m) => warnings.push(m),
      canSwitchUser: () => false,
    });
    const r = await runCommand(input('id -u', { sandbox }));
    expect(r.kind).toBe('succeeded');
    expect(r.log.trim()).toBe(String(process.getuid!()));
    expect(warnings.join()).toMatch(/WARNING: COMMAND_SANDBOX=none/);
  });
});

describe('command uid pool', () => {
  it('two commands running at once never share a uid, not even with another process', async () => {
    if (!ROOT) {
      await expect(pool(2).acquire()).rejects.toBeInstanceOf(SandboxUnavailableError);
      return;
    }
    const base = nextBase;
    const sandbox = pool(2);
    // Another process holds the first uid of the pool.
    const other = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen('\\0cjo-command-uid-${base}', () => console.log('held'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    strangers.push(other);
    await new Promise<void>((res) => other.stdout!.once('data', () => res()));
    const first = (await sandbox.acquire())!;
    leases.push(first);
    expect(first.identity).toEqual({ uid: base + 1, gid: base + 1 });
    // Pool exhausted: a third command waits (here: until it gives up).
    let waited = 0;
    expect(await sandbox.acquire(() => ++waited > 3)).toBeUndefined();
    // The holder dies without releasing anything: the kernel frees its uid at once, no stale lock.
    other.kill('SIGKILL');
    await new Promise((res) => other.once('exit', res));
    const second = (await sandbox.acquire())!;
    leases.push(second);
    expect(second.identity!.uid).toBe(base);
  });
});

describe('after a crash (kill -9 of the worker)', () => {
  it('what the dead worker’s commands left running is killed when the next worker takes its first command', async () => {
    if (!ROOT) return void (await expect(pool(1).acquire()).rejects.toBeInstanceOf(SandboxUnavailableError));
    const base = nextBase;
    const sandbox = pool(3);
    // A command of a worker that died: still running as a pool uid, held by no one.
    const orphan = spawn('sleep', ['60'], { uid: base + 2, gid: base + 2, stdio: 'ignore', detached: true });
    strangers.push(orphan);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(orphan.pid!)).toBe(true);
    const lease = (await sandbox.acquire())!;
    leases.push(lease);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(orphan.pid!)).toBe(false);
  });
});

describe('stop, timeout and exit kill every process of a command', () => {
  const setsidCommand = 'echo "uid=$(id -u)"; setsid sleep 1000 > /dev/null 2>&1 & echo "bg=$!"; sleep 1000';
  const bgPid = (log: string) => Number(/bg=(\d+)/.exec(log)?.[1]);

  for (const reason of ['cancel', 'timeout'] as const) {
    it(`a ${reason === 'cancel' ? 'stop' : 'timeout'} kills a descendant that called setsid`, async () => {
      if (!ROOT) {
        const r = await runCommand(input(setsidCommand));
        expect(r).toMatchObject({ kind: 'failed', code: 'SANDBOX_UNAVAILABLE' });
        return;
      }
      let stop: StopReason | undefined;
      const running = runCommand(input(setsidCommand, { shouldStop: () => stop }));
      setTimeout(() => (stop = reason), 700);
      const r = await running;
      expect(r).toMatchObject({ kind: 'stopped', reason });
      const uid = Number(/uid=(\d+)/.exec(r.log)?.[1]);
      expect(uid).toBeGreaterThanOrEqual(62_000);
      expect(bgPid(r.log)).toBeGreaterThan(0);
      expect(alive(bgPid(r.log))).toBe(false);
    });
  }

  it('a command that exits leaves nothing running, even a setsid daemon', async () => {
    if (!ROOT) {
      expect((await runCommand(input('true'))).kind).toBe('failed');
      return;
    }
    const r = await runCommand(input('setsid sh -c "sleep 1000" > /dev/null 2>&1 & echo "bg=$!"'));
    expect(r.kind).toBe('succeeded');
    expect(bgPid(r.log)).toBeGreaterThan(0);
    expect(alive(bgPid(r.log))).toBe(false);
  });

  it('a command cannot smuggle out a file it cannot read through links in its outputs', async () => {
    if (!ROOT) return void (await expect(pool(1).acquire()).rejects.toBeInstanceOf(SandboxUnavailableError));
    const secretFile = join(mkdtempSync(join(tmpdir(), 'cjo-sbx-secret-')), 'orchestrator-secret');
    writeFileSync(secretFile, 'planted-orchestrator-secret', { mode: 0o600 });
    chmodSync(dirname(secretFile), 0o711);
    const saved: string[] = [];
    const r = await runCommand(
      input(
        `cat ${secretFile} || echo "read refused"; cd outputs; ln -s ${secretFile} soft; ln ${secretFile} hard 2>/dev/null; echo mine > own; ln own own-again`,
        {
          onOutputs: async (files) => void saved.push(...files.map((f) => `${f.name}=${readFileSync(f.path, 'utf8')}`)),
        },
      ),
    );
    expect(r.kind).toBe('succeeded');
    expect(r.log).toContain('read refused');
    expect(r.log).not.toContain('planted-orchestrator-secret');
    expect(saved.join()).not.toContain('planted-orchestrator-secret');
    expect(r.log).toMatch(/output soft skipped/);
    expect(saved).toEqual([]);
  });

  it('a command runs as a uid of its own, in a folder only that uid can open', async () => {
    if (!ROOT) return void (await expect(pool(1).acquire()).rejects.toBeInstanceOf(SandboxUnavailableError));
    const r = await runCommand(input('id -u; id -G; stat -c "%u %a" .'));
    expect(r.kind).toBe('succeeded');
    const [uid, groups, folder] = r.log.trim().split('\n');
    expect(Number(uid)).toBeGreaterThanOrEqual(62_000);
    // No supplementary group of the orchestrator (root's groups) is kept.
    expect(groups).toBe(uid);
    expect(folder).toBe(`${uid} 700`);
  });
});
