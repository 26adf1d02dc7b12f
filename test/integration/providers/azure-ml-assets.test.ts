import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { PollThrottledError, ProviderRejectedError, ProviderUnavailableError } from '../../../src/lib/errors.js';
import type { JobProvider, PollReport } from '../../../src/lib/ports/provider.js';
import { createAzureMlProvider } from '../../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../../src/lib/providers/azure-ml/settings.js';
import { FakeAzureMl } from '../../fakes/azure-ml/fake-arm.js';
import { providerJob } from '../../support/jobs.js';

const TOKEN = 'eyJ0ZXN0IjoiYXNzZXRzIn0.fake-token';
const SUB = '00000000-1111-2222-3333-555555555555';
const RG = 'rg-assets';
const WS = 'ws-assets';
const WS_PATH = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/workspaces/${WS}`;
const EXPORT_PATH = 'azureml://datastores/workspaceblobstore/paths/cjo-exports';

class StubCredential implements TokenCredential {
  readonly scopes: string[] = [];
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

let counter = 0;
function assetJob(kind: string, spec: Record<string, unknown>): JobRecord {
  counter += 1;
  return providerJob('azure-ml', `j-01jd4assets0000000000${String(counter).padStart(4, '0')}`, kind, spec, {
    body: { labels: { team: 'mlops' } },
  });
}

describe('Azure ML asset operations against the Resource Manager fake', () => {
  let fake: FakeAzureMl;
  let provider: JobProvider;
  let credential: StubCredential;

  async function providerWith(env: Record<string, string>): Promise<JobProvider> {
    return createAzureMlProvider(
      parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: SUB,
        AZUREML_RESOURCE_GROUP: RG,
        AZUREML_WORKSPACE: WS,
        AZUREML_ARM_ENDPOINT: fake.endpoint,
        AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
        AZUREML_SCORING_HOSTS: '127.0.0.1',
        ...env,
      }),
      { credential, trustedCa: fake.ca, sleep: async () => {} },
    );
  }

  beforeAll(async () => {
    fake = await FakeAzureMl.start({ subscriptionId: SUB, resourceGroup: RG, workspace: WS, token: TOKEN });
    credential = new StubCredential();
    provider = await providerWith({ AZUREML_EXPORT_PATH: EXPORT_PATH });
  });
  afterAll(async () => fake.stop());
  beforeEach(() => fake.clearRequests());

  /** Dispatch as the use case does: the outcome's status and ref are stored on the job. */
  async function submit(job: JobRecord): Promise<JobRecord> {
    const outcome = await provider.submit(job);
    return { ...job, status: outcome.status, providerRef: outcome.ref };
  }

  /** One poll cycle for one job, applied as poll-provider does (ref merged, result stored). */
  async function poll(job: JobRecord): Promise<{ job: JobRecord; report: PollReport | undefined }> {
    const [report] = await provider.poll([job]);
    if (!report) return { job, report };
    const status =
      report.status === 'missing' || report.status === 'lost' || report.status === 'no-capacity'
        ? job.status
        : report.status;
    return {
      report,
      job: {
        ...job,
        status,
        providerRef: { ...job.providerRef, ...report.ref },
        ...(report.result && { result: { summary: report.result } }),
        ...(report.error && { error: report.error }),
      },
    };
  }

  /** Polls, completing the fake's operations in between, until the job ends (bounded). */
  async function settle(job: JobRecord): Promise<JobRecord> {
    let current = job;
    for (let i = 0; i < 8; i++) {
      current = (await poll(current)).job;
      if (current.status === 'succeeded' || current.status === 'failed') return current;
      fake.completeOperations();
    }
    throw new Error(`job ${job.id} did not finish: ${current.status}`);
  }

  describe('datasets and models', () => {
    it('creates a data version carrying our tag, reports it as result.asset, and attaches on redelivery', async () => {
      const job = assetJob('dataset-create', {
        name: 'churn',
        version: '3',
        dataType: 'uri_file',
        dataUri: 'azureml://datastores/workspaceblobstore/paths/churn.csv',
      });

      const dispatched = await submit(job);
      const again = await provider.submit(job);
      const { job: done } = await poll(dispatched);

      expect(again.attached).toBe(true);
      expect(fake.requests.filter((r) => r.kind === 'data' && r.method === 'PUT')).toHaveLength(1);
      expect(fake.data.get('churn:3')?.properties.tags).toMatchObject({ 'cjo-job-id': job.id, team: 'mlops' });
      expect(done.status).toBe('succeeded');
      expect(done.result?.summary?.asset).toEqual({
        kind: 'dataset',
        id: `${WS_PATH}/data/churn/versions/3`,
        name: 'churn',
        uri: 'azureml://datastores/workspaceblobstore/paths/churn.csv',
      });
    });

    it('refuses a data version another job made instead of adopting it', async () => {
      const first = assetJob('dataset-create', {
        name: 'shared',
        dataUri: 'https://acct.blob.core.windows.net/c/a.csv',
      });
      await submit(first);
      const second = assetJob('dataset-create', {
        name: 'shared',
        dataUri: 'https://acct.blob.core.windows.net/c/a.csv',
      });

      const attempt = provider.submit(second);

      await expect(attempt).rejects.toBeInstanceOf(ProviderRejectedError);
      await expect(attempt).rejects.toMatchObject({ providerCode: 'AssetExists' });
      expect(fake.data.get('shared:1')?.properties.tags).toMatchObject({ 'cjo-job-id': first.id });
    });

    it('registers a model, and a model-delete succeeds only once the version is gone', async () => {
      const register = await submit(
        assetJob('model-register', {
          name: 'churn-model',
          version: '1',
          modelType: 'mlflow_model',
          modelUri: 'azureml://jobs/j-train/outputs/artifacts/paths/model/',
        }),
      );
      const registered = (await poll(register)).job;
      expect(registered.result?.summary).toMatchObject({
        asset: { kind: 'model', id: `${WS_PATH}/models/churn-model/versions/1`, name: 'churn-model' },
        version: '1',
        modelType: 'mlflow_model',
      });

      // Another client puts the version back between our DELETE and the poll: not confirmed.
      const del = await submit(assetJob('model-delete', { name: 'churn-model', version: '1' }));
      expect(fake.models.has('churn-model:1')).toBe(false);
      fake.models.set('churn-model:1', { ...(registered.result?.summary as object), properties: {} } as never);
      const stillThere = await poll(del);
      expect(stillThere.job.status).toBe('running');
      expect(fake.models.has('churn-model:1')).toBe(false); // the poll asked again

      const gone = await poll(stillThere.job);
      expect(gone.job.status).toBe('succeeded');
      expect(gone.job.result?.summary).toMatchObject({ asset: { kind: 'model', name: 'churn-model' }, deleted: true });
    });

    it('names the field of a bad spec at submission', async () => {
      const job = assetJob('dataset-create', { name: '../etc', dataUri: 'file:///etc/passwd' });

      const attempt = provider.submit(job);

      await expect(attempt).rejects.toMatchObject({ providerCode: 'InvalidJobSpec' });
      await expect(attempt).rejects.toThrow(/spec\.name.*spec\.dataUri|spec\.dataUri.*spec\.name/s);
      expect(fake.requests.filter((r) => r.kind === 'data')).toHaveLength(0);
    });
  });

  describe('exports', () => {
    it('copies a data version to AZUREML_EXPORT_PATH with a tagged copy job and reports where the copy is', async () => {
      const job = assetJob('dataset-export', { name: 'churn', version: '3', dataType: 'uri_file' });

      const dispatched = await submit(job);
      const put = fake.requests.find((r) => r.kind === 'put')!;
      fake.setStatus(job.id, 'Completed');
      const { job: done } = await poll(dispatched);

      const props = (put.body as { properties: Record<string, unknown> }).properties;
      expect(props).toMatchObject({
        jobType: 'Command',
        tags: { 'cjo-job-id': job.id },
        inputs: { source: { jobInputType: 'uri_file', uri: 'azureml:churn:3', mode: 'ReadOnlyMount' } },
        outputs: { copy: { jobOutputType: 'uri_folder', uri: `${EXPORT_PATH}/datasets/churn/3/`, mode: 'Upload' } },
      });
      expect(String(props.command)).toContain('cp ');
      expect(done.status).toBe('succeeded');
      expect(done.result?.summary?.asset).toEqual({
        kind: 'dataset',
        id: `${WS_PATH}/data/churn/versions/3`,
        name: 'churn',
        uri: `${EXPORT_PATH}/datasets/churn/3/`,
      });
    });

    it('refuses an export when no export path is configured, without creating anything', async () => {
      const unconfigured = await providerWith({});

      const attempt = unconfigured.submit(assetJob('model-export', { name: 'm', version: '1' }));

      await expect(attempt).rejects.toMatchObject({ providerCode: 'ExportNotConfigured' });
      expect(fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
    });
  });

  describe('online endpoints', () => {
    it('create → deploy → infer → undeploy → delete, each confirmed through Resource Manager', async () => {
      // A model to deploy.
      await settle(
        await submit(
          assetJob('model-register', {
            name: 'fraud',
            version: '2',
            modelType: 'mlflow_model',
            modelUri: 'azureml://jobs/j-fraud/outputs/artifacts/paths/model/',
          }),
        ),
      );
      const modelId = `${WS_PATH}/models/fraud/versions/2`;

      // Create: running while the operation runs, then the scoring URI.
      const createJob = assetJob('endpoint-create', { name: 'fraud-ep' });
      let endpoint = await submit(createJob);
      expect(endpoint.providerRef?.operation).toMatch(/mfeOperationsStatus/);
      expect((await poll(endpoint)).job.status).toBe('running');
      expect(fake.endpoints.get('fraud-ep')?.tags).toMatchObject({ 'cjo-job-id': createJob.id, team: 'mlops' });
      expect(fake.endpoints.get('fraud-ep')?.location).toBe('westeurope');
      // A redelivered dispatch attaches: still one endpoint PUT.
      expect((await provider.submit(createJob)).attached).toBe(true);
      expect(fake.requests.filter((r) => r.kind === 'endpoint' && r.method === 'PUT')).toHaveLength(1);
      fake.completeOperations();
      endpoint = (await poll(endpoint)).job;
      expect(endpoint.status).toBe('succeeded');
      expect(endpoint.result?.summary?.asset).toEqual({
        kind: 'endpoint',
        id: `${WS_PATH}/onlineEndpoints/fraud-ep`,
        name: 'fraud-ep',
        uri: `${fake.endpoint}/inference/fraud-ep/score`,
        deployedModels: [],
      });

      // Deploy: the deployment's operation, then a traffic update, then success.
      const deployJob = assetJob('endpoint-deploy', {
        endpointName: 'fraud-ep',
        model: modelId,
        instanceType: 'Standard_DS2_v2',
        instanceCount: 2,
      });
      let deploy = await submit(deployJob);
      const deploymentName = String(deploy.providerRef?.deploymentName);
      expect(fake.deployments.get(`fraud-ep/${deploymentName}`)?.tags).toMatchObject({ 'cjo-job-id': deployJob.id });
      expect((await poll(deploy)).job.status).toBe('running');
      fake.completeOperations();
      const routed = await poll(deploy);
      expect(routed.report?.notes?.[0]).toMatch(/routing 100 %/);
      expect(routed.job.providerRef?.step).toBe('traffic');
      deploy = routed.job;
      expect((await poll(deploy)).job.status).toBe('running'); // traffic update still running
      fake.completeOperations();
      deploy = (await poll(deploy)).job;
      expect(deploy.status).toBe('succeeded');
      expect(deploy.result?.summary?.asset).toMatchObject({
        kind: 'endpoint',
        name: 'fraud-ep',
        instanceType: 'Standard_DS2_v2',
        instanceCount: 2,
        deployedModels: [modelId],
      });
      expect(fake.endpoints.get('fraud-ep')?.properties.traffic).toEqual({ [deploymentName]: 100 });

      // Infer through the scoring URI with an Entra token for Azure ML.
      const prediction = await provider.invokeEndpoint!(endpoint, 'infer', {
        input_data: {
          data: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        },
      });
      expect(prediction).toEqual({ predictions: [6, 15], deployment: deploymentName, model: modelId });
      expect(credential.scopes).toContain('https://ml.azure.com/.default');
      const scoring = fake.requests.find((r) => r.kind === 'score');
      expect(scoring?.authorization).toBe(`Bearer ${TOKEN}`);

      // Undeploy: traffic off first (the service refuses to delete a deployment with traffic).
      let undeploy = await submit(assetJob('endpoint-undeploy', { endpointName: 'fraud-ep', models: [modelId] }));
      expect(undeploy.providerRef).toMatchObject({ step: 'traffic', deployments: deploymentName });
      fake.completeOperations();
      undeploy = (await poll(undeploy)).job;
      expect(undeploy.providerRef?.step).toBe('delete');
      expect(fake.deployments.get(`fraud-ep/${deploymentName}`)?.properties.provisioningState).toBe('Deleting');
      expect((await poll(undeploy)).job.status).toBe('running'); // not gone yet: not confirmed
      fake.completeOperations();
      undeploy = (await poll(undeploy)).job;
      expect(undeploy.status).toBe('succeeded');
      expect(undeploy.result?.summary?.asset).toMatchObject({ kind: 'endpoint', name: 'fraud-ep', deployedModels: [] });
      expect(fake.deployments.size).toBe(0);

      // No deployment takes traffic now: the endpoint answers 404, a rejection.
      await expect(provider.invokeEndpoint!(endpoint, 'infer', { input_data: { data: [[1]] } })).rejects.toMatchObject({
        providerCode: 'Scoring404',
      });

      // Delete: succeeded only once the endpoint is gone.
      let del = await submit(assetJob('endpoint-delete', { endpointName: 'fraud-ep' }));
      del = (await poll(del)).job;
      expect(del.status).toBe('running');
      expect(fake.endpoints.get('fraud-ep')?.properties.provisioningState).toBe('Deleting');
      fake.completeOperations();
      del = (await poll(del)).job;
      expect(del.status).toBe('succeeded');
      expect(fake.endpoints.has('fraud-ep')).toBe(false);
    });

    it('converges concurrent dispatches of one endpoint-create on one endpoint', async () => {
      const job = assetJob('endpoint-create', {});
      const pendingBefore = fake.pendingOperations;

      const outcomes = await Promise.all([provider.submit(job), provider.submit(job), provider.submit(job)]);

      const names = new Set(outcomes.map((o) => o.ref.endpointName));
      expect(names.size).toBe(1);
      expect(outcomes.filter((o) => !o.attached).length).toBeGreaterThanOrEqual(1);
      expect([...fake.endpoints.values()].filter((e) => e.tags?.['cjo-job-id'] === job.id)).toHaveLength(1);
      expect(fake.pendingOperations).toBe(pendingBefore + 1);
      fake.completeOperations();
    });

    it('reports the operation error when provisioning fails', async () => {
      let job = await submit(assetJob('endpoint-create', {}));
      const name = String(job.providerRef?.endpointName);
      expect(name).toMatch(/^cjo-[0-9a-f]{20}$/);

      fake.completeOperations({ fail: { code: 'QuotaExceeded', message: 'Not enough quota for Standard_DS3_v2' } });
      job = (await poll(job)).job;

      expect(job.status).toBe('failed');
      expect(job.error).toMatchObject({ code: 'QuotaExceeded', message: 'Not enough quota for Standard_DS3_v2' });
    });

    it('falls back to the resource state once the operation document has expired', async () => {
      let job = await submit(assetJob('endpoint-create', {}));
      fake.completeOperations();
      fake.expireOperations();

      job = (await poll(job)).job;

      expect(job.status).toBe('succeeded');
      expect(fake.requests.some((r) => r.kind === 'opstatus')).toBe(true);
    });

    it('refuses a deploy to an endpoint that does not exist, and a deploy of an unknown model', async () => {
      await expect(
        provider.submit(assetJob('endpoint-deploy', { endpointName: 'nowhere', model: 'azureml:fraud:2' })),
      ).rejects.toMatchObject({ providerCode: 'EndpointNotFound' });

      const ep = await settle(await submit(assetJob('endpoint-create', { name: 'model-check' })));
      expect(ep.status).toBe('succeeded');
      await expect(
        provider.submit(assetJob('endpoint-deploy', { endpointName: 'model-check', model: 'azureml:ghost:1' })),
      ).rejects.toMatchObject({ providerCode: 'UserError' });
    });

    it('waits (ProviderUnavailable, redelivered later) rather than fails a deploy to an endpoint still being created', async () => {
      const creating = await submit(assetJob('endpoint-create', { name: 'busy-ep' }));
      const deploy = assetJob('endpoint-deploy', { endpointName: 'busy-ep', model: 'azureml:whatever:1' });

      await expect(provider.submit(deploy)).rejects.toBeInstanceOf(ProviderUnavailableError);
      expect(fake.requests.filter((r) => r.kind === 'deployment' && r.method === 'PUT')).toHaveLength(0);
      fake.completeOperations();
      expect((await poll(creating)).job.status).toBe('succeeded');
    });

    it('hands back what a throttled poll cycle learned and names the jobs it did not read', async () => {
      const a = await submit(assetJob('endpoint-create', {}));
      const b = await submit(assetJob('endpoint-create', {}));
      fake.inject({ kind: 'opstatus', status: 429, headers: { 'retry-after': '3' } });

      const attempt = provider.poll([a, b]);

      await expect(attempt).rejects.toBeInstanceOf(PollThrottledError);
      await expect(attempt).rejects.toMatchObject({ retryAfterMs: 3000, unread: [a.id, b.id] });
    });
  });

  describe('invokeEndpoint', () => {
    function endpointRecord(uri: string, spec: Record<string, unknown> = {}): JobRecord {
      return {
        ...assetJob('endpoint-create', spec),
        status: 'succeeded',
        result: { summary: { asset: { kind: 'endpoint', id: `${WS_PATH}/onlineEndpoints/x`, name: 'x', uri } } },
      };
    }

    it('never sends the token to a scoring host outside AZUREML_SCORING_HOSTS', async () => {
      const elsewhere = endpointRecord(`https://127.0.0.2:${new URL(fake.endpoint).port}/inference/x/score`);

      await expect(provider.invokeEndpoint!(elsewhere, 'infer', {})).rejects.toMatchObject({
        providerCode: 'ScoringHostNotAllowed',
      });
      await expect(
        provider.invokeEndpoint!(endpointRecord(fake.endpoint.replace('https:', 'http:')), 'infer', {}),
      ).rejects.toMatchObject({ providerCode: 'ScoringHostNotAllowed' });
      expect(fake.requests.filter((r) => r.kind === 'score')).toHaveLength(0);
    });

    it('refuses explain (managed online endpoints have none) and key-auth endpoints', async () => {
      const ep = endpointRecord(`${fake.endpoint}/inference/x/score`);

      await expect(provider.invokeEndpoint!(ep, 'explain', {})).rejects.toMatchObject({
        providerCode: 'ExplainNotSupported',
      });
      await expect(
        provider.invokeEndpoint!(
          endpointRecord(`${fake.endpoint}/inference/x/score`, { authMode: 'Key' }),
          'infer',
          {},
        ),
      ).rejects.toMatchObject({ providerCode: 'UnsupportedAuthMode' });
      expect(fake.requests.filter((r) => r.kind === 'score')).toHaveLength(0);
    });
  });
});

describe('Azure ML fake operations that finish by themselves', () => {
  it('completes an endpoint-create through polls alone (for flows driven by the poller)', async () => {
    const fake = await FakeAzureMl.start({
      subscriptionId: SUB,
      resourceGroup: RG,
      workspace: WS,
      token: TOKEN,
      assetOperationReadsUntilDone: 2,
    });
    try {
      const provider = await createAzureMlProvider(
        parseAzureMlSettings({
          AZUREML_SUBSCRIPTION_ID: SUB,
          AZUREML_RESOURCE_GROUP: RG,
          AZUREML_WORKSPACE: WS,
          AZUREML_ARM_ENDPOINT: fake.endpoint,
        }),
        { credential: new StubCredential(), trustedCa: fake.ca, sleep: async () => {} },
      );
      const job = assetJob('endpoint-create', { name: 'self-ep' });
      const outcome = await provider.submit(job);
      const dispatched: JobRecord = { ...job, status: outcome.status, providerRef: outcome.ref };

      const first = await provider.poll([dispatched]);
      const second = await provider.poll([dispatched]);

      expect(first).toEqual([]); // still Creating: nothing new to report
      expect(second[0]).toMatchObject({ status: 'succeeded', result: { asset: { name: 'self-ep' } } });
      expect(fake.pendingOperations).toBe(0);
    } finally {
      await fake.stop();
    }
  });
});
