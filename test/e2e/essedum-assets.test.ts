import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/lib/core/job.js';
import type { JobProvider } from '../../src/lib/ports/provider.js';
import { ScriptedAssetProvider, scriptedAssetDeps } from '../fakes/scripted-asset-provider.js';
import { assertRecord, EssedumExecutorClient } from '../support/essedum-client.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

const KEY = 'assets-test-key';
/** Short enough to see the money guard act in a test, long enough that the flow test's own calls beat it. */
const IDLE_TTL_SEC = 8;
const V1 = '/service/v1';

type Rec = Record<string, unknown> & { sourceId: string; status: string; deployment: Record<string, unknown> };

describe('Essedum asset routes through the local runner (scripted provider)', () => {
  let r: TestRunner;
  let client: EssedumExecutorClient;
  let sm: ScriptedAssetProvider;
  let ajv: Ajv2020;

  beforeAll(async () => {
    sm = new ScriptedAssetProvider('sagemaker');
    const providers = new Map<string, JobProvider>([['sagemaker', sm]]);
    r = await startTestRunner(
      {
        LOCAL_API_KEY: KEY,
        ESSEDUM_ADAPTERS: JSON.stringify({ 'sm-adapter': { provider: 'sagemaker' } }),
        POLL_SAGEMAKER_SCHEDULE: '* * * * * *',
        RECONCILE_SCHEDULE: '* * * * * *',
        ENDPOINT_IDLE_TTL_SEC: String(IDLE_TTL_SEC),
      },
      { workers: false, overrides: scriptedAssetDeps(providers) },
    );
    client = new EssedumExecutorClient({ executorUrl: `${r.url}/api`, key: KEY });
    const doc = await (await r.api('/api/openapi.json')).json();
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ ...(doc as object), $id: 'openapi.json' });
  });
  afterAll(async () => {
    await r?.stop();
  });

  /** Every reply must match the schema the OpenAPI document gives it. */
  const conforms = (schema: string, body: unknown) => {
    const validate = ajv.compile({ $ref: `openapi.json#/components/schemas/${schema}` });
    expect(
      validate(body),
      `${schema}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 400)}`,
    ).toBe(true);
  };
  const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    client.mlops(method, `${V1}${path}`, { adapterInstance: 'sm-adapter', project: 'proj' }, body);
  const ok = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Rec> => {
    const res = await call(method, path, body);
    expect(res.status, `${method} ${path}: ${res.text}`).toBe(200);
    conforms('AssetRecord', res.json);
    return assertRecord(res.json) as Rec;
  };
  const job = async (id: string): Promise<JobRecord> => (await r.deps.store.get(id))!;
  /** Waits until the provider has the job's run, then lets the provider finish it. */
  const complete = async (id: string) => {
    const dispatched = await waitFor(
      () => job(id),
      (j) => j.status === 'dispatched' || j.status === 'running',
      30_000,
      `job ${id} to be dispatched`,
    );
    sm.complete(dispatched);
  };
  const waitRecord = async (type: string, id: string, check: (rec: Rec) => boolean, what: string) =>
    waitFor(() => ok('GET', `/${type}/${id}`), check, 30_000, what);
  const lastOpJob = async (id: string) => (await job(id)).asset!.lastOperation!.jobId;

  it('datasets: create → COMPLETED → listed → export → delete, DELETED only after the provider confirmed', async () => {
    const body = { name: 'churn-train', description: 'train split', createdBy: 'ana', uri: 's3://b/train.csv' };
    const created = await ok('POST', '/datasets', body);
    expect(created).toMatchObject({
      type: 'dataset',
      status: 'WAITING',
      adapter: 'sm-adapter',
      project: 'proj',
      rawPayload: body,
    });
    await complete(created.sourceId);
    const done = await waitRecord('datasets', created.sourceId, (x) => x.status === 'COMPLETED', 'dataset COMPLETED');
    expect(done.artifacts).toMatchObject({ uri: 'scripted://datasets/churn-train' });

    const list = await call('GET', '/datasets/list');
    conforms('AssetList', list.json);
    expect((list.json as Rec[]).map((x) => x.sourceId)).toContain(created.sourceId);

    // Export (no body, as the backend may send it), then delete.
    const exp = await client.mlops('POST', `${V1}/datasets/${created.sourceId}/export`, {
      adapterInstance: 'sm-adapter',
    });
    expect(exp.status, exp.text).toBe(200);
    await complete(await lastOpJob(created.sourceId));
    const exported = await waitRecord(
      'datasets',
      created.sourceId,
      (x) => (x.lastOperation as { status?: string })?.status === 'succeeded',
      'export done',
    );
    expect((exported.artifacts as { exports: { uri: string }[] }).exports[0]?.uri).toMatch(/^scripted:\/\/exports\//);

    const del = await ok('DELETE', `/datasets/${created.sourceId}`);
    expect(del).toMatchObject({ status: 'COMPLETED', lastOperation: { op: 'dataset-delete' } });
    // A second operation while the delete runs: 409 problem.
    const busy = await call('DELETE', `/datasets/${created.sourceId}`);
    expect(busy.status).toBe(409);
    conforms('Problem', busy.json);
    await new Promise((res) => setTimeout(res, 1500)); // a poll cycle or two: still not confirmed
    expect((await ok('GET', `/datasets/${created.sourceId}`)).status).toBe('COMPLETED');
    await complete(await lastOpJob(created.sourceId));
    await waitRecord('datasets', created.sourceId, (x) => x.status === 'DELETED', 'dataset DELETED');
    const after = await call('GET', '/datasets/list');
    expect((after.json as Rec[]).map((x) => x.sourceId)).not.toContain(created.sourceId);
  });

  it('models and endpoints: register → endpoint → deploy_model → infer/explain → undeploy_models → delete', async () => {
    const model = await ok('POST', '/models/register', { name: 'churn-model' });
    await complete(model.sourceId);
    await waitRecord('models', model.sourceId, (x) => x.status === 'COMPLETED', 'model COMPLETED');
    const ep = await ok('POST', '/endpoints/register', {
      name: 'churn-ep',
      instance_type: 'ml.c5.large',
      instance_count: 2,
    });
    await complete(ep.sourceId);
    const ready = await waitRecord('endpoints', ep.sourceId, (x) => x.status === 'COMPLETED', 'endpoint COMPLETED');
    expect(ready.deployment).toMatchObject({ instanceType: 'ml.c5.large', instanceCount: 2, deployedModels: [] });

    await ok('POST', `/endpoints/${ep.sourceId}/deploy_model`, { model_id: model.sourceId });
    await complete(await lastOpJob(ep.sourceId));
    const deployed = await waitRecord(
      'endpoints',
      ep.sourceId,
      (x) => (x.deployment.deployedModels as string[]).length === 1,
      'model deployed',
    );
    expect(deployed.deployment.deployedModels).toEqual([`model/churn-model-${model.sourceId}`]);

    const infer = await call('POST', `/endpoints/${ep.sourceId}/infer`, { instances: [[1], [2]] });
    expect(infer.status, infer.text).toBe(200);
    conforms('Invocation', infer.json);
    expect(infer.json).toMatchObject({ operation: 'infer', output: { predictions: [0, 1] } });
    const explain = await call('POST', `/endpoints/${ep.sourceId}/explain`, { instances: [[1]] });
    expect(explain.json).toMatchObject({
      operation: 'explain',
      output: { explanations: [{ attributions: [0.5, 0.5] }] },
    });
    expect((await ok('GET', `/endpoints/${ep.sourceId}`)).deployment.lastInvokedAt).toEqual(expect.any(String));

    const guard = await r.api('/api/endpoints?provider=sagemaker', { headers: { 'x-functions-key': KEY } });
    expect(guard.status).toBe(200);
    const live = (await guard.json()) as { endpoints: Record<string, unknown>[]; idleTtlSec: number };
    conforms('LiveEndpoints', live);
    expect(live.idleTtlSec).toBe(IDLE_TTL_SEC);
    expect(live.endpoints.find((e) => e.id === ep.sourceId)).toMatchObject({
      provider: 'sagemaker',
      instanceType: 'ml.c5.large',
      instanceCount: 2,
      deployedModels: [`model/churn-model-${model.sourceId}`],
      lastInvokedAt: expect.any(String),
    });

    await ok('POST', `/endpoints/${ep.sourceId}/undeploy_models`, {});
    await complete(await lastOpJob(ep.sourceId));
    await waitRecord(
      'endpoints',
      ep.sourceId,
      (x) => (x.deployment.deployedModels as string[]).length === 0,
      'model undeployed',
    );
    // Nothing deployed: the endpoint refuses to score (its 4xx is a 502 problem here).
    const refused = await call('POST', `/endpoints/${ep.sourceId}/infer`, { instances: [[1]] });
    expect(refused.status).toBe(502);
    conforms('Problem', refused.json);

    await ok('DELETE', `/endpoints/${ep.sourceId}/delete`);
    await complete(await lastOpJob(ep.sourceId));
    await waitRecord('endpoints', ep.sourceId, (x) => x.status === 'DELETED', 'endpoint DELETED');
    const gone = (await (await r.api('/api/endpoints', { headers: { 'x-functions-key': KEY } })).json()) as {
      endpoints: { id: string }[];
    };
    expect(gone.endpoints.map((e) => e.id)).not.toContain(ep.sourceId);
  });

  it('bad bodies get 4xx problems naming the field; unknown ids and actions the executors’ 404 body', async () => {
    for (const [path, body, field] of [
      ['/datasets', { name: 'Not A Name' }, 'name'],
      ['/endpoints/register', { name: 'ok', instance_count: 'two' }, 'instance_count'],
      ['/models/register', [1, 2], ''],
    ] as const) {
      const res = await call('POST', path, body);
      expect(res.status, `${path}: ${res.text}`).toBe(400);
      conforms('Problem', res.json);
      expect((res.json as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain(field);
    }
    const adapter = await client.mlops(
      'POST',
      `${V1}/datasets`,
      { adapterInstance: 'nope', referer: 'http://169.254.169.254/latest/meta-data/' },
      { name: 'x' },
    );
    expect(adapter.status).toBe(400);
    expect((adapter.json as { errors: { field: string }[] }).errors[0]?.field).toBe('adapter_instance');
    const notJson = await r.api(`/api${V1}/datasets?adapter_instance=sm-adapter`, {
      method: 'POST',
      headers: { 'x-functions-key': KEY, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get('content-type')).toContain('application/problem+json');

    const unknown = 'j-00000000000000000000000000';
    const model = await ok('POST', '/models/register', { name: 'for-404s' });
    for (const [method, path, body] of [
      ['GET', `/datasets/${unknown}`],
      ['DELETE', `/datasets/${unknown}`],
      ['POST', `/datasets/${unknown}/export`, {}],
      ['GET', `/models/${unknown}`],
      ['POST', `/models/${unknown}/export`, {}],
      ['GET', `/endpoints/${model.sourceId}`],
      ['DELETE', `/endpoints/${unknown}/delete`],
      ['POST', `/endpoints/${unknown}/infer`, { instances: [] }],
      ['POST', `/endpoints/${unknown}/deploy_model`, { model_id: model.sourceId }],
      ['POST', `/endpoints/${unknown}/undeploy_models`, {}],
      ['POST', `/endpoints/${unknown}/reboot`, {}],
    ] as const) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json).toEqual({ error: 'Not found - The requested resource does not exists' });
    }
    // Deploying an unknown model on a real endpoint: 404 too.
    const ep = await ok('POST', '/endpoints/register', { name: 'ep-404' });
    await complete(ep.sourceId);
    await waitRecord('endpoints', ep.sourceId, (x) => x.status === 'COMPLETED', 'endpoint COMPLETED');
    const deploy = await call('POST', `/endpoints/${ep.sourceId}/deploy_model`, { model_id: unknown });
    expect(deploy.status).toBe(404);
    // A money-guard query with a bad limit: 400 naming it.
    const bad = await r.api('/api/endpoints?limit=0', { headers: { 'x-functions-key': KEY } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe('limit');
  });

  it('money guard: an endpoint with a deployed model and no call for ENDPOINT_IDLE_TTL_SEC is undeployed by the reconciler, with an event on its record', async () => {
    const model = await ok('POST', '/models/register', { name: 'idle-model' });
    await complete(model.sourceId);
    await waitRecord('models', model.sourceId, (x) => x.status === 'COMPLETED', 'model COMPLETED');
    const ep = await ok('POST', '/endpoints/register', { name: 'idle-ep' });
    await complete(ep.sourceId);
    await waitRecord('endpoints', ep.sourceId, (x) => x.status === 'COMPLETED', 'endpoint COMPLETED');
    await ok('POST', `/endpoints/${ep.sourceId}/deploy_model`, { model_id: model.sourceId });
    await complete(await lastOpJob(ep.sourceId));
    await waitRecord(
      'endpoints',
      ep.sourceId,
      (x) => (x.deployment.deployedModels as string[]).length === 1,
      'deployed',
    );

    const undeploy = await waitFor(
      () => job(ep.sourceId),
      (j) => j.asset?.lastOperation?.op === 'endpoint-undeploy',
      30_000,
      'the idle check to start an undeploy',
    );
    const undeployJob = await job(undeploy.asset!.lastOperation!.jobId);
    expect(undeployJob.spec).toMatchObject({
      kind: 'endpoint-undeploy',
      data: { essedum: { asset: { of: ep.sourceId, trigger: 'idle-ttl' } } },
    });
    const events = await r.api(`/api/jobs/${ep.sourceId}/events`, { headers: { 'x-functions-key': KEY } });
    const reasons = ((await events.json()) as { events: { reason: string }[] }).events.map((e) => e.reason);
    expect(
      reasons.some((x) => new RegExp(`ENDPOINT_IDLE_TTL_SEC=${IDLE_TTL_SEC}\\): endpoint-undeploy requested`).test(x)),
    ).toBe(true);
    // Until the provider confirms, the model still shows deployed; then it does not, and no second undeploy starts.
    expect((await ok('GET', `/endpoints/${ep.sourceId}`)).deployment.deployedModels).toHaveLength(1);
    await complete(undeployJob.id);
    await waitRecord(
      'endpoints',
      ep.sourceId,
      (x) => (x.deployment.deployedModels as string[]).length === 0,
      'undeployed',
    );
    await new Promise((res) => setTimeout(res, 2000));
    expect((await job(ep.sourceId)).asset?.lastOperation?.jobId).toBe(undeployJob.id);
  });
});
