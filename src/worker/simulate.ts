import { createHash } from 'node:crypto';
import type { JobSpec } from '../lib/core/job.js';

import { sleep } from '../lib/retry.js';
import type { StopReason, WorkerRunOutcome } from '../lib/app/run-worker-job.js';

export type { StopReason };
export type SimulationOutcome = WorkerRunOutcome;

export interface SimulationHooks {
  /** Multiplier on `estimated_runtime_sec` (SIMULATION_TIME_SCALE). */
  readonly timeScale: number;
  /** Called after every chunk; awaited, so it can write progress. */
  readonly onProgress?: (rowsDone: number, rowsTotal: number) => Promise<void> | void;
  /** Checked between chunks: work stops at a chunk boundary, never mid-chunk. */
  readonly shouldStop?: () => StopReason | undefined;
}

/** Upper bound on chunks: progress granularity without flooding the job record with writes. */
const MAX_CHUNKS = 50;
const MIN_CHUNK_MS = 50;
const STOP_CHECK_MS = 250;

/**
 * The seed's abstract job: process `rows` over `estimated_runtime_sec`. The work is split into
 * chunks; each one folds its row range into a running SHA-256 (so the result depends on the input)
 * and waits its share of the scaled runtime. `data.simulate_failure` (a message) makes the job fail
 * half-way, which is how a user (or a test) sees the failure path of the real system.
 */
export async function simulateJob(jobId: string, spec: JobSpec, hooks: SimulationHooks): Promise<SimulationOutcome> {
  const started = Date.now();
  const totalMs = Math.max(0, spec.estimated_runtime_sec * 1000 * hooks.timeScale);
  const chunks = Math.max(1, Math.min(MAX_CHUNKS, Math.floor(totalMs / MIN_CHUNK_MS)));
  const perChunkMs = totalMs / chunks;
  const failure = typeof spec.data.simulate_failure === 'string' ? spec.data.simulate_failure : undefined;
  const hash = createHash('sha256').update(jobId).update(JSON.stringify(spec.data));
  let rowsDone = 0;
  for (let i = 0; i < chunks; i++) {
    const stop = hooks.shouldStop?.();
    if (stop) return { kind: 'stopped', reason: stop, rowsDone };
    if (failure && i >= Math.floor(chunks / 2)) return { kind: 'failed', code: 'SIMULATED_FAILURE', message: failure };
    const rowsEnd = Math.round(((i + 1) * spec.rows) / chunks);
    hash.update(`${rowsDone}-${rowsEnd};`);
    rowsDone = rowsEnd;
    // Wait in short slices so a stop (cancel, shutdown release, timeout) is honoured within a
    // quarter second even when one chunk stands for minutes of simulated work.
    for (let waited = 0; waited < perChunkMs; waited += STOP_CHECK_MS) {
      await sleep(Math.min(STOP_CHECK_MS, perChunkMs - waited));
      const early = hooks.shouldStop?.();
      if (early) return { kind: 'stopped', reason: early, rowsDone: Math.round((i * spec.rows) / chunks) };
    }
    await hooks.onProgress?.(rowsDone, spec.rows);
  }
  const stop = hooks.shouldStop?.();
  if (stop === 'cancel' || stop === 'release') return { kind: 'stopped', reason: stop, rowsDone };
  if (failure) return { kind: 'failed', code: 'SIMULATED_FAILURE', message: failure };
  return {
    kind: 'succeeded',
    result: {
      rows_processed: rowsDone,
      chunks,
      simulated_runtime_sec: Math.round(totalMs) / 1000,
      elapsed_ms: Date.now() - started,
      checksum: hash.digest('hex'),
      priority: spec.priority,
      data_keys: Object.keys(spec.data).sort(),
    },
  };
}
