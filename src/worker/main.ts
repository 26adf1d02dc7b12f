import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../lib/config.js';
import { createDeps, type Deps } from '../lib/deps.js';
import type { IdleWait } from '../lib/core/poll-backoff.js';
import { JobWorker } from './job-worker.js';
import { runOnce } from './one-shot.js';

/** Worker options for a mode, from settings. */
export function workerOptions(config: Config, mode: 'actor' | 'spark' = config.worker.mode) {
  return {
    mode,
    queue: mode === 'actor' ? config.queues.actor : config.queues.spark,
    concurrency: config.worker.concurrency,
    lockSec: config.worker.lockSec,
    heartbeatSec: config.worker.heartbeatSec,
    shutdownGraceSec: config.worker.shutdownGraceSec,
    timeScale: config.simulationTimeScale,
    maxDeliveries: config.maxDeliveries,
    maxPollMs: config.worker.maxPollSec * 1000,
  } as const;
}

/** Starts a queue worker and wires SIGTERM/SIGINT to a graceful shutdown. */
export async function startQueueWorker(
  deps: Deps,
  mode: 'actor' | 'spark',
  polling: { idleWait?: IdleWait; maxPollMs?: number } = {},
): Promise<JobWorker> {
  const worker = new JobWorker(deps, { ...workerOptions(deps.config, mode), ...polling });
  worker.start();
  deps.log.info('worker started', { worker: worker.id, queue: workerOptions(deps.config, mode).queue });
  return worker;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      once: { type: 'boolean', default: false },
      spec: { type: 'string' },
      out: { type: 'string' },
      mode: { type: 'string' },
    },
  });
  if (values.once) {
    if (!values.spec || !values.out) throw new Error('--once needs --spec <file> and --out <dir>');
    const scale = Number(process.env.SIMULATION_TIME_SCALE ?? '1');
    process.exitCode = await runOnce(values.spec, values.out, Number.isFinite(scale) && scale >= 0 ? scale : 1);
    return;
  }
  const config = loadConfig();
  const mode = (values.mode ?? config.worker.mode) as 'actor' | 'spark';
  if (mode !== 'actor' && mode !== 'spark') throw new Error(`--mode must be actor or spark, got ${mode}`);
  const { startTelemetry, stopTelemetry } = await import('../lib/telemetry/setup.js');
  await startTelemetry(config.env, { role: `worker-${mode}` });
  const deps = await createDeps(config);
  await deps.queues.ensure([mode === 'actor' ? config.queues.actor : config.queues.spark]);
  const worker = await startQueueWorker(deps, mode);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.log.info('shutting down', { worker: worker.id, signal, inFlight: worker.busy });
    void worker
      .shutdown()
      .then(() => deps.queues.close())
      .then(() => stopTelemetry().catch(() => undefined))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          deps.log.error('shutdown failed', {
            worker: worker.id,
            error: error instanceof Error ? error.message : String(error),
          });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (invokedDirectly) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
