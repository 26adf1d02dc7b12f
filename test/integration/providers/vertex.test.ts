import { generateKeyPairSync, verify } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/lib/config.js';
import type { BlobStore } from '../../../src/lib/ports/blob-store.js';
import { descriptor as vertexDescriptor } from '../../../src/lib/providers/vertex/index.js';
import * as vertexModule from '../../../src/lib/providers/vertex/provider.js';
import { v1 } from '@google-cloud/aiplatform';
import {
  PollThrottledError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../../src/lib/errors.js';
import {
  fromEssedumBatchPrediction,
  fromEssedumTrainingPipeline,
} from '../../../src/lib/app/essedum/translate/vertex.js';
import { createVertexProvider, type VertexProvider } from '../../../src/lib/providers/vertex/provider.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { VertexRestFake } from '../../fakes/vertex/vertex-rest-fake.js';
import {
  AUTOML_BODY,
  BATCH_BODY,
  CUSTOM_SPEC,
  TEST_TOKEN,
  applied,
  fakeSettings,
  makeJob,
  staticAuthClient,
} from '../../fakes/vertex/fixtures.js';

describe('VertexProvider against the REST fake (real @google-cloud/aiplatform client)', () => {
  let fake: VertexRestFake;
  let provider: VertexProvider;

  // A fresh fake per test: state never leaks between tests.
  beforeEach(async () => {
    fake = await new VertexRestFake({ requireBearer: TEST_TOKEN }).start();
    provider = await createVertexProvider(fakeSettings(fake), { authClient: staticAuthClient() });
  });
  afterEach(async () => {
    await provider.close();
    await fake.stop();
  });

  async function submitted(job: JobRecord): Promise<JobRecord> {
    const out = await provider.submit(job);
    return applied(job, out.status, out.ref);
  }

  describe('submit', () => {
    it('creates a CustomJob carrying the job-id label, with the worker pool as specified', async () => {
      const job = makeJob('custom', CUSTOM_SPEC, {
        spec: { ...makeJob('custom', CUSTOM_SPEC).spec, max_runtime_sec: 3600 },
      });

      const out = await provider.submit(job);

      expect(out.attached).toBe(false);
      expect(out.status).toBe('dispatched');
      expect(out.ref.kind).toBe('custom');
      expect(String(out.ref.name)).toMatch(/^projects\/test-project\/locations\/us-central1\/customJobs\/\d+$/);
      const create = fake.service.calls.find((c) => c.verb === 'create')!;
      expect(create.body?.labels).toEqual({ cjo_job_id: job.id });
      type CustomJobSpec = {
        workerPoolSpecs: Record<string, unknown>[];
        scheduling: { timeout: string };
        baseOutputDirectory: unknown;
      };
      const jobSpec = create.body!.jobSpec as CustomJobSpec;
      const pool = jobSpec.workerPoolSpecs[0]!;
      expect(pool.machineSpec).toEqual({ machineType: 'n1-standard-8', acceleratorType: 5, acceleratorCount: 1 });
      expect(pool.containerSpec).toEqual({
        imageUri: 'us-docker.pkg.dev/p/r/trainer:1',
        args: ['--epochs', '3'],
        env: [{ name: 'LR', value: '0.01' }],
      });
      expect(jobSpec.scheduling.timeout).toBe('3600s');
      expect(jobSpec.baseOutputDirectory).toEqual({ outputUriPrefix: 'gs://bucket-out/run-1' });
    });

    it('sends the bearer token and routing header on every call', async () => {
      await provider.submit(makeJob('custom', CUSTOM_SPEC));

      expect(fake.service.calls.length).toBeGreaterThanOrEqual(2);
      for (const call of fake.service.calls) {
        expect(call.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
        expect(call.headers['x-goog-request-params']).toBe(`parent=${encodeURIComponent(fake.service.parent)}`);
        expect(call.headers['x-goog-api-client']).toMatch(/gapic\/6\./);
      }
    });

    it('re-attaches on a redelivered dispatch instead of creating a second resource', async () => {
      const job = makeJob('custom', CUSTOM_SPEC);
      const first = await provider.submit(job);
      fake.service.calls.length = 0;

      const again = await provider.submit(job);

      expect(again.attached).toBe(true);
      expect(again.ref.name).toBe(first.ref.name);
      expect(fake.service.all('customJobs').filter((r) => (r.body.labels as any)?.cjo_job_id === job.id)).toHaveLength(
        1,
      );
      expect(fake.service.count('create')).toBe(0);
      const lookup = fake.service.calls.find((c) => c.verb === 'list')!;
      expect(lookup.filter).toBe(`labels.cjo_job_id="${job.id}"`);
      expect(lookup.outcome).toBe('OK');
    });

    it('re-attaches to a resource whose create answered UNAVAILABLE after all', async () => {
      const job = makeJob('custom', CUSTOM_SPEC);
      fake.service.failNext({ verb: 'create', status: 'UNAVAILABLE' });

      await expect(provider.submit(job)).rejects.toBeInstanceOf(ProviderUnavailableError);
      expect(fake.service.count('create')).toBe(1);
      // The lost-response case: the resource exists although the client saw an error.
      fake.service.seed('customJobs', { displayName: 'x', labels: { cjo_job_id: job.id } }, 'JOB_STATE_RUNNING');
      const out = await provider.submit(job);

      expect(out).toMatchObject({ attached: true, status: 'running' });
      expect(fake.service.count('create')).toBe(1);
    });

    it('turns the Essedum TrainingPipeline body into a pipeline whose task inputs arrive intact', async () => {
      const translated = fromEssedumTrainingPipeline(AUTOML_BODY);
      const job = makeJob(translated.kind, translated.spec);

      const out = await provider.submit(job);

      expect(out.ref.kind).toBe('training_pipeline');
      const create = fake.service.calls.find((c) => c.verb === 'create')!;
      expect(create.kind).toBe('trainingPipelines');
      expect(create.body).toMatchObject({
        displayName: 'churn-automl',
        trainingTaskDefinition: AUTOML_BODY.training_task_definition,
        trainingTaskInputs: AUTOML_BODY.training_task_inputs,
        inputDataConfig: { datasetId: '123456' },
        modelToUpload: { displayName: 'churn-model', labels: { cjo_job_id: job.id } },
        labels: { cjo_job_id: job.id },
      });
    });

    it('creates a BatchPredictionJob from the Essedum body, model parameters included', async () => {
      const translated = fromEssedumBatchPrediction(BATCH_BODY);
      await provider.submit(makeJob(translated.kind, translated.spec));

      const create = fake.service.calls.find((c) => c.verb === 'create')!;
      expect(create.kind).toBe('batchPredictionJobs');
      expect(create.body).toMatchObject({
        model: BATCH_BODY.model,
        modelParameters: { confidenceThreshold: 0.5 },
        inputConfig: BATCH_BODY.inputConfig,
      });
    });

    it('rejects an unknown kind before calling Vertex', async () => {
      const err = await provider.submit(makeJob('hyperparameter_tuning', {})).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues[0]?.field).toBe('spec.kind');
      expect(fake.service.calls).toHaveLength(0);
    });

    it('reports a request Vertex refuses as ProviderRejectedError with the canonical code', async () => {
      const job = makeJob('batch_prediction', {
        ...BATCH_BODY,
        model: 'projects/test-project/locations/us-central1/models/42',
      });
      fake.service.failNext({ verb: 'create', status: 'INVALID_ARGUMENT', message: 'model not deployable' });

      const err = await provider.submit(job).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderRejectedError);
      expect((err as ProviderRejectedError).providerCode).toBe('INVALID_ARGUMENT');
      expect((err as Error).message).toContain('model not deployable');
    });
  });

  describe('poll', () => {
    it('follows the state progression the test drives, reading the finished job back with one label list and no get', async () => {
      let job = await submitted(makeJob('custom', CUSTOM_SPEC));
      fake.service.calls.length = 0;

      expect(await provider.poll([job])).toEqual([]); // still queued: nothing changed

      fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_RUNNING');
      const running = await provider.poll([job]);
      expect(running).toEqual([
        expect.objectContaining({ jobId: job.id, status: 'running', nativeStatus: 'JOB_STATE_RUNNING' }),
      ]);
      job = applied(job, 'running', running[0]!.ref);

      fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_SUCCEEDED');
      const before = fake.service.calls.length;
      const done = await provider.poll([job]);

      expect(done).toEqual([
        expect.objectContaining({
          status: 'succeeded',
          nativeStatus: 'JOB_STATE_SUCCEEDED',
          result: expect.objectContaining({
            resourceName: job.providerRef!.name,
            outputDirectory: 'gs://bucket-out/run-1',
          }),
        }),
      ]);
      expect(fake.service.count('list', before)).toBe(2);
      expect(fake.service.count('get', before)).toBe(0);
      const [active, lookup] = fake.service.calls.slice(before).filter((c) => c.verb === 'list');
      expect(active!.filter).toBe(
        'labels.cjo_job_id:* AND state!="JOB_STATE_SUCCEEDED" AND state!="JOB_STATE_FAILED" AND state!="JOB_STATE_CANCELLED" AND state!="JOB_STATE_EXPIRED" AND state!="JOB_STATE_PARTIALLY_SUCCEEDED"',
      );
      expect(active!.pageSize).toBe(100);
      expect(lookup!.filter).toBe(`labels.cjo_job_id="${job.id}"`);
    });

    it('reports the uploaded model of a finished training pipeline', async () => {
      const t = fromEssedumTrainingPipeline(AUTOML_BODY);
      const job = applied(await submitted(makeJob(t.kind, t.spec)), 'running');
      fake.service.setState(String(job.providerRef!.name), 'PIPELINE_STATE_SUCCEEDED', {
        modelToUpload: {
          displayName: 'churn-model',
          name: 'projects/test-project/locations/us-central1/models/777',
          versionId: '1',
        },
      });

      const [report] = await provider.poll([job]);

      expect(report).toMatchObject({
        status: 'succeeded',
        result: { model: 'projects/test-project/locations/us-central1/models/777', modelVersionId: '1' },
      });
    });

    it('fails a job with the error Vertex recorded, and keeps partial batch results as success with a note', async () => {
      const b = fromEssedumBatchPrediction(BATCH_BODY);
      const failing = applied(await submitted(makeJob(b.kind, b.spec)), 'running');
      const partial = applied(await submitted(makeJob(b.kind, b.spec)), 'running');
      fake.service.setState(String(failing.providerRef!.name), 'JOB_STATE_FAILED', {
        error: { code: 3, message: 'instances file is not JSONL' },
      });
      fake.service.setState(String(partial.providerRef!.name), 'JOB_STATE_PARTIALLY_SUCCEEDED', {
        outputInfo: { gcsOutputDirectory: 'gs://bucket-out/preds/prediction-1' },
        completionStats: { successfulCount: '90', failedCount: '10' },
        partialFailures: [{ code: 3, message: 'row 7 malformed' }],
      });

      const reports = await provider.poll([failing, partial]);
      const byId = new Map(reports.map((r) => [r.jobId, r]));

      expect(byId.get(failing.id)).toMatchObject({
        status: 'failed',
        error: { code: 'INVALID_ARGUMENT', message: 'instances file is not JSONL' },
      });
      expect(byId.get(partial.id)).toMatchObject({
        status: 'succeeded',
        nativeStatus: 'JOB_STATE_PARTIALLY_SUCCEEDED',
        result: {
          gcsOutputDirectory: 'gs://bucket-out/preds/prediction-1',
          completionStats: { successfulCount: 90, failedCount: 10 },
          partialFailures: [{ code: 'INVALID_ARGUMENT', message: 'row 7 malformed' }],
        },
      });
      expect(byId.get(partial.id)?.notes?.[0]).toMatch(/partially succeeded/);
    });

    it('pages through more than one page of active resources, never asking for more than 100', async () => {
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 230; i++) {
        const job = makeJob('custom', CUSTOM_SPEC);
        const r = fake.service.seed(
          'customJobs',
          { displayName: job.id, labels: { cjo_job_id: job.id } },
          'JOB_STATE_RUNNING',
        );
        jobs.push({
          ...job,
          providerRef: { kind: 'custom', name: r.name, labelValue: job.id, state: 'JOB_STATE_QUEUED' },
        });
      }
      fake.service.calls.length = 0;

      const reports = await provider.poll(jobs);

      expect(reports).toHaveLength(230);
      expect(reports.every((r) => r.status === 'running')).toBe(true);
      const lists = fake.service.calls.filter((c) => c.verb === 'list');
      expect(lists).toHaveLength(3);
      expect(lists.map((c) => Boolean(c.pageToken))).toEqual([false, true, true]);
      expect(lists.every((c) => (c.pageSize ?? 0) <= 100)).toBe(true);
      expect(fake.service.count('get')).toBe(0);
    });

    it('retries a throttled list once and still reports', async () => {
      const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'dispatched');
      fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_RUNNING');
      fake.service.calls.length = 0;
      fake.service.failNext({ verb: 'list', status: 'RESOURCE_EXHAUSTED' });

      const reports = await provider.poll([job]);

      expect(reports).toEqual([expect.objectContaining({ status: 'running' })]);
      expect(fake.service.calls.map((c) => c.outcome)).toEqual(['RESOURCE_EXHAUSTED', 'OK']);
    });

    it('throws ProviderThrottledError with the server retry delay when throttling persists — never a failed job', async () => {
      const p = await createVertexProvider(fakeSettings(fake, { VERTEX_READ_RETRIES: '0' }), {
        authClient: staticAuthClient(),
      });
      const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
      fake.service.failNext({ verb: 'list', status: 'RESOURCE_EXHAUSTED', retryDelaySec: 7 });

      const err = await p.poll([job]).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderThrottledError);
      expect((err as ProviderThrottledError).retryAfterMs).toBe(7000);
      await p.close();
    });

    it('throws ProviderUnavailableError when Vertex stays UNAVAILABLE', async () => {
      const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
      fake.service.calls.length = 0;
      fake.service.failNext({ verb: 'list', status: 'UNAVAILABLE', times: 3 });

      const err = await provider.poll([job]).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect(fake.service.count('list')).toBe(3); // first try + VERTEX_READ_RETRIES (2)
    });

    it('keeps finished jobs unchanged when their look-up list is unavailable, and reports the next batch', async () => {
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 25; i++) {
        const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
        fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_SUCCEEDED');
        jobs.push(job);
      }
      const p = await createVertexProvider(fakeSettings(fake, { VERTEX_READ_RETRIES: '0' }), {
        authClient: staticAuthClient(),
      });
      fake.service.failNext({ verb: 'list', filterIncludes: ' OR ', status: 'UNAVAILABLE' });

      const reports = await p.poll(jobs);

      // The first 20 (one look-up) stay as they were; the last 5 come from the second look-up.
      expect(reports.map((r) => r.jobId)).toEqual(jobs.slice(20).map((j) => j.id));
      expect(reports.every((r) => r.status === 'succeeded')).toBe(true);
      await p.close();
    });

    it('treats an endpoint that refuses connections as unavailable', async () => {
      const settings = fakeSettings(fake);
      await fake.stop(); // the port is now closed
      const p = await createVertexProvider({ ...settings, readRetries: 0 }, { authClient: staticAuthClient() });
      const job = makeJob('custom', CUSTOM_SPEC, {
        providerRef: { kind: 'custom', name: `${settings.project}/x`, labelValue: 'x' },
      });

      const err = await p.poll([job]).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ProviderUnavailableError);
      await p.close();
    });
  });

  describe('cancel', () => {
    it('asks Vertex to cancel and stays cancelling until a poll sees CANCELLED', async () => {
      let job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
      const name = String(job.providerRef!.name);
      fake.service.setState(name, 'JOB_STATE_RUNNING');
      fake.service.calls.length = 0;

      await provider.cancel(job);
      job = applied(job, 'cancelling');

      const cancel = fake.service.calls.find((c) => c.verb === 'cancel')!;
      expect(cancel).toMatchObject({ kind: 'customJobs', target: name, outcome: 'OK' });
      expect(fake.service.find(name)!.body.state).toBe('JOB_STATE_CANCELLING');
      expect(await provider.poll([job])).toEqual([]);

      fake.service.setState(name, 'JOB_STATE_CANCELLED');
      const [report] = await provider.poll([job]);
      expect(report).toMatchObject({ status: 'cancelled', nativeStatus: 'JOB_STATE_CANCELLED' });
      expect(report!.error).toBeUndefined();
    });

    it('cancels pipelines and batch prediction jobs through their own cancel methods', async () => {
      const t = fromEssedumTrainingPipeline(AUTOML_BODY);
      const b = fromEssedumBatchPrediction(BATCH_BODY);
      const pipeline = await submitted(makeJob(t.kind, t.spec));
      const batch = await submitted(makeJob(b.kind, b.spec));
      fake.service.calls.length = 0;

      await provider.cancel(pipeline);
      await provider.cancel(batch);

      expect(fake.service.calls.filter((c) => c.verb === 'cancel').map((c) => c.kind)).toEqual([
        'trainingPipelines',
        'batchPredictionJobs',
      ]);
      expect(fake.service.find(String(pipeline.providerRef!.name))!.body.state).toBe('PIPELINE_STATE_CANCELLING');
    });

    it('treats cancelling a job that already finished as done (FAILED_PRECONDITION)', async () => {
      const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
      fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_SUCCEEDED');
      fake.service.calls.length = 0;

      await expect(provider.cancel(job)).resolves.toBeUndefined();
      expect(fake.service.calls.map((c) => c.outcome)).toEqual(['FAILED_PRECONDITION']);
    });
  });

  describe('confirming stops from batched lists (issue 19)', () => {
    /**
     * `n` CustomJobs Vertex is stopping (JOB_STATE_CANCELLING, as its cancel leaves them), with the
     * records `cancelling`. Seeded directly: the cancel call itself is covered above.
     */
    function stopping(n: number): JobRecord[] {
      return Array.from({ length: n }, () => {
        const job = makeJob('custom', CUSTOM_SPEC);
        const r = fake.service.seed(
          'customJobs',
          { displayName: job.id, labels: { cjo_job_id: job.id } },
          'JOB_STATE_CANCELLING',
        );
        return applied(job, 'cancelling', {
          kind: 'custom',
          name: r.name,
          labelValue: job.id,
          state: 'JOB_STATE_CANCELLING',
        });
      });
    }

    it('confirms CANCELLED jobs from one label list per 20 jobs, without a get, and leaves CANCELLING ones be', async () => {
      const jobs = stopping(45);
      const [stillStopping, stopped] = [jobs.slice(0, 5), jobs.slice(5)];
      for (const job of stopped) fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_CANCELLED');
      fake.service.calls.length = 0;

      const reports = await provider.poll(jobs);

      expect(reports.map((r) => r.jobId).sort()).toEqual(stopped.map((j) => j.id).sort());
      expect(reports.every((r) => r.status === 'cancelled' && r.nativeStatus === 'JOB_STATE_CANCELLED')).toBe(true);
      expect(reports.some((r) => stillStopping.some((j) => j.id === r.jobId))).toBe(false);
      expect(fake.service.count('get')).toBe(0);
      // One list of the not-finished resources, then ceil(40 / 20) look-ups by label.
      const lists = fake.service.calls.filter((c) => c.verb === 'list');
      expect(lists).toHaveLength(3);
      const lookups = lists.slice(1).map((c) => c.filter!.split(' OR '));
      expect(lookups.map((terms) => terms.length)).toEqual([20, 20]);
      expect(lookups.flat().sort()).toEqual(stopped.map((j) => `labels.cjo_job_id="${j.id}"`).sort());
    });

    it('does not confirm a job Vertex still reports CANCELLING, and confirms it once CANCELLED', async () => {
      const running = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
      fake.service.setState(String(running.providerRef!.name), 'JOB_STATE_RUNNING');
      await provider.cancel(running);
      const job = applied(running, 'cancelling');
      fake.service.calls.length = 0;

      expect(fake.service.find(String(job.providerRef!.name))!.body.state).toBe('JOB_STATE_CANCELLING');
      expect(await provider.poll([job])).toEqual([]);
      expect(fake.service.count('list')).toBe(1); // found in the not-finished list: no look-up at all

      fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_CANCELLED');
      const [report] = await provider.poll([job]);
      expect(report).toMatchObject({ jobId: job.id, status: 'cancelled' });
      expect(fake.service.count('get')).toBe(0);
    });

    it('reports the resource the handle names when a race left two with the same label, and missing when it is gone', async () => {
      const [kept, deleted] = stopping(2);
      // An earlier delivery's duplicate of `kept`, still running; the handle names the other one.
      fake.service.seed('customJobs', { displayName: 'dup', labels: { cjo_job_id: kept!.id } }, 'JOB_STATE_SUCCEEDED');
      fake.service.setState(String(kept!.providerRef!.name), 'JOB_STATE_CANCELLED');
      fake.service.remove(String(deleted!.providerRef!.name));

      const reports = await provider.poll([kept!, deleted!]);
      const byId = new Map(reports.map((r) => [r.jobId, r]));

      expect(byId.get(kept!.id)).toMatchObject({
        status: 'cancelled',
        ref: { name: kept!.providerRef!.name },
      });
      expect(byId.get(deleted!.id)).toMatchObject({ status: 'missing' });
      expect(fake.service.count('get')).toBe(0);
    });

    it('hands back the unread batches when the look-up is throttled, keeping what it read', async () => {
      const jobs = stopping(30);
      for (const job of jobs) fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_CANCELLED');
      const p = await createVertexProvider(fakeSettings(fake, { VERTEX_READ_RETRIES: '0' }), {
        authClient: staticAuthClient(),
      });
      // The first look-up (jobs 0-19) passes; the second (jobs 20-29) is throttled.
      const seen = fake.service.calls.length;
      fake.service.failNext({
        verb: 'list',
        filterIncludes: `"${jobs[25]!.id}"`,
        status: 'RESOURCE_EXHAUSTED',
        retryDelaySec: 3,
      });

      const err = (await p.poll(jobs).catch((e: unknown) => e)) as PollThrottledError;

      expect(err).toBeInstanceOf(PollThrottledError);
      expect(err.retryAfterMs).toBe(3000);
      expect(err.reports).toHaveLength(20);
      expect(err.reports.every((r) => r.status === 'cancelled')).toBe(true);
      expect(err.reports.map((r) => r.jobId)).toEqual(jobs.slice(0, 20).map((j) => j.id));
      expect([...err.unread]).toEqual(jobs.slice(20).map((j) => j.id));
      expect(fake.service.count('get', seen)).toBe(0);
      await p.close();
    });

    it('falls back to a get per job should Vertex refuse the OR filter', async () => {
      const jobs = stopping(3);
      for (const job of jobs) fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_CANCELLED');
      fake.service.failNext({ verb: 'list', filterIncludes: ' OR ', status: 'INVALID_ARGUMENT' });
      fake.service.calls.length = 0;

      const reports = await provider.poll(jobs);

      expect(reports.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
      expect(fake.service.count('get')).toBe(3);
    });
  });

  describe('the fake itself (documented behaviour the provider relies on)', () => {
    function client() {
      return new v1.JobServiceClient({
        fallback: 'rest',
        protocol: 'http',
        apiEndpoint: '127.0.0.1',
        port: fake.port,
        authClient: staticAuthClient(),
      } as any);
    }

    it('coerces a page size above 100 and returns a next page token', async () => {
      for (let i = 0; i < 120; i++)
        fake.service.seed('batchPredictionJobs', { displayName: `b${i}`, labels: { paging: 'x' } });
      const c = client();
      const [items, , raw] = await c.listBatchPredictionJobs(
        { parent: fake.service.parent, filter: 'labels.paging="x"', pageSize: 500 },
        { autoPaginate: false },
      );

      expect(items).toHaveLength(100);
      expect(raw?.nextPageToken).toBeTruthy();
      await c.close();
    });

    it('reads OR, NOT and parentheses as AIP-160 does (OR binds tighter than AND)', async () => {
      for (const v of ['a', 'b', 'c'])
        fake.service.seed('customJobs', { displayName: v, labels: { k: v } }, 'JOB_STATE_RUNNING');
      fake.service.setState('c', 'JOB_STATE_CANCELLED');
      const names = (filter: string) =>
        fake.service.list('customJobs', fake.service.parent, filter, 100, '').items.map((r) => r.body.displayName);

      expect(names('labels.k="a" OR labels.k="c"')).toEqual(['a', 'c']);
      // a AND (b OR c): not "(a AND b) OR c".
      expect(names('state="JOB_STATE_RUNNING" AND labels.k="b" OR labels.k="c"')).toEqual(['b']);
      expect(names('(state="JOB_STATE_RUNNING" AND labels.k="b") OR labels.k="c"')).toEqual(['b', 'c']);
      expect(names('NOT labels.k="a" AND state != "JOB_STATE_CANCELLED"')).toEqual(['b']);
      expect(() => names('labels.k="a" OR')).toThrow(/Invalid filter/);
      expect(() => names('(labels.k="a"')).toThrow(/Invalid filter/);
    });

    it('rejects a filter outside the documented grammar with INVALID_ARGUMENT', async () => {
      const c = client();
      const err = (await c
        .listCustomJobs({ parent: fake.service.parent, filter: 'labels.cjo-job-id="j-1"' }, { autoPaginate: false })
        .catch((e: unknown) => e)) as { code?: number };

      expect(err.code).toBe(400);
      expect(fake.service.calls.at(-1)?.outcome).toBe('INVALID_ARGUMENT');
      await c.close();
    });
  });
});

describe('the vertex provider module (settings only, as the registry builds it)', () => {
  it('authenticates with the service-account key from VERTEX_CREDENTIALS_JSON (self-signed JWT, no token exchange)', async () => {
    const fake = await new VertexRestFake().start();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = {
      type: 'service_account',
      project_id: 'test-project',
      private_key_id: 'k1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'orchestrator@test-project.iam.gserviceaccount.com',
      client_id: '1',
    };
    const env = {
      VERTEX_PROJECT: 'test-project',
      VERTEX_LOCATION: 'us-central1',
      VERTEX_CREDENTIALS_JSON: JSON.stringify(key),
      VERTEX_API_ENDPOINT: '127.0.0.1',
      VERTEX_API_PORT: String(fake.port),
      VERTEX_API_PROTOCOL: 'http',
      VERTEX_TRANSPORT: 'rest',
    };
    expect(vertexDescriptor.isConfigured(env)).toBe(true);
    const provider = (await vertexModule.createProvider({
      config: loadConfig(env),
      blobs: {} as BlobStore,
    })) as VertexProvider;
    try {
      const out = await provider.submit(makeJob('custom', CUSTOM_SPEC));

      expect(provider.name).toBe('vertex');
      expect(out.attached).toBe(false);
      const auth = fake.service.calls[0]!.headers.authorization ?? '';
      const [header, payload, signature] = auth.replace(/^Bearer /, '').split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: 'RS256', kid: 'k1' });
      expect(claims.iss).toBe(key.client_email);
      expect(claims.sub).toBe(key.client_email);
      expect(String(claims.scope ?? claims.aud)).toMatch(/cloud-platform|aiplatform/);
      expect(
        verify('sha256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature!, 'base64url')),
      ).toBe(true);
    } finally {
      await provider.close();
      await fake.stop();
    }
  });
});
