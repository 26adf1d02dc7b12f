import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/lib/config.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import {
  PollThrottledError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
} from '../../../src/lib/errors.js';
import type { JobProvider, PollReport } from '../../../src/lib/ports/provider.js';
import { createProvider } from '../../../src/lib/providers/sagemaker/provider.js';
import { FakeS3 } from '../../fakes/s3/fake-s3.js';
import { FakeSageMaker, THROTTLING } from '../../fakes/sagemaker/fake-sagemaker.js';
import { providerJob } from '../../support/jobs.js';

const ACCESS_KEY = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const ROLE = 'arn:aws:iam::123456789012:role/SageMakerExecution';
const IMAGE = '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1';

let sm: FakeSageMaker;
let s3: FakeS3;
let provider: JobProvider;

let seq = 0;
function newId(): string {
  seq++;
  return `j-01jd3m2x7k9q8w4e5r6t${String(seq).padStart(6, '0')}`;
}

function job(kind: string, spec: Record<string, unknown>): JobRecord {
  return providerJob('sagemaker', newId(), kind, spec);
}

/** Submits, and returns the job as the dispatch use case stores it. */
async function submitted(j: JobRecord): Promise<JobRecord> {
  const outcome = await provider.submit(j);
  return { ...j, status: outcome.status, providerRef: outcome.ref };
}

async function pollOne(j: JobRecord): Promise<PollReport> {
  const reports = await provider.poll([j]);
  expect(reports).toHaveLength(1);
  return reports[0]!;
}

/** A succeeded job as the store keeps it (its result summary is what later operations read). */
function finished(j: JobRecord, report: PollReport): JobRecord {
  expect(report.status).toBe('succeeded');
  return { ...j, status: 'succeeded', result: { summary: report.result! } };
}

const tagsOf = (tags: Array<{ Key: string; Value: string }>) => Object.fromEntries(tags.map((t) => [t.Key, t.Value]));

beforeAll(async () => {
  sm = await new FakeSageMaker({ credentials: { [ACCESS_KEY]: SECRET } }).start();
  s3 = new FakeS3({ [ACCESS_KEY]: SECRET }, sm.region);
  await s3.start();
  s3.createBucket('ml-bucket');
  s3.createBucket('exports');
  sm.assets.modelPackageGroups.add('churn-models');
  const env = {
    SAGEMAKER_REGION: sm.region,
    SAGEMAKER_ENDPOINT: sm.endpoint,
    SAGEMAKER_RUNTIME_ENDPOINT: sm.endpoint,
    SAGEMAKER_S3_ENDPOINT: s3.url,
    SAGEMAKER_ACCESS_KEY_ID: ACCESS_KEY,
    SAGEMAKER_SECRET_ACCESS_KEY: SECRET,
    SAGEMAKER_ROLE_ARN: ROLE,
    SAGEMAKER_MAX_ATTEMPTS: '1',
    SAGEMAKER_LIST_RATE_PER_SEC: '1000',
    SAGEMAKER_API_RATE_PER_SEC: '1000',
    SAGEMAKER_THROTTLE_BACKOFF_MS: '1234',
  };
  provider = await createProvider({
    config: { env, defaultMaxRuntimeSec: 7200 } as unknown as Config,
    blobs: undefined as never,
  });
});
afterAll(async () => {
  await sm.close();
  await s3.stop();
});
afterEach(() => {
  sm.resetRequests();
});

describe('SageMaker assets › datasets and exports (S3)', () => {
  it('writes inline content as a tagged object and reports the dataset once S3 has it; a resubmit rewrites the same key', async () => {
    const j = job('dataset-create', {
      name: 'Churn',
      uri: 's3://ml-bucket/datasets/churn.csv',
      content: 'a,b\n1,2\n',
      content_type: 'text/csv',
    });
    const sub = await submitted(j);
    const stored = s3.object('ml-bucket', 'datasets/churn.csv');
    expect(stored?.body.toString()).toBe('a,b\n1,2\n');
    expect(stored?.contentType).toBe('text/csv');
    expect(stored?.tags).toEqual({ 'orchestrator-job-id': j.id });

    const report = await pollOne(sub);
    expect(report).toMatchObject({
      status: 'succeeded',
      result: {
        asset: {
          kind: 'dataset',
          id: 's3://ml-bucket/datasets/churn.csv',
          name: 'Churn',
          uri: 's3://ml-bucket/datasets/churn.csv',
        },
      },
    });

    await provider.submit(j);
    expect(s3.keysIn('ml-bucket', 'datasets/')).toEqual(['datasets/churn.csv']);
  });

  it('copies every object under a source prefix, tagging each copy', async () => {
    for (const k of ['a.csv', 'b.csv', 'sub/c.csv']) s3.put('ml-bucket', `raw/${k}`, `data ${k}`);
    const j = job('dataset-create', { name: 'raw', uri: 's3://ml-bucket/ds/raw/', source_uri: 's3://ml-bucket/raw/' });
    const sub = await submitted(j);
    expect(s3.keysIn('ml-bucket', 'ds/raw/')).toEqual(['ds/raw/a.csv', 'ds/raw/b.csv', 'ds/raw/sub/c.csv']);
    expect(s3.object('ml-bucket', 'ds/raw/sub/c.csv')?.tags).toEqual({ 'orchestrator-job-id': j.id });
    expect((await pollOne(sub)).result?.asset).toMatchObject({ kind: 'dataset', uri: 's3://ml-bucket/ds/raw/' });
  });

  it('refuses to register data that is not in S3, and a copy from nowhere', async () => {
    await expect(
      provider.submit(job('dataset-create', { name: 'x', uri: 's3://ml-bucket/nothing/here.csv' })),
    ).rejects.toSatisfy((e) => e instanceof ProviderRejectedError && /NoSuchKey/.test(e.message));
    await expect(
      provider.submit(
        job('dataset-create', { name: 'x', uri: 's3://ml-bucket/y.csv', source_uri: 's3://ml-bucket/missing.csv' }),
      ),
    ).rejects.toBeInstanceOf(ProviderRejectedError);
    expect(s3.object('ml-bucket', 'y.csv')).toBeUndefined();
  });

  it('exports a dataset as a copy and reports the copy', async () => {
    s3.put('ml-bucket', 'datasets/sales.csv', 'x,y\n');
    const sub = await submitted(
      job('dataset-export', {
        name: 'sales',
        source_uri: 's3://ml-bucket/datasets/sales.csv',
        destination_uri: 's3://exports/sales.csv',
      }),
    );
    expect(s3.object('exports', 'sales.csv')?.body.toString()).toBe('x,y\n');
    expect((await pollOne(sub)).result?.asset).toEqual({
      kind: 'dataset',
      id: 's3://exports/sales.csv',
      name: 'sales',
      uri: 's3://exports/sales.csv',
    });
  });

  it('deletes a dataset and reports it deleted only once S3 no longer has it', async () => {
    s3.put('ml-bucket', 'datasets/old.csv', 'old');
    const sub = await submitted(job('dataset-delete', { name: 'old', uri: 's3://ml-bucket/datasets/old.csv' }));
    expect(s3.object('ml-bucket', 'datasets/old.csv')).toBeUndefined();
    // Written again before the poll: not confirmed, deleted again.
    s3.put('ml-bucket', 'datasets/old.csv', 'again');
    expect((await pollOne(sub)).status).toBe('running');
    expect(s3.object('ml-bucket', 'datasets/old.csv')).toBeUndefined();
    expect(await pollOne(sub)).toMatchObject({
      status: 'succeeded',
      result: { deleted: true, asset: { kind: 'dataset' } },
    });
  });
});

describe('SageMaker assets › models', () => {
  it('creates a tagged model named after the job, re-attaches on redelivery, and reports it', async () => {
    const j = job('model-register', {
      name: 'churn-xgb',
      image: IMAGE,
      model_data_url: 's3://ml-bucket/out/model.tar.gz',
    });
    const sub = await submitted(j);
    const modelName = String(sub.providerRef?.modelName);
    expect(modelName).toBe(`cjo-m-${j.id.slice(2)}`);
    const model = sm.assets.model(modelName)!;
    expect(model.request).toMatchObject({
      ExecutionRoleArn: ROLE,
      PrimaryContainer: { Image: IMAGE, ModelDataUrl: 's3://ml-bucket/out/model.tar.gz' },
    });
    expect(tagsOf(model.tags)).toMatchObject({ 'orchestrator-job-id': j.id, 'essedum-name': 'churn-xgb' });

    const again = await provider.submit(j);
    expect(again.attached).toBe(true);
    expect(sm.assets.creates.get(`CreateModel:${modelName}`)).toBe(1);

    expect(await pollOne(sub)).toMatchObject({
      status: 'succeeded',
      result: { asset: { kind: 'model', id: modelName, name: 'churn-xgb', uri: 's3://ml-bucket/out/model.tar.gz' } },
    });
  });

  it('registers a model package version once (ClientToken) and a model serving it', async () => {
    const j = job('model-register', {
      name: 'pkg',
      image: IMAGE,
      model_data_url: 's3://ml-bucket/m.tar.gz',
      model_package_group: 'churn-models',
    });
    const sub = await submitted(j);
    await provider.submit(j);
    const packages = sm.assets.modelPackages.filter((p) => p.group === 'churn-models');
    expect(packages).toHaveLength(1);
    expect(tagsOf(packages[0]!.tags)['orchestrator-job-id']).toBe(j.id);
    expect(sm.assets.model(String(sub.providerRef?.modelName))?.request.PrimaryContainer).toEqual({
      ModelPackageName: packages[0]!.arn,
    });
    expect((await pollOne(sub)).result).toMatchObject({ modelPackageArn: packages[0]!.arn, asset: { kind: 'model' } });
  });

  it('rejects a model package group that does not exist', async () => {
    await expect(
      provider.submit(job('model-register', { name: 'x', image: IMAGE, model_package_group: 'no-such-group' })),
    ).rejects.toBeInstanceOf(ProviderRejectedError);
  });

  it('exports model artifacts and deletes a model, confirmed by DescribeModel', async () => {
    s3.put('ml-bucket', 'out/exp/model.tar.gz', 'weights');
    const reg = await submitted(
      job('model-register', { name: 'exp', image: IMAGE, model_data_url: 's3://ml-bucket/out/exp/model.tar.gz' }),
    );
    const modelName = String(reg.providerRef?.modelName);

    const exp = await submitted(
      job('model-export', {
        name: 'exp',
        model_name: modelName,
        source_uri: 's3://ml-bucket/out/exp/model.tar.gz',
        destination_uri: 's3://exports/models/exp.tar.gz',
      }),
    );
    expect(s3.object('exports', 'models/exp.tar.gz')?.body.toString()).toBe('weights');
    expect((await pollOne(exp)).result?.asset).toMatchObject({ kind: 'model', uri: 's3://exports/models/exp.tar.gz' });

    const del = await submitted(job('model-delete', { name: 'exp', model_name: modelName }));
    expect(sm.assets.model(modelName)).toBeUndefined();
    expect(await pollOne(del)).toMatchObject({
      status: 'succeeded',
      result: { deleted: true, asset: { id: modelName } },
    });
    // Deleting what is already gone is not an error.
    await expect(provider.submit(job('model-delete', { name: 'exp', model_name: modelName }))).resolves.toMatchObject({
      status: 'running',
    });
  });
});

describe('SageMaker assets › endpoints', () => {
  async function registeredModel(name: string): Promise<string> {
    const sub = await submitted(
      job('model-register', { name, image: IMAGE, model_data_url: `s3://ml-bucket/${name}.tar.gz` }),
    );
    return String(sub.providerRef?.modelName);
  }

  it('creates an endpoint with its model: running while Creating, succeeded once InService, tagged, never created twice', async () => {
    const model = await registeredModel('ep-model');
    const j = job('endpoint-create', {
      name: 'scoring',
      model_name: model,
      instance_type: 'ml.c5.xlarge',
      instance_count: 2,
    });
    const sub = await submitted(j);
    const name = String(sub.providerRef?.endpointName);
    const ep = sm.assets.endpoint(name)!;
    expect(ep.status).toBe('Creating');
    expect(tagsOf(ep.tags)['orchestrator-job-id']).toBe(j.id);
    expect(tagsOf(sm.assets.config(ep.configName)!.tags)['orchestrator-job-id']).toBe(j.id);

    expect((await provider.submit(j)).attached).toBe(true);
    expect(sm.assets.creates.get(`CreateEndpoint:${name}`)).toBe(1);

    expect(await pollOne(sub)).toMatchObject({ status: 'running', nativeStatus: 'Creating' });
    sm.assets.settleEndpoints();
    const report = await pollOne(sub);
    expect(report).toMatchObject({
      status: 'succeeded',
      result: {
        asset: {
          kind: 'endpoint',
          id: name,
          name: 'scoring',
          uri: `${sm.endpoint}/endpoints/${name}/invocations`,
          instanceType: 'ml.c5.xlarge',
          instanceCount: 2,
          deployedModels: [model],
        },
      },
    });
  });

  it('reports a creation SageMaker failed, with its reason', async () => {
    const model = await registeredModel('bad-model');
    const sub = await submitted(job('endpoint-create', { name: 'bad', model_name: model }));
    sm.assets.failEndpoint(String(sub.providerRef?.endpointName), 'CapacityError: no ml.m5.large capacity');
    expect(await pollOne(sub)).toMatchObject({
      status: 'failed',
      error: {
        code: 'SAGEMAKER_ENDPOINT_FAILED',
        message: 'CapacityError: no ml.m5.large capacity',
        // Reported as a capacity failure, not a provider fault.
        category: 'capacity',
      },
    });
  });

  it('runs the Essedum flow: empty endpoint → deploy → deploy a second model → infer/explain → undeploy one → undeploy all → delete', async () => {
    const m1 = await registeredModel('flow-1');
    const m2 = await registeredModel('flow-2');

    // An endpoint without a model exists only as our record until the first deploy.
    const create = await submitted(job('endpoint-create', { name: 'flow', instance_type: 'ml.m5.large' }));
    const endpointName = String(create.providerRef?.endpointName);
    expect(sm.assets.endpoint(endpointName)).toBeUndefined();
    const created = finished(create, await pollOne(create));
    expect(created.result?.summary?.asset).toMatchObject({ id: endpointName, deployedModels: [] });

    // First deploy creates it.
    const d1 = await submitted(job('endpoint-deploy', { name: 'flow', endpoint_name: endpointName, model_name: m1 }));
    expect(sm.assets.endpoint(endpointName)?.status).toBe('Creating');
    expect((await pollOne(d1)).status).toBe('running');
    sm.assets.settleEndpoints();
    expect((await pollOne(d1)).result?.asset).toMatchObject({ deployedModels: [m1] });

    // Second deploy joins the first: an update, re-attached on redelivery.
    const d2job = job('endpoint-deploy', { name: 'flow', endpoint_name: endpointName, model_name: m2 });
    const d2 = await submitted(d2job);
    expect(sm.assets.endpoint(endpointName)?.status).toBe('Updating');
    expect((await provider.submit(d2job)).attached).toBe(true);
    expect(sm.callsTo('UpdateEndpoint')).toHaveLength(1);
    expect((await pollOne(d2)).status).toBe('running');
    sm.assets.settleEndpoints();
    expect((await pollOne(d2)).result?.asset).toMatchObject({ deployedModels: [m1, m2] });

    // Infer and explain through SageMaker Runtime.
    const live = finished(create, await pollOne(create));
    const prediction = await provider.invokeEndpoint!(live, 'infer', {
      instances: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(prediction).toEqual({
      predictions: [
        { score: 0.9, label: 1 },
        { score: 0.8, label: 1 },
      ],
      endpoint: endpointName,
    });
    const [call] = sm.callsTo('InvokeEndpoint');
    expect(call?.headers['content-type']).toBe('application/json');
    expect(call?.headers.authorization).toMatch(/\/eu-west-1\/sagemaker\/aws4_request/);
    const explained = (await provider.invokeEndpoint!(live, 'explain', { instances: [[1]] })) as Record<
      string,
      unknown
    >;
    expect(explained.explanations).toBeDefined();
    expect(sm.callsTo('InvokeEndpoint')[1]?.headers['x-amzn-sagemaker-enable-explanations']).toBe('`true`');

    // Undeploy one model: an update to the rest.
    const u1 = await submitted(
      job('endpoint-undeploy', { name: 'flow', endpoint_name: endpointName, model_names: [m1] }),
    );
    sm.assets.settleEndpoints();
    expect((await pollOne(u1)).result?.asset).toMatchObject({ deployedModels: [m2] });

    // Undeploy the last: SageMaker has no empty endpoints, so it is deleted — confirmed once gone.
    const u2 = await submitted(job('endpoint-undeploy', { name: 'flow', endpoint_name: endpointName }));
    expect(sm.assets.endpoint(endpointName)?.status).toBe('Deleting');
    expect((await pollOne(u2)).status).toBe('running');
    sm.assets.settleEndpoints();
    expect(await pollOne(u2)).toMatchObject({ status: 'succeeded', result: { asset: { deployedModels: [] } } });

    // A later deploy brings it back; delete then removes endpoint and configuration.
    const d3 = await submitted(job('endpoint-deploy', { name: 'flow', endpoint_name: endpointName, model_name: m2 }));
    sm.assets.settleEndpoints();
    expect((await pollOne(d3)).status).toBe('succeeded');
    const config = sm.assets.endpoint(endpointName)!.configName;
    const del = await submitted(job('endpoint-delete', { name: 'flow', endpoint_name: endpointName }));
    expect(sm.assets.config(config)).toBeUndefined();
    expect((await pollOne(del)).status).toBe('running');
    sm.assets.settleEndpoints();
    expect(await pollOne(del)).toMatchObject({ status: 'succeeded', result: { deleted: true } });
    await expect(provider.invokeEndpoint!(live, 'infer', { instances: [[1]] })).rejects.toBeInstanceOf(
      ProviderRejectedError,
    );
  });

  it('reports a deploy whose update SageMaker rolled back as failed, with the reason', async () => {
    const m1 = await registeredModel('rb-1');
    const m2 = await registeredModel('rb-2');
    const create = await submitted(job('endpoint-create', { name: 'rb', model_name: m1 }));
    sm.assets.settleEndpoints();
    const name = String(create.providerRef?.endpointName);
    const deploy = await submitted(job('endpoint-deploy', { name: 'rb', endpoint_name: name, model_name: m2 }));
    sm.assets.failEndpoint(name, 'ClientError: the model container failed its health check');
    expect(sm.assets.endpoint(name)?.status).toBe('InService');
    expect(await pollOne(deploy)).toMatchObject({
      status: 'failed',
      error: {
        code: 'SAGEMAKER_ENDPOINT_UPDATE_FAILED',
        message: 'ClientError: the model container failed its health check',
      },
    });
  });

  it('maps endpoint errors: throttling and not-ready heal, a model error is a rejection', async () => {
    const m = await registeredModel('err');
    const create = await submitted(job('endpoint-create', { name: 'err', model_name: m }));
    sm.assets.settleEndpoints();
    const live = finished(create, await pollOne(create));
    sm.failNext('InvokeEndpoint', { type: 'ThrottlingException', status: 400, message: 'Rate exceeded' });
    await expect(provider.invokeEndpoint!(live, 'infer', {})).rejects.toBeInstanceOf(ProviderThrottledError);
    sm.failNext('InvokeEndpoint', { type: 'ModelNotReadyException', status: 429, message: 'not ready' });
    await expect(provider.invokeEndpoint!(live, 'infer', {})).rejects.toSatisfy(
      (e) => e instanceof ProviderThrottledError || e instanceof ProviderUnavailableError,
    );
    sm.failNext('InvokeEndpoint', {
      type: 'ModelError',
      status: 424,
      message: 'Received client error (400) from model',
    });
    await expect(provider.invokeEndpoint!(live, 'infer', {})).rejects.toSatisfy(
      (e) => e instanceof ProviderRejectedError && /ModelError/.test(e.message),
    );
  });

  it('backs off (never fails) a deploy while another change of the endpoint is under way, then deploys', async () => {
    const m1 = await registeredModel('busy-1');
    const m2 = await registeredModel('busy-2');
    const m3 = await registeredModel('busy-3');
    const create = await submitted(job('endpoint-create', { name: 'busy', model_name: m1 }));
    sm.assets.settleEndpoints();
    const name = String(create.providerRef?.endpointName);
    await submitted(job('endpoint-deploy', { name: 'busy', endpoint_name: name, model_name: m2 }));
    const second = job('endpoint-deploy', { name: 'busy', endpoint_name: name, model_name: m3 });
    await expect(provider.submit(second)).rejects.toBeInstanceOf(ProviderUnavailableError);
    sm.assets.settleEndpoints();
    const sub = await submitted(second);
    sm.assets.settleEndpoints();
    expect((await pollOne(sub)).result?.asset).toMatchObject({ deployedModels: [m1, m2, m3] });
  });

  it('replaces its own stale configuration when a refused update is retried after another deploy', async () => {
    const [m1, m2, m3] = [
      await registeredModel('race-1'),
      await registeredModel('race-2'),
      await registeredModel('race-3'),
    ];
    const create = await submitted(job('endpoint-create', { name: 'race', model_name: m1 }));
    sm.assets.settleEndpoints();
    const name = String(create.providerRef?.endpointName);
    const late = job('endpoint-deploy', { name: 'race', endpoint_name: name, model_name: m3 });
    // The endpoint became busy between our Describe and our Update.
    sm.failNext('UpdateEndpoint', {
      type: 'ValidationException',
      status: 400,
      message: 'Cannot update in-progress endpoint',
    });
    await expect(provider.submit(late)).rejects.toBeInstanceOf(ProviderUnavailableError);
    await submitted(job('endpoint-deploy', { name: 'race', endpoint_name: name, model_name: m2 }));
    sm.assets.settleEndpoints();
    const sub = await submitted(late);
    sm.assets.settleEndpoints();
    expect((await pollOne(sub)).result?.asset).toMatchObject({ deployedModels: [m1, m2, m3] });
  });

  it('fails an asset operation whose handle S3 refuses for good, and still reports the others', async () => {
    s3.put('ml-bucket', 'ok.csv', 'ok');
    const good = await submitted(job('dataset-create', { name: 'ok', uri: 's3://ml-bucket/ok.csv' }));
    const broken = { ...good, id: newId(), providerRef: { kind: 'dataset-create', name: 'x', uri: 'not-an-s3-uri' } };
    const reports = await provider.poll([broken, good]);
    expect(reports.find((r) => r.jobId === broken.id)).toMatchObject({
      status: 'failed',
      error: { code: 'SAGEMAKER_ASSET_FAILED' },
    });
    expect(reports.find((r) => r.jobId === good.id)?.status).toBe('succeeded');
  });

  it('hands back a throttled endpoint read as unread, keeping what it read before', async () => {
    const m = await registeredModel('thr');
    const a = await submitted(job('endpoint-create', { name: 'a', model_name: m }));
    const b = await submitted(job('endpoint-create', { name: 'b', model_name: m }));
    sm.failNext('DescribeEndpoint', THROTTLING, 1, 1);
    const error = await provider.poll([a, b]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PollThrottledError);
    const t = error as PollThrottledError;
    expect(t.reports.map((r) => r.jobId)).toEqual([a.id]);
    expect(t.unread).toEqual([b.id]);
  });
});
