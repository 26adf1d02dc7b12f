import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandSpecOf } from '../lib/app/essedum/execute-spec.js';
import type { WorkerJobRunner, WorkerJobRunners } from '../lib/app/run-worker-job.js';
import { hideHostPaths } from '../lib/core/host-paths.js';
import type { Deps } from '../lib/deps.js';
import { parseEssedumSettings } from '../lib/essedum-settings.js';
import type { CommandSandbox } from './command-sandbox.js';
import { runCommand } from './run-command.js';
import { simulateJob } from './simulate.js';

/** The seed's simulated work: rows over the scaled estimated runtime, progress after every chunk. */
export function simulationRunner(timeScale: number): WorkerJobRunner {
  return async ({ job, shouldStop, progress }) => ({
    outcome: await simulateJob(job.id, job.spec, { timeScale, onProgress: progress, shouldStop }),
  });
}

/**
 * An Essedum /execute job: runs its command in this worker's container under the sandbox. Its
 * secrets (storage credentials) come from the queue message only and are dropped when this returns.
 */
export function commandRunner(deps: Deps, sandbox: CommandSandbox): WorkerJobRunner {
  return async ({ job, secrets, shouldStop, progress }) => {
    const settings = parseEssedumSettings(deps.config.env);
    const container = deps.config.containers.results;
    const workDir = join(tmpdir(), `cjo-exec-${job.id}-${randomUUID().slice(0, 8)}`);
    // The log and error messages are shown to callers: they name the job's folder, not its host path.
    const neutral = (t: string) => hideHostPaths(t, { [workDir]: '<job folder>' });
    const result = await runCommand({
      jobId: job.id,
      spec: commandSpecOf(job.spec.spec),
      secrets,
      workDir,
      maxLogBytes: settings.maxLogBytes,
      shouldStop,
      onTick: () => progress(0, job.spec.rows),
      sandbox,
      storageEndpointAllowlist: settings.storageEndpointAllowlist,
      // Checked again here, not only at submission: a record changed in storage reads nothing else.
      readLocalArtifact: async (c, name) => {
        if (c !== settings.artifactsContainer)
          throw new Error(`'local' artifacts come only from the container ${settings.artifactsContainer}, not '${c}'`);
        return deps.blobs.get(c, name);
      },
      onOutputs: async (files) => {
        for (const f of files) await deps.blobs.put(container, `${job.id}/outputs/${f.name}`, await readFile(f.path));
      },
    });
    const log = neutral(result.log);
    switch (result.kind) {
      case 'succeeded':
        return {
          log,
          outcome: {
            kind: 'succeeded',
            result: { exit_code: 0, outputs: result.outputs.map((o) => `${container}/${job.id}/outputs/${o.name}`) },
          },
        };
      case 'failed':
        return { log, outcome: { kind: 'failed', code: result.code, message: neutral(result.message) } };
      case 'stopped':
        return { log, outcome: { kind: 'stopped', reason: result.reason, rowsDone: 0 } };
      default: {
        const unreachable: never = result;
        throw new Error(`unhandled command outcome ${String(unreachable)}`);
      }
    }
  };
}

/** The worker's job kinds, one runner each. */
export function workerJobRunners(deps: Deps, sandbox: CommandSandbox, timeScale: number): WorkerJobRunners {
  return { simulation: simulationRunner(timeScale), command: commandRunner(deps, sandbox) };
}
