/**
 * Cancel → confirmed-stopped time and the orphan count after a chaos-like run, per provider wire
 * fake, through the real SDK clients and the real use cases (cancelJob, pollProvider, reapOrphans)
 * on an in-memory store.
 *
 * Time is simulated: a fake clock moves in poll-schedule steps (the default POLL_*_SCHEDULE of each
 * provider), as the throttling harness does. Each cancel lands at a random moment between two poll
 * ticks; the fake confirms the stop as soon as the service is asked (the provider's own stop time is
 * not modelled: what is measured is the orchestrator's side). The wall-clock time of the cancel call
 * and of the confirming poll cycle is added to the simulated wait. Cancels and polls go through a
 * provider built with its default settings, client-side pacing included (the pace each provider keeps
 * to stay inside its quotas is part of the orchestrator's side); only the set-up (creating and
 * starting the runs) uses a copy with the pacing lifted.
 *
 * Chaos run: dispatches killed after the cloud job was created, in the three shapes that leave a run
 * without an owner — the record then deleted by hand, the job cancelled while still `queued` (the
 * record thinks nothing reached the provider), and a lost attempt replaced by a new one while the
 * old run still runs — mixed with owned runs that must survive. The reconciler's reaper then runs
 * pass after pass past the grace age; the table reports orphans left (target 0) and owned runs
 * stopped by mistake (must be 0).
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { performance } from 'node:perf_hooks';
import { cancelJob } from '../src/lib/app/cancel-job.js';
import { pollProvider, resetPollBackoff } from '../src/lib/app/poll-provider.js';
import { reapOrphans, resetReaperCursors } from '../src/lib/app/reap-orphans.js';
import { AzureBlobStore } from '../src/lib/adapters/azure-blob-store.js';
import { type Config, loadConfig } from '../src/lib/config.js';
import { newJobId } from '../src/lib/core/ids.js';
import { parseSubmission, type JobRecord, type JobStatus } from '../src/lib/core/job.js';
import { creationEvent } from '../src/lib/core/state-machine.js';
import type { Deps } from '../src/lib/deps.js';
import type { JobProvider } from '../src/lib/ports/provider.js';
import { PROVIDERS } from '../src/lib/providers/all.js';
import { createAzureBatchProvider } from '../src/lib/providers/azure-batch/provider.js';
import { createAzureMlProvider } from '../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../src/lib/providers/azure-ml/settings.js';
import { createProvider as createSageMakerProvider } from '../src/lib/providers/sagemaker/provider.js';
import { createVertexProvider } from '../src/lib/providers/vertex/provider.js';
import { parseReaperSettings } from '../src/lib/reaper-settings.js';
import { FakeBatchService } from '../test/fakes/azure-batch/fake-batch-service.js';
import { FakeAzureMl } from '../test/fakes/azure-ml/fake-arm.js';
import { InMemoryQueueTransport } from '../test/fakes/in-memory-queue.js';
import { InMemoryBlobStore, InMemoryJobStore } from '../test/fakes/in-memory-stores.js';
import { FakeSageMaker } from '../test/fakes/sagemaker/fake-sagemaker.js';
import { CUSTOM_SPEC, fakeSettings, staticAuthClient } from '../test/fakes/vertex/fixtures.js';
import { VertexRestFake } from '../test/fakes/vertex/vertex-rest-fake.js';

/** One provider on its fake, with what the bench needs to drive the service's side. */
interface Rig {
  readonly name: string;
  /** Built from the provider's default settings, client-side pacing included: cancels and polls. */
  readonly provider: JobProvider;
  /** The same provider with its pacing lifted, for the set-up only (creating runs is not measured). */
  readonly setup: JobProvider;
  newJob(): JobRecord;
  /** The run starts running at the service. */
  start(job: JobRecord): Promise<void>;
  /** The service finishes the stops it was asked for. */
  confirmStops(jobs: readonly JobRecord[]): Promise<void>;
  /** Whether the service still runs the job's run (not stopping, not finished). */
  runs(job: JobRecord): boolean;
  close(): Promise<void>;
}

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'bench-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

function jobFor(provider: string, kind: string | undefined, spec: Record<string, unknown> | undefined): JobRecord {
  const at = new Date().toISOString();
  return {
    id: newJobId(),
    status: 'dispatched',
    source: 'api',
    spec: parseSubmission({ ...(kind && { kind }), ...(spec && { spec }), max_runtime_sec: 86_400 }),
    createdAt: at,
    updatedAt: at,
    provider,
    attempts: 1,
    eventSeq: 1,
  };
}

async function sageMakerRig(): Promise<Rig> {
  const fake = await new FakeSageMaker().start();
  const env = {
    SAGEMAKER_REGION: fake.region,
    SAGEMAKER_ENDPOINT: fake.endpoint,
    SAGEMAKER_ACCESS_KEY_ID: 'AKIDBENCH',
    SAGEMAKER_SECRET_ACCESS_KEY: 'bench-secret',
    SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/SageMakerExecution',
    SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
    SAGEMAKER_MAX_ATTEMPTS: '1',
  };
  const make = (extra: Record<string, string>) =>
    createSageMakerProvider({
      config: { env: { ...env, ...extra }, defaultMaxRuntimeSec: 86_400 } as unknown as Config,
      blobs: undefined as never,
    });
  const provider = await make({});
  const setup = await make({ SAGEMAKER_LIST_RATE_PER_SEC: '10000', SAGEMAKER_API_RATE_PER_SEC: '10000' });
  const nameOf = (job: JobRecord) => String(job.providerRef?.name);
  return {
    name: 'sagemaker',
    provider,
    setup,
    newJob: () =>
      jobFor('sagemaker', 'training', {
        image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1',
        channels: [{ name: 'train', s3_uri: 's3://ml-bucket/data/train/' }],
      }),
    start: async () => {},
    confirmStops: async () => void fake.completeStopping('training'),
    runs: (job) => fake.allJobs('training').find((j) => j.name === nameOf(job))?.status === 'InProgress',
    close: () => fake.close(),
  };
}

async function azureMlRig(): Promise<Rig> {
  const scope = { subscriptionId: 'bench-sub', resourceGroup: 'bench-rg', workspace: 'bench-ws' };
  const fake = await FakeAzureMl.start({ ...scope, token: 'bench-token', pageSize: 50 });
  const make = (extra: Record<string, string>) =>
    createAzureMlProvider(
      parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: scope.subscriptionId,
        AZUREML_RESOURCE_GROUP: scope.resourceGroup,
        AZUREML_WORKSPACE: scope.workspace,
        AZUREML_ARM_ENDPOINT: fake.endpoint,
        AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
        ...extra,
      }),
      { credential, trustedCa: fake.ca, sleep: async () => {} },
    );
  const provider = await make({});
  const setup = await make({ AZUREML_READ_RATE_PER_SEC: '10000', AZUREML_READ_BURST: '10000' });
  const nameOf = (job: JobRecord) => String(job.providerRef?.jobName);
  return {
    name: 'azure-ml',
    provider,
    setup,
    newJob: () => jobFor('azure-ml', 'command', { command: 'python run.py', environment: 'azureml:sklearn-env:3' }),
    start: async (job) => fake.setStatus(nameOf(job), 'Running'),
    confirmStops: async (jobs) => {
      for (const job of jobs) {
        const status = (fake.jobs.get(nameOf(job))?.doc as { properties?: { status?: string } } | undefined)?.properties
          ?.status;
        if (status === 'CancelRequested') fake.setStatus(nameOf(job), 'Canceled');
      }
    },
    runs: (job) =>
      ['Running', 'NotStarted', 'Queued', 'Starting', 'Preparing', 'Provisioning'].includes(
        String((fake.jobs.get(nameOf(job))?.doc as { properties?: { status?: string } })?.properties?.status),
      ),
    close: () => fake.stop(),
  };
}

async function vertexRig(): Promise<Rig> {
  const fake = await new VertexRestFake({ requireBearer: 'bench' }).start();
  const make = (extra: Record<string, string>) =>
    createVertexProvider(fakeSettings(fake, { VERTEX_READ_RETRIES: '0', ...extra }), {
      authClient: staticAuthClient('bench'),
    });
  const provider = await make({});
  const setup = await make({ VERTEX_READ_RATE_PER_SEC: '10000', VERTEX_READ_BURST: '10000' });
  const nameOf = (job: JobRecord) => String(job.providerRef?.name);
  const state = (job: JobRecord) =>
    String(fake.service.all('customJobs').find((r) => r.name === nameOf(job))?.body.state);
  return {
    name: 'vertex',
    provider,
    setup,
    newJob: () => jobFor('vertex', 'custom', CUSTOM_SPEC),
    start: async (job) => void fake.service.setState(nameOf(job), 'JOB_STATE_RUNNING'),
    confirmStops: async (jobs) => {
      for (const job of jobs)
        if (state(job) === 'JOB_STATE_CANCELLING') fake.service.setState(nameOf(job), 'JOB_STATE_CANCELLED');
    },
    runs: (job) => ['JOB_STATE_RUNNING', 'JOB_STATE_PENDING', 'JOB_STATE_QUEUED'].includes(state(job)),
    close: async () => {
      await provider.close();
      await setup.close();
      await fake.stop();
    },
  };
}

async function azureBatchRig(conn: string): Promise<Rig> {
  const fake = new FakeBatchService({
    sharedKey: { accountName: 'benchbatch', accountKey: Buffer.alloc(32, 7).toString('base64') },
  });
  await fake.start();
  const make = async (extra: Record<string, string>) => {
    const config = loadConfig({
      JobsStorage: conn,
      RESULTS_CONTAINER: 'bench-orphan-results',
      AZURE_BATCH_ACCOUNT_URL: fake.url,
      AZURE_BATCH_ACCOUNT_NAME: 'benchbatch',
      AZURE_BATCH_ACCOUNT_KEY: Buffer.alloc(32, 7).toString('base64'),
      AZURE_BATCH_STAGING_CONTAINER: 'bench-orphan-staging',
      AZURE_BATCH_WORKER_IMAGE: 'myacr.azurecr.io/cjo-worker:1.0',
      ...extra,
    });
    return createAzureBatchProvider({ config, blobs: await AzureBlobStore.create(config) }, { sleep: async () => {} });
  };
  const provider = await make({});
  const setup = await make({ AZURE_BATCH_REQUEST_RATE_PER_SEC: '10000', AZURE_BATCH_REQUEST_BURST: '10000' });
  const poolJob = 'cjo-cjo-pool';
  const taskOf = (job: JobRecord) => String(job.providerRef?.taskId);
  return {
    name: 'azure-batch',
    provider,
    setup,
    newJob: () => jobFor('azure-batch', undefined, undefined),
    start: (job) => fake.startTask(poolJob, taskOf(job)),
    // Terminate ends the task before it answers.
    confirmStops: async () => {},
    runs: (job) => {
      const state = fake.task(poolJob, taskOf(job))?.state;
      return state === 'running' || state === 'active';
    },
    close: () => fake.stop(),
  };
}

/** Seconds between two ticks of a provider's default poll schedule (NCRONTAB, seconds first). */
function pollIntervalSec(provider: string): number {
  const schedule = PROVIDERS.find((p) => p.name === provider)?.pollSchedule.default ?? '0 * * * * *';
  const seconds = schedule.split(/\s+/)[0] ?? '0';
  const step = /^\*\/(\d+)$/.exec(seconds);
  return step ? Number(step[1]) : seconds === '*' ? 1 : 60;
}

function depsFor(rig: Rig, store: InMemoryJobStore, clock: { t: number }, env: Record<string, string>): Deps {
  const quiet = () => undefined;
  return {
    config: loadConfig({ JOB_STUCK_AFTER_SEC: '900', ...env }),
    store,
    queues: new InMemoryQueueTransport({ now: () => clock.t }),
    blobs: new InMemoryBlobStore(),
    providers: { configured: () => [rig.name], get: async () => rig.provider },
    now: () => new Date(clock.t),
    log: { info: quiet, warn: quiet, error: quiet },
  };
}

async function startRun(rig: Rig, store: InMemoryJobStore, status: JobStatus | 'none', at: number, attempts = 1) {
  const job = rig.newJob();
  const outcome = await rig.setup.submit({ ...job, attempts });
  const run = { ...job, attempts, providerRef: outcome.ref, status: 'running' as JobStatus };
  await rig.start(run);
  const iso = new Date(at).toISOString();
  const record: JobRecord = { ...run, status: status === 'none' ? 'running' : status, createdAt: iso, updatedAt: iso };
  if (status !== 'none') await store.create(record, creationEvent(record, 'bench'));
  return run;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface CancelRow {
  provider: string;
  jobs: number;
  'poll every s': number;
  'p50 s': number;
  'p95 s': number;
  'max s': number;
  'wall ms per cycle': number;
  target: string;
  ok: boolean;
}

/** Cancel → confirmed `cancelled` on one rig: N running jobs, each cancelled at a random moment between ticks. */
async function benchCancel(rig: Rig, n: number): Promise<CancelRow> {
  resetPollBackoff();
  const store = new InMemoryJobStore();
  const clock = { t: Date.now() };
  const deps = depsFor(rig, store, clock, {});
  const interval = pollIntervalSec(rig.name);
  const jobs: JobRecord[] = [];
  for (let i = 0; i < n; i++) jobs.push(await startRun(rig, store, 'running', clock.t));
  const tick0 = clock.t;
  const requested = new Map<string, number>();
  let wallMs = 0;
  // Cancels land in time order between tick0 and the next tick.
  const offsets = jobs.map(() => Math.random() * interval * 1000).sort((a, b) => a - b);
  for (const [i, job] of jobs.entries()) {
    clock.t = tick0 + offsets[i]!;
    const w = performance.now();
    await cancelJob(deps, job.id);
    wallMs += performance.now() - w;
    requested.set(job.id, clock.t);
  }
  await rig.confirmStops(jobs);
  const latencies: number[] = [];
  let cycles = 0;
  let cycleWall = 0;
  for (let tick = 1; latencies.length < n && tick <= 10; tick++) {
    clock.t = tick0 + tick * interval * 1000;
    const w = performance.now();
    await pollProvider(deps, rig.name);
    const spent = performance.now() - w;
    cycleWall += spent;
    cycles++;
    for (const job of jobs) {
      if (!requested.has(job.id)) continue;
      const now = await store.get(job.id);
      if (now?.status === 'cancelled') {
        latencies.push((clock.t - requested.get(job.id)!) / 1000 + (spent + wallMs / n) / 1000);
        requested.delete(job.id);
      }
    }
  }
  latencies.sort((a, b) => a - b);
  const p95 = +percentile(latencies, 95).toFixed(1);
  return {
    provider: rig.name,
    jobs: n,
    'poll every s': interval,
    'p50 s': +percentile(latencies, 50).toFixed(1),
    'p95 s': p95,
    'max s': +(latencies.at(-1) ?? 0).toFixed(1),
    'wall ms per cycle': Math.round(cycleWall / Math.max(1, cycles)),
    target: 'all confirmed, p95 ≤ 60 s',
    ok: latencies.length === n && p95 <= 60,
  };
}

export interface OrphanRow {
  provider: string;
  'runs started': number;
  'orphans made': number;
  'reaper passes': number;
  'orphans left': number;
  'owned stopped': number;
  target: string;
  ok: boolean;
}

/** The chaos-like run on one rig, then reaper passes until nothing more is stopped. */
async function benchOrphans(rig: Rig, n: number): Promise<OrphanRow> {
  resetReaperCursors();
  const store = new InMemoryJobStore();
  const clock = { t: Date.now() };
  const deps = depsFor(rig, store, clock, {});
  const settings = parseReaperSettings({});
  const orphans: JobRecord[] = [];
  const owned: JobRecord[] = [];
  for (let i = 0; i < n; i++) {
    switch (i % 5) {
      case 0: {
        // Dispatch killed after create, then the record deleted by hand.
        orphans.push(await startRun(rig, store, 'none', clock.t));
        break;
      }
      case 1: {
        // Dispatch killed after create; the job was cancelled while its record still said `queued`.
        const run = await startRun(rig, store, 'none', clock.t);
        const iso = new Date(clock.t).toISOString();
        const record: JobRecord = {
          ...run,
          status: 'queued',
          attempts: 0,
          providerRef: undefined,
          createdAt: iso,
          updatedAt: iso,
        };
        await store.create(record, creationEvent(record, 'bench'));
        await cancelJob(deps, run.id);
        orphans.push(run);
        break;
      }
      case 2: {
        // Attempt 1 declared lost and replaced; its run was in fact still going.
        const first = await startRun(rig, store, 'none', clock.t);
        const second = await rig.setup.submit({ ...first, attempts: 2 });
        const iso = new Date(clock.t).toISOString();
        const record: JobRecord = { ...first, attempts: 2, providerRef: second.ref, createdAt: iso, updatedAt: iso };
        await rig.start(record);
        await store.create(record, creationEvent(record, 'bench'));
        orphans.push(first);
        owned.push(record);
        break;
      }
      case 3:
        // Killed after create, message not yet redelivered: the redelivery will re-attach (owned).
        owned.push(await startRun(rig, store, 'none', clock.t));
        await store.create(
          { ...owned.at(-1)!, status: 'queued', attempts: 0, providerRef: undefined },
          creationEvent({ ...owned.at(-1)!, status: 'queued' }, 'bench'),
        );
        break;
      default:
        owned.push(await startRun(rig, store, 'running', clock.t));
    }
  }
  // Fakes stamp creation times with clocks of their own (some run ahead): move past the newest.
  let newest = clock.t;
  let cursor: string | undefined;
  do {
    const page = await rig.setup.listOwnedJobs!(cursor);
    for (const j of page.jobs) newest = Math.max(newest, Date.parse(j.createdAt ?? '') || 0);
    cursor = page.next;
  } while (cursor !== undefined);
  clock.t = newest + settings.graceMs + 60_000;
  let passes = 0;
  for (; passes < 20; passes++) {
    const pass = await reapOrphans(deps, settings);
    if (pass.orphans === 0 && pass.listed > 0) break;
    clock.t += 120_000;
  }
  const left = orphans.filter((o) => rig.runs(o)).length;
  const wrongly = owned.filter((o) => !rig.runs(o)).length;
  return {
    provider: rig.name,
    'runs started': orphans.length + owned.length,
    'orphans made': orphans.length,
    'reaper passes': passes + 1,
    'orphans left': left,
    'owned stopped': wrongly,
    target: '0 left, 0 owned stopped',
    ok: left === 0 && wrongly === 0,
  };
}

/** Both measurements on every provider fake. `conn`: Azurite, for Batch's staging blobs. */
export async function benchCancelAndOrphans(
  conn: string,
  quick: boolean,
): Promise<{ cancel: CancelRow[]; orphans: OrphanRow[] }> {
  const makers: Array<() => Promise<Rig>> = [sageMakerRig, azureMlRig, vertexRig, () => azureBatchRig(conn)];
  const cancel: CancelRow[] = [];
  const orphans: OrphanRow[] = [];
  for (const make of makers) {
    const rig = await make();
    try {
      cancel.push(await benchCancel(rig, quick ? 20 : 60));
      orphans.push(await benchOrphans(rig, quick ? 20 : 50));
    } finally {
      await rig.close();
    }
  }
  return { cancel, orphans };
}
