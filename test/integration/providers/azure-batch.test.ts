import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { AzureBlobStore } from '../../../src/lib/adapters/azure-blob-store.js';
import { loadConfig, type Config } from '../../../src/lib/config.js';
import type { JobRecord, JobStatus } from '../../../src/lib/core/job.js';
import { ProviderThrottledError, ProviderUnavailableError, ValidationError } from '../../../src/lib/errors.js';
import { createAzureBatchProvider, type AzureBatchProvider } from '../../../src/lib/providers/azure-batch/provider.js';
import { countCalls, FakeBatchService } from '../../fakes/azure-batch/fake-batch-service.js';

const ACCOUNT = 'fakebatch';
const KEY = randomBytes(32).toString('base64');
const POOL_JOB = 'cjo-cjo-pool';

let fake: FakeBatchService;
let blobs: AzureBlobStore;
let config: Config;
let provider: AzureBatchProvider;
let seq = 0;

function envFor(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    JobsStorage: inject('storageConnectionString'),
    RESULTS_CONTAINER: 'batch-results-it',
    AZURE_BATCH_ACCOUNT_URL: url,
    AZURE_BATCH_ACCOUNT_NAME: ACCOUNT,
    AZURE_BATCH_ACCOUNT_KEY: KEY,
    AZURE_BATCH_STAGING_CONTAINER: 'batch-staging-it',
    AZURE_BATCH_WORKER_IMAGE: 'myacr.azurecr.io/cjo-worker:1.0',
    AZURE_BATCH_ALLOWED_VM_SIZES: 'Standard_D4s_v3',
    AZURE_BATCH_MAX_TASK_RETRIES: '2',
    AZURE_BATCH_RETRY_ATTEMPTS: '3',
    AZURE_BATCH_RETRY_BASE_MS: '1',
    AZURE_BATCH_RETRY_MAX_WAIT_MS: '5000',
    ...extra,
  };
}

async function makeProvider(
  extra: Record<string, string> = {},
  credential?: TokenCredential,
): Promise<AzureBatchProvider> {
  const cfg = loadConfig(envFor(fake.url, extra));
  // Retry waits are recorded, not slept: tests never depend on wall-clock time.
  return createAzureBatchProvider(
    { config: cfg, blobs },
    { sleep: async (ms) => void sleeps.push(ms), ...(credential ? { credential } : {}) },
  );
}
const sleeps: number[] = [];

/** Job ids look like the orchestrator's (`j-` + 26 ULID characters). */
function newJobId(): string {
  seq += 1;
  return `j-01jd3m2x7k9q8w4e5r6t${String(seq).padStart(6, '0')}`;
}

function jobRecord(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  const at = new Date().toISOString();
  return {
    id,
    status: 'dispatched',
    source: 'api',
    spec: {
      rows: 1000,
      estimated_runtime_sec: 10,
      priority: 'normal',
      latency_sensitive: false,
      data: { x: 1 },
      labels: {},
      max_runtime_sec: 1800,
    },
    createdAt: at,
    updatedAt: at,
    dispatchedAt: at,
    attempts: 1,
    eventSeq: 1,
    ...overrides,
  };
}

async function dispatch(overrides: Partial<JobRecord> = {}): Promise<JobRecord> {
  const job = jobRecord(newJobId(), { status: 'queued', ...overrides });
  const outcome = await provider.submit(job);
  return { ...job, status: outcome.status, providerRef: outcome.ref };
}

const withStatus = (job: JobRecord, status: JobStatus): JobRecord => ({ ...job, status });

beforeAll(async () => {
  fake = new FakeBatchService({
    sharedKey: { accountName: ACCOUNT, accountKey: KEY },
    bearerTokens: ['entra-token-1'],
  });
  await fake.start();
  config = loadConfig(envFor(fake.url));
  blobs = await AzureBlobStore.create(config);
  provider = await makeProvider();
});

afterAll(async () => {
  await fake.stop();
});

beforeEach(() => {
  fake.clearRequests();
  sleeps.length = 0;
});

describe('Azure Batch provider › submit', () => {
  it('creates a container-capable VM pool with scale-to-zero autoscale, the pool job and one task, signed with SharedKey', async () => {
    const job = await dispatch();

    const pool = fake.requests.find((r) => r.method === 'POST' && r.path === '/pools');
    expect(pool?.query['api-version']).toBe('2022-10-01.16.0');
    expect(pool?.headers.authorization).toMatch(new RegExp(`^SharedKey ${ACCOUNT}:`));
    const body = pool?.body as Record<string, any>;
    expect(body.cloudServiceConfiguration).toBeUndefined();
    expect(body.vmSize).toBe('Standard_D2s_v3');
    expect(body.taskSlotsPerNode).toBe(4);
    expect(body.virtualMachineConfiguration.imageReference).toEqual({
      publisher: 'microsoft-dsvm',
      offer: 'ubuntu-hpc',
      sku: '2204',
      version: 'latest',
    });
    expect(body.virtualMachineConfiguration.nodeAgentSKUId).toBe('batch.node.ubuntu 22.04');
    expect(body.virtualMachineConfiguration.containerConfiguration).toEqual({
      type: 'dockerCompatible',
      containerImageNames: ['myacr.azurecr.io/cjo-worker:1.0'],
    });
    expect(body.enableAutoScale).toBe(true);
    expect(body.targetDedicatedNodes).toBeUndefined();
    expect(body.autoScaleEvaluationInterval).toBe('PT5M');
    expect(body.autoScaleFormula).toContain('$TargetDedicatedNodes = $pending > 0 ? min(10, ($pending + 3) / 4) : 0;');

    const batchJob = fake.requests.find((r) => r.method === 'POST' && r.path === '/jobs')?.body as Record<string, any>;
    expect(batchJob).toMatchObject({ id: POOL_JOB, poolInfo: { poolId: 'cjo-pool' }, onAllTasksComplete: 'noaction' });

    expect(job.providerRef).toMatchObject({ poolId: 'cjo-pool', batchJobId: POOL_JOB, taskId: job.id });
    const task = fake.task(POOL_JOB, job.id)!.body as Record<string, any>;
    expect(task.commandLine).toBe('node /app/dist/src/worker/main.js --once --spec job-spec.json --out .');
    expect(task.containerSettings).toEqual({
      imageName: 'myacr.azurecr.io/cjo-worker:1.0',
      workingDirectory: 'taskWorkingDirectory',
      containerRunOptions: '--rm',
    });
    expect(task.constraints).toEqual({ maxWallClockTime: 'PT1800S', retentionTime: 'PT3600S', maxTaskRetryCount: 2 });
    expect(task.environmentSettings).toContainEqual({ name: 'CJO_JOB_ID', value: job.id });
    expect(task.environmentSettings).toContainEqual({ name: 'SIMULATION_TIME_SCALE', value: '1' });
    // The one-shot run re-checks the /execute gate against the deployment's switch, told here.
    expect(task.environmentSettings).toContainEqual({ name: 'ESSEDUM_EXECUTE_ENABLED', value: 'false' });
  });

  it('hands the spec to the node through a read-only SAS and outputs through a create/write-only SAS', async () => {
    const job = await dispatch();
    const task = fake.task(POOL_JOB, job.id)!.body as Record<string, any>;

    const input = new URL(task.resourceFiles[0].httpUrl);
    expect(task.resourceFiles[0].filePath).toBe('job-spec.json');
    expect(input.searchParams.get('sig')).toBeTruthy();
    expect(input.searchParams.get('sp')).toBe('r');
    expect(input.searchParams.get('se')).toBeTruthy();
    expect(input.pathname).toContain(`/batch-staging-it/${job.id}/job-spec.json`);

    expect(task.outputFiles.map((o: any) => o.filePattern)).toEqual([
      'result.json',
      'status.json',
      '../stdout.txt',
      '../stderr.txt',
    ]);
    for (const output of task.outputFiles) {
      const container = new URL(output.destination.container.containerUrl);
      expect(container.searchParams.get('sig')).toBeTruthy();
      expect(container.searchParams.get('sp')).not.toContain('r');
      expect(container.searchParams.get('sp')).toContain('w');
      expect(output.uploadOptions.uploadCondition).toBe('taskcompletion');
      expect(output.destination.container.path).toMatch(
        new RegExp(`^azure-batch/${job.id}/(result\\.json|status\\.json|stdout\\.txt|stderr\\.txt)$`),
      );
    }
    // No account key in anything the node receives.
    expect(JSON.stringify(task)).not.toContain('AccountKey');
    expect(JSON.stringify(task)).not.toContain(KEY);

    // The node can read the spec with its SAS …
    await fake.startTask(POOL_JOB, job.id);
    const spec = JSON.parse(fake.task(POOL_JOB, job.id)!.files.get('wd/job-spec.json')!.toString('utf8'));
    expect(spec).toEqual({ jobId: job.id, origin: 'api', spec: job.spec });
    // … but the output SAS cannot list or read what others wrote.
    const outputUrl = new URL(task.outputFiles[0].destination.container.containerUrl);
    const listed = await fetch(
      `${outputUrl.origin}${outputUrl.pathname}?restype=container&comp=list&${outputUrl.search.slice(1)}`,
      { headers: { 'x-ms-version': '2021-08-06' } },
    );
    expect(listed.status).toBe(403);
  });

  it('treats an existing pool and pool job (409 PoolExists/JobExists) as success', async () => {
    const fresh = await makeProvider();
    const job = jobRecord(newJobId(), { status: 'queued' });

    const outcome = await fresh.submit(job);

    expect(outcome.attached).toBe(false);
    const conflicts = fake.requests.filter((r) => r.status === 409).map((r) => r.path);
    expect(conflicts).toEqual(['/pools', '/jobs']);
  });

  it('re-attaches a redelivered dispatch to the existing task instead of adding a second one', async () => {
    const job = jobRecord(newJobId(), { status: 'queued' });
    const first = await provider.submit(job);
    await fake.startTask(POOL_JOB, job.id);

    const second = await provider.submit(job);

    expect(first.attached).toBe(false);
    expect(second).toMatchObject({ attached: true, status: 'running', ref: { taskId: job.id, batchJobId: POOL_JOB } });
    const adds = fake.requests.filter((r) => r.method === 'POST' && r.path === `/jobs/${POOL_JOB}/tasks`);
    expect(adds.map((r) => r.status)).toEqual([201, 409]);
  });

  it('rejects VM sizes outside the allowed list and gives an allowed size its own pool', async () => {
    await expect(
      provider.submit(jobRecord(newJobId(), { spec: { ...jobRecord('x').spec, spec: { vmSize: 'Standard_NC24' } } })),
    ).rejects.toBeInstanceOf(ValidationError);

    const job = await dispatch({
      spec: { ...jobRecord('x').spec, spec: { vmSize: 'Standard_D4s_v3', requiredSlots: 2 } },
    });

    expect(job.providerRef).toMatchObject({
      poolId: 'cjo-pool-standard_d4s_v3',
      batchJobId: 'cjo-cjo-pool-standard_d4s_v3',
    });
    expect(fake.pools.get('cjo-pool-standard_d4s_v3')?.vmSize).toBe('Standard_D4s_v3');
  });
});

describe('Azure Batch provider › what a task can write', () => {
  const put = (url: string, body: string) =>
    fetch(url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-08-06', 'content-type': 'text/plain' },
      body,
    });
  /** The blob URL Batch builds from an output file destination: container URL + path + the URL's SAS. */
  const blobUrl = (containerUrl: string, path: string) => {
    const c = new URL(containerUrl);
    return `${c.origin}${c.pathname}/${path}${c.search}`;
  };

  it("refuses a task's output SAS on another job's result and log blobs and on any other name", async () => {
    const mine = await dispatch();
    const other = await dispatch();
    const outputs = (fake.task(POOL_JOB, mine.id)!.body as Record<string, any>).outputFiles as Array<
      Record<string, any>
    >;
    const stdout = outputs.find((o) => o.filePattern === '../stdout.txt')!.destination.container;

    // Its own stdout: writable.
    expect((await put(blobUrl(stdout.containerUrl, stdout.path), 'mine\n')).status).toBe(201);
    // Another job's outputs, its own other outputs, a new name beside them: all refused by Storage.
    for (const path of [
      `azure-batch/${other.id}/stdout.txt`,
      `azure-batch/${other.id}/result.json`,
      `azure-batch/${mine.id}/result.json`,
      `azure-batch/${mine.id}/extra.txt`,
      `${other.id}/outputs/x.bin`,
    ]) {
      expect((await put(blobUrl(stdout.containerUrl, path), 'overwrite')).status, path).toBe(403);
    }
    expect(await blobs.get('batch-results-it', `azure-batch/${other.id}/stdout.txt`)).toBeUndefined();
    // Each output file carries its own SAS, scoped to its own blob.
    expect(
      new Set(outputs.map((o) => new URL(o.destination.container.containerUrl).searchParams.get('sig'))).size,
    ).toBe(4);
    for (const o of outputs) expect(new URL(o.destination.container.containerUrl).searchParams.get('sr')).toBe('b');
  });

  it('bounds the output SAS by the time to start, the max runtime and the margin — not days', async () => {
    const before = Date.now();
    const job = await dispatch({ spec: { ...jobRecord('x').spec, max_runtime_sec: 600 } });
    const settings = provider.settings;
    const outputs = (fake.task(POOL_JOB, job.id)!.body as Record<string, any>).outputFiles as Array<
      Record<string, any>
    >;

    for (const o of outputs) {
      const expiry = Date.parse(new URL(o.destination.container.containerUrl).searchParams.get('se')!);
      const bound = Date.now() + (settings.inputSasTtlSec + 600 + settings.outputSasMarginSec) * 1000;
      expect(expiry).toBeLessThanOrEqual(bound);
      expect(expiry).toBeGreaterThan(before + 600 * 1000);
    }
  });
});

describe('Azure Batch provider › poll', () => {
  it('reports nothing for unchanged tasks, then running, then succeeded with the uploaded result', async () => {
    const job = await dispatch();
    fake.clearRequests();

    expect(await provider.poll([job])).toEqual([]);
    expect(countCalls(fake.requests)).toEqual({ list: 1, get: 0, other: 0 });
    const list = fake.requests[0]!;
    expect(list.query).toMatchObject({
      $filter: "state ne 'completed'",
      $select: 'id,state,stateTransitionTime,executionInfo',
      maxresults: '1000',
    });

    await fake.startTask(POOL_JOB, job.id);
    const [running] = await provider.poll([job]);
    expect(running).toMatchObject({ jobId: job.id, status: 'running', nativeStatus: 'running' });

    await fake.completeTask(POOL_JOB, job.id, {
      exitCode: 0,
      stdout: 'hello\nworld\n',
      stderr: '',
      workingFiles: { 'result.json': JSON.stringify({ rows: 1000, ok: true }) },
    });
    const [done] = await provider.poll([withStatus(job, 'running')]);

    expect(done).toMatchObject({ jobId: job.id, status: 'succeeded', nativeStatus: 'completed' });
    expect(done!.result).toMatchObject({
      location: `batch-results-it/azure-batch/${job.id}/result.json`,
      exitCode: 0,
      document: { rows: 1000, ok: true },
    });
    expect(fake.task(POOL_JOB, job.id)!.uploads.map((u) => u.status)).toEqual([201, 201, 201]);
    const logs = await provider.logs(withStatus(job, 'succeeded'), 6);
    expect(logs).toMatchObject({ stdout: 'world\n', stderr: '' });
    expect(logs!.source).toContain('blob:');
  });

  it('reports a task that exits 1 as failed with the Batch category, code and exit code', async () => {
    const job = await dispatch();
    await fake.startTask(POOL_JOB, job.id);
    await fake.completeTask(POOL_JOB, job.id, { exitCode: 1, stderr: 'boom\n' });

    const [report] = await provider.poll([withStatus(job, 'running')]);

    expect(report).toMatchObject({ status: 'failed', error: { code: 'FailureExitCode', category: 'usererror' } });
    expect(report!.error!.message).toContain('exit code 1');
    expect((await provider.logs(withStatus(job, 'failed'), 100))?.stderr).toBe('boom\n');
  });

  it("runs the task's command line with the real worker one-shot mode on the staged spec", async () => {
    const quick = await makeProvider({ SIMULATION_TIME_SCALE: '0.001' });
    const job = jobRecord(newJobId(), { status: 'queued' });
    const outcome = await quick.submit(job);
    await fake.startTask(POOL_JOB, job.id);
    const fakeTask = fake.task(POOL_JOB, job.id)!;
    const body = fakeTask.body as Record<string, any>;

    // Play the node: the task directory with wd/ holding the resource file, the container's entry
    // swapped for the worker source, the task's environment, stdout/stderr captured beside wd/.
    const taskDir = mkdtempSync(join(tmpdir(), 'batch-task-'));
    const wd = join(taskDir, 'wd');
    mkdirSync(wd);
    writeFileSync(join(wd, 'job-spec.json'), fakeTask.files.get('wd/job-spec.json')!);
    const [program, entry, ...args] = String(body.commandLine).split(' ');
    expect([program, entry]).toEqual(['node', '/app/dist/src/worker/main.js']);
    const workerSource = fileURLToPath(new URL('../../../src/worker/main.ts', import.meta.url));
    const env = Object.fromEntries(
      (body.environmentSettings as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]),
    );
    // tsx resolved here: the task directory has no node_modules.
    const run = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), workerSource, ...args], {
      cwd: wd,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // spawnSync blocked the event loop for the whole run: let it see the keep-alive sockets Azurite
    // closed meanwhile, or the upload below may be written to a dead one ("other side closed").
    await new Promise((resume) => setTimeout(resume, 100));
    const workingFiles = Object.fromEntries(
      ['result.json', 'status.json']
        .filter((f) => existsSync(join(wd, f)))
        .map((f) => [f, readFileSync(join(wd, f), 'utf8')]),
    );
    await fake.completeTask(POOL_JOB, job.id, {
      exitCode: run.status ?? -1,
      stdout: run.stdout,
      stderr: run.stderr,
      workingFiles,
    });

    const [report] = await quick.poll([{ ...job, status: outcome.status, providerRef: outcome.ref }]);

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(report).toMatchObject({ status: 'succeeded', result: { document: { jobId: job.id } } });
    expect((await quick.logs({ ...job, status: 'succeeded' }, 10_000))?.stdout).toContain(`job ${job.id}: succeeded`);
  });

  it("leads a failure with the worker's own error from status.json", async () => {
    const job = await dispatch();
    await fake.startTask(POOL_JOB, job.id);
    const status = {
      state: 'failed',
      exitCode: 1,
      finishedAt: new Date().toISOString(),
      error: { code: 'SIMULATED_FAILURE', message: 'row 17 is malformed' },
    };
    await fake.completeTask(POOL_JOB, job.id, { exitCode: 1, workingFiles: { 'status.json': JSON.stringify(status) } });

    const [report] = await provider.poll([withStatus(job, 'running')]);

    expect(report).toMatchObject({ status: 'failed', error: { code: 'SIMULATED_FAILURE', category: 'usererror' } });
    expect(report!.error!.message).toMatch(/^row 17 is malformed \(Batch: FailureExitCode: .*exit code 1\)$/);
  });

  it('pages through odata.nextLink over thousands of tasks with one list call per 1 000 and no per-task GET', async () => {
    const ids = Array.from({ length: 2500 }, () => newJobId());
    fake.seedTasks('cjo-paging', ids);
    const jobs = ids.map((id) => jobRecord(id, { providerRef: { batchJobId: 'cjo-paging', taskId: id, poolId: 'p' } }));
    fake.clearRequests();

    const reports = await provider.poll(jobs);

    expect(reports).toEqual([]);
    expect(countCalls(fake.requests)).toEqual({ list: 3, get: 0, other: 0 });
    expect(fake.requests[1]!.query.$skiptoken).toBe('1000');
    expect(fake.requests.every((r) => r.query['api-version'] === '2022-10-01.16.0')).toBe(true);

    await fake.startTask('cjo-paging', ids[2499]!);
    await fake.completeTask('cjo-paging', ids[2499]!, { exitCode: 0 });
    await fake.startTask('cjo-paging', ids[7]!);
    fake.clearRequests();
    const changed = await provider.poll(jobs);

    expect(changed.map((r) => [r.jobId, r.status]).sort()).toEqual(
      [
        [ids[2499], 'succeeded'],
        [ids[7], 'running'],
      ].sort(),
    );
    // 3 pages of unfinished tasks + 1 query for tasks completed since dispatch.
    expect(countCalls(fake.requests)).toEqual({ list: 4, get: 0, other: 0 });
  });

  it('notes a node preemption (requeue) and keeps a running job running', async () => {
    const job = await dispatch();
    await fake.startTask(POOL_JOB, job.id);
    fake.requeueTask(POOL_JOB, job.id);

    const [report] = await provider.poll([withStatus(job, 'running')]);

    expect(report).toMatchObject({ status: 'running', nativeStatus: 'active', ref: { requeueCount: 1 } });
    expect(report!.notes?.[0]).toMatch(/requeued/);
    const again = await provider.poll([{ ...withStatus(job, 'running'), providerRef: report!.ref! }]);
    expect(again).toEqual([]);
  });
});

describe('Azure Batch provider › throttling and outages', () => {
  it('retries a 429 with Retry-After inside the poll and reports normally', async () => {
    const job = await dispatch();
    fake.failNext({ method: 'GET', path: /\/tasks$/, status: 429, code: 'TooManyRequests', retryAfterSec: 2 });

    const reports = await provider.poll([job]);

    expect(reports).toEqual([]);
    expect(sleeps).toEqual([2000]);
    expect(fake.requests.filter((r) => r.status === 429)).toHaveLength(1);
  });

  it('hands a long Retry-After to the caller as ProviderThrottledError, never a job failure', async () => {
    const job = await dispatch();
    fake.failNext({ method: 'GET', status: 429, code: 'TooManyRequests', retryAfterSec: 120 });

    const error = await provider.poll([job]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderThrottledError);
    expect((error as ProviderThrottledError).retryAfterMs).toBe(120_000);
    expect(sleeps).toEqual([]);
  });

  it('survives a 503 on task add by retrying, and reports a lasting 503 as unavailable', async () => {
    fake.failNext({ method: 'POST', path: /\/tasks$/, status: 503, code: 'ServerBusy', retryAfterSec: 1 });
    const job = await dispatch();
    expect(job.status).toBe('dispatched');
    expect(sleeps).toEqual([1000]);

    fake.failNext({ method: 'GET', status: 503, code: 'ServerBusy', times: 3 });
    const error = await provider.poll([job]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(sleeps).toEqual([1000, 1, 2]);
  });
  it('refuses a wrong account key once (403 AuthenticationFailed) as unavailable, without retrying', async () => {
    const wrong = await makeProvider({ AZURE_BATCH_ACCOUNT_KEY: randomBytes(32).toString('base64') });
    const job = jobRecord(newJobId(), {
      providerRef: { batchJobId: POOL_JOB, taskId: 'whatever', poolId: 'cjo-pool' },
    });

    const error = await wrong.poll([job]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toContain('AuthenticationFailed');
    expect(fake.requests.map((r) => r.status)).toEqual([403]);
  });
});

describe('Azure Batch provider › cancel, logs, cleanup', () => {
  it('terminates the task and reports cancelled once a poll sees it ended', async () => {
    const job = await dispatch();
    await fake.startTask(POOL_JOB, job.id);

    await provider.cancel(withStatus(job, 'cancelling'));
    const terminate = fake.requests.find((r) => r.path === `/jobs/${POOL_JOB}/tasks/${job.id}/terminate`);
    const [report] = await provider.poll([withStatus(job, 'cancelling')]);

    expect(terminate?.method).toBe('POST');
    expect(report).toMatchObject({ status: 'cancelled', nativeStatus: 'completed' });
    // Cancelling an already finished task is not an error.
    await expect(provider.cancel(withStatus(job, 'cancelling'))).resolves.toBeUndefined();
  });

  it('cancels a task that never started', async () => {
    const job = await dispatch();

    await provider.cancel(withStatus(job, 'cancelling'));
    const [report] = await provider.poll([withStatus(job, 'cancelling')]);

    expect(report).toMatchObject({ status: 'cancelled' });
    expect(fake.task(POOL_JOB, job.id)!.executionInfo.exitCode).toBeUndefined();
  });

  it('re-attaches to a task that already finished and lets the next poll report it', async () => {
    const job = jobRecord(newJobId(), { status: 'queued' });
    await provider.submit(job);
    await fake.startTask(POOL_JOB, job.id);
    await fake.completeTask(POOL_JOB, job.id, { exitCode: 0 });

    const again = await provider.submit(job);
    const [report] = await provider.poll([{ ...job, status: again.status, providerRef: again.ref }]);

    expect(again).toMatchObject({ attached: true, status: 'dispatched' });
    expect(report?.status).toBe('succeeded');
  });

  it('falls back to the node files for logs when nothing was uploaded', async () => {
    const job = await dispatch();
    await fake.startTask(POOL_JOB, job.id);
    fake.writeOutput(POOL_JOB, job.id, 'stderr.txt', 'killed\n');
    await provider.cancel(withStatus(job, 'cancelling'));
    await blobs.delete('batch-results-it', `azure-batch/${job.id}/stderr.txt`);
    await blobs.delete('batch-results-it', `azure-batch/${job.id}/stdout.txt`);

    const logs = await provider.logs(withStatus(job, 'cancelled'), 100);

    expect(logs).toMatchObject({ stderr: 'killed\n', source: `batch:${POOL_JOB}/${job.id}` });
  });

  it('tails live stdout/stderr from the node with ocp-range while the task runs', async () => {
    const job = await dispatch();
    await fake.startTask(POOL_JOB, job.id);
    fake.writeOutput(POOL_JOB, job.id, 'stdout.txt', 'line 1\nline 2\nline 3\n');
    fake.writeOutput(POOL_JOB, job.id, 'stderr.txt', 'warn\n');
    fake.clearRequests();

    const logs = await provider.logs(withStatus(job, 'running'), 7);

    expect(logs).toEqual({ stdout: 'line 3\n', stderr: 'warn\n', source: `batch:${POOL_JOB}/${job.id}` });
    const ranged = fake.requests.find((r) => r.method === 'GET' && r.path.endsWith('/files/stdout.txt'));
    expect(ranged?.headers['ocp-range']).toBe('bytes=14-20');
  });

  it('deletes finished tasks and staged inputs after the retention, keeping results', async () => {
    const old = await dispatch();
    await fake.startTask(POOL_JOB, old.id);
    await fake.completeTask(POOL_JOB, old.id, { exitCode: 0, workingFiles: { 'result.json': '{}' } });
    const recent = await dispatch();
    const longAgo = new Date(Date.now() - 2 * 3600_000).toISOString();

    await provider.cleanup([
      { ...withStatus(old, 'succeeded'), finishedAt: longAgo },
      { ...withStatus(recent, 'succeeded'), finishedAt: new Date().toISOString() },
    ]);

    expect(fake.task(POOL_JOB, old.id)).toBeUndefined();
    expect(fake.task(POOL_JOB, recent.id)).toBeDefined();
    expect(await blobs.get('batch-staging-it', `${old.id}/job-spec.json`)).toBeUndefined();
    expect(await blobs.get('batch-staging-it', `${recent.id}/job-spec.json`)).toBeDefined();
    expect(await blobs.get('batch-results-it', `azure-batch/${old.id}/result.json`)).toBeDefined();
  });
});

describe('Azure Batch provider › Entra ID', () => {
  it('sends a Bearer token for the Batch resource scope when no account key is set', async () => {
    const scopes: string[] = [];
    const credential: TokenCredential = {
      async getToken(scope: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return { token: 'entra-token-1', expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
    const entra = await makeProvider({ AZURE_BATCH_ACCOUNT_KEY: '', AZURE_BATCH_ACCOUNT_NAME: '' }, credential);

    const outcome = await entra.submit(jobRecord(newJobId(), { status: 'queued' }));

    expect(outcome.status).toBe('dispatched');
    expect(fake.requests.every((r) => r.headers.authorization === 'Bearer entra-token-1')).toBe(true);
    expect(scopes).toContain('https://batch.core.windows.net//.default');
  });
});
