import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { JobSpec } from '../lib/core/job.js';
import { simulateJob, type StopReason } from './simulate.js';

/** The spec file handed to a one-shot run (local provider, Azure Batch resource file). */
export const OneShotSpecSchema = z.object({
  jobId: z.string().min(1),
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
  console.log(`job ${input.jobId}: processing ${input.spec.rows} rows over ~${input.spec.estimated_runtime_sec * timeScale} s`);
  const outcome = await simulateJob(input.jobId, input.spec, {
    timeScale,
    shouldStop: () => stop,
    onProgress: (done, total) => console.log(`progress ${done}/${total}`),
  });
  process.off('SIGTERM', onTerm);
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
