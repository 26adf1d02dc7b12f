import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { AzureBlobStore } from '../../../src/lib/adapters/azure-blob-store.js';
import { type Config, loadConfig } from '../../../src/lib/config.js';
import { newJobId } from '../../../src/lib/core/ids.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ProviderThrottledError } from '../../../src/lib/errors.js';
import type { JobProvider, OwnedCloudJob } from '../../../src/lib/ports/provider.js';
import { createAzureBatchProvider } from '../../../src/lib/providers/azure-batch/provider.js';
import { createAzureMlProvider } from '../../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../../src/lib/providers/azure-ml/settings.js';
import { sageMakerJobName } from '../../../src/lib/providers/sagemaker/names.js';
import { createProvider as createSageMakerProvider } from '../../../src/lib/providers/sagemaker/provider.js';
import { createVertexProvider } from '../../../src/lib/providers/vertex/provider.js';
import { FakeBatchService } from '../../fakes/azure-batch/fake-batch-service.js';
import { FakeAzureMl } from '../../fakes/azure-ml/fake-arm.js';
import { FakeSageMaker, THROTTLING } from '../../fakes/sagemaker/fake-sagemaker.js';
import { CUSTOM_SPEC, fakeSettings, staticAuthClient, TEST_TOKEN } from '../../fakes/vertex/fixtures.js';
import { VertexRestFake } from '../../fakes/vertex/vertex-rest-fake.js';
import { providerJob } from '../../support/jobs.js';

// How each provider lists this deployment's unfinished cloud jobs for the orphan reaper: by its
// documented filters, page after page, saying whose run each one is.

/** Every page from the start; returns the jobs and how many pages it took. */
async function listAll(provider: JobProvider): Promise<{ jobs: OwnedCloudJob[]; pages: number }> {
  const jobs: OwnedCloudJob[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await provider.listOwnedJobs!(cursor);
    pages++;
    jobs.push(...page.jobs);
    cursor = page.next;
  } while (cursor !== undefined && pages < 100);
  return { jobs, pages };
}

describe('SageMaker listOwnedJobs', () => {
  it('pages ListTrainingJobs 100 at a time by our name prefix, resolves a hashed name through its tag, and surfaces throttling', async () => {
    const fake = await new FakeSageMaker().start();
    try {
      const env = {
        SAGEMAKER_REGION: fake.region,
        SAGEMAKER_ENDPOINT: fake.endpoint,
        SAGEMAKER_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        SAGEMAKER_SECRET_ACCESS_KEY: 'secret',
        SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/SageMakerExecution',
        SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
        SAGEMAKER_MAX_ATTEMPTS: '1',
        SAGEMAKER_LIST_RATE_PER_SEC: '1000',
        SAGEMAKER_API_RATE_PER_SEC: '1000',
      };
      const provider = await createSageMakerProvider({
        config: { env, defaultMaxRuntimeSec: 7200 } as unknown as Config,
        blobs: undefined as never,
      });
      const ids = Array.from({ length: 101 }, () => newJobId());
      for (const id of ids) fake.seedJob('training', sageMakerJobName('cjo', 'training', id));
      fake.seedJob('training', sageMakerJobName('cjo', 'training', newJobId()), 'Completed');
      fake.seedJob('training', 'someone-elses-job');
      // Attempt 2 gets a hashed name: only the tag says whose it is.
      const retried = providerJob('sagemaker', newJobId(), 'training', {
        image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1',
        channels: [{ name: 'train', s3_uri: 's3://ml-bucket/data/train/' }],
      });
      await provider.submit({ ...retried, attempts: 2 });

      const { jobs } = await listAll(provider);
      const lists = fake.callsTo('ListTrainingJobs');
      expect(lists.length).toBe(2);
      expect(lists[0]?.body).toMatchObject({ NameContains: 'cjo-t-', StatusEquals: 'InProgress', MaxResults: 100 });
      expect(lists[1]?.body.NextToken).toEqual(expect.any(String));
      expect(jobs).toHaveLength(102);
      for (const id of ids) expect(jobs.find((j) => j.jobId === id)).toMatchObject({ attempt: 1 });
      expect(jobs.find((j) => j.jobId === retried.id)).toMatchObject({
        attempt: 2,
        providerId: expect.stringMatching(/^training\/cjo-t-h[0-9a-f]+$/),
      });
      expect(fake.callsTo('ListTags')).toHaveLength(1);

      fake.failNext('ListTrainingJobs', THROTTLING, 5);
      await expect(provider.listOwnedJobs!()).rejects.toBeInstanceOf(ProviderThrottledError);
    } finally {
      await fake.close();
    }
  });
});

describe('Vertex AI listOwnedJobs', () => {
  it('lists by our label and not-finished states, page by pageToken, the label naming job and attempt', async () => {
    const fake = await new VertexRestFake({ requireBearer: TEST_TOKEN }).start();
    const provider = await createVertexProvider(
      fakeSettings(fake, { VERTEX_PAGE_SIZE: '2', VERTEX_READ_RATE_PER_SEC: '1000', VERTEX_READ_BURST: '1000' }),
      {
        authClient: staticAuthClient(),
      },
    );
    try {
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 3; i++) {
        const job = providerJob('vertex', newJobId(), 'custom', CUSTOM_SPEC, { over: { attempts: i + 1 } });
        await provider.submit(job);
        jobs.push(job);
      }
      const done = providerJob('vertex', newJobId(), 'custom', CUSTOM_SPEC);
      const ref = await provider.submit(done);
      fake.service.setState(String(ref.ref.name), 'JOB_STATE_SUCCEEDED');

      const listed = await listAll(provider);
      const custom = listed.jobs.filter((j) => j.providerId.includes('/customJobs/'));
      expect(custom.map((j) => [j.jobId, j.attempt]).sort()).toEqual(jobs.map((j) => [j.id, j.attempts]).sort());
      // Two pages of custom jobs, then one per other kind.
      expect(listed.pages).toBeGreaterThanOrEqual(4);
      expect(custom.every((j) => j.createdAt !== undefined)).toBe(true);

      await provider.stopOwnedJob!(custom[0]!.providerId);
      const after = (await listAll(provider)).jobs.filter((j) => j.providerId.includes('/customJobs/'));
      expect(after.map((j) => j.providerId)).not.toContain(custom[0]!.providerId);
    } finally {
      await provider.close();
      await fake.stop();
    }
  });
});

class StubCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    return { token: 'arm-token', expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

describe('Azure ML listOwnedJobs', () => {
  it('follows nextLink through the tagged ActiveOnly listing and leaves finished and foreign jobs out', async () => {
    const scope = {
      subscriptionId: '00000000-1111-2222-3333-444444444444',
      resourceGroup: 'rg-ml',
      workspace: 'ws-jobs',
    };
    const fake = await FakeAzureMl.start({ ...scope, token: 'arm-token', pageSize: 2 });
    try {
      const settings = parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: scope.subscriptionId,
        AZUREML_RESOURCE_GROUP: scope.resourceGroup,
        AZUREML_WORKSPACE: scope.workspace,
        AZUREML_ARM_ENDPOINT: fake.endpoint,
        AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
      });
      const provider = await createAzureMlProvider(settings, {
        credential: new StubCredential(),
        trustedCa: fake.ca,
        sleep: async () => {},
      });
      const spec = { command: 'python run.py', environment: 'azureml:sklearn-env:3' };
      const jobs = [];
      for (let i = 0; i < 5; i++) {
        const job = providerJob('azure-ml', newJobId(), 'command', spec, { over: { attempts: (i % 2) + 1 } });
        await provider.submit(job);
        jobs.push(job);
      }
      const finished = jobs.pop()!;
      fake.setStatus(String((await provider.submit(finished)).ref.jobName), 'Completed');
      fake.addForeignJob('not-ours');

      const listed = await listAll(provider);
      expect(listed.pages).toBeGreaterThanOrEqual(3);
      expect(listed.jobs.map((j) => [j.jobId, j.attempt]).sort()).toEqual(jobs.map((j) => [j.id, j.attempts]).sort());
    } finally {
      await fake.stop();
    }
  });
});

describe('Azure Batch listOwnedJobs', () => {
  it("lists our pool job's tasks with $filter state ne 'completed', following odata.nextLink", async () => {
    const key = Buffer.alloc(32, 3).toString('base64');
    const fake = new FakeBatchService({ sharedKey: { accountName: 'acct', accountKey: key }, pageSize: 2 });
    await fake.start();
    try {
      const config = loadConfig({
        JobsStorage: inject('storageConnectionString'),
        RESULTS_CONTAINER: 'orphan-list-results',
        AZURE_BATCH_ACCOUNT_URL: fake.url,
        AZURE_BATCH_ACCOUNT_NAME: 'acct',
        AZURE_BATCH_ACCOUNT_KEY: key,
        AZURE_BATCH_STAGING_CONTAINER: 'orphan-list-staging',
        AZURE_BATCH_WORKER_IMAGE: 'myacr.azurecr.io/cjo-worker:1.0',
        AZURE_BATCH_RETRY_BASE_MS: '1',
      });
      const provider = await createAzureBatchProvider(
        { config, blobs: await AzureBlobStore.create(config) },
        { sleep: async () => {} },
      );
      const body = { rows: 1000, estimated_runtime_sec: 10, max_runtime_sec: 1800 };
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 5; i++) {
        const job = providerJob('azure-batch', newJobId(), undefined, undefined, { body, over: { attempts: i + 1 } });
        const { ref } = await provider.submit(job);
        jobs.push({ ...job, providerRef: ref });
      }
      const done = jobs.pop()!;
      await fake.completeTask('cjo-cjo-pool', String(done.providerRef?.taskId), { exitCode: 0 });

      const listed = await listAll(provider);
      expect(listed.pages).toBeGreaterThanOrEqual(2);
      expect(listed.jobs.map((j) => [j.jobId, j.attempt]).sort()).toEqual(jobs.map((j) => [j.id, j.attempts]).sort());
      expect(listed.jobs[0]?.providerId).toMatch(/^cjo-cjo-pool\/j-/);

      await provider.stopOwnedJob!(listed.jobs[0]!.providerId);
      expect((await listAll(provider)).jobs).toHaveLength(jobs.length - 1);
    } finally {
      await fake.stop();
    }
  });
});
