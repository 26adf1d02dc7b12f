import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AzureBlobStore } from '../../../src/lib/adapters/azure-blob-store.js';
import { TableJobStore } from '../../../src/lib/adapters/table-job-store.js';
import { loadConfig } from '../../../src/lib/config.js';
import { newJobId } from '../../../src/lib/core/ids.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { createDeps, type Deps } from '../../../src/lib/deps.js';
import { cancelJob } from '../../../src/lib/app/cancel-job.js';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { jobMessage } from '../../../src/lib/app/messages.js';
import { pollProvider, resetPollBackoff } from '../../../src/lib/app/poll-provider.js';
import { createProviderRegistry } from '../../../src/lib/providers/registry.js';
import { createAzureBatchProvider } from '../../../src/lib/providers/azure-batch/provider.js';
import { FakeBatchService } from '../../fakes/azure-batch/fake-batch-service.js';

const ACCOUNT = 'flowbatch';
const KEY = randomBytes(32).toString('base64');
const POOL_JOB = 'cjo-cjo-pool';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let fake: FakeBatchService;
let deps: Deps;

async function queuedJob(): Promise<JobRecord> {
  const at = new Date();
  const job: JobRecord = {
    id: newJobId(),
    status: 'queued',
    source: 'api',
    spec: { rows: 1000, estimated_runtime_sec: 10, priority: 'normal', latency_sensitive: false, data: {}, labels: {} },
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    provider: 'azure-batch',
    queue: 'batch-jobs',
    attempts: 0,
    eventSeq: 1,
  };
  await deps.store.create(job, {
    seq: 0,
    at: at.toISOString(),
    type: 'transition',
    from: null,
    to: 'queued',
    reason: 'test',
  });
  return job;
}

beforeAll(async () => {
  fake = new FakeBatchService({ sharedKey: { accountName: ACCOUNT, accountKey: KEY } });
  await fake.start();
  const suffix = Math.random().toString(36).slice(2, 8);
  const config = loadConfig({
    JobsStorage: inject('storageConnectionString'),
    RESULTS_CONTAINER: `flow-results-${suffix}`,
    PAYLOADS_CONTAINER: `flow-payloads-${suffix}`,
    AZURE_BATCH_ACCOUNT_URL: fake.url,
    AZURE_BATCH_ACCOUNT_NAME: ACCOUNT,
    AZURE_BATCH_ACCOUNT_KEY: KEY,
    AZURE_BATCH_STAGING_CONTAINER: `flow-staging-${suffix}`,
    CAPACITY_TABLE: `flowcapacity${suffix}`,
  });
  const blobs = await AzureBlobStore.create(config);
  await blobs.ensure([config.containers.results, config.containers.payloads]);
  const store = await TableJobStore.create(config, { jobs: `flowjobs${suffix}`, idempotency: `flowidem${suffix}` });
  await store.ensure();
  const provider = await createAzureBatchProvider({ config, blobs }, { sleep: async () => undefined });
  deps = await createDeps(config, {
    blobs,
    store,
    providers: createProviderRegistry({ config, blobs }, { 'azure-batch': provider }),
    log: silent,
  });
});

afterAll(async () => {
  await fake.stop();
});

describe('Azure Batch through the dispatch, poll and cancel use cases', () => {
  it('dispatches once across a redelivery, follows the task to success and keeps its result', async () => {
    const job = await queuedJob();

    await handleDispatchMessage(deps, jobMessage(job.id));
    await handleDispatchMessage(deps, jobMessage(job.id));
    const dispatched = await deps.store.get(job.id);
    await fake.startTask(POOL_JOB, job.id);
    await pollProvider(deps, 'azure-batch');
    const running = await deps.store.get(job.id);
    await fake.completeTask(POOL_JOB, job.id, {
      exitCode: 0,
      stdout: 'done\n',
      workingFiles: { 'result.json': JSON.stringify({ rows: 1000 }) },
    });
    await pollProvider(deps, 'azure-batch');
    const finished = await deps.store.get(job.id);

    expect(dispatched).toMatchObject({
      status: 'dispatched',
      attempts: 1,
      providerRef: { batchJobId: POOL_JOB, taskId: job.id },
    });
    expect(fake.requests.filter((r) => r.method === 'POST' && r.path === `/jobs/${POOL_JOB}/tasks`)).toHaveLength(1);
    expect(running?.status).toBe('running');
    expect(finished).toMatchObject({ status: 'succeeded', result: { summary: { document: { rows: 1000 } } } });
  });

  it('cancels: terminate on request, cancelled once a poll sees the task ended', async () => {
    const job = await queuedJob();
    await handleDispatchMessage(deps, jobMessage(job.id));
    await fake.startTask(POOL_JOB, job.id);
    await pollProvider(deps, 'azure-batch');

    const cancelling = await cancelJob(deps, job.id);
    await pollProvider(deps, 'azure-batch');
    const after = await deps.store.get(job.id);

    expect(cancelling.status).toBe('cancelling');
    expect(fake.requests.some((r) => r.path === `/jobs/${POOL_JOB}/tasks/${job.id}/terminate`)).toBe(true);
    expect(after?.status).toBe('cancelled');
  });

  it('leaves jobs untouched while Batch throttles, and picks up afterwards', async () => {
    resetPollBackoff();
    const job = await queuedJob();
    await handleDispatchMessage(deps, jobMessage(job.id));
    await fake.startTask(POOL_JOB, job.id);
    await fake.completeTask(POOL_JOB, job.id, { exitCode: 1 });
    fake.failNext({ method: 'GET', status: 429, code: 'TooManyRequests', retryAfterSec: 600 });

    const summary = await pollProvider(deps, 'azure-batch');
    const during = await deps.store.get(job.id);
    resetPollBackoff();
    await pollProvider(deps, 'azure-batch');
    const after = await deps.store.get(job.id);

    expect(summary).toMatchObject({ retryAfterMs: 600_000 });
    expect(during?.status).toBe('dispatched');
    expect(after).toMatchObject({ status: 'failed', error: { code: 'FailureExitCode', category: 'usererror' } });
  });
});
