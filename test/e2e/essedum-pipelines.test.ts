import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import { createAzureMlProvider } from '../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../src/lib/providers/azure-ml/settings.js';
import { createProviderRegistry } from '../../src/lib/providers/registry.js';
import { createVertexProvider } from '../../src/lib/providers/vertex/provider.js';
import { jobLabelValue } from '../../src/lib/providers/vertex/names.js';
import { FakeAzureMl } from '../fakes/azure-ml/fake-arm.js';
import { FakeSageMaker } from '../fakes/sagemaker/fake-sagemaker.js';
import { AUTOML_BODY, BATCH_BODY, fakeSettings, staticAuthClient, TEST_TOKEN } from '../fakes/vertex/fixtures.js';
import { VertexRestFake } from '../fakes/vertex/vertex-rest-fake.js';
import { assertRecord, EssedumExecutorClient } from '../support/essedum-client.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

const KEY = 'pipelines-test-key';
const AML = {
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroup: 'rg-ml',
  workspace: 'ws-essedum',
  token: 'aml-test-token',
};
const SM_KEYS = { AKIDPIPELINES: 'sm-secret-for-pipelines-test' };
const ROLE = 'arn:aws:iam::123456789012:role/SageMakerExecution';

class StubCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    return { token: AML.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

type Rec = Record<string, unknown> & { sourceId: string; status: string };

describe('Essedum MLOps pipelines on each provider’s fake, through the local runner', () => {
  let r: TestRunner;
  let client: EssedumExecutorClient;
  let aml: FakeAzureMl;
  let sm: FakeSageMaker;
  let vx: VertexRestFake;

  beforeAll(async () => {
    aml = await FakeAzureMl.start(AML);
    sm = await new FakeSageMaker({ credentials: SM_KEYS }).start();
    vx = await new VertexRestFake({ requireBearer: TEST_TOKEN }).start();
    const smEnv = {
      SAGEMAKER_REGION: sm.region,
      SAGEMAKER_ENDPOINT: sm.endpoint,
      SAGEMAKER_ACCESS_KEY_ID: 'AKIDPIPELINES',
      SAGEMAKER_SECRET_ACCESS_KEY: SM_KEYS.AKIDPIPELINES,
      SAGEMAKER_ROLE_ARN: ROLE,
      SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
      SAGEMAKER_MAX_ATTEMPTS: '1',
      SAGEMAKER_LIST_RATE_PER_SEC: '1000',
      SAGEMAKER_API_RATE_PER_SEC: '1000',
    };
    // Azure ML and Vertex need a test credential (and Azure ML a trusted test CA), so they are built
    // here; SageMaker is built by the registry from its settings alone, as in a deployment.
    const amlProvider = await createAzureMlProvider(
      parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: AML.subscriptionId,
        AZUREML_RESOURCE_GROUP: AML.resourceGroup,
        AZUREML_WORKSPACE: AML.workspace,
        AZUREML_ARM_ENDPOINT: aml.endpoint,
        AZUREML_RETRY_DELAY_MS: '10',
      }),
      { credential: new StubCredential(), trustedCa: aml.ca },
    );
    const vxProvider = await createVertexProvider(fakeSettings(vx), { authClient: staticAuthClient() });
    const providers = createProviderRegistry(
      { config: loadConfig(smEnv), blobs: {} as BlobStore },
      { 'azure-ml': amlProvider, vertex: vxProvider },
    );
    r = await startTestRunner(
      {
        LOCAL_API_KEY: KEY,
        ESSEDUM_ADAPTERS: JSON.stringify({
          'aml-adapter': { provider: 'azure-ml' },
          'sm-adapter': { provider: 'sagemaker' },
          'vx-adapter': { provider: 'vertex' },
        }),
        POLL_AZURE_ML_SCHEDULE: '* * * * * *',
        POLL_SAGEMAKER_SCHEDULE: '* * * * * *',
        POLL_VERTEX_SCHEDULE: '* * * * * *',
      },
      { workers: false, overrides: { providers } },
    );
    client = new EssedumExecutorClient({ executorUrl: `${r.url}/api`, key: KEY });
  });
  afterAll(async () => {
    await r?.stop();
    await aml?.stop();
    await sm?.close();
    await vx?.stop();
  });

  const get = async (type: 'training' | 'inference', id: string): Promise<Rec> => {
    const res = await client.mlops('GET', `/service/v1/pipelines/${type}/${id}/get`, {
      adapterInstance: 'ignored-on-get',
    });
    expect(res.status).toBe(200);
    return assertRecord(res.json) as Rec;
  };
  const waitStatus = async (type: 'training' | 'inference', id: string, status: string): Promise<Rec> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rec = await get(type, id);
      if (rec.status === status) return rec;
      if (Date.now() > deadline) throw new Error(`${type} ${id} still ${rec.status}, wanted ${status}`);
      await new Promise((res) => setTimeout(res, 150));
    }
  };
  const create = async (path: string, adapter: string, body: unknown): Promise<Rec> => {
    const res = await client.mlops('POST', path, { adapterInstance: adapter, project: 'proj-essedum' }, body);
    expect(res.status, res.text).toBe(200);
    const rec = assertRecord(res.json) as Rec;
    expect(rec).toMatchObject({ adapter, project: 'proj-essedum', rawPayload: body });
    expect(rec.sourceId).toMatch(/^j-/);
    return rec;
  };

  it('Azure ML: a train body becomes an AutoML job at the workspace; list and get follow it to COMPLETED', async () => {
    const body = {
      compute: 'cpu-cluster',
      dataset_name: 'iris',
      name: 'iris-train',
      task_type: 'Classification',
      target_column_name: 'species',
      metrics_type: 'accuracy',
    };
    const rec = await create('/service/v1/pipelines/training/train', 'aml-adapter', body);
    expect(rec.name).toBe('iris-train');
    await waitStatus('training', rec.sourceId, 'RUNNING');
    const stored = aml.jobs.get(rec.sourceId);
    expect(stored, 'the Azure ML job is named after our job id').toBeDefined();
    expect(JSON.stringify(stored)).toContain('"jobType":"AutoML"');
    aml.setStatus(rec.sourceId, 'Completed');
    const done = await waitStatus('training', rec.sourceId, 'COMPLETED');
    expect(done.deployment).toMatchObject({ provider: 'azure-ml', kind: 'automl' });
    const list = await client.mlops('GET', '/service/v1/pipelines/training/list', {
      adapterInstance: 'aml-adapter',
      project: 'proj-essedum',
    });
    expect((list.json as Rec[]).map((x) => x.sourceId)).toContain(rec.sourceId);
    // Another adapter's list does not show it.
    const other = await client.mlops('GET', '/service/v1/pipelines/training/list', {
      adapterInstance: 'sm-adapter',
      project: 'proj-essedum',
    });
    expect((other.json as Rec[]).map((x) => x.sourceId)).not.toContain(rec.sourceId);
  });

  it('Azure ML: an inference body runs a batch-scoring command job at the workspace to COMPLETED', async () => {
    const body = {
      command: 'python score.py --model ${{inputs.model}} --data ${{inputs.data}} --out ${{outputs.scores}}',
      environment: 'azureml:sklearn-scoring:3',
      compute: 'cpu-cluster',
      inputs: {
        model: { type: 'mlflow_model', uri: 'azureml:iris-model:1' },
        data: { type: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/iris/' },
      },
      outputs: { scores: { type: 'uri_folder' } },
      displayName: 'iris-scoring',
    };
    const rec = await create('/service/v1/pipelines/inference', 'aml-adapter', body);
    await waitStatus('inference', rec.sourceId, 'RUNNING');
    const stored = JSON.stringify(aml.jobs.get(rec.sourceId));
    expect(stored).toContain('"jobType":"Command"');
    expect(stored).toContain('score.py');
    aml.setStatus(rec.sourceId, 'Completed');
    const done = await waitStatus('inference', rec.sourceId, 'COMPLETED');
    expect(done.deployment).toMatchObject({ provider: 'azure-ml', kind: 'command' });
    const list = await client.mlops('GET', '/service/v1/pipelines/inference/list', {
      adapterInstance: 'aml-adapter',
      project: 'proj-essedum',
    });
    expect((list.json as Rec[]).map((x) => x.sourceId)).toContain(rec.sourceId);
  });

  it('SageMaker: a train body becomes an Autopilot job, an inference body a transform job; a cancel ends CANCELLED', async () => {
    const train = await create('/service/v1/pipelines/training/train', 'sm-adapter', {
      RoleArn: ROLE,
      Bucket: 'essedum-bucket',
      S3Prefix: 'churn',
      inputs: 's3://essedum-bucket/churn/train.csv',
      target_attribute_name: 'churned',
      content_type: 'text/csv',
    });
    await waitStatus('training', train.sourceId, 'RUNNING');
    const automlJobs = sm.allJobs('automl');
    expect(automlJobs).toHaveLength(1);
    const automlJob = automlJobs[0]!;
    sm.setStatus('automl', automlJob.name, 'Completed');
    await waitStatus('training', train.sourceId, 'COMPLETED');

    const inference = await create('/service/v1/pipelines/inference', 'sm-adapter', {
      TransformJobName: 'nightly-scoring',
      ModelName: 'churn-model',
      TransformInput: {
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://essedum-bucket/score/in/' } },
        ContentType: 'text/csv',
      },
      TransformOutput: { S3OutputPath: 's3://essedum-bucket/score/out/' },
      TransformResources: { InstanceType: 'ml.m5.large', InstanceCount: 1 },
    });
    expect(inference.name).toBe('nightly-scoring');
    await waitStatus('inference', inference.sourceId, 'RUNNING');
    expect(sm.allJobs('transform')).toHaveLength(1);
    const cancelled = await client.mlops('GET', `/service/v1/pipelines/inference/${inference.sourceId}/cancel`, {
      adapterInstance: 'sm-adapter',
    });
    expect(cancelled.status).toBe(200);
    // Stop requested, not yet confirmed: still RUNNING (billing) until SageMaker says Stopped.
    expect(assertRecord(cancelled.json)).toMatchObject({ status: 'RUNNING', jobStatus: 'cancelling' });
    const deadline = Date.now() + 10_000;
    while (sm.completeStopping('transform') === 0 && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 100));
    await waitStatus('inference', inference.sourceId, 'CANCELLED');
    const list = await client.mlops('GET', '/service/v1/pipelines/inference/list', {
      adapterInstance: 'sm-adapter',
      project: 'proj-essedum',
    });
    expect((list.json as Rec[]).find((x) => x.sourceId === inference.sourceId)?.status).toBe('CANCELLED');
    // Another project's list does not show it.
    const elsewhere = await client.mlops('GET', '/service/v1/pipelines/inference/list', {
      adapterInstance: 'sm-adapter',
      project: 'other-project',
    });
    expect((elsewhere.json as Rec[]).map((x) => x.sourceId)).not.toContain(inference.sourceId);
  });

  it('Vertex AI: a TrainingPipeline body trains, a BatchPredictionJob body infers, both to COMPLETED', async () => {
    const train = await create('/service/v1/pipelines/training/automl', 'vx-adapter', AUTOML_BODY);
    const infer = await create('/service/v1/pipelines/inference', 'vx-adapter', BATCH_BODY);
    await waitStatus('training', train.sourceId, 'RUNNING');
    await waitStatus('inference', infer.sourceId, 'RUNNING');
    vx.service.setState(jobLabelValue(train.sourceId), 'PIPELINE_STATE_SUCCEEDED');
    vx.service.setState(jobLabelValue(infer.sourceId), 'JOB_STATE_SUCCEEDED');
    await waitStatus('training', train.sourceId, 'COMPLETED');
    const done = await waitStatus('inference', infer.sourceId, 'COMPLETED');
    expect(done.deployment).toMatchObject({ provider: 'vertex', kind: 'batch_prediction' });
  });

  it('refuses an adapter instance that is not configured, whatever the Referer says, and a bad body with field paths', async () => {
    const unknown = await client.mlops(
      'POST',
      '/service/v1/pipelines/training/train',
      { adapterInstance: 'evil', referer: 'http://169.254.169.254/latest/meta-data/' },
      { any: 1 },
    );
    expect(unknown.status).toBe(400);
    expect((unknown.json as { errors: Array<{ field: string }> }).errors[0]!.field).toBe('adapter_instance');
    const bad = await client.mlops(
      'POST',
      '/service/v1/pipelines/training/train',
      { adapterInstance: 'aml-adapter' },
      { compute: 'c', task_type: 'clustering' },
    );
    expect(bad.status).toBe(400);
    const fields = (bad.json as { errors: Array<{ field: string }> }).errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['dataset_name', 'target_column_name', 'task_type']));
    // A SageMaker-shaped inference body sent to an Azure ML adapter is named field by field.
    const inferOnAml = await client.mlops(
      'POST',
      '/service/v1/pipelines/inference',
      { adapterInstance: 'aml-adapter' },
      { ModelName: 'x' },
    );
    expect(inferOnAml.status).toBe(400);
    expect((inferOnAml.json as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toEqual(
      expect.arrayContaining(['spec.ModelName']),
    );
  });

  it('answers unknown ids and unknown training types with the executors’ 404 body; delete stops and keeps the record', async () => {
    for (const [method, path] of [
      ['GET', '/service/v1/pipelines/training/j-00000000000000000000000000/get'],
      ['GET', '/service/v1/pipelines/inference/nope/get'],
      ['DELETE', '/service/v1/projects_pipelines/nope/delete'],
      ['POST', '/service/v1/pipelines/training/unknown_kind'],
    ] as const) {
      const res = await client.mlops(
        method,
        path,
        { adapterInstance: 'sm-adapter' },
        method === 'POST' ? {} : undefined,
      );
      expect(res.status, path).toBe(404);
      expect(res.json).toEqual({ error: 'Not found - The requested resource does not exists' });
    }
    const rec = await create('/service/v1/pipelines/training/automl', 'vx-adapter', {
      ...AUTOML_BODY,
      display_name: 'to-delete',
    });
    await waitStatus('training', rec.sourceId, 'RUNNING');
    const del = await client.mlops('DELETE', `/service/v1/projects_pipelines/${rec.sourceId}/delete`, {
      adapterInstance: 'vx-adapter',
    });
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ sourceId: rec.sourceId, deleted: true, jobStatus: 'cancelling' });
    expect(String(vx.service.find(jobLabelValue(rec.sourceId))?.body.state)).toBe('PIPELINE_STATE_CANCELLING');
  });
});
