import { SageMakerClient, ListTrainingJobsCommand } from '@aws-sdk/client-sagemaker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/lib/config.js';
import type { JobRecord, JobStatus } from '../../../src/lib/core/job.js';
import { providerJob } from '../../support/jobs.js';
import {
  PollThrottledError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../../src/lib/errors.js';
import type { JobProvider, PollReport } from '../../../src/lib/ports/provider.js';
import { fromEssedumInference, fromEssedumTrain } from '../../../src/lib/app/essedum/translate/sagemaker.js';
import { createProvider } from '../../../src/lib/providers/sagemaker/provider.js';
import {
  FakeSageMaker,
  INTERNAL_FAILURE,
  SERVICE_UNAVAILABLE,
  THROTTLING,
} from '../../fakes/sagemaker/fake-sagemaker.js';

const ROLE = 'arn:aws:iam::123456789012:role/SageMakerExecution';
const CREATED = '2026-11-23T11:00:00.000Z';

let fake: FakeSageMaker;
let provider: JobProvider;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SAGEMAKER_REGION: fake.region,
    SAGEMAKER_ENDPOINT: fake.endpoint,
    SAGEMAKER_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    SAGEMAKER_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    SAGEMAKER_ROLE_ARN: ROLE,
    SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
    SAGEMAKER_MAX_ATTEMPTS: '1',
    SAGEMAKER_LIST_RATE_PER_SEC: '1000',
    SAGEMAKER_API_RATE_PER_SEC: '1000',
    SAGEMAKER_THROTTLE_BACKOFF_MS: '1234',
    ...extra,
  };
}

async function makeProvider(extra: Record<string, string> = {}): Promise<JobProvider> {
  const config = { env: env(extra), defaultMaxRuntimeSec: 7200 } as unknown as Config;
  return createProvider({ config, blobs: undefined as never });
}

let seq = 0;
/** A job id as the store issues them: `j-` + 26 lower-case ULID characters. */
function newId(): string {
  seq++;
  return `j-01jd3m2x7k9q8w4e5r6t${String(seq).padStart(6, '0')}`;
}

function job(kind: string | undefined, spec: Record<string, unknown>, overrides: Partial<JobRecord> = {}): JobRecord {
  return providerJob('sagemaker', newId(), kind, spec, {
    body: { max_runtime_sec: 3600 },
    createdAt: CREATED,
    over: { eventSeq: 3, ...overrides },
  });
}

const trainingSpec = {
  image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1',
  channels: [{ name: 'train', s3_uri: 's3://ml-bucket/data/train/' }],
  hyperparameters: { max_depth: 5, eta: 0.2, verbose: true },
};

/** Submits and returns the job as the dispatch use case would store it. */
async function submitted(j: JobRecord, status: JobStatus = 'dispatched'): Promise<JobRecord> {
  const outcome = await provider.submit(j);
  return { ...j, status, providerRef: outcome.ref };
}

function only(reports: PollReport[], jobId: string): PollReport {
  const r = reports.filter((x) => x.jobId === jobId);
  expect(r).toHaveLength(1);
  return r[0]!;
}

beforeAll(async () => {
  fake = await new FakeSageMaker({
    credentials: { AKIDEXAMPLE: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', AKIDTEMP: 'temporary-secret' },
  }).start();
  provider = await makeProvider();
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.resetRequests();
});

describe('SageMaker provider › submit', () => {
  it('creates a training job named after the job id, signed with SigV4, with the settings as defaults', async () => {
    const j = job('training', trainingSpec);
    const outcome = await provider.submit(j);

    const name = `cjo-t-${j.id.slice(2)}`;
    expect(outcome).toMatchObject({ attached: false, status: 'dispatched', ref: { kind: 'training', name } });
    expect(outcome.ref.arn).toBe(fake.job('training', name)?.arn);

    const [create] = fake.callsTo('CreateTrainingJob');
    expect(create?.headers['x-amz-target']).toBe('SageMaker.CreateTrainingJob');
    expect(create?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sagemaker\/aws4_request, SignedHeaders=[^,]*x-amz-target[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(create?.body).toMatchObject({
      TrainingJobName: name,
      RoleArn: ROLE,
      AlgorithmSpecification: { TrainingImage: trainingSpec.image, TrainingInputMode: 'File' },
      InputDataConfig: [
        {
          ChannelName: 'train',
          DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://ml-bucket/data/train/' } },
        },
      ],
      OutputDataConfig: { S3OutputPath: 's3://ml-bucket/outputs' },
      ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      HyperParameters: { max_depth: '5', eta: '0.2', verbose: 'true' },
      Tags: [{ Key: 'orchestrator-job-id', Value: j.id }],
    });
  });

  it('re-attaches on a redelivered dispatch instead of starting a second job', async () => {
    const j = job('training', trainingSpec);
    const first = await provider.submit(j);
    const second = await provider.submit(j);

    expect(second).toMatchObject({ attached: true, status: 'running', ref: first.ref });
    expect(fake.allJobs('training').filter((x) => x.name === first.ref.name)).toHaveLength(1);
    expect(fake.callsTo('CreateTrainingJob').map((r) => r.error)).toEqual([undefined, 'ResourceInUse']);
    expect(fake.callsTo('DescribeTrainingJob')).toHaveLength(1);
  });

  it('creates an AutoML V2 job from an Essedum train body, within the 32-character name limit, and re-attaches on redelivery', async () => {
    const essedum = fromEssedumTrain({
      RoleArn: 'arn:aws:iam::123456789012:role/Essedum',
      Bucket: 'essedum-data',
      S3Prefix: 'projects/p1',
      inputs: 's3://essedum-data/projects/p1/train.csv',
      target_attribute_name: 'churn',
      content_type: 'text/csv',
    });
    const j = job(essedum.kind, essedum.spec);
    const outcome = await provider.submit(j);
    const again = await provider.submit(j);

    const name = String(outcome.ref.name);
    expect(name).toHaveLength(32);
    expect(again).toMatchObject({ attached: true, ref: { name } });
    expect(fake.callsTo('CreateAutoMLJobV2')[0]?.body).toMatchObject({
      AutoMLJobName: name,
      RoleArn: 'arn:aws:iam::123456789012:role/Essedum',
      AutoMLJobInputDataConfig: [
        {
          ChannelType: 'training',
          ContentType: 'text/csv;header=present',
          DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://essedum-data/projects/p1/train.csv' } },
        },
      ],
      OutputDataConfig: { S3OutputPath: 's3://essedum-data/projects/p1/output' },
      AutoMLProblemTypeConfig: {
        TabularJobConfig: {
          TargetAttributeName: 'churn',
          CompletionCriteria: { MaxCandidates: 1, MaxAutoMLJobRuntimeInSeconds: 3600 },
        },
      },
    });
    expect(fake.callsTo('DescribeAutoMLJobV2')).toHaveLength(1);
  });

  it('creates a transform job from Essedum native inference fields', async () => {
    const spec = fromEssedumInference({
      TransformJobName: 'whatever-the-ui-chose',
      ModelName: 'churn-model',
      TransformInput: {
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://ml-bucket/batch/in/' } },
        ContentType: 'text/csv',
        SplitType: 'Line',
      },
      TransformOutput: { S3OutputPath: 's3://ml-bucket/batch/out/', AssembleWith: 'Line' },
      TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 2 },
    });
    const j = job(spec.kind, spec.spec);
    const outcome = await provider.submit(j);

    expect(outcome.ref).toMatchObject({ kind: 'transform', name: `cjo-b-${j.id.slice(2)}` });
    expect(fake.callsTo('CreateTransformJob')[0]?.body).toMatchObject({
      TransformJobName: `cjo-b-${j.id.slice(2)}`,
      ModelName: 'churn-model',
      TransformInput: { ContentType: 'text/csv', SplitType: 'Line' },
      TransformOutput: { S3OutputPath: 's3://ml-bucket/batch/out/', AssembleWith: 'Line' },
      TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 2 },
      Tags: [
        { Key: 'orchestrator-job-id', Value: j.id },
        { Key: 'essedum-job-name', Value: 'whatever-the-ui-chose' },
      ],
    });
  });

  it('rejects a job with no kind or an unknown kind, naming spec.kind, without calling SageMaker', async () => {
    await expect(provider.submit(job(undefined, {}))).rejects.toSatisfy(
      (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.field === 'spec.kind'),
    );
    await expect(provider.submit(job('hyperparameter-tuning', {}))).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof ValidationError &&
        e.issues[0]?.field === 'spec.kind' &&
        /hyperparameter-tuning/.test(e.issues[0].message),
    );
    expect(fake.callsTo()).toHaveLength(0);
  });

  it('fails the job with the message of a ValidationException', async () => {
    fake.failNext('CreateTrainingJob', {
      type: 'ValidationException',
      status: 400,
      message: 'Requested image 763104351884.dkr.ecr/xgboost:9 not found.',
    });
    const error = await provider.submit(job('training', trainingSpec)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error).toMatchObject({ providerCode: 'ValidationException' });
    expect((error as Error).message).toContain('Requested image 763104351884.dkr.ecr/xgboost:9 not found.');
  });

  it('backs off, without failing the job, when Create is throttled or SageMaker answers 5xx', async () => {
    fake.failNext('CreateTrainingJob', THROTTLING);
    await expect(provider.submit(job('training', trainingSpec))).rejects.toMatchObject({
      constructor: ProviderThrottledError,
      retryAfterMs: 1234,
    });
    fake.failNext('CreateTrainingJob', SERVICE_UNAVAILABLE);
    await expect(provider.submit(job('training', trainingSpec))).rejects.toBeInstanceOf(ProviderUnavailableError);
  });
});

describe('SageMaker provider › poll', () => {
  it('follows a training job from InProgress to Completed with one List per cycle and one Describe at the end', async () => {
    let j = await submitted(job('training', trainingSpec));
    const name = String(j.providerRef?.name);
    fake.resetRequests();

    const first = await provider.poll([j]);
    expect(only(first, j.id)).toMatchObject({
      status: 'running',
      nativeStatus: 'InProgress',
      notes: ['SageMaker: Starting'],
    });
    expect(fake.callsTo('ListTrainingJobs')).toHaveLength(1);
    expect(fake.callsTo('ListTrainingJobs')[0]?.body).toMatchObject({
      NameContains: 'cjo-t-',
      StatusEquals: 'InProgress',
      MaxResults: 100,
    });
    expect(fake.callsTo('ListTrainingJobs')[0]?.body.LastModifiedTimeAfter).toEqual(expect.any(Number));
    expect(fake.callsTo('DescribeTrainingJob')).toHaveLength(0);

    j = { ...j, status: 'running', providerRef: { ...j.providerRef, ...first[0]?.ref } };
    expect(await provider.poll([j])).toEqual([]);

    fake.setSecondaryStatus('training', name, 'Training');
    const phase = await provider.poll([j]);
    expect(only(phase, j.id)).toMatchObject({
      status: 'running',
      notes: ['SageMaker: Training'],
      ref: { secondaryStatus: 'Training' },
    });
    j = { ...j, providerRef: { ...j.providerRef, ...phase[0]?.ref } };

    fake.setStatus('training', name, 'Completed', { metrics: { 'validation:auc': 0.91 } });
    fake.resetRequests();
    const done = only(await provider.poll([j]), j.id);
    expect(done).toMatchObject({
      status: 'succeeded',
      nativeStatus: 'Completed',
      result: {
        kind: 'training',
        jobName: name,
        modelArtifacts: `s3://ml-bucket/outputs/${name}/output/model.tar.gz`,
        finalMetrics: { 'validation:auc': 0.91 },
        logs: { group: '/aws/sagemaker/TrainingJobs', streamPrefix: `${name}/` },
      },
    });
    expect(fake.callsTo('ListTrainingJobs')).toHaveLength(1);
    expect(fake.callsTo('DescribeTrainingJob')).toHaveLength(1);
  });

  it('reports a failed job with SageMaker’s failure reason and its category', async () => {
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.setStatus('training', String(j.providerRef?.name), 'Failed', {
      failureReason: 'AlgorithmError: ExecuteUserScriptError: exit code 1',
    });
    expect(only(await provider.poll([j]), j.id)).toMatchObject({
      status: 'failed',
      error: {
        code: 'SAGEMAKER_JOB_FAILED',
        message: 'AlgorithmError: ExecuteUserScriptError: exit code 1',
        category: 'user-code',
      },
      result: { failureReason: 'AlgorithmError: ExecuteUserScriptError: exit code 1' },
    });
  });

  it('treats a training job SageMaker stopped at its time limit as timed out, not cancelled or succeeded', async () => {
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.setStatus('training', String(j.providerRef?.name), 'Stopped', { secondaryStatus: 'MaxRuntimeExceeded' });
    expect(only(await provider.poll([j]), j.id)).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
  });

  it('reports the best AutoML candidate and a transform job’s output location', async () => {
    const essedum = fromEssedumTrain({
      Bucket: 'essedum-data',
      inputs: 's3://essedum-data/t.csv',
      target_attribute_name: 'y',
    });
    const a = await submitted(job('automl', essedum.spec), 'running');
    const t = await submitted(
      job('transform', { model_name: 'm1', input: { s3_uri: 's3://ml-bucket/in/' } }),
      'running',
    );
    fake.setStatus('automl', String(a.providerRef?.name), 'Completed', { metrics: { F1: 0.87 } });
    fake.setStatus('transform', String(t.providerRef?.name), 'Completed');

    const reports = await provider.poll([a, t]);
    expect(only(reports, a.id)).toMatchObject({
      status: 'succeeded',
      result: {
        kind: 'automl',
        outputPath: 's3://essedum-data/output',
        bestCandidate: {
          objective: { metric: 'F1', value: 0.87 },
          inferenceContainers: [expect.anything(), expect.anything()],
        },
        modelArtifacts: expect.stringMatching(/^s3:\/\/essedum-data\/output\/.+\/model\.tar\.gz$/),
      },
    });
    expect(only(reports, t.id)).toMatchObject({
      status: 'succeeded',
      result: {
        kind: 'transform',
        modelName: 'm1',
        outputPath: `s3://ml-bucket/outputs/${String(t.providerRef?.name)}`,
      },
    });
  });

  it('pages through more than 100 jobs with NextToken: ceil(N/100) List calls and no Describe', async () => {
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 250; i++) {
      const j = job('transform', { model_name: 'm1', input: { s3_uri: 's3://ml-bucket/in/' } });
      const name = `cjo-b-${j.id.slice(2)}`;
      fake.seedJob('transform', name);
      jobs.push({ ...j, providerRef: { kind: 'transform', name } });
    }
    fake.resetRequests();
    const reports = await provider.poll(jobs);

    expect(reports).toHaveLength(250);
    expect(reports.every((r) => r.status === 'running')).toBe(true);
    const lists = fake.callsTo('ListTransformJobs');
    expect(lists).toHaveLength(3);
    expect(lists.map((l) => l.body.NextToken === undefined)).toEqual([true, false, false]);
    expect(lists.every((l) => l.body.MaxResults === 100 && l.error === undefined)).toBe(true);
    expect(fake.callsTo('DescribeTransformJob')).toHaveLength(0);
  });

  it('describes at most SAGEMAKER_MAX_DESCRIBES_PER_POLL changed jobs per cycle; the rest follow in the next cycle', async () => {
    const capped = await makeProvider({ SAGEMAKER_MAX_DESCRIBES_PER_POLL: '2' });
    const jobs = await Promise.all([1, 2, 3].map(() => submitted(job('training', trainingSpec), 'running')));
    for (const j of jobs) fake.setStatus('training', String(j.providerRef?.name), 'Completed');
    fake.resetRequests();

    // The third is handed back unread (no wait: the cap is ours), never reported as unchanged.
    const cut = await capped.poll(jobs).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(cut).toBeInstanceOf(PollThrottledError);
    const first = (cut as PollThrottledError).reports;
    expect(first.map((r) => r.jobId)).toEqual([jobs[0]!.id, jobs[1]!.id]);
    expect((cut as PollThrottledError).unread).toEqual([jobs[2]!.id]);
    expect((cut as PollThrottledError).retryAfterMs).toBe(0);
    expect(fake.callsTo('DescribeTrainingJob')).toHaveLength(2);
    const second = await capped.poll([jobs[2]!]);
    expect(second).toEqual([expect.objectContaining({ jobId: jobs[2]!.id, status: 'succeeded' })]);
  });

  it('stays under a List quota of 2 calls per second with the client-side limit at 1 per second', async () => {
    const quota = await new FakeSageMaker({ listCallsPerSecond: 2 }).start();
    try {
      const config = {
        env: { ...env(), SAGEMAKER_ENDPOINT: quota.endpoint, SAGEMAKER_LIST_RATE_PER_SEC: '1' },
        defaultMaxRuntimeSec: 7200,
      } as unknown as Config;
      const limited = await createProvider({ config, blobs: undefined as never });
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 250; i++) {
        const j = job('automl', {});
        const name = `cjo-a-${j.id.slice(2)}`;
        quota.seedJob('automl', name);
        jobs.push({ ...j, providerRef: { kind: 'automl', name } });
      }
      const reports = await limited.poll(jobs);
      expect(reports).toHaveLength(250);
      expect(quota.callsTo('ListAutoMLJobs').map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    } finally {
      await quota.close();
    }
  });

  it('returns the full result document of a finished job on request', async () => {
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.setStatus('training', String(j.providerRef?.name), 'Completed', { metrics: { accuracy: 0.5 } });
    expect(await provider.result?.(j)).toMatchObject({
      kind: 'training',
      finalMetrics: { accuracy: 0.5 },
      arn: fake.job('training', String(j.providerRef?.name))?.arn,
    });
  });

  it('says a job is missing when SageMaker has none by that name (training answers ValidationException, AutoML ResourceNotFound)', async () => {
    const t = { ...job('training', trainingSpec), providerRef: { kind: 'training', name: 'cjo-t-doesnotexist' } };
    const a = { ...job('automl', {}), providerRef: { kind: 'automl', name: 'cjo-a-doesnotexist' } };
    const reports = await provider.poll([t, a]);
    expect(only(reports, t.id).status).toBe('missing');
    expect(only(reports, a.id).status).toBe('missing');
    expect(fake.callsTo('DescribeTrainingJob')[0]?.error).toBe('ValidationException');
    expect(fake.callsTo('DescribeAutoMLJobV2')[0]?.error).toBe('ResourceNotFound');
  });

  it('throws ProviderThrottledError / ProviderUnavailableError, never a job failure, when List is throttled or fails', async () => {
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.failNext('ListTrainingJobs', THROTTLING);
    await expect(provider.poll([j])).rejects.toMatchObject({ constructor: ProviderThrottledError, retryAfterMs: 1234 });
    fake.failNext('ListTrainingJobs', INTERNAL_FAILURE);
    await expect(provider.poll([j])).rejects.toBeInstanceOf(ProviderUnavailableError);
    fake.failNext('ListTrainingJobs', { ...THROTTLING, headers: { 'retry-after': '7' } });
    await expect(provider.poll([j])).rejects.toMatchObject({ retryAfterMs: 7000 });
    expect(await provider.poll([j])).toEqual([expect.objectContaining({ jobId: j.id, status: 'running' })]);
  });

  it('gives up on a request SageMaker never answers, after SAGEMAKER_REQUEST_TIMEOUT_MS, as unavailable', async () => {
    const impatient = await makeProvider({ SAGEMAKER_REQUEST_TIMEOUT_MS: '300' });
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.hangNext('ListTrainingJobs');
    const error = await impatient.poll([j]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(/timeout/i);
    expect(fake.callsTo('ListTrainingJobs').at(-1)?.error).toBe('NoAnswer');
  });

  it('hands back what it learned before a throttled Describe, naming the jobs it did not reach', async () => {
    const a = await submitted(job('training', trainingSpec), 'running');
    const b = await submitted(job('training', trainingSpec), 'running');
    fake.setStatus('training', String(a.providerRef?.name), 'Completed');
    fake.setStatus('training', String(b.providerRef?.name), 'Completed');

    fake.failNext('DescribeTrainingJob', THROTTLING, 1, 1);
    const partial = await provider.poll([a, b]).catch((e: unknown) => e);
    expect(partial).toBeInstanceOf(PollThrottledError);
    expect((partial as PollThrottledError).reports).toEqual([
      expect.objectContaining({ jobId: a.id, status: 'succeeded' }),
    ]);
    expect((partial as PollThrottledError).unread).toEqual([b.id]);

    fake.failNext('DescribeTrainingJob', THROTTLING);
    const none = await provider.poll([a, b]).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(ProviderThrottledError);
    expect((none as PollThrottledError).reports).toEqual([]);
    expect((await provider.poll([a, b])).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  });
});

describe('SageMaker provider › cancel', () => {
  it('stops the job; the job stays cancelling until a poll sees Stopped, which is cancelled, never success', async () => {
    let j = await submitted(job('training', trainingSpec), 'running');
    const name = String(j.providerRef?.name);
    await provider.cancel(j);
    expect(fake.callsTo('StopTrainingJob')[0]?.body).toEqual({ TrainingJobName: name });
    expect(fake.job('training', name)?.status).toBe('Stopping');

    j = { ...j, status: 'cancelling' };
    fake.resetRequests();
    expect(await provider.poll([j])).toEqual([]);
    expect(fake.callsTo('ListTrainingJobs').map((r) => r.body.StatusEquals)).toEqual(['InProgress', 'Stopping']);

    fake.completeStopping('training');
    expect(only(await provider.poll([j]), j.id)).toMatchObject({ status: 'cancelled', nativeStatus: 'Stopped' });
  });

  it('stops AutoML and transform jobs through their own Stop APIs', async () => {
    const a = await submitted(
      job('automl', { inputs: [{ s3_uri: 's3://b/t.csv' }], target_attribute: 'y' }),
      'running',
    );
    const t = await submitted(job('transform', { model_name: 'm1', input: { s3_uri: 's3://b/in/' } }), 'running');
    await provider.cancel(a);
    await provider.cancel(t);
    expect(fake.callsTo('StopAutoMLJob')[0]?.body).toEqual({ AutoMLJobName: a.providerRef?.name });
    expect(fake.callsTo('StopTransformJob')[0]?.body).toEqual({ TransformJobName: t.providerRef?.name });
  });

  it('treats stopping a job that already finished as done, and a throttled Stop as retriable', async () => {
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.failNext('StopTrainingJob', THROTTLING);
    await expect(provider.cancel(j)).rejects.toBeInstanceOf(ProviderThrottledError);
    fake.setStatus('training', String(j.providerRef?.name), 'Completed');
    await expect(provider.cancel(j)).resolves.toBeUndefined();
    expect(fake.callsTo('StopTrainingJob').at(-1)?.error).toBe('ValidationException');
  });
});

describe('SageMaker provider › SDK behaviour against the fake', () => {
  it('lets the SDK retry a 5xx when SAGEMAKER_MAX_ATTEMPTS allows it', async () => {
    const retrying = await makeProvider({ SAGEMAKER_MAX_ATTEMPTS: '2' });
    const j = await submitted(job('training', trainingSpec), 'running');
    fake.resetRequests();
    fake.failNext('ListTrainingJobs', SERVICE_UNAVAILABLE);
    expect(await retrying.poll([j])).toEqual([expect.objectContaining({ status: 'running' })]);
    expect(fake.callsTo('ListTrainingJobs').map((r) => r.error)).toEqual(['ServiceUnavailable', undefined]);
  });

  it('signs with the static credentials from the settings, including a session token', async () => {
    const temp = await makeProvider({
      SAGEMAKER_ACCESS_KEY_ID: 'AKIDTEMP',
      SAGEMAKER_SECRET_ACCESS_KEY: 'temporary-secret',
      SAGEMAKER_SESSION_TOKEN: 'session-token-1',
    });
    await temp.submit(job('training', trainingSpec));
    const [create] = fake.callsTo('CreateTrainingJob');
    expect(create?.error).toBeUndefined();
    expect(create?.headers['x-amz-security-token']).toBe('session-token-1');
    expect(create?.headers.authorization).toMatch(/Credential=AKIDTEMP\/.*SignedHeaders=[^,]*x-amz-security-token/);
  });

  it('backs off rather than failing jobs when SageMaker rejects the credentials', async () => {
    const wrong = await makeProvider({ SAGEMAKER_SECRET_ACCESS_KEY: 'not-the-secret' });
    const error = await wrong.submit(job('training', trainingSpec)).catch((e: unknown) => e);
    expect(fake.callsTo('CreateTrainingJob')[0]?.error).toBe('InvalidSignatureException');
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(/credentials/);
  });

  it('enforces MaxResults ≤ 100 and reports the code as the error name', async () => {
    const client = new SageMakerClient({
      region: fake.region,
      endpoint: fake.endpoint,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      maxAttempts: 1,
    });
    const error = await client.send(new ListTrainingJobsCommand({ MaxResults: 101 })).catch((e: unknown) => e);
    client.destroy();
    expect(error).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
  });
});
