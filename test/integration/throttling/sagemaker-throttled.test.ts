import { afterEach, describe, expect, it } from 'vitest';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { jobMessage } from '../../../src/lib/app/messages.js';
import type { Config } from '../../../src/lib/config.js';
import { newJobId } from '../../../src/lib/core/ids.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import type { Deps } from '../../../src/lib/deps.js';
import { createSageMakerCall } from '../../../src/lib/providers/sagemaker/client.js';
import { SageMakerProvider } from '../../../src/lib/providers/sagemaker/provider.js';
import { parseSageMakerSettings } from '../../../src/lib/providers/sagemaker/settings.js';
import { mapLimit } from '../../../src/lib/retry.js';
import { FakeSageMaker, type FakeSageMakerOptions } from '../../fakes/sagemaker/fake-sagemaker.js';
import { FakeClock } from '../../fakes/rate-limit.js';
import { providerJob } from '../../support/jobs.js';
import { drain, MASS_JOBS as N, seedDispatched, throttleConfig, throttleDeps } from '../../support/throttle-harness.js';

const ROLE = 'arn:aws:iam::123456789012:role/SageMakerExecution';
const trainingSpec = {
  image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1',
  channels: [{ name: 'train', s3_uri: 's3://ml-bucket/data/train/' }],
};

/** Lost replies cost a real client timeout each, so `npm test` runs fewer; CI runs 1 000. */
const FAULT_JOBS = process.env.THROTTLE_TEST_JOBS ? N : 60;
let fake: FakeSageMaker | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setUp(
  options: FakeSageMakerOptions,
  env: Record<string, string>,
  clock: FakeClock,
): Promise<{ deps: Deps; provider: SageMakerProvider; config: Config }> {
  fake = await new FakeSageMaker(options).start();
  const all = {
    SAGEMAKER_REGION: fake.region,
    SAGEMAKER_ENDPOINT: fake.endpoint,
    SAGEMAKER_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    SAGEMAKER_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    SAGEMAKER_ROLE_ARN: ROLE,
    SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
    SAGEMAKER_MAX_ATTEMPTS: '1',
    ...env,
  };
  const config = throttleConfig(all);
  const settings = parseSageMakerSettings(all);
  const { call } = await createSageMakerCall(settings, { now: clock.now, sleep: clock.sleep });
  const provider = new SageMakerProvider({ call, settings, defaultMaxRuntimeSec: 7200 });
  return { deps: await throttleDeps(config, provider, clock), provider, config };
}

function trainingJobs(n: number, clock: FakeClock, over: Partial<JobRecord> = {}): JobRecord[] {
  const at = new Date(clock.now()).toISOString();
  return Array.from({ length: n }, () =>
    providerJob('sagemaker', newJobId(), 'training', trainingSpec, {
      body: { max_runtime_sec: 3600 },
      createdAt: at,
      over,
    }),
  );
}

describe('SageMaker polling under per-API throttling', () => {
  it(`finishes ${N} jobs completed at once against 20 calls/s per API, paced by the client limiter`, async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 23, 12, 0, 0));
    const limit = { perSec: 20, burst: 20 };
    const { deps, provider } = await setUp(
      { apiLimit: limit, quotaClock: clock.now },
      { SAGEMAKER_LIST_RATE_PER_SEC: '20', SAGEMAKER_API_RATE_PER_SEC: '20', SAGEMAKER_MAX_DESCRIBES_PER_POLL: '250' },
      clock,
    );
    const jobs = await seedDispatched(deps, provider, trainingJobs(N, clock));
    for (const job of jobs)
      fake!.setStatus('training', String(job.providerRef?.name), 'Completed', { metrics: { 'validation:auc': 0.9 } });
    fake!.resetRequests();

    const r = await drain(
      deps,
      'sagemaker',
      jobs.map((j) => j.id),
      clock,
      { maxCycles: 50 },
    );

    expect(r.statuses).toEqual({ succeeded: N });
    expect(fake!.throttledByQuota).toBe(0);
    expect(fake!.callsTo('DescribeTrainingJob')).toHaveLength(N);
    console.info(
      `sagemaker: ${N} jobs, ${limit.perSec} calls/s per API: ${r.cycles} cycle(s), ${(r.elapsedMs / 1000).toFixed(1)} s on the fake clock (N/limit = ${N / limit.perSec} s)`,
    );
  });
});

describe('SageMaker dispatch and polling with injected faults', () => {
  it(`20 % throttling/5xx and 5 % lost replies: ${FAULT_JOBS} jobs all succeed, none created twice`, async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 23, 12, 0, 0));
    const { deps } = await setUp(
      { faults: { error: 0.2, timeout: 0.05, seed: 14 } },
      {
        SAGEMAKER_LIST_RATE_PER_SEC: '1000',
        SAGEMAKER_API_RATE_PER_SEC: '1000',
        SAGEMAKER_REQUEST_TIMEOUT_MS: '1500',
        SAGEMAKER_MAX_DESCRIBES_PER_POLL: '1000',
      },
      clock,
    );
    const queued = trainingJobs(FAULT_JOBS, clock, { status: 'queued', queue: 'ml-jobs', attempts: 0 });
    for (const job of queued) {
      await deps.store.create(job, {
        seq: 0,
        at: job.createdAt,
        type: 'transition',
        from: null,
        to: 'queued',
        reason: 'test',
      });
    }

    // The queue redelivers a message whose handler threw; count deliveries per job.
    const deliveries = await mapLimit(queued, 8, async (job) => {
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
    const dispatched = await mapLimit(queued, 32, async (job) => deps.store.get(job.id));
    for (const job of fake!.allJobs('training')) fake!.setStatus('training', job.name, 'Completed');

    const r = await drain(
      deps,
      'sagemaker',
      queued.map((j) => j.id),
      clock,
      { maxCycles: 3000 },
    );

    expect(deliveries.every(Number.isFinite)).toBe(true);
    expect(deliveries.some((d) => d > 1)).toBe(true);
    expect(dispatched.every((j) => j?.status === 'dispatched' || j?.status === 'running')).toBe(true);
    expect(r.statuses).toEqual({ succeeded: FAULT_JOBS });
    // One cloud job per job: no name created twice, and exactly as many cloud jobs as jobs.
    expect(fake!.allJobs('training')).toHaveLength(FAULT_JOBS);
    expect(Math.max(...fake!.createsByName.values())).toBe(1);
    const names = new Set(dispatched.map((j) => String(j?.providerRef?.name).toLowerCase()));
    expect(names.size).toBe(FAULT_JOBS);
    expect(fake!.faultPlan!.drawn.timeout).toBeGreaterThan(0);
    expect(fake!.faultPlan!.drawn.throttle).toBeGreaterThan(0);
  });
});
