import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, JobStatus, ProviderRef } from '../../../src/lib/core/job.js';
import { providerJob } from '../../support/jobs.js';
import { ProviderRejectedError, ProviderThrottledError, ProviderUnavailableError } from '../../../src/lib/errors.js';
import type { JobProvider } from '../../../src/lib/ports/provider.js';
import { createAzureMlProvider } from '../../../src/lib/providers/azure-ml/provider.js';
import { fromEssedumTrain } from '../../../src/lib/app/essedum/translate/azure-ml.js';
import { parseAzureMlSettings, type AzureMlSettings } from '../../../src/lib/providers/azure-ml/settings.js';
import { FakeAzureMl, type FakeAzureMlOptions } from '../../fakes/azure-ml/fake-arm.js';

const TOKEN = 'eyJ0ZXN0IjoiYXp1cmUtbWwifQ.fake-arm-token';
const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'rg-ml';
const WS = 'ws-jobs';
const WS_PATH = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/workspaces/${WS}`;

class StubCredential implements TokenCredential {
  readonly scopes: string[] = [];
  constructor(private readonly token = TOKEN) {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

let counter = 0;
function jobRecord(
  kind: string | undefined,
  spec: Record<string, unknown> | undefined,
  over: Partial<JobRecord> = {},
): JobRecord {
  counter += 1;
  return providerJob('azure-ml', `j-01jd3m2x7k9q8w4e5r6t7y${String(counter).padStart(4, '0')}`, kind, spec, {
    body: { labels: { team: 'forecast' } },
    over,
  });
}

const commandSpec = {
  command: 'python train.py --epochs ${{inputs.epochs}} --data ${{inputs.data}}',
  environment: 'azureml:sklearn-env:3',
  inputs: { epochs: 5, data: { type: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/data/' } },
  outputs: { model: { type: 'uri_folder' } },
};

/** What a poll cycle hands the provider after a report: the stored status and the updated ref. */
function advanced(job: JobRecord, status: JobStatus, ref: ProviderRef | undefined): JobRecord {
  return { ...job, status, ...(ref && { providerRef: ref }) };
}

describe('Azure ML provider against a fake Resource Manager (HTTPS)', () => {
  let fake: FakeAzureMl;
  let provider: JobProvider;
  let credential: StubCredential;
  let settings: AzureMlSettings;
  const sleeps: number[] = [];

  async function startWith(options: Partial<FakeAzureMlOptions> = {}, env: Record<string, string> = {}): Promise<void> {
    await fake?.stop();
    fake = await FakeAzureMl.start({
      subscriptionId: SUB,
      resourceGroup: RG,
      workspace: WS,
      token: TOKEN,
      pageSize: 3,
      ...options,
    });
    settings = parseAzureMlSettings({
      AZUREML_SUBSCRIPTION_ID: SUB,
      AZUREML_RESOURCE_GROUP: RG,
      AZUREML_WORKSPACE: WS,
      AZUREML_ARM_ENDPOINT: fake.endpoint,
      AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
      AZUREML_RETRY_DELAY_MS: '10',
      AZUREML_CANCEL_WAIT_MS: '5000',
      ...env,
    });
    credential = new StubCredential();
    provider = await createAzureMlProvider(settings, {
      credential,
      trustedCa: fake.ca,
      sleep: async (ms) => void sleeps.push(ms),
    });
  }

  beforeAll(async () => startWith());
  afterAll(async () => fake.stop());
  beforeEach(() => {
    fake.clearRequests();
    sleeps.length = 0;
  });
  afterEach(async () => {
    // Tests that restart the fake with other options restore the defaults for the next one.
    if (fake.pageSize !== 3) await startWith();
  });

  describe('submit', () => {
    it('PUTs a command job named after our job id, with api-version, bearer token and the tag polling relies on', async () => {
      const job = jobRecord('command', commandSpec);

      const outcome = await provider.submit(job);

      expect(outcome).toEqual({
        ref: { jobName: job.id, nativeStatus: 'NotStarted' },
        attached: false,
        status: 'dispatched',
      });
      const put = fake.requests.find((r) => r.kind === 'put')!;
      expect(put.path).toBe(`${WS_PATH}/jobs/${job.id}`);
      expect(put.query['api-version']).toBe('2024-04-01');
      expect(put.authorization).toBe(`Bearer ${TOKEN}`);
      expect(credential.scopes).toContain(`${fake.endpoint}/.default`);
      const props = (put.body as { properties: Record<string, unknown> }).properties;
      expect(props).toMatchObject({
        jobType: 'Command',
        command: commandSpec.command,
        environmentId: `${WS_PATH}/environments/sklearn-env/versions/3`,
        computeId: `${WS_PATH}/computes/cpu-cluster`,
        tags: { 'cjo-job-id': job.id, team: 'forecast' },
        inputs: {
          epochs: { jobInputType: 'literal', value: '5' },
          data: { jobInputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/data/' },
        },
        outputs: { model: { jobOutputType: 'uri_folder' } },
      });
    });

    it('keeps the AutoML settings of an Essedum train body (metric, limits, 5 CV folds) on the wire', async () => {
      const translated = fromEssedumTrain({
        compute: 'gpu-cluster',
        dataset_name: 'churn-table:2',
        name: 'churn model',
        task_type: 'classification',
        target_column_name: 'churned',
        metrics_type: 'AUC_weighted',
      });
      const job = jobRecord(translated.kind, translated.spec);

      await provider.submit(job);

      const props = (fake.requests.find((r) => r.kind === 'put')!.body as { properties: Record<string, unknown> })
        .properties;
      expect(props).toMatchObject({
        jobType: 'AutoML',
        computeId: `${WS_PATH}/computes/gpu-cluster`,
        displayName: 'churn model',
        taskDetails: {
          taskType: 'Classification',
          trainingData: { jobInputType: 'mltable', uri: 'azureml:churn-table:2' },
          targetColumnName: 'churned',
          primaryMetric: 'AUCWeighted',
          limitSettings: { timeout: 'PT180M', maxTrials: 5 },
          nCrossValidations: { mode: 'Custom', value: 5 },
        },
      });
      expect(fake.jobs.get(job.id)?.doc.properties.taskDetails).toMatchObject({ primaryMetric: 'AUCWeighted' });
    });

    it('re-attaches on a redelivered dispatch: the second PUT is the documented update (200) and starts nothing', async () => {
      const job = jobRecord('command', { command: 'python run.py', environment: 'azureml:sklearn-env:3' });
      await provider.submit(job);
      fake.setStatus(job.id, 'Queued');

      const again = await provider.submit(job);

      expect(again).toEqual({ ref: { jobName: job.id, nativeStatus: 'Queued' }, attached: true, status: 'dispatched' });
      expect([...fake.jobs.keys()].filter((n) => n === job.id)).toHaveLength(1);
      expect(fake.requests.map((r) => r.kind)).toEqual(['put', 'put']);
    });

    it('re-attaches when the service refuses the resend as a change to an immutable field', async () => {
      const job = jobRecord('command', commandSpec);
      await provider.submit(job);
      // The service fills in defaults on its stored copy (here: input modes), so our resend no
      // longer compares equal.
      fake.normaliseStored(job.id, {
        inputs: {
          epochs: { jobInputType: 'literal', value: '5' },
          data: {
            jobInputType: 'uri_folder',
            uri: 'azureml://datastores/workspaceblobstore/paths/data/',
            mode: 'ReadOnlyMount',
          },
        },
      });
      fake.setStatus(job.id, 'Running');
      fake.clearRequests();

      const again = await provider.submit(job);

      expect(again).toEqual({ ref: { jobName: job.id, nativeStatus: 'Running' }, attached: true, status: 'running' });
      expect(fake.requests.map((r) => r.kind)).toEqual(['put', 'get']);
    });

    it('creates one environment per container image and points the job at it', async () => {
      const spec = { command: 'python -m app', image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest' };
      const first = jobRecord('command', spec);
      const second = jobRecord('command', spec);

      await provider.submit(first);
      await provider.submit(second);

      expect(fake.environments.size).toBe(1);
      const [envKey, env] = [...fake.environments.entries()][0]!;
      expect(env.image).toBe(spec.image);
      const envId = fake.jobs.get(second.id)!.doc.properties.environmentId as string;
      expect(envId).toBe(`${WS_PATH}/environments/${envKey.split(':')[0]}/versions/1`);
    });

    it('rejects an invalid spec before calling Azure', async () => {
      const job = jobRecord('command', { command: 'x', environment: 'azureml:e:1', image: 'also-an-image' });

      const err = await provider.submit(job).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderRejectedError);
      expect((err as ProviderRejectedError).providerCode).toBe('InvalidJobSpec');
      expect(fake.requests).toHaveLength(0);
    });

    it("turns the service's 400 into a rejection carrying its error code", async () => {
      fake.inject({ kind: 'put', status: 400, error: { code: 'UserError', message: 'Compute cpu-cluster not found' } });

      const err = await provider.submit(jobRecord('command', commandSpec)).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderRejectedError);
      expect((err as ProviderRejectedError).providerCode).toBe('UserError');
      expect((err as Error).message).toContain('Compute cpu-cluster not found');
    });

    it('treats a refused token as unavailable (configuration), never as a job failure', async () => {
      const bad = await createAzureMlProvider(settings, {
        credential: new StubCredential('expired'),
        trustedCa: fake.ca,
      });

      const err = await bad.submit(jobRecord('command', commandSpec)).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect((err as Error).message).toContain('InvalidAuthenticationToken');
    });
  });

  describe('poll', () => {
    async function submitted(n: number): Promise<JobRecord[]> {
      const jobs: JobRecord[] = [];
      for (let i = 0; i < n; i++) {
        const job = jobRecord('command', commandSpec);
        const outcome = await provider.submit(job);
        jobs.push(advanced(job, outcome.status, outcome.ref));
      }
      fake.clearRequests();
      return jobs;
    }

    it('lists tagged jobs page by page through nextLink and reports only the ones that changed', async () => {
      await startWith({ pageSize: 3 });
      const jobs = await submitted(7);
      fake.addForeignJob('someone-elses-job');
      fake.setStatus(jobs[1]!.id, 'Running');
      fake.setStatus(jobs[5]!.id, 'Queued');

      const reports = await provider.poll(jobs);

      const lists = fake.requests.filter((r) => r.kind === 'list');
      expect(lists).toHaveLength(3);
      for (const l of lists) {
        expect(l.query).toMatchObject({ 'api-version': '2024-04-01', tag: 'cjo-job-id', listViewType: 'ActiveOnly' });
        expect(l.authorization).toBe(`Bearer ${TOKEN}`);
      }
      expect(lists[1]!.query.$skipToken).toBeDefined();
      expect(fake.count('get')).toBe(0);
      expect(reports).toEqual([
        {
          jobId: jobs[1]!.id,
          status: 'running',
          nativeStatus: 'Running',
          ref: { jobName: jobs[1]!.id, nativeStatus: 'Running' },
        },
        // Queued is still "dispatched" for us, but the new native status is worth recording.
        {
          jobId: jobs[5]!.id,
          status: 'dispatched',
          nativeStatus: 'Queued',
          ref: { jobName: jobs[5]!.id, nativeStatus: 'Queued' },
        },
      ]);
    });

    it('stops paging once every watched job was seen', async () => {
      const jobs = await submitted(7);

      // The newest two are on the first page (newest first).
      await provider.poll(jobs.slice(-2));

      expect(fake.count('list')).toBe(1);
    });

    it('follows a job to Completed and reports outputs and the Studio link, with one get', async () => {
      const [job0] = await submitted(1);
      fake.setStatus(job0!.id, 'Running');
      const [r1] = await provider.poll([job0!]);
      const running = advanced(job0!, r1!.status as JobStatus, r1!.ref);
      expect(await provider.poll([running])).toEqual([]);
      fake.setStatus(job0!.id, 'Finalizing');
      const [r2] = await provider.poll([running]);
      expect(r2).toMatchObject({ status: 'running', nativeStatus: 'Finalizing' });
      fake.setStatus(job0!.id, 'Completed');
      fake.clearRequests();

      const [done] = await provider.poll([advanced(running, 'running', r2!.ref)]);

      expect(done).toMatchObject({
        jobId: job0!.id,
        status: 'succeeded',
        nativeStatus: 'Completed',
        result: {
          azureMlJobName: job0!.id,
          studioUrl: expect.stringContaining(`https://ml.azure.com/runs/${job0!.id}`),
          outputs: { model: `azureml://datastores/workspaceblobstore/paths/azureml/${job0!.id}/model/` },
        },
      });
      expect(done!.error).toBeUndefined();
      expect(fake.count('get')).toBe(1);
    });

    it('reports the best model of a completed AutoML job', async () => {
      const t = fromEssedumTrain({
        compute: 'c',
        dataset_name: 'd:1',
        task_type: 'regression',
        target_column_name: 'y',
      });
      const job = jobRecord(t.kind, t.spec);
      const outcome = await provider.submit(job);
      fake.setStatus(job.id, 'Completed');

      const [report] = await provider.poll([advanced(job, outcome.status, outcome.ref)]);

      expect(report?.status).toBe('succeeded');
      expect(report?.result?.bestModelUri).toBe(
        `azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.${job.id}/outputs/mlflow-model`,
      );
    });

    it('reports a failed job with its error and Studio link', async () => {
      const [job] = await submitted(1);
      fake.setStatus(job!.id, 'Failed', { serviceErrors: { Tracking: 'UserError: train.py exited with code 1' } });

      const [report] = await provider.poll([job!]);

      expect(report?.status).toBe('failed');
      expect(report?.error?.code).toBe('AzureMLJobFailed');
      expect(report?.error?.message).toContain('train.py exited with code 1');
      expect(report?.error?.message).toContain(`https://ml.azure.com/runs/${job!.id}`);
      expect(report?.result?.studioUrl).toContain(job!.id);
    });

    it('holds a job that stops responding, with a note, instead of failing it', async () => {
      const [job] = await submitted(1);
      const running = advanced(job!, 'running', { jobName: job!.id, nativeStatus: 'Running' });
      fake.setStatus(job!.id, 'NotResponding');

      const [report] = await provider.poll([running]);

      expect(report).toMatchObject({ status: 'running', nativeStatus: 'NotResponding' });
      expect(report?.notes?.[0]).toContain('NotResponding');
    });

    it('still finds a job someone archived in Studio (it drops out of the ActiveOnly list)', async () => {
      const [job] = await submitted(1);
      fake.archive(job!.id);
      fake.setStatus(job!.id, 'Canceled');

      const [report] = await provider.poll([job!]);

      expect(report).toMatchObject({ status: 'cancelled', nativeStatus: 'Canceled' });
      expect(fake.count('get')).toBe(1);
    });

    it('surfaces 429 at once as throttled with the Retry-After, without retrying in-call', async () => {
      const jobs = await submitted(2);
      fake.inject({ kind: 'list', status: 429, headers: { 'retry-after': '7' } });

      const err = await provider.poll(jobs).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderThrottledError);
      expect((err as ProviderThrottledError).retryAfterMs).toBe(7000);
      expect(fake.count('list')).toBe(1);
    });

    it('retries a 503 in-call, honouring its short Retry-After, then completes the cycle', async () => {
      const jobs = await submitted(4);
      fake.setStatus(jobs[0]!.id, 'Running');
      // The first page fails once.
      fake.inject({ kind: 'list', status: 503, headers: { 'retry-after': '2' } });

      const reports = await provider.poll(jobs);

      expect(sleeps).toContain(2000);
      expect(fake.count('list')).toBe(3);
      expect(reports.map((r) => r.jobId)).toEqual([jobs[0]!.id]);
    });

    it('gives up on a lasting 5xx as unavailable, so the job is not failed', async () => {
      const jobs = await submitted(1);
      fake.inject({ kind: 'list', status: 500, times: 10 });

      const err = await provider.poll(jobs).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect(fake.count('list')).toBe(1 + settings.retries);
    });
  });

  describe('cleanup', () => {
    it('archives finished jobs so the active listing stops paging over them', async () => {
      await startWith({ pageSize: 2 });
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 4; i++) {
        const job = jobRecord('command', commandSpec);
        const outcome = await provider.submit(job);
        jobs.push(advanced(job, outcome.status, outcome.ref));
      }
      const [oldest, ...rest] = jobs;
      const newestThree = rest;
      // Three finished jobs are the newest; the one still running is on the last page.
      for (const j of newestThree) fake.setStatus(j.id, 'Completed');
      fake.setStatus(oldest!.id, 'Running');
      fake.clearRequests();
      await provider.poll([oldest!]);
      expect(fake.count('list')).toBe(2);

      await provider.cleanup!([
        ...newestThree.map((j) => advanced(j, 'succeeded', j.providerRef)),
        advanced(oldest!, 'running', oldest!.providerRef),
      ]);

      for (const j of newestThree) expect(fake.jobs.get(j.id)?.doc.properties.isArchived).toBe(true);
      expect(fake.jobs.get(oldest!.id)?.doc.properties.isArchived).toBe(false);
      const archivePut = fake.requests.find((r) => r.kind === 'put')!;
      expect((archivePut.body as { properties: Record<string, unknown> }).properties).toMatchObject({
        isArchived: true,
        jobType: 'Command',
      });
      expect((archivePut.body as { properties: Record<string, unknown> }).properties.status).toBeUndefined();
      fake.clearRequests();
      const [report] = await provider.poll([advanced(oldest!, 'dispatched', oldest!.providerRef)]);
      expect(report?.status).toBe('running');
      expect(fake.count('list')).toBe(1);
    });

    it('leaves a job alone that Azure ML still runs, even if our record says it finished', async () => {
      const job = jobRecord('command', commandSpec);
      const outcome = await provider.submit(job);
      fake.setStatus(job.id, 'Running');
      fake.clearRequests();

      await provider.cleanup!([advanced(job, 'failed', outcome.ref)]);

      expect(fake.jobs.get(job.id)?.doc.properties.isArchived).toBe(false);
      expect(fake.requests.map((r) => r.kind)).toEqual(['get']);
    });
  });

  describe('cancel', () => {
    it('posts cancel, follows the 202 Location honouring Retry-After, and a poll then confirms Canceled', async () => {
      await startWith({ pageSize: 4, cancelPollsUntilDone: 2, operationRetryAfterSec: 1 });
      const job = jobRecord('command', commandSpec);
      const outcome = await provider.submit(job);
      fake.setStatus(job.id, 'Running');
      const running = advanced(job, 'running', { ...outcome.ref, nativeStatus: 'Running' });
      fake.clearRequests();

      await provider.cancel(running);

      expect(fake.requests.map((r) => r.kind)).toEqual(['cancel', 'operation', 'operation', 'operation']);
      expect(fake.requests[0]!.path).toBe(`${WS_PATH}/jobs/${job.id}/cancel`);
      expect(fake.requests[1]!.query['api-version']).toBe('2024-04-01');
      expect(sleeps).toEqual([1000, 1000, 1000]);
      fake.clearRequests();
      const [report] = await provider.poll([advanced(running, 'cancelling', running.providerRef)]);
      expect(report).toMatchObject({ status: 'cancelled', nativeStatus: 'Canceled' });
      // Confirmed from the listing: no read of the job itself (issue 19).
      expect(fake.count('get')).toBe(0);
      expect(fake.count('list')).toBeGreaterThan(0);
    });

    it('leaves confirmation to the poller when the operation outlasts the wait budget; the job stays cancelling', async () => {
      await startWith({ pageSize: 4, operationRetryAfterSec: 2 }, { AZUREML_CANCEL_WAIT_MS: '4000' });
      const job = jobRecord('command', commandSpec);
      const outcome = await provider.submit(job);
      fake.setStatus(job.id, 'Running');
      const running = advanced(job, 'running', { ...outcome.ref, nativeStatus: 'Running' });

      await provider.cancel(running);

      expect(sleeps).toEqual([2000, 2000]);
      const cancelling = advanced(running, 'cancelling', running.providerRef);
      const [report] = await provider.poll([cancelling]);
      expect(report).toMatchObject({ status: 'cancelling', nativeStatus: 'CancelRequested' });
      fake.setStatus(job.id, 'Canceled');
      const [final] = await provider.poll([advanced(cancelling, 'cancelling', report!.ref)]);
      expect(final).toMatchObject({ status: 'cancelled' });
    });

    it('does not report a cancelling job as running again before Azure ML sees the request', async () => {
      const job = jobRecord('command', commandSpec);
      const outcome = await provider.submit(job);
      fake.setStatus(job.id, 'Running');

      const reports = await provider.poll([advanced(job, 'cancelling', { ...outcome.ref, nativeStatus: 'Running' })]);

      expect(reports).toEqual([]);
    });

    it('accepts a refused cancel of a job that already finished', async () => {
      const job = jobRecord('command', commandSpec);
      await provider.submit(job);
      fake.setStatus(job.id, 'Completed');
      fake.inject({ kind: 'cancel', status: 400, error: { code: 'UserError', message: 'Job is in a terminal state' } });

      await expect(provider.cancel(job)).resolves.toBeUndefined();
    });
  });
});
