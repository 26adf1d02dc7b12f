import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import { createAzureMlProvider } from '../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../src/lib/providers/azure-ml/settings.js';
import { createProviderRegistry } from '../../src/lib/providers/registry.js';
import { FakeAzureMl } from '../fakes/azure-ml/fake-arm.js';
import { FakeS3 } from '../fakes/s3/fake-s3.js';
import { FakeSageMaker } from '../fakes/sagemaker/fake-sagemaker.js';
import { AUTOML_BODY, fakeSettings, staticAuthClient, TEST_TOKEN } from '../fakes/vertex/fixtures.js';
import { VertexRestFake } from '../fakes/vertex/vertex-rest-fake.js';
import { createVertexProvider } from '../../src/lib/providers/vertex/provider.js';
import { jobLabelValue } from '../../src/lib/providers/vertex/names.js';
import { assertRecord, EssedumExecutorClient } from '../support/essedum-client.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

// The Essedum backend's calls, replayed as its Java client makes them (query parameters, Referer,
// strict record parsing), for one MLOps story per provider fake with asset support:
// dataset → train → register model → endpoint → deploy → infer → undeploy → delete.

const KEY = 'assets-replay-key';
const AML = {
  subscriptionId: '00000000-0000-0000-0000-000000000018',
  resourceGroup: 'rg-replay',
  workspace: 'ws-replay',
  token: 'aml-replay-token',
};
const SM_KEYS = { AKIDREPLAY: 'sm-secret-for-replay-test' };
const ROLE = 'arn:aws:iam::123456789012:role/SageMakerExecution';
const IMAGE = '763104351884.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1';

class StubCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    return { token: AML.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

type Rec = Record<string, unknown> & { sourceId: string; status: string; deployment: Record<string, unknown> };

describe('Essedum backend replay: the asset story on each provider fake', () => {
  let r: TestRunner;
  let client: EssedumExecutorClient;
  let aml: FakeAzureMl;
  let sm: FakeSageMaker;
  let s3: FakeS3;
  let vx: VertexRestFake;

  beforeAll(async () => {
    aml = await FakeAzureMl.start(AML);
    sm = await new FakeSageMaker({ credentials: SM_KEYS }).start();
    s3 = new FakeS3(SM_KEYS, sm.region);
    await s3.start();
    s3.createBucket('ml-bucket');
    vx = await new VertexRestFake({ requireBearer: TEST_TOKEN }).start();
    const vxProvider = await createVertexProvider(fakeSettings(vx), { authClient: staticAuthClient() });
    const smEnv = {
      SAGEMAKER_REGION: sm.region,
      SAGEMAKER_ENDPOINT: sm.endpoint,
      SAGEMAKER_RUNTIME_ENDPOINT: sm.endpoint,
      SAGEMAKER_S3_ENDPOINT: s3.url,
      SAGEMAKER_ACCESS_KEY_ID: 'AKIDREPLAY',
      SAGEMAKER_SECRET_ACCESS_KEY: SM_KEYS.AKIDREPLAY,
      SAGEMAKER_ROLE_ARN: ROLE,
      SAGEMAKER_OUTPUT_S3_URI: 's3://ml-bucket/outputs/',
      SAGEMAKER_MAX_ATTEMPTS: '1',
      SAGEMAKER_LIST_RATE_PER_SEC: '1000',
      SAGEMAKER_API_RATE_PER_SEC: '1000',
    };
    const amlProvider = await createAzureMlProvider(
      parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: AML.subscriptionId,
        AZUREML_RESOURCE_GROUP: AML.resourceGroup,
        AZUREML_WORKSPACE: AML.workspace,
        AZUREML_ARM_ENDPOINT: aml.endpoint,
        AZUREML_RETRY_DELAY_MS: '10',
        AZUREML_SCORING_HOSTS: '127.0.0.1',
      }),
      { credential: new StubCredential(), trustedCa: aml.ca },
    );
    const providers = createProviderRegistry(
      { config: loadConfig(smEnv), blobs: {} as BlobStore },
      { 'azure-ml': amlProvider, vertex: vxProvider },
    );
    r = await startTestRunner(
      {
        ...smEnv,
        LOCAL_API_KEY: KEY,
        ESSEDUM_ADAPTERS: JSON.stringify({
          'aml-adapter': { provider: 'azure-ml' },
          'sm-adapter': { provider: 'sagemaker' },
          'vx-adapter': { provider: 'vertex' },
        }),
        POLL_VERTEX_SCHEDULE: '* * * * * *',
        POLL_AZURE_ML_SCHEDULE: '* * * * * *',
        POLL_SAGEMAKER_SCHEDULE: '* * * * * *',
      },
      { workers: false, overrides: { providers } },
    );
    client = new EssedumExecutorClient({ executorUrl: `${r.url}/api`, key: KEY });
  });
  afterAll(async () => {
    await r?.stop();
    await aml?.stop();
    await sm?.close();
    await s3?.stop();
    await vx?.stop();
  });

  const replay = (adapter: string, nudge: () => void) => {
    const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => {
      const res = await client.mlops(
        method,
        `/service/v1${path}`,
        { adapterInstance: adapter, project: 'replay' },
        body,
      );
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(200);
      return res.json;
    };
    const record = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
      assertRecord(await call(method, path, body)) as Rec;
    /** Polls the record like the UI, letting the fake finish its long-running work in between. */
    const until = async (path: string, check: (rec: Rec) => boolean, what: string): Promise<Rec> => {
      const deadline = Date.now() + 45_000;
      for (;;) {
        const rec = await record('GET', path);
        if (check(rec)) return rec;
        if (rec.status === 'ERROR' || (rec.lastOperation as { status?: string } | undefined)?.status === 'failed')
          throw new Error(`${what}: ${JSON.stringify(rec).slice(0, 800)}`);
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(rec).slice(0, 800)}`);
        nudge();
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    const opDone = (op: string) => (x: Rec) => {
      const last = x.lastOperation as { op?: string; status?: string } | undefined;
      return last?.op === op && last.status === 'succeeded';
    };
    return { call, record, until, opDone };
  };

  it('Azure ML: data asset → AutoML training → model version → online endpoint → deployment → infer → undeploy → delete', async () => {
    const { call, record, until, opDone } = replay('aml-adapter', () => aml.completeOperations());
    const dataset = await record('POST', '/datasets', {
      name: 'churn',
      path: 'azureml://datastores/workspaceblobstore/paths/churn.csv',
      type: 'uri_file',
    });
    expect(dataset).toMatchObject({ type: 'dataset', adapter: 'aml-adapter', project: 'replay' });
    await until(`/datasets/${dataset.sourceId}`, (x) => x.status === 'COMPLETED', 'dataset');
    const listed = (await call('GET', '/datasets/list')) as Rec[];
    expect(listed.map((x) => x.sourceId)).toContain(dataset.sourceId);

    const train = assertRecord(
      await call('POST', '/pipelines/training/train', {
        compute: 'cpu-cluster',
        dataset_name: 'churn',
        name: 'churn-train',
        task_type: 'Classification',
        target_column_name: 'churned',
        metrics_type: 'accuracy',
      }),
    ) as Rec;
    const trainDeadline = Date.now() + 30_000;
    while (!aml.jobs.get(train.sourceId) && Date.now() < trainDeadline)
      await new Promise((res) => setTimeout(res, 150));
    aml.setStatus(train.sourceId, 'Completed');
    for (;;) {
      const t = assertRecord(await call('GET', `/pipelines/training/${train.sourceId}/get`)) as Rec;
      if (t.status === 'COMPLETED') break;
      if (Date.now() > trainDeadline + 15_000) throw new Error(`training still ${t.status}`);
      await new Promise((res) => setTimeout(res, 200));
    }

    const model = await record('POST', '/models/register', {
      name: 'churn-model',
      path: `azureml://jobs/${train.sourceId}/outputs/artifacts/paths/model/`,
      type: 'mlflow_model',
    });
    await until(`/models/${model.sourceId}`, (x) => x.status === 'COMPLETED', 'model');
    const endpoint = await record('POST', '/endpoints/register', { name: 'churn-ep' });
    await until(`/endpoints/${endpoint.sourceId}`, (x) => x.status === 'COMPLETED', 'endpoint');

    await record('POST', `/endpoints/${endpoint.sourceId}/deploy_model`, {
      model_id: model.sourceId,
      instance_type: 'Standard_DS2_v2',
      instance_count: 1,
    });
    const deployed = await until(`/endpoints/${endpoint.sourceId}`, opDone('endpoint-deploy'), 'deploy');
    expect(deployed.deployment.deployedModels).toHaveLength(1);
    expect(deployed.deployment).toMatchObject({ instanceType: null }); // the endpoint itself has no instances on Azure ML

    const infer = (await call('POST', `/endpoints/${endpoint.sourceId}/infer`, {
      input_data: { data: [[1, 2, 3]] },
    })) as { output: unknown };
    expect(infer.output).toMatchObject({ predictions: [6] });

    await record('POST', `/endpoints/${endpoint.sourceId}/undeploy_models`, {});
    const undeployed = await until(`/endpoints/${endpoint.sourceId}`, opDone('endpoint-undeploy'), 'undeploy');
    expect(undeployed.deployment.deployedModels).toEqual([]);
    expect(aml.deployments.size).toBe(0);

    await record('DELETE', `/endpoints/${endpoint.sourceId}/delete`);
    await until(`/endpoints/${endpoint.sourceId}`, (x) => x.status === 'DELETED', 'endpoint delete');
    expect(aml.endpoints.has('churn-ep')).toBe(false);
    await record('DELETE', `/models/${model.sourceId}`);
    await until(`/models/${model.sourceId}`, (x) => x.status === 'DELETED', 'model delete');
    await record('DELETE', `/datasets/${dataset.sourceId}`);
    await until(`/datasets/${dataset.sourceId}`, (x) => x.status === 'DELETED', 'dataset delete');
  });

  it('SageMaker: S3 dataset → Autopilot training → model → endpoint → deploy → infer → undeploy → delete', async () => {
    const { call, record, until, opDone } = replay('sm-adapter', () => sm.assets.settleEndpoints());
    const dataset = await record('POST', '/datasets', {
      name: 'churn',
      s3_uri: 's3://ml-bucket/datasets/churn.csv',
      content: 'a,b,churned\n1,2,0\n',
      content_type: 'text/csv',
    });
    await until(`/datasets/${dataset.sourceId}`, (x) => x.status === 'COMPLETED', 'dataset');
    expect(s3.object('ml-bucket', 'datasets/churn.csv')?.body.toString()).toContain('churned');

    const train = assertRecord(
      await call('POST', '/pipelines/training/train', {
        RoleArn: ROLE,
        Bucket: 'ml-bucket',
        S3Prefix: 'churn',
        inputs: 's3://ml-bucket/datasets/churn.csv',
        target_attribute_name: 'churned',
        content_type: 'text/csv',
      }),
    ) as Rec;
    const trainDeadline = Date.now() + 30_000;
    while (sm.allJobs('automl').length === 0 && Date.now() < trainDeadline)
      await new Promise((res) => setTimeout(res, 150));
    sm.setStatus('automl', sm.allJobs('automl')[0]!.name, 'Completed');
    for (;;) {
      const t = assertRecord(await call('GET', `/pipelines/training/${train.sourceId}/get`)) as Rec;
      if (t.status === 'COMPLETED') break;
      if (Date.now() > trainDeadline + 15_000) throw new Error(`training still ${t.status}`);
      await new Promise((res) => setTimeout(res, 200));
    }

    const model = await record('POST', '/models/register', {
      name: 'churn-model',
      image: IMAGE,
      model_data_url: 's3://ml-bucket/churn/model.tar.gz',
    });
    await until(`/models/${model.sourceId}`, (x) => x.status === 'COMPLETED', 'model');
    const endpoint = await record('POST', '/endpoints/register', { name: 'churn-ep', instance_type: 'ml.m5.large' });
    await until(`/endpoints/${endpoint.sourceId}`, (x) => x.status === 'COMPLETED', 'endpoint');

    await record('POST', `/endpoints/${endpoint.sourceId}/deploy_model`, { model_id: model.sourceId });
    const deployed = await until(`/endpoints/${endpoint.sourceId}`, opDone('endpoint-deploy'), 'deploy');
    expect(deployed.deployment.deployedModels).toHaveLength(1);

    const infer = (await call('POST', `/endpoints/${endpoint.sourceId}/infer`, { instances: [[1, 2]] })) as {
      output: unknown;
    };
    expect(infer.output).toBeDefined();
    expect(sm.callsTo('InvokeEndpoint')).toHaveLength(1);
    const guard = (await (
      await r.api('/api/endpoints?provider=sagemaker', { headers: { 'x-functions-key': KEY } })
    ).json()) as {
      endpoints: { id: string; lastInvokedAt: string | null }[];
    };
    expect(guard.endpoints.find((e) => e.id === endpoint.sourceId)?.lastInvokedAt).toEqual(expect.any(String));

    await record('POST', `/endpoints/${endpoint.sourceId}/undeploy_models`, {});
    const undeployed = await until(`/endpoints/${endpoint.sourceId}`, opDone('endpoint-undeploy'), 'undeploy');
    expect(undeployed.deployment.deployedModels).toEqual([]);

    await record('DELETE', `/endpoints/${endpoint.sourceId}/delete`);
    await until(`/endpoints/${endpoint.sourceId}`, (x) => x.status === 'DELETED', 'endpoint delete');
    await record('DELETE', `/models/${model.sourceId}`);
    await until(`/models/${model.sourceId}`, (x) => x.status === 'DELETED', 'model delete');
    await record('DELETE', `/datasets/${dataset.sourceId}`);
    await until(`/datasets/${dataset.sourceId}`, (x) => x.status === 'DELETED', 'dataset delete');
    expect(s3.object('ml-bucket', 'datasets/churn.csv')).toBeUndefined();
  });

  it('Vertex AI: dataset (with import) → AutoML pipeline → model upload → endpoint → deploy → predict → undeploy → delete', async () => {
    const { call, record, until, opDone } = replay('vx-adapter', () => vx.service.completeAll());
    const dataset = await record('POST', '/datasets', {
      displayName: 'churn-data',
      metadataSchemaUri: 'gs://google-cloud-aiplatform/schema/dataset/metadata/tabular_1.0.0.yaml',
      metadata: { inputConfig: { gcsSource: { uri: ['gs://bucket-in/churn.csv'] } } },
    });
    expect(dataset.name).toBe('churn-data');
    await until(`/datasets/${dataset.sourceId}`, (x) => x.status === 'COMPLETED', 'dataset');

    const train = assertRecord(await call('POST', '/pipelines/training/automl', AUTOML_BODY)) as Rec;
    const trainDeadline = Date.now() + 30_000;
    for (;;) {
      const t = assertRecord(await call('GET', `/pipelines/training/${train.sourceId}/get`)) as Rec;
      if (t.status === 'COMPLETED') break;
      if (t.status === 'RUNNING') vx.service.setState(jobLabelValue(train.sourceId), 'PIPELINE_STATE_SUCCEEDED');
      if (Date.now() > trainDeadline) throw new Error(`training still ${t.status}`);
      await new Promise((res) => setTimeout(res, 200));
    }

    const model = await record('POST', '/models/register', {
      displayName: 'churn-model',
      artifactUri: 'gs://bucket-out/model/',
      containerSpec: { imageUri: 'us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest' },
    });
    const registered = await until(`/models/${model.sourceId}`, (x) => x.status === 'COMPLETED', 'model');
    const endpoint = await record('POST', '/endpoints/register', { displayName: 'churn-ep' });
    await until(`/endpoints/${endpoint.sourceId}`, (x) => x.status === 'COMPLETED', 'endpoint');

    // The UI's DeployModelRequest, naming the model by the provider id our record shows.
    const modelId = (registered.artifacts as { asset: { id: string } }).asset.id;
    await record('POST', `/endpoints/${endpoint.sourceId}/deploy_model`, {
      deployedModel: {
        model: modelId,
        displayName: 'churn-deployed',
        dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 },
      },
      trafficSplit: { '0': 100 },
    });
    const deployed = await until(`/endpoints/${endpoint.sourceId}`, opDone('endpoint-deploy'), 'deploy');
    expect(deployed.deployment.deployedModels).toHaveLength(1);

    const predicted = (await call('POST', `/endpoints/${endpoint.sourceId}/infer`, { instances: [[1, 2]] })) as {
      output: unknown;
    };
    expect(predicted.output).toBeDefined();

    await record('POST', `/endpoints/${endpoint.sourceId}/undeploy_models`, {});
    const undeployed = await until(`/endpoints/${endpoint.sourceId}`, opDone('endpoint-undeploy'), 'undeploy');
    expect(undeployed.deployment.deployedModels).toEqual([]);

    await record('DELETE', `/endpoints/${endpoint.sourceId}/delete`);
    await until(`/endpoints/${endpoint.sourceId}`, (x) => x.status === 'DELETED', 'endpoint delete');
    await record('DELETE', `/models/${model.sourceId}`);
    await until(`/models/${model.sourceId}`, (x) => x.status === 'DELETED', 'model delete');
    await record('DELETE', `/datasets/${dataset.sourceId}`);
    await until(`/datasets/${dataset.sourceId}`, (x) => x.status === 'DELETED', 'dataset delete');
  });
});
