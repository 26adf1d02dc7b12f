import { randomBytes } from 'node:crypto';
import { grpc } from 'google-gax';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { inject } from 'vitest';
import { AzureBlobStore } from '../../src/lib/adapters/azure-blob-store.js';
import { loadConfig, type Config } from '../../src/lib/config.js';
import { newJobId } from '../../src/lib/core/ids.js';
import type { JobRecord } from '../../src/lib/core/job.js';
import type { JobProvider } from '../../src/lib/ports/provider.js';
import { taskIdFor } from '../../src/lib/providers/azure-batch/mapping.js';
import { createAzureBatchProvider } from '../../src/lib/providers/azure-batch/provider.js';
import { createAzureMlProvider } from '../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../src/lib/providers/azure-ml/settings.js';
import { azureMlJobName } from '../../src/lib/providers/azure-ml/spec.js';
import { sageMakerJobName } from '../../src/lib/providers/sagemaker/names.js';
import { createProvider as createSageMakerProvider } from '../../src/lib/providers/sagemaker/provider.js';
import { jobLabelValue } from '../../src/lib/providers/vertex/names.js';
import { createVertexProvider, type VertexProvider } from '../../src/lib/providers/vertex/provider.js';
import { parseVertexSettings } from '../../src/lib/providers/vertex/settings.js';
import type { ProviderHarness, ThrottledCall } from '../contract/provider.contract.js';
import { FakeBatchService } from '../fakes/azure-batch/fake-batch-service.js';
import { FakeAzureMl } from '../fakes/azure-ml/fake-arm.js';
import { FakeSageMaker, THROTTLING } from '../fakes/sagemaker/fake-sagemaker.js';
import { CUSTOM_SPEC, fakeSettings, staticAuthClient, TEST_TOKEN } from '../fakes/vertex/fixtures.js';
import { VertexGrpcFake } from '../fakes/vertex/vertex-grpc-fake.js';
import { VertexRestFake } from '../fakes/vertex/vertex-rest-fake.js';
import { providerJob } from './jobs.js';

// One harness per provider wire fake, for the provider contract suite (test/contract/provider.contract.ts).
// Each builds the provider the way its integration test does, with retry waits recorded, not slept.

const noSleep = async (): Promise<void> => {};

/**
 * A documented capacity or quota refusal the provider's wire fake gives the next submit, and the
 * code and lasting-ness the adapter must report in its ProviderCapacityError.
 */
export interface CapacityCase {
  readonly code: string;
  readonly lasting: boolean;
  /** What the service says, for the test's name. */
  readonly what: string;
  inject(): void;
}

/**
 * A documented way the provider fails a run it accepted for capacity or quota, injected into its
 * wire fake for the run of the job's current attempt (`job.providerRef` as the submit stored it).
 */
export interface RuntimeCapacityCase {
  readonly code: string;
  /** What the service says, for the test's name. */
  readonly what: string;
  inject(job: JobRecord): void;
  /**
   * For a provider whose run still waits after such a failure (a Batch task on a pool with no
   * node): true once the run was stopped, so it can never start late beside its successor.
   */
  stopped?(job: JobRecord): boolean;
}

/** A harness whose fake can refuse a submit for capacity in each documented way. */
export type CapacityHarness = ProviderHarness & {
  readonly capacityRefusals: readonly CapacityCase[];
  /** The fake fails an accepted run for capacity, as the provider documents it. */
  readonly runtimeCapacity: RuntimeCapacityCase;
};
const refName = (job: JobRecord, key: string): string => String(job.providerRef?.[key]);

/** SageMaker training jobs against the SigV4-checking JSON fake. */
export function sageMakerHarness(): CapacityHarness {
  const accessKey = 'AKIDEXAMPLE';
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  let fake: FakeSageMaker;
  let provider: JobProvider;
  const name = (job: JobRecord) => refName(job, 'name');
  const ops: Record<ThrottledCall, string> = {
    submit: 'CreateTrainingJob',
    poll: 'ListTrainingJobs',
    cancel: 'StopTrainingJob',
  };
  return {
    async start() {
      fake = await new FakeSageMaker({ credentials: { [accessKey]: secret } }).start();
      const env = {
        SAGEMAKER_REGION: fake.region,
        SAGEMAKER_ENDPOINT: fake.endpoint,
        SAGEMAKER_ACCESS_KEY_ID: accessKey,
        SAGEMAKER_SECRET_ACCESS_KEY: secret,
        SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/SageMakerExecution',
        SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
        SAGEMAKER_MAX_ATTEMPTS: '1',
        SAGEMAKER_LIST_RATE_PER_SEC: '1000',
        SAGEMAKER_API_RATE_PER_SEC: '1000',
      };
      provider = await createSageMakerProvider({
        config: { env, defaultMaxRuntimeSec: 7200 } as unknown as Config,
        blobs: undefined as never,
      });
    },
    stop: () => fake.close(),
    provider: () => provider,
    newJob: () =>
      providerJob('sagemaker', newJobId(), 'training', {
        image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1',
        channels: [{ name: 'train', s3_uri: 's3://ml-bucket/data/train/' }],
      }),
    derivedName: (key) => sageMakerJobName('cjo', 'training', key),
    runsNamed: (n) =>
      fake
        .allJobs('training')
        .filter((j) => j.name === n)
        .map((j) => j.name),
    // SageMaker jobs are InProgress from the moment Create returns.
    startRun: async () => {},
    stopRunElsewhere: async (job) => void fake.setStatus('training', name(job), 'Stopped'),
    stopsAsynchronously: true,
    confirmStop: async () => void fake.completeStopping('training'),
    // SageMaker never deletes a training job; one it does not have (another account or region, a
    // mistyped name) answers ValidationException, which is what a vanished run looks like.
    vanish: async (job) => ({
      ...job,
      providerRef: { ...job.providerRef, name: sageMakerJobName('cjo', 'training', `${job.id}-gone`) },
    }),
    throttleNext: (call) => fake.failNext(ops[call], THROTTLING),
    runtimeCapacity: {
      code: 'CapacityError',
      what: 'the training job ends Failed with a CapacityError FailureReason',
      inject: (job) =>
        void fake.setStatus('training', name(job), 'Failed', {
          failureReason:
            'CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.',
        }),
    },
    capacityRefusals: [
      {
        code: 'ResourceLimitExceeded',
        lasting: false,
        what: 'the instance quota is in use',
        inject: () =>
          fake.failNext('CreateTrainingJob', {
            type: 'ResourceLimitExceeded',
            status: 400,
            message:
              'The account-level service limit ml.m5.xlarge for training job usage is 4 Instances, with current utilization of 4 Instances and a request delta of 1 Instances.',
          }),
      },
      {
        code: 'ResourceLimitExceeded',
        lasting: true,
        what: 'the instance type has a quota of 0',
        inject: () =>
          fake.failNext('CreateTrainingJob', {
            type: 'ResourceLimitExceeded',
            status: 400,
            message: "The account-level service limit 'ml.p4d.24xlarge for training job usage' is 0 Instances.",
          }),
      },
      {
        code: 'CapacityError',
        lasting: false,
        what: 'no instances of the type right now',
        inject: () =>
          fake.failNext('CreateTrainingJob', {
            type: 'CapacityError',
            status: 400,
            message:
              'Unable to provision requested ML compute capacity. Please retry using a different ML instance type.',
          }),
      },
      {
        code: 'InsufficientCapacityError',
        lasting: false,
        what: 'insufficient capacity in the Availability Zones',
        inject: () =>
          fake.failNext('CreateTrainingJob', {
            type: 'InsufficientCapacityError',
            status: 400,
            message: 'We currently do not have sufficient capacity for the requested instance type.',
          }),
      },
    ],
  };
}

class StubCredential implements TokenCredential {
  constructor(private readonly token: string) {}
  async getToken(): Promise<AccessToken> {
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

/** Azure ML command jobs against the HTTPS Resource Manager fake. */
export function azureMlHarness(): CapacityHarness {
  const token = 'eyJ0ZXN0IjoiYXp1cmUtbWwifQ.fake-arm-token';
  const scope = {
    subscriptionId: '00000000-1111-2222-3333-444444444444',
    resourceGroup: 'rg-ml',
    workspace: 'ws-jobs',
  };
  let fake: FakeAzureMl;
  let provider: JobProvider;
  const name = (job: JobRecord) => refName(job, 'jobName');
  const kinds = { submit: 'put', poll: 'list', cancel: 'cancel' } as const;
  return {
    async start() {
      fake = await FakeAzureMl.start({ ...scope, token, pageSize: 3 });
      const settings = parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: scope.subscriptionId,
        AZUREML_RESOURCE_GROUP: scope.resourceGroup,
        AZUREML_WORKSPACE: scope.workspace,
        AZUREML_ARM_ENDPOINT: fake.endpoint,
        AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
        AZUREML_RETRY_DELAY_MS: '10',
      });
      provider = await createAzureMlProvider(settings, {
        credential: new StubCredential(token),
        trustedCa: fake.ca,
        sleep: noSleep,
      });
    },
    stop: () => fake.stop(),
    provider: () => provider,
    newJob: () =>
      providerJob('azure-ml', newJobId(), 'command', {
        command: 'python run.py',
        environment: 'azureml:sklearn-env:3',
      }),
    derivedName: azureMlJobName,
    runsNamed: (n) => [...fake.jobs.keys()].filter((k) => k === n),
    startRun: async (job) => fake.setStatus(name(job), 'Running'),
    stopRunElsewhere: async (job) => fake.setStatus(name(job), 'Canceled'),
    // The fake leaves a cancelled job CancelRequested until told otherwise.
    stopsAsynchronously: true,
    confirmStop: async (job) => fake.setStatus(name(job), 'Canceled'),
    vanish: async (job) => {
      fake.jobs.delete(name(job));
      return job;
    },
    throttleNext: (call) => fake.inject({ kind: kinds[call], status: 429, headers: { 'retry-after': '7' } }),
    runtimeCapacity: {
      code: 'OutOfQuota',
      what: 'the job ends Failed with OutOfQuota in its services error messages',
      inject: (job) =>
        fake.setStatus(name(job), 'Failed', {
          serviceErrors: {
            Studio:
              'OutOfQuota: Not enough cluster CPU quota. The amount of additional CPU quota requested is 8, and you are currently using 14. Your amount of maximum quota is 20.',
          },
        }),
    },
    capacityRefusals: (
      [
        [
          'QuotaExceeded',
          400,
          false,
          'Operation results in exceeding quota limits of Standard NCSv3 Family vCPUs. Current Limit: 24, Current Usage: 24, Additional Required: 6.',
        ],
        [
          'QuotaExceeded',
          400,
          true,
          'Operation results in exceeding quota limits of Standard ND Family vCPUs. Current Limit: 0, Additional Required: 40.',
        ],
        [
          'InsufficientQuota',
          400,
          false,
          'The compute cluster cannot grow: the workspace quota for this VM family is used up.',
        ],
        [
          'OperationNotAllowed',
          409,
          false,
          'Operation could not be completed as it results in exceeding approved Total Regional Cores quota.',
        ],
        [
          'AllocationFailed',
          409,
          false,
          'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.',
        ],
        [
          'ZonalAllocationFailed',
          409,
          false,
          'Allocation failed. We do not have sufficient capacity for the requested VM size in this zone.',
        ],
        [
          'OverconstrainedAllocationRequest',
          409,
          false,
          'Allocation failed. VM(s) with the following constraints cannot be allocated.',
        ],
        [
          'SkuNotAvailable',
          409,
          true,
          "The requested VM size 'Standard_ND96amsr_A100_v4' is currently not available in location 'westeurope'.",
        ],
      ] as const
    ).map(([code, status, lasting, message]) => ({
      code,
      lasting,
      what: message,
      inject: () => fake.inject({ kind: 'put', status, error: { code, message } }),
    })),
  };
}

/** Azure Batch tasks against the SharedKey-checking fake, staging through Azurite. */
export function azureBatchHarness(): CapacityHarness {
  const account = 'fakebatch';
  const key = randomBytes(32).toString('base64');
  const poolJob = 'cjo-cjo-pool';
  // The provider looks at a pool's capacity at most every 30 s: a case that changes the pool moves
  // the provider's clock past that.
  let skewMs = 0;
  let fake: FakeBatchService;
  let provider: JobProvider;
  const task = (job: JobRecord) => refName(job, 'taskId');
  // A Retry-After longer than AZURE_BATCH_RETRY_MAX_WAIT_MS goes to the caller instead of being waited out.
  const throttle = { status: 429, code: 'TooManyRequests', retryAfterSec: 120 };
  const faults = {
    submit: { method: 'POST', path: /\/tasks$/, ...throttle },
    poll: { method: 'GET', path: /\/tasks$/, ...throttle },
    cancel: { method: 'POST', path: /\/terminate$/, ...throttle },
  } as const;
  return {
    async start() {
      fake = new FakeBatchService({ sharedKey: { accountName: account, accountKey: key } });
      await fake.start();
      const config = loadConfig({
        JobsStorage: inject('storageConnectionString'),
        RESULTS_CONTAINER: 'batch-results-contract',
        AZURE_BATCH_ACCOUNT_URL: fake.url,
        AZURE_BATCH_ACCOUNT_NAME: account,
        AZURE_BATCH_ACCOUNT_KEY: key,
        AZURE_BATCH_STAGING_CONTAINER: 'batch-staging-contract',
        AZURE_BATCH_WORKER_IMAGE: 'myacr.azurecr.io/cjo-worker:1.0',
        AZURE_BATCH_RETRY_ATTEMPTS: '3',
        AZURE_BATCH_RETRY_BASE_MS: '1',
        AZURE_BATCH_RETRY_MAX_WAIT_MS: '5000',
      });
      provider = await createAzureBatchProvider(
        { config, blobs: await AzureBlobStore.create(config) },
        { sleep: noSleep, now: () => Date.now() + skewMs },
      );
    },
    stop: () => fake.stop(),
    provider: () => provider,
    newJob: () =>
      providerJob('azure-batch', newJobId(), undefined, undefined, {
        body: { rows: 1000, estimated_runtime_sec: 10, max_runtime_sec: 1800 },
      }),
    derivedName: taskIdFor,
    runsNamed: (n) => (fake.task(poolJob, n) ? [n] : []),
    startRun: (job) => fake.startTask(poolJob, task(job)),
    stopRunElsewhere: (job) =>
      fake.completeTask(poolJob, task(job), {
        exitCode: 137,
        failureInfo: { category: 'UserError', code: 'TaskEnded', message: 'Task Was Ended by User Request' },
      }),
    // Terminate ends the task before it answers: the next poll already sees it completed.
    stopsAsynchronously: false,
    confirmStop: async () => {},
    vanish: async (job) => ({ ...job, providerRef: { ...job.providerRef, taskId: taskIdFor(`${job.id}-gone`) } }),
    throttleNext: (call) => fake.failNext(faults[call]),
    runtimeCapacity: {
      code: 'AccountCoreQuotaReached',
      what: "the task waits on a pool whose autoscale failed to get a node for the account's core quota",
      inject: () => {
        const pool = fake.pools.get(poolJob.replace(/^cjo-/, ''));
        if (!pool) throw new Error('the pool was not created');
        Object.assign(pool, {
          allocationState: 'steady',
          currentDedicatedNodes: 0,
          currentLowPriorityNodes: 0,
          resizeErrors: [
            {
              code: 'AccountCoreQuotaReached',
              message: 'The specified account has reached its core quota for the Standard DSv3 family.',
            },
          ],
        });
        skewMs += 31_000;
      },
      stopped: (job) => fake.task(poolJob, task(job))?.state === 'completed',
    },
    // Pool and pool-job creation run once per provider, the pool's capacity look once per 30 s:
    // give each case a fresh harness.
    capacityRefusals: [
      {
        code: 'PoolQuotaReached',
        lasting: false,
        what: 'the account has as many pools as its quota allows',
        inject: () =>
          fake.failNext({
            method: 'POST',
            path: /\/pools$/,
            status: 409,
            code: 'PoolQuotaReached',
            message: 'The specified account has reached its pool quota.',
          }),
      },
      {
        code: 'ActiveJobAndScheduleQuotaReached',
        lasting: false,
        what: 'the account has as many active jobs as its quota allows',
        inject: () =>
          fake.failNext({
            method: 'POST',
            path: /\/jobs$/,
            status: 409,
            code: 'ActiveJobAndScheduleQuotaReached',
            message: 'The specified account has reached its quota of active jobs and job schedules.',
          }),
      },
      ...(
        [
          'AccountCoreQuotaReached',
          'AccountLowPriorityCoreQuotaReached',
          'AccountSpotCoreQuotaReached',
          'AllocationFailed',
          'AllocationTimedOut',
        ] as const
      ).map((code) => ({
        code,
        lasting: false,
        what: `the pool has no node and its last resize failed with ${code}`,
        inject: () => {
          // The pool exists already (another dispatch created it); its autoscale could not grow it.
          fake.pools.set(poolJob.replace(/^cjo-/, ''), {
            id: poolJob.replace(/^cjo-/, ''),
            vmSize: 'standard_d2s_v3',
            state: 'active',
            allocationState: 'steady',
            currentDedicatedNodes: 0,
            currentLowPriorityNodes: 0,
            resizeErrors: [{ code, message: `Resize failed: ${code}` }],
          });
        },
      })),
    ],
  };
}

/** Vertex AI custom jobs through the real @google-cloud/aiplatform client, over REST or gRPC. */
export function vertexHarness(transport: 'rest' | 'grpc'): CapacityHarness {
  let fake: VertexRestFake | VertexGrpcFake;
  let provider: VertexProvider;
  const name = (job: JobRecord) => refName(job, 'name');
  const verbs = { submit: 'create', poll: 'list', cancel: 'cancel' } as const;
  return {
    async start() {
      if (transport === 'rest') {
        const rest = await new VertexRestFake({ requireBearer: TEST_TOKEN }).start();
        fake = rest;
        provider = await createVertexProvider(fakeSettings(rest, { VERTEX_READ_RETRIES: '0' }), {
          authClient: staticAuthClient(),
        });
      } else {
        const g = await new VertexGrpcFake().start();
        fake = g;
        const settings = parseVertexSettings({
          VERTEX_PROJECT: g.service.project,
          VERTEX_LOCATION: g.service.location,
          VERTEX_API_ENDPOINT: '127.0.0.1',
          VERTEX_API_PORT: String(g.port),
          VERTEX_TRANSPORT: 'grpc',
          VERTEX_RETRY_BASE_MS: '1',
          VERTEX_READ_RETRIES: '0',
        });
        provider = await createVertexProvider(settings, {
          authClient: staticAuthClient(),
          sslCreds: grpc.credentials.createInsecure(),
        });
      }
    },
    async stop() {
      await provider.close();
      await fake.stop();
    },
    provider: () => provider,
    newJob: () => providerJob('vertex', newJobId(), 'custom', CUSTOM_SPEC),
    derivedName: jobLabelValue,
    runsNamed: (label) =>
      fake.service
        .all('customJobs')
        .filter((r) => (r.body.labels as Record<string, string> | undefined)?.cjo_job_id === label)
        .map((r) => r.name),
    startRun: async (job) => void fake.service.setState(name(job), 'JOB_STATE_RUNNING'),
    stopRunElsewhere: async (job) => void fake.service.setState(name(job), 'JOB_STATE_CANCELLED'),
    stopsAsynchronously: true,
    confirmStop: async (job) => void fake.service.setState(name(job), 'JOB_STATE_CANCELLED'),
    vanish: async (job) => {
      fake.service.remove(name(job));
      return job;
    },
    throttleNext: (call) => fake.service.failNext({ verb: verbs[call], status: 'RESOURCE_EXHAUSTED' }),
    runtimeCapacity: {
      code: 'RESOURCE_EXHAUSTED',
      what: 'the custom job ends JOB_STATE_FAILED with error code 8 (a zone stockout)',
      inject: (job) =>
        void fake.service.setState(name(job), 'JOB_STATE_FAILED', {
          error: {
            code: 8,
            message:
              "The zone 'projects/p/zones/europe-west4-a' does not have enough resources available to fulfill the request. Try a different zone, or try again later.",
          },
        }),
    },
    capacityRefusals: (
      [
        [
          false,
          'training quota in use',
          "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_training_cpus. Quota 'Custom model training CPUs per region' is 24, requested 32.",
        ],
        [
          false,
          'a GPU stockout',
          'The zone does not have enough resources available to fulfill the request (ZONE_RESOURCE_POOL_EXHAUSTED); resources are insufficient in region europe-west4.',
        ],
        [
          true,
          'a GPU quota of 0',
          "Quota exceeded for quota metric 'Custom model training Nvidia A100 GPUs per region': limit 0.",
        ],
      ] as const
    ).map(([lasting, what, message]) => ({
      code: 'RESOURCE_EXHAUSTED',
      lasting,
      what,
      inject: () => fake.service.failNext({ verb: 'create', status: 'RESOURCE_EXHAUSTED', message }),
    })),
  };
}
