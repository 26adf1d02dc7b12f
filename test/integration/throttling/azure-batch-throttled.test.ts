import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AzureBlobStore } from '../../../src/lib/adapters/azure-blob-store.js';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { jobMessage } from '../../../src/lib/app/messages.js';
import { newJobId } from '../../../src/lib/core/ids.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import type { Deps } from '../../../src/lib/deps.js';
import { createAzureBatchProvider } from '../../../src/lib/providers/azure-batch/provider.js';
import { parseAzureBatchSettings } from '../../../src/lib/providers/azure-batch/settings.js';
import { mapLimit, TokenBucket } from '../../../src/lib/retry.js';
import { FakeBatchService, type FakeBatchOptions } from '../../fakes/azure-batch/fake-batch-service.js';
import { FakeClock } from '../../fakes/rate-limit.js';
import { drain, MASS_JOBS as N, throttleConfig, throttleDeps } from '../../support/throttle-harness.js';

const ACCOUNT = 'thrbatch';
const KEY = randomBytes(32).toString('base64');
const POOL_JOB = 'cjo-cjo-pool';
/** Lost replies cost a real client timeout each, so `npm test` runs fewer; CI runs 1 000. */
const FAULT_JOBS = process.env.THROTTLE_TEST_JOBS ? N : 60;

let fake: FakeBatchService | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function setUp(options: FakeBatchOptions, env: Record<string, string>, clock: FakeClock): Promise<Deps> {
  fake = new FakeBatchService({ sharedKey: { accountName: ACCOUNT, accountKey: KEY }, ...options });
  await fake.start();
  const suffix = Math.random().toString(36).slice(2, 8);
  const config = throttleConfig({
    AZURE_BATCH_ACCOUNT_URL: fake.url,
    AZURE_BATCH_ACCOUNT_NAME: ACCOUNT,
    AZURE_BATCH_ACCOUNT_KEY: KEY,
    AZURE_BATCH_STAGING_CONTAINER: `thr-staging-${suffix}`,
    ...env,
  });
  const settings = parseAzureBatchSettings(config.env);
  // Task outputs travel through real SAS URLs, so blobs live in Azurite here; jobs in memory.
  const blobs = await AzureBlobStore.create(config);
  await blobs.ensure([config.containers.results, config.containers.payloads, settings.stagingContainer]);
  const limiter = new TokenBucket({
    ratePerSec: settings.requestRatePerSec,
    burst: settings.requestBurst,
    now: clock.now,
    sleep: clock.sleep,
  });
  return throttleDeps(
    config,
    (b) => createAzureBatchProvider({ config, blobs: b }, { now: clock.now, sleep: clock.sleep, limiter }),
    clock,
    blobs,
  );
}

async function queue(deps: Deps, n: number, clock: FakeClock): Promise<JobRecord[]> {
  const at = new Date(clock.now()).toISOString();
  const jobs: JobRecord[] = Array.from({ length: n }, () => ({
    id: newJobId(),
    status: 'queued',
    source: 'api',
    spec: { rows: 1000, estimated_runtime_sec: 10, priority: 'normal', latency_sensitive: false, data: {}, labels: {} },
    createdAt: at,
    updatedAt: at,
    provider: 'azure-batch',
    queue: 'batch-jobs',
    attempts: 0,
    eventSeq: 1,
  }));
  for (const job of jobs)
    await deps.store.create(job, { seq: 0, at, type: 'transition', from: null, to: 'queued', reason: 'test' });
  return jobs;
}

/** Delivers each job's dispatch message until a handler run succeeds, as the queue redelivers. */
async function dispatchAll(deps: Deps, jobs: readonly JobRecord[]): Promise<number[]> {
  return mapLimit(jobs, 8, async (job) => {
    for (let delivery = 1; delivery <= 30; delivery++) {
      try {
        await handleDispatchMessage(deps, jobMessage(job.id));
        return delivery;
      } catch {
        // Thrown out of the handler: the queue redelivers the message.
      }
    }
    return Number.POSITIVE_INFINITY;
  });
}

describe('Azure Batch polling under the account request quota', () => {
  it(`finishes ${N} tasks completed at once, paced by the client limiter, without a single 429`, async () => {
    const clock = new FakeClock();
    const limit = { perSec: 20, burst: 20 };
    const deps = await setUp(
      { requestLimit: limit, quotaClock: clock.now },
      { AZURE_BATCH_REQUEST_RATE_PER_SEC: '20', AZURE_BATCH_REQUEST_BURST: '20' },
      clock,
    );
    const jobs = await queue(deps, N, clock);
    expect((await dispatchAll(deps, jobs)).every((d) => d === 1)).toBe(true);
    await mapLimit(jobs, 8, (job) => fake!.completeTask(POOL_JOB, job.id, { exitCode: 0 }));

    const r = await drain(
      deps,
      'azure-batch',
      jobs.map((j) => j.id),
      clock,
      { maxCycles: 50 },
    );

    expect(r.statuses).toEqual({ succeeded: N });
    expect(fake!.throttledByQuota).toBe(0);
    console.info(
      `azure-batch: ${N} tasks, ${limit.perSec} calls/s: ${r.cycles} cycle(s), ${(r.elapsedMs / 1000).toFixed(1)} s on the fake clock (dispatch and poll calls / limit = ${(fake!.requests.length / limit.perSec).toFixed(1)} s)`,
    );
  });
});

describe('Azure Batch dispatch and polling with injected faults', () => {
  it(`20 % 429/503/500 and 5 % lost replies: ${FAULT_JOBS} jobs all succeed, no task added twice`, async () => {
    const clock = new FakeClock();
    const deps = await setUp(
      { faults: { error: 0.2, timeout: 0.05, seed: 14 } },
      {
        AZURE_BATCH_REQUEST_RATE_PER_SEC: '10000',
        AZURE_BATCH_REQUEST_BURST: '10000',
        AZURE_BATCH_REQUEST_TIMEOUT_MS: '1500',
        AZURE_BATCH_RETRY_ATTEMPTS: '2',
        AZURE_BATCH_RETRY_BASE_MS: '100',
      },
      clock,
    );
    const jobs = await queue(deps, FAULT_JOBS, clock);

    const deliveries = await dispatchAll(deps, jobs);
    const dispatched = await mapLimit(jobs, 32, (job) => deps.store.get(job.id));
    await mapLimit(jobs, 8, (job) => fake!.completeTask(POOL_JOB, job.id, { exitCode: 0 }));
    const r = await drain(
      deps,
      'azure-batch',
      jobs.map((j) => j.id),
      clock,
      { maxCycles: 3000 },
    );

    expect(deliveries.every(Number.isFinite)).toBe(true);
    expect(dispatched.every((j) => j?.status === 'dispatched')).toBe(true);
    expect(r.statuses).toEqual({ succeeded: FAULT_JOBS });
    expect(fake!.jobs.get(POOL_JOB)?.tasks.size).toBe(FAULT_JOBS);
    expect(Math.max(...fake!.addsByTask.values())).toBe(1);
    expect(fake!.faultPlan!.drawn.timeout).toBeGreaterThan(0);
  });
});
