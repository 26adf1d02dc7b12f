import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  commandRunRefusal,
  commandSpecOf,
  ESSEDUM_EXECUTE_KIND,
  isCommandKind,
} from '../lib/app/essedum/execute-spec.js';
import { hideHostPaths } from '../lib/core/host-paths.js';
import type { JobSpec } from '../lib/core/job.js';
import { parseEssedumSettings } from '../lib/essedum-settings.js';
import { parseCommandSandboxSettings } from '../lib/command-sandbox-settings.js';
import { commandSandbox } from './command-sandbox.js';
import { runCommand } from './run-command.js';
import { simulateJob, type SimulationOutcome, type StopReason } from './simulate.js';

/**
 * Environment variable through which a parent (the local provider) hands a one-shot run the
 * dispatch secrets of its job, as JSON. Never a file: nothing secret touches the disk. The run
 * reads it once and deletes it from its own environment.
 */
export const DISPATCH_SECRETS_ENV = 'CJO_DISPATCH_SECRETS';

/**
 * Set by a host that runs one-shot runs as its children (the local provider). Such a run ignores
 * SIGINT: a Ctrl-C in the terminal reaches the whole process group, and the host, not the signal,
 * decides whether the run may finish within its grace period or is stopped.
 */
export const HOSTED_RUN_ENV = 'CJO_HOSTED_RUN';

function takeDispatchSecrets(): Record<string, string> {
  const raw = process.env[DISPATCH_SECRETS_ENV];
  delete process.env[DISPATCH_SECRETS_ENV];
  if (!raw) return {};
  try {
    const parsed = z.record(z.string(), z.string()).safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/**
 * A file a parent (the local provider) creates in the run's out folder to stop it. The run watches
 * for it, so a stop needs no signal to a PID read from disk (which may belong to someone else by
 * the time it is read again, after a restart).
 */
export const CANCEL_MARKER = 'cancel-requested';

/** The spec file handed to a one-shot run (local provider, Azure Batch resource file). */
export const OneShotSpecSchema = z.object({
  jobId: z.string().min(1),
  /** The record's server-set origin (`source`); a command runs only when it is /execute's. */
  origin: z.string().optional(),
  spec: z.custom<JobSpec>((v) => typeof v === 'object' && v !== null && 'rows' in v && 'data' in v, 'a job spec'),
});

/** Written beside result.json; the local provider reads it, Batch reads the exit code instead. */
export interface RunStatus {
  readonly state: 'succeeded' | 'failed' | 'cancelled';
  readonly exitCode: number;
  readonly finishedAt: string;
  readonly error?: { code: string; message: string };
}

/**
 * Runs one job to completion in this process and exits: the mode Azure Batch tasks and the local
 * provider use. SIGTERM stops the work at the next chunk boundary and exits 143.
 */
export async function runOnce(specPath: string, outDir: string, timeScale: number): Promise<number> {
  const input = OneShotSpecSchema.parse(JSON.parse(await readFile(specPath, 'utf8')));
  await mkdir(outDir, { recursive: true });
  let stop: StopReason | undefined;
  const onTerm = () => {
    stop = 'cancel';
  };
  process.on('SIGTERM', onTerm);
  const marker = join(outDir, CANCEL_MARKER);
  const watch = setInterval(() => {
    if (existsSync(marker)) stop ??= 'cancel';
  }, 200);
  if (process.env[HOSTED_RUN_ENV] === '1') process.on('SIGINT', () => undefined);
  // The /execute gate at run time: the local provider and Batch set ESSEDUM_EXECUTE_ENABLED from
  // the deployment's switch; a run without it (or with a spec not from /execute) runs no command.
  const refusal = isCommandKind(input.spec.kind)
    ? commandRunRefusal(input.origin, parseEssedumSettings(process.env).executeEnabled)
    : undefined;
  const outcome: SimulationOutcome = refusal
    ? { kind: 'failed', code: refusal.code, message: refusal.message }
    : input.spec.kind === ESSEDUM_EXECUTE_KIND
      ? await runCommandOnce(input.jobId, input.spec, outDir, () => stop)
      : await simulateOnce(input.jobId, input.spec, timeScale, () => stop);
  process.off('SIGTERM', onTerm);
  clearInterval(watch);
  const finishedAt = new Date().toISOString();
  let status: RunStatus;
  switch (outcome.kind) {
    case 'succeeded':
      await writeFile(join(outDir, 'result.json'), JSON.stringify({ jobId: input.jobId, ...outcome.result }, null, 2));
      console.log(`job ${input.jobId}: succeeded`);
      status = { state: 'succeeded', exitCode: 0, finishedAt };
      break;
    case 'failed':
      console.error(`job ${input.jobId}: ${outcome.code}: ${outcome.message}`);
      status = { state: 'failed', exitCode: 1, finishedAt, error: { code: outcome.code, message: outcome.message } };
      break;
    case 'stopped':
      console.error(`job ${input.jobId}: stopped (${outcome.reason}) after ${outcome.rowsDone} rows`);
      status = { state: 'cancelled', exitCode: 143, finishedAt };
      break;
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${String(unreachable)}`);
    }
  }
  await writeFile(join(outDir, 'status.json'), JSON.stringify(status));
  return status.exitCode;
}

async function simulateOnce(
  jobId: string,
  spec: JobSpec,
  timeScale: number,
  stop: () => StopReason | undefined,
): Promise<SimulationOutcome> {
  console.log(`job ${jobId}: processing ${spec.rows} rows over ~${spec.estimated_runtime_sec * timeScale} s`);
  return simulateJob(jobId, spec, {
    timeScale,
    shouldStop: stop,
    onProgress: (done, total) => console.log(`progress ${done}/${total}`),
  });
}

/**
 * An Essedum /execute job: runs its command here. Its output (secrets removed) becomes this
 * process's stdout, which the local provider keeps as the job log; output files are copied to
 * `<outDir>/outputs`.
 */
async function runCommandOnce(
  jobId: string,
  spec: JobSpec,
  outDir: string,
  stop: () => StopReason | undefined,
): Promise<SimulationOutcome> {
  const secrets = takeDispatchSecrets();
  const settings = parseEssedumSettings(process.env);
  const started = Date.now();
  const limitMs = (spec.max_runtime_sec ?? settings.commandTimeoutSec) * 1000;
  let timedOut = false;
  // Not inside the run folder: that stays private to the orchestrator (0700), and the command's
  // uid must reach its own folder.
  const workDir = join(tmpdir(), `cjo-exec-${jobId.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomUUID().slice(0, 8)}`);
  // The log (this run's stdout) and the status message are shown to callers: no host paths.
  const neutral = (t: string) =>
    hideHostPaths(t, { [resolve(workDir)]: '<job folder>', [resolve(outDir)]: '<run folder>' });
  const result = await runCommand({
    jobId,
    spec: commandSpecOf(spec.spec),
    secrets,
    workDir,
    maxLogBytes: settings.maxLogBytes,
    sandbox: commandSandbox(parseCommandSandboxSettings(process.env)),
    storageEndpointAllowlist: settings.storageEndpointAllowlist,
    shouldStop: () => {
      const s = stop();
      if (s) return s;
      if (Date.now() - started > limitMs) {
        timedOut = true;
        return 'timeout';
      }
      return undefined;
    },
    onOutputs: async (files) => {
      for (const f of files) {
        const target = join(outDir, 'outputs', f.name);
        await mkdir(dirname(target), { recursive: true });
        await copyFile(f.path, target);
      }
    },
  });
  process.stdout.write(neutral(result.log));
  switch (result.kind) {
    case 'succeeded':
      return { kind: 'succeeded', result: { exit_code: 0, outputs: result.outputs.map((o) => `outputs/${o.name}`) } };
    case 'failed':
      return { kind: 'failed', code: result.code, message: neutral(result.message) };
    case 'stopped':
      // A timeout is a failure of the job, not a cancel.
      return timedOut
        ? { kind: 'failed', code: 'TIMEOUT', message: `the command ran longer than ${limitMs / 1000} s` }
        : { kind: 'stopped', reason: result.reason, rowsDone: 0 };
    default: {
      const unreachable: never = result;
      throw new Error(`unhandled command outcome ${String(unreachable)}`);
    }
  }
}
