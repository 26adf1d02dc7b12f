import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { EssedumCommandSpec } from '../lib/app/essedum/execute-spec.js';
import { SECRET_KEYS } from '../lib/app/essedum/execute-spec.js';
import { getObject } from '../lib/app/essedum/s3.js';
import type { AllowEntry } from '../lib/core/endpoint-allowlist.js';
import { describeError } from '../lib/errors.js';
import type { StopReason } from './simulate.js';
import { SandboxUnavailableError, type CommandSandbox, type SandboxLease } from './command-sandbox.js';
import { sleep } from '../lib/retry.js';

/**
 * Runs an /execute job's command: fetches its input artifacts, runs the command in a shell under a
 * user id of its own (see command-sandbox.ts) in a private working folder (0700, owned by that
 * uid) with a minimal environment (never the worker's own settings, which hold storage
 * credentials), captures its output as the log, kills every process of its uid on stop, timeout
 * or exit, and reports the exit code. Secrets are removed from the log before anyone sees it.
 */

export type CommandOutcome =
  | { readonly kind: 'succeeded'; readonly exitCode: 0; readonly log: string; readonly outputs: readonly OutputFile[] }
  | {
      readonly kind: 'failed';
      readonly code: string;
      readonly message: string;
      readonly exitCode: number | null;
      readonly log: string;
      readonly outputs: readonly OutputFile[];
    }
  | { readonly kind: 'stopped'; readonly reason: StopReason; readonly log: string };

export interface OutputFile {
  /** Path relative to the outputs folder, `/`-separated. */
  readonly name: string;
  readonly path: string;
}

export interface RunCommandInput {
  readonly jobId: string;
  readonly spec: EssedumCommandSpec;
  readonly secrets: Readonly<Record<string, string>>;
  /** A folder of its own; created, and removed afterwards unless `keepWorkDir`. */
  readonly workDir: string;
  readonly keepWorkDir?: boolean;
  readonly maxLogBytes: number;
  /** Polled a few times a second; a value stops the command (SIGTERM, then SIGKILL after the grace). */
  readonly shouldStop: () => StopReason | undefined;
  /** Called about once a second while the command runs (heartbeats). */
  readonly onTick?: () => Promise<void> | void;
  /** Storage endpoints minio/s3 artifacts may come from (ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST, parsed). */
  readonly storageEndpointAllowlist: readonly AllowEntry[];
  /** Reads `local` storage artifacts (Blob Storage: container = bucket). */
  readonly readLocalArtifact?: (container: string, name: string) => Promise<Buffer | undefined>;
  /** Receives the files the command left in its outputs folder, before the folder is removed. */
  readonly onOutputs?: (files: readonly OutputFile[]) => Promise<void>;
  readonly killGraceMs?: number;
  /** Shell that runs the command script; `/bin/sh <script>`. */
  readonly shell?: string;
  /** Who the command runs as. */
  readonly sandbox: CommandSandbox;
}

/** Name of the script file in the work folder: the command text never appears in a process's argv. */
const SCRIPT_NAME = '.essedum-command.sh';
/** How long output pipes may stay open after every process of the command is gone. */
const PIPE_CLOSE_MS = 2000;

const MIN_SECRET_LENGTH = 4;

/** Replaces every secret value in `text` with `****`. */
export function redact(text: string, secrets: Readonly<Record<string, string>>): string {
  let out = text;
  const values = Object.values(secrets)
    .filter((v) => v.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('****');
  return out;
}

/** Keeps the last `max` bytes of the log, marking the cut. */
function tail(buf: Buffer, max: number): string {
  if (buf.length <= max) return buf.toString('utf8');
  return `[… ${buf.length - max} earlier bytes dropped …]\n${buf.subarray(buf.length - max).toString('utf8')}`;
}

function safeRelative(key: string): string {
  const cleaned = key.replace(/^\/+/, '');
  if (!cleaned || cleaned.split('/').some((s) => s === '..' || s === '')) throw new Error(`bad artifact key '${key}'`);
  return cleaned;
}

async function fetchArtifacts(input: RunCommandInput, inputDir: string, log: (s: string) => void): Promise<void> {
  const { spec, secrets } = input;
  for (const key of spec.input_artifacts) {
    const rel = safeRelative(key);
    const target = resolve(inputDir, rel);
    if (!target.startsWith(resolve(inputDir) + sep)) throw new Error(`artifact '${key}' leaves the input folder`);
    let data: Buffer | undefined;
    switch (spec.storage) {
      case 'minio':
      case 's3': {
        const endpoint = secrets[SECRET_KEYS.endpoint];
        const accessKey = secrets[SECRET_KEYS.accessKey];
        const secretKey = secrets[SECRET_KEYS.secretKey];
        if (!endpoint || !accessKey || !secretKey)
          throw new Error(`no ${spec.storage} credentials reached this worker for '${key}'`);
        data = await getObject({ endpoint, accessKey, secretKey }, spec.bucket, rel, {
          allowlist: input.storageEndpointAllowlist,
        });
        break;
      }
      case 'local': {
        if (!input.readLocalArtifact) throw new Error(`'local' storage artifacts cannot be read here ('${key}')`);
        data = await input.readLocalArtifact(spec.bucket, rel);
        if (!data) throw new Error(`blob ${spec.bucket}/${rel} does not exist`);
        break;
      }
      default: {
        const unreachable: never = spec.storage;
        throw new Error(`unknown storage ${String(unreachable)}`);
      }
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, data);
    log(`fetched ${spec.storage}://${spec.bucket}/${rel} (${data.length} bytes)\n`);
  }
}

/**
 * Regular files the command left, read later by this (more privileged) process: never a link. A
 * symbolic link is not a file here, and a file with a second hard link may be a name for a file
 * the command could not read itself (where the kernel allows such links), so it is skipped.
 */
async function listOutputs(dir: string, log: (s: string) => void): Promise<OutputFile[]> {
  const out: OutputFile[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(d, e.name);
      const name = relative(dir, p).split(sep).join('/');
      if (e.isDirectory()) await walk(p);
      else if (!e.isFile()) log(`output ${name} skipped: not a regular file\n`);
      else if ((await lstat(p)).nlink !== 1) log(`output ${name} skipped: it has other hard links\n`);
      else out.push({ name, path: p });
    }
  };
  await walk(dir);
  return out;
}

/** Environment of the command: a clean one, plus what the caller asked for. */
export function commandEnv(
  input: Pick<RunCommandInput, 'jobId' | 'spec' | 'secrets'>,
  dirs: { work: string; inputs: string; outputs: string },
): Record<string, string> {
  const { spec, secrets } = input;
  // Only the search path is inherited from the worker; nothing else of its environment.
  const { PATH: searchPath } = process.env;
  const vars: Record<string, string> = {
    PATH: searchPath ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: dirs.work,
    TMPDIR: dirs.work,
    LANG: 'C.UTF-8',
    ...spec.environment,
    ESSEDUM_TASK_ID: input.jobId,
    ESSEDUM_PROJECT_ID: spec.project_id,
    ESSEDUM_NAME: spec.name,
    ESSEDUM_VERSION: spec.version,
    ESSEDUM_BUCKET: spec.bucket,
    ESSEDUM_STORAGE: spec.storage,
    ESSEDUM_INPUT_DIR: dirs.inputs,
    ESSEDUM_OUTPUT_DIR: dirs.outputs,
  };
  // The caller's own storage credentials, for scripts that write results back to their bucket.
  const endpoint = secrets[SECRET_KEYS.endpoint];
  const accessKey = secrets[SECRET_KEYS.accessKey];
  const secretKey = secrets[SECRET_KEYS.secretKey];
  if (endpoint) vars.ESSEDUM_STORAGE_ENDPOINT = endpoint;
  if (accessKey) vars.ESSEDUM_STORAGE_ACCESS_KEY = accessKey;
  if (secretKey) vars.ESSEDUM_STORAGE_SECRET_KEY = secretKey;
  return vars;
}

export async function runCommand(input: RunCommandInput): Promise<CommandOutcome> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Keep twice the limit before redaction so a secret is never cut in half at the boundary.
  const keep = input.maxLogBytes * 2;
  const append = (b: Buffer) => {
    chunks.push(b);
    size += b.length;
    while (size - (chunks[0]?.length ?? 0) >= keep && chunks.length > 1) size -= chunks.shift()!.length;
  };
  const finalLog = () => {
    const all = Buffer.concat(chunks);
    return tail(Buffer.from(redact(all.toString('utf8'), input.secrets), 'utf8'), input.maxLogBytes);
  };
  let lease: SandboxLease | undefined;
  try {
    lease = await input.sandbox.acquire(() => input.shouldStop() !== undefined);
  } catch (error) {
    if (!(error instanceof SandboxUnavailableError)) throw error;
    append(Buffer.from(`${error.message}\n`));
    return { kind: 'failed', code: error.code, message: error.message, exitCode: null, log: finalLog(), outputs: [] };
  }
  if (!lease) return { kind: 'stopped', reason: input.shouldStop() ?? 'cancel', log: finalLog() };
  const dirs = { work: input.workDir, inputs: join(input.workDir, 'inputs'), outputs: join(input.workDir, 'outputs') };
  try {
    await makePrivateDir(dirs.work);
    await mkdir(dirs.inputs, { recursive: true });
    await mkdir(dirs.outputs, { recursive: true });
    try {
      await fetchArtifacts(input, dirs.inputs, (s) => append(Buffer.from(s)));
    } catch (error) {
      append(Buffer.from(`input artifacts: ${describeError(error)}\n`));
      return {
        kind: 'failed',
        code: 'ARTIFACT_FETCH_FAILED',
        message: redact(describeError(error), input.secrets),
        exitCode: null,
        log: finalLog(),
        outputs: [],
      };
    }
    const early = input.shouldStop();
    if (early) return { kind: 'stopped', reason: early, log: finalLog() };
    const script = join(dirs.work, SCRIPT_NAME);
    await writeFile(script, input.spec.command, { mode: 0o500 });
    // Everything the command may touch now belongs to its uid alone.
    await lease.own(dirs.work);

    const sandboxLease = lease;
    const child = spawn(input.shell ?? '/bin/sh', [script], {
      cwd: dirs.work,
      env: commandEnv(input, dirs),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a stop reaches everything the command started even without a sandbox uid.
      detached: true,
      ...(lease.identity && { uid: lease.identity.uid, gid: lease.identity.gid }),
    });
    child.stdout.on('data', (b: Buffer) => append(b));
    child.stderr.on('data', (b: Buffer) => append(b));
    const closed = new Promise<void>((res) => child.once('close', () => res()));
    // Once Node has reaped the leader its pid may be reused: from then on only the uid is signalled.
    let leaderReaped = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((res) => {
      child.once('error', (error) => res({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => {
        leaderReaped = true;
        res({ code, signal });
      });
    });
    const killAll = async (signal: 'TERM' | 'KILL') => {
      // The group by its leader's pid only while the leader is unreaped (its pid cannot be reused).
      if (!leaderReaped && child.pid) {
        try {
          process.kill(-child.pid, `SIG${signal}`);
        } catch {
          // Already gone.
        }
      }
      await sandboxLease.signalAll(signal);
    };
    let stopped: StopReason | undefined;
    let lastTick = Date.now();
    let killTimer: NodeJS.Timeout | undefined;
    const watcher = setInterval(() => {
      const s = stopped ? undefined : input.shouldStop();
      if (s && !stopped) {
        stopped = s;
        void killAll('TERM');
        killTimer = setTimeout(() => void killAll('KILL'), input.killGraceMs ?? 5000);
      }
      if (input.onTick && Date.now() - lastTick >= 1000) {
        lastTick = Date.now();
        void Promise.resolve(input.onTick()).catch(() => undefined);
      }
    }, 100);
    const result = await exited;
    clearInterval(watcher);
    if (killTimer) clearTimeout(killTimer);
    // Whatever the command left behind dies with it: every process of its uid, including one that
    // called setsid. Without a sandbox uid only the group is reachable, and only by its number.
    if (lease.identity) await lease.signalAll('KILL');
    else if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // No process of the group is left.
      }
    }
    const reaped = await lease.reap();
    // A process outside the sandbox (none mode) may still hold the output pipes: stop waiting for them.
    const pipesClosed = await Promise.race([closed.then(() => true), sleep(PIPE_CLOSE_MS).then(() => false)]);
    if (!pipesClosed) {
      child.stdout.destroy();
      child.stderr.destroy();
    }
    if (!reaped) append(Buffer.from('\n[some processes of the command could not be stopped]\n'));

    if (stopped) {
      append(Buffer.from(`\n[stopped: ${stopped}]\n`));
      return { kind: 'stopped', reason: stopped, log: finalLog() };
    }
    const outputs = await listOutputs(dirs.outputs, (m) => append(Buffer.from(m)));
    if (outputs.length > 0 && input.onOutputs) {
      try {
        await input.onOutputs(outputs);
      } catch (error) {
        append(Buffer.from(`\nsaving outputs failed: ${describeError(error)}\n`));
        return {
          kind: 'failed',
          code: 'OUTPUT_UPLOAD_FAILED',
          message: redact(describeError(error), input.secrets),
          exitCode: result.code,
          log: finalLog(),
          outputs,
        };
      }
    }
    if (result.error) {
      return {
        kind: 'failed',
        code: 'COMMAND_NOT_STARTED',
        message: result.error.message,
        exitCode: null,
        log: finalLog(),
        outputs,
      };
    }
    if (result.code === 0) return { kind: 'succeeded', exitCode: 0, log: finalLog(), outputs };
    const how =
      result.code !== null ? `exited with code ${result.code}` : `was killed by ${result.signal ?? 'a signal'}`;
    return {
      kind: 'failed',
      code: result.code !== null ? `EXIT_${result.code}` : 'KILLED',
      message: `the command ${how}`,
      exitCode: result.code,
      log: finalLog(),
      outputs,
    };
  } finally {
    if (!input.keepWorkDir) await rm(input.workDir, { recursive: true, force: true }).catch(() => undefined);
    await lease.release();
  }
}

/**
 * Creates the work folder, or accepts an existing one only if this process owns it and it is a
 * real folder: in a shared /tmp another user could have prepared the path with links inside.
 */
async function makePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const st = await lstat(dir);
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()))
      throw new Error(`work folder ${dir} exists and is not this process's own folder`);
  }
  await chmod(dir, 0o700);
}

/** Total size of output files, for the result summary. */
export async function outputsSummary(outputs: readonly OutputFile[]): Promise<Array<{ name: string; bytes: number }>> {
  return Promise.all(outputs.map(async (o) => ({ name: o.name, bytes: (await stat(o.path)).size })));
}
