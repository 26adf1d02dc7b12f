import { describe, expect, it } from 'vitest';
import { handleDispatchMessage } from '../../../src/lib/app/dispatch-job.js';
import { listLiveEndpoints } from '../../../src/lib/app/endpoints.js';
import {
  AssetConflictError,
  AssetNotFoundError,
  assetRecord,
  createAsset,
  deleteAsset,
  getAsset,
  invokeAsset,
  listAssets,
  operateAsset,
} from '../../../src/lib/app/essedum/assets.js';
import { pollProvider } from '../../../src/lib/app/poll-provider.js';
import { reconcile } from '../../../src/lib/app/reconcile.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import type { Deps } from '../../../src/lib/deps.js';
import { NotSupportedError, ProviderRejectedError, ValidationError } from '../../../src/lib/errors.js';
import type { JobProvider } from '../../../src/lib/ports/provider.js';
import { ScriptedAssetProvider, scriptedAssetDeps } from '../../fakes/scripted-asset-provider.js';
import { ScriptedProvider } from '../../fakes/scripted-provider.js';
import { appHarness } from '../../support/app-deps.js';

const ADAPTERS = JSON.stringify({
  'sm-a': { provider: 'sagemaker' },
  'sm-b': { provider: 'sagemaker' },
  vx: { provider: 'vertex' },
});

/** The use-case harness with a scripted asset provider named `sagemaker` (and a plain one named `vertex`). */
function harness(env: Record<string, string> = {}) {
  const h = appHarness({ ESSEDUM_ADAPTERS: ADAPTERS, ...env });
  const sm = new ScriptedAssetProvider('sagemaker');
  const vx = new ScriptedProvider('vertex');
  const providers = new Map<string, JobProvider>([
    ['sagemaker', sm],
    ['vertex', vx],
  ]);
  // The SageMaker and Vertex names stand for scripted providers; their Essedum translation and spec
  // checks are the scripted ones (the real ones are tested with each provider).
  const deps: Deps = { ...h.deps, ...scriptedAssetDeps(providers) };
  const ctx = (adapter = 'sm-a', project = 'churn') => ({
    adapterInstance: adapter,
    project,
    referer: 'http://169.254.169.254/',
  });
  /** Dispatch (the ml queue's handler) and let the provider pick the job up. */
  const dispatch = async (job: JobRecord) => {
    await handleDispatchMessage(deps, { jobId: job.id });
    return (await h.store.get(job.id))!;
  };
  /** The provider finishes the job's operation; one poll cycle records it. */
  const finish = async (job: JobRecord) => {
    const dispatched = await dispatch(job);
    sm.complete(dispatched);
    await pollProvider(deps, 'sagemaker');
    return (await h.store.get(job.id))!;
  };
  const lastOpJob = async (recordId: string) => {
    const rec = await h.store.get(recordId);
    return (await h.store.get(rec!.asset!.lastOperation!.jobId))!;
  };
  return { ...h, deps, sm, vx, ctx, dispatch, finish, lastOpJob };
}

describe('Essedum asset use cases', () => {
  it('creates a dataset as a job whose id is the record id; the record follows the job to COMPLETED with where the data is', async () => {
    const h = harness();
    const body = { name: 'churn-train', description: 'training split', createdBy: 'ana', uri: 's3://b/k.csv' };
    const job = await createAsset(h.deps, h.ctx(), 'dataset', body);

    expect(job).toMatchObject({ source: 'essedum-asset', spec: { target: 'sagemaker', kind: 'dataset-create' } });
    expect(job.spec.data).toEqual({
      essedum: {
        asset: {
          op: 'dataset-create',
          assetType: 'dataset',
          adapter: 'sm-a',
          name: 'churn-train',
          description: 'training split',
          project: 'churn',
          createdBy: 'ana',
          rawPayload: body,
          trigger: 'essedum',
        },
      },
    });
    expect(assetRecord(job)).toMatchObject({ sourceId: job.id, status: 'WAITING', type: 'dataset', adapter: 'sm-a' });

    const done = await h.finish(job);
    expect(done.status).toBe('succeeded');
    const rec = await getAsset(h.deps, 'dataset', job.id);
    expect(rec).toMatchObject({
      sourceId: job.id,
      name: 'churn-train',
      status: 'COMPLETED',
      project: 'churn',
      createdBy: 'ana',
      rawPayload: body,
      artifacts: { uri: 'scripted://datasets/churn-train', asset: { kind: 'dataset', name: 'churn-train' } },
      deployment: { provider: 'sagemaker', kind: 'dataset-create' },
    });
    expect(h.sm.resources.get(`dataset/churn-train-${job.id}`)?.tags).toEqual(h.sm.tag);
  });

  it('lists only the adapter’s and the project’s records of that type, and never operation jobs', async () => {
    const h = harness();
    const a = await h.finish(await createAsset(h.deps, h.ctx('sm-a', 'churn'), 'dataset', { name: 'a' }));
    h.advance(1);
    const b = await createAsset(h.deps, h.ctx('sm-b', 'churn'), 'dataset', { name: 'b' });
    h.advance(1);
    const c = await createAsset(h.deps, h.ctx('sm-a', 'other'), 'dataset', { name: 'c' });
    h.advance(1);
    const m = await createAsset(h.deps, h.ctx('sm-a', 'churn'), 'model', { name: 'm' });
    h.advance(1);
    await operateAsset(h.deps, 'dataset', a.id, 'dataset-export', {});

    const ids = async (ctx: ReturnType<typeof h.ctx>, type: 'dataset' | 'model') =>
      (await listAssets(h.deps, ctx, type)).map((r) => r.sourceId);
    expect(await ids(h.ctx('sm-a', 'churn'), 'dataset')).toEqual([a.id]);
    expect(await ids(h.ctx('sm-b', 'churn'), 'dataset')).toEqual([b.id]);
    expect(await ids(h.ctx('sm-a', 'other'), 'dataset')).toEqual([c.id]);
    expect(await ids(h.ctx('sm-a', 'churn'), 'model')).toEqual([m.id]);
  });

  it('refuses bad bodies and unknown adapters naming the field, and stores nothing for them', async () => {
    const h = harness();
    await expect(createAsset(h.deps, h.ctx(), 'dataset', ['not', 'an', 'object'])).rejects.toBeInstanceOf(
      ValidationError,
    );
    const bad = await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'Bad Name!', instance_count: 1.5 }).catch(
      (e: unknown) => e,
    );
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).issues.map((i) => i.field)).toEqual(['name']);
    const adapter = await createAsset(h.deps, h.ctx('evil'), 'dataset', { name: 'x' }).catch((e: unknown) => e);
    expect((adapter as ValidationError).issues[0]?.field).toBe('adapter_instance');
    expect((await h.store.list({ limit: 10 })).jobs).toEqual([]);
  });

  it('answers unknown ids, ids of another asset type and ids of other jobs with AssetNotFoundError', async () => {
    const h = harness();
    const dataset = await h.finish(await createAsset(h.deps, h.ctx(), 'dataset', { name: 'd' }));
    const other = await h.seed('succeeded');
    for (const attempt of [
      () => getAsset(h.deps, 'dataset', 'j-00000000000000000000000000'),
      () => getAsset(h.deps, 'model', dataset.id),
      () => getAsset(h.deps, 'dataset', other.id),
      () => deleteAsset(h.deps, 'model', dataset.id),
      () => invokeAsset(h.deps, dataset.id, 'infer', {}),
      () => operateAsset(h.deps, 'dataset', '../../etc', 'dataset-export', {}),
    ])
      await expect(attempt()).rejects.toBeInstanceOf(AssetNotFoundError);
    // An operation job is not a record either.
    await operateAsset(h.deps, 'dataset', dataset.id, 'dataset-export', {});
    const exportJob = await h.lastOpJob(dataset.id);
    await expect(getAsset(h.deps, 'dataset', exportJob.id)).rejects.toBeInstanceOf(AssetNotFoundError);
  });

  it('says DELETED only once the provider confirmed the delete; until then the record is unchanged, and a second operation is refused', async () => {
    const h = harness();
    const dataset = await h.finish(await createAsset(h.deps, h.ctx(), 'dataset', { name: 'gone' }));
    const reply = await deleteAsset(h.deps, 'dataset', dataset.id);
    expect(reply).toMatchObject({ status: 'COMPLETED', lastOperation: { op: 'dataset-delete' } });
    expect(reply.message).toMatch(/once sagemaker confirms/);
    const del = await h.dispatch(await h.lastOpJob(dataset.id));
    expect(del.spec).toMatchObject({ kind: 'dataset-delete', data: { essedum: { asset: { of: dataset.id } } } });

    await pollProvider(h.deps, 'sagemaker'); // the provider still deletes
    expect(await getAsset(h.deps, 'dataset', dataset.id)).toMatchObject({ status: 'COMPLETED' });
    await expect(operateAsset(h.deps, 'dataset', dataset.id, 'dataset-export', {})).rejects.toBeInstanceOf(
      AssetConflictError,
    );
    expect(h.sm.resources.has(`dataset/gone-${dataset.id}`)).toBe(true);

    h.sm.complete(del);
    await pollProvider(h.deps, 'sagemaker');
    const after = await getAsset(h.deps, 'dataset', dataset.id);
    expect(after).toMatchObject({ status: 'DELETED', deleted: true, lastOperation: { status: 'succeeded' } });
    expect(h.sm.resources.has(`dataset/gone-${dataset.id}`)).toBe(false);
    const events = await h.store.events(dataset.id);
    expect(events.map((e) => e.reason)).toEqual(
      expect.arrayContaining([
        `dataset-delete requested (job ${del.id})`,
        `dataset-delete confirmed by sagemaker (job ${del.id})`,
      ]),
    );
    expect(await listAssets(h.deps, h.ctx(), 'dataset')).toEqual([]);
    await expect(deleteAsset(h.deps, 'dataset', dataset.id)).rejects.toBeInstanceOf(AssetConflictError);
  });

  it('a failed delete leaves the asset as it was, and it can be tried again', async () => {
    const h = harness();
    const model = await h.finish(await createAsset(h.deps, h.ctx(), 'model', { name: 'm1' }));
    await deleteAsset(h.deps, 'model', model.id);
    const del = await h.dispatch(await h.lastOpJob(model.id));
    h.sm.fail(del, 'ResourceInUse', 'the model is deployed');
    await pollProvider(h.deps, 'sagemaker');
    const rec = await getAsset(h.deps, 'model', model.id);
    expect(rec).toMatchObject({
      status: 'COMPLETED',
      lastOperation: { status: 'failed', error: { code: 'ResourceInUse' } },
    });
    expect(rec.deleted).toBeUndefined();
    await expect(deleteAsset(h.deps, 'model', model.id)).resolves.toMatchObject({
      lastOperation: { op: 'model-delete' },
    });
  });

  it('two operations racing on one asset: exactly one starts', async () => {
    const h = harness();
    const dataset = await h.finish(await createAsset(h.deps, h.ctx(), 'dataset', { name: 'race' }));
    const results = await Promise.allSettled([
      operateAsset(h.deps, 'dataset', dataset.id, 'dataset-export', {}),
      operateAsset(h.deps, 'dataset', dataset.id, 'dataset-export', {}),
      deleteAsset(h.deps, 'dataset', dataset.id),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AssetConflictError);
    const opJobs = (await h.store.list({ limit: 50 })).jobs.filter((j) => j.id !== dataset.id);
    expect(opJobs).toHaveLength(1);
  });

  it('an asset still being created takes no operation (409)', async () => {
    const h = harness();
    const endpoint = await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'ep' });
    await expect(deleteAsset(h.deps, 'endpoint', endpoint.id)).rejects.toThrow(/still being created/);
    await expect(invokeAsset(h.deps, endpoint.id, 'infer', { instances: [] })).rejects.toBeInstanceOf(
      AssetConflictError,
    );
  });

  it('register → endpoint → deploy the model by its record id → infer/explain → undeploy → delete, each confirmed by the provider', async () => {
    const h = harness();
    const model = await h.finish(await createAsset(h.deps, h.ctx(), 'model', { name: 'churn-model' }));
    h.advance(1);
    const endpoint = await h.finish(
      await createAsset(h.deps, h.ctx(), 'endpoint', {
        name: 'churn-ep',
        instance_type: 'ml.c5.xlarge',
        instance_count: 2,
      }),
    );
    expect(await getAsset(h.deps, 'endpoint', endpoint.id)).toMatchObject({
      status: 'COMPLETED',
      deployment: { instanceType: 'ml.c5.xlarge', instanceCount: 2, deployedModels: [], lastInvokedAt: null },
    });

    // Nothing deployed yet: the endpoint itself refuses (a 4xx from the endpoint → 502 to the caller).
    await expect(invokeAsset(h.deps, endpoint.id, 'infer', { instances: [[1]] })).rejects.toBeInstanceOf(
      ProviderRejectedError,
    );

    await operateAsset(h.deps, 'endpoint', endpoint.id, 'endpoint-deploy', { model_id: model.id });
    const deploy = await h.dispatch(await h.lastOpJob(endpoint.id));
    expect(deploy.spec.spec).toEqual({
      endpoint: `endpoint/churn-ep-${endpoint.id}`,
      model: `model/churn-model-${model.id}`,
    });
    expect(deploy.spec.data).toMatchObject({ essedum: { asset: { of: endpoint.id, refs: { model: model.id } } } });
    expect((await getAsset(h.deps, 'endpoint', endpoint.id)).deployment).toMatchObject({ deployedModels: [] });
    h.sm.complete(deploy);
    await pollProvider(h.deps, 'sagemaker');
    expect((await getAsset(h.deps, 'endpoint', endpoint.id)).deployment).toMatchObject({
      deployedModels: [`model/churn-model-${model.id}`],
    });

    h.advance(5);
    const infer = await invokeAsset(h.deps, endpoint.id, 'infer', { instances: [[1], [2], [3]] });
    expect(infer).toMatchObject({ sourceId: endpoint.id, operation: 'infer', output: { predictions: [0, 1, 0] } });
    const explain = await invokeAsset(h.deps, endpoint.id, 'explain', { instances: [[1]] });
    expect(explain.output).toEqual({
      explanations: [{ attributions: [0.5, 0.5] }],
      model: `model/churn-model-${model.id}`,
    });
    expect(h.sm.invocations.map((i) => i.operation)).toEqual(['infer', 'infer', 'explain']);
    expect((await getAsset(h.deps, 'endpoint', endpoint.id)).deployment).toMatchObject({
      lastInvokedAt: h.now().toISOString(),
    });

    await operateAsset(h.deps, 'endpoint', endpoint.id, 'endpoint-undeploy', {});
    await h.finish(await h.lastOpJob(endpoint.id));
    expect((await getAsset(h.deps, 'endpoint', endpoint.id)).deployment).toMatchObject({ deployedModels: [] });

    await deleteAsset(h.deps, 'endpoint', endpoint.id);
    await h.finish(await h.lastOpJob(endpoint.id));
    expect(await getAsset(h.deps, 'endpoint', endpoint.id)).toMatchObject({ status: 'DELETED' });
    expect(h.sm.resources.size).toBe(1); // the model is still there
    await expect(invokeAsset(h.deps, endpoint.id, 'infer', { instances: [] })).rejects.toThrow(/deleted/);
  });

  it('a deploy naming a model record that does not exist is a not-found; one naming a deleted model a conflict', async () => {
    const h = harness();
    const endpoint = await h.finish(await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'ep' }));
    await expect(
      operateAsset(h.deps, 'endpoint', endpoint.id, 'endpoint-deploy', { model_id: 'j-00000000000000000000000000' }),
    ).rejects.toBeInstanceOf(AssetNotFoundError);
    const model = await h.finish(await createAsset(h.deps, h.ctx(), 'model', { name: 'old' }));
    await deleteAsset(h.deps, 'model', model.id);
    await h.finish(await h.lastOpJob(model.id));
    await expect(
      operateAsset(h.deps, 'endpoint', endpoint.id, 'endpoint-deploy', { model_id: model.id }),
    ).rejects.toBeInstanceOf(AssetConflictError);
    // Without a model the provider's translation names the field.
    const missing = await operateAsset(h.deps, 'endpoint', endpoint.id, 'endpoint-deploy', {}).catch((e: unknown) => e);
    expect((missing as ValidationError).issues[0]?.field).toBe('model_id');
    expect((await h.store.get(endpoint.id))?.asset?.pending).toBeUndefined();
  });

  it('a provider without endpoint calls answers NotSupportedError (501)', async () => {
    const h = harness();
    const endpoint = await createAsset(h.deps, h.ctx('vx'), 'endpoint', { name: 'vx-ep' });
    await handleDispatchMessage(h.deps, { jobId: endpoint.id });
    h.vx.setRun(endpoint, {
      status: 'succeeded',
      report: { result: { asset: { kind: 'endpoint', id: 'e1', name: 'vx-ep' } } },
    });
    await pollProvider(h.deps, 'vertex');
    await expect(invokeAsset(h.deps, endpoint.id, 'infer', { instances: [] })).rejects.toBeInstanceOf(
      NotSupportedError,
    );
  });

  it('money guard: lists live endpoints with provider, instance, age and last call; ENDPOINT_IDLE_TTL_SEC undeploys an idle one once, with a note', async () => {
    const h = harness({ ENDPOINT_IDLE_TTL_SEC: '600' });
    const model = await h.finish(await createAsset(h.deps, h.ctx(), 'model', { name: 'm' }));
    const busy = await h.finish(await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'busy' }));
    const idle = await h.finish(await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'idle' }));
    const empty = await h.finish(await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'empty' }));
    for (const ep of [busy, idle]) {
      await operateAsset(h.deps, 'endpoint', ep.id, 'endpoint-deploy', { model_id: model.id });
      await h.finish(await h.lastOpJob(ep.id));
    }
    const gone = await h.finish(await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'gone' }));
    await deleteAsset(h.deps, 'endpoint', gone.id);
    await h.finish(await h.lastOpJob(gone.id));

    h.advance(590);
    await invokeAsset(h.deps, busy.id, 'infer', { instances: [[1]] });
    expect(await reconcile(h.deps)).toMatchObject({ idleUndeploys: 0 });

    const listed = await listLiveEndpoints(h.deps, {});
    expect(listed.idleTtlSec).toBe(600);
    expect(listed.endpoints.map((e) => e.id).sort()).toEqual([busy.id, idle.id, empty.id].sort());
    const idleRow = listed.endpoints.find((e) => e.id === idle.id)!;
    expect(idleRow).toMatchObject({
      provider: 'sagemaker',
      adapter: 'sm-a',
      instanceType: 'ml.m5.large',
      instanceCount: 1,
      deployedModels: [`model/m-${model.id}`],
      ageSec: 590,
      lastInvokedAt: null,
      idleSec: 590,
    });
    expect(listed.endpoints.find((e) => e.id === busy.id)).toMatchObject({
      idleSec: 0,
      lastInvokedAt: h.now().toISOString(),
    });
    expect(listed.endpoints.find((e) => e.id === empty.id)).toMatchObject({ idleUndeployAt: null, deployedModels: [] });

    h.advance(11);
    expect(await reconcile(h.deps)).toMatchObject({ idleUndeploys: 1 });
    const undeploy = await h.lastOpJob(idle.id);
    expect(undeploy.spec).toMatchObject({
      kind: 'endpoint-undeploy',
      data: { essedum: { asset: { of: idle.id, trigger: 'idle-ttl' } } },
    });
    const note = (await h.store.events(idle.id)).at(-1);
    expect(note).toMatchObject({ type: 'note' });
    expect(note?.reason).toMatch(/^no invocation for 601 s \(ENDPOINT_IDLE_TTL_SEC=600\): endpoint-undeploy requested/);
    // While that undeploy runs, and after it is confirmed, no second one starts.
    expect(await reconcile(h.deps)).toMatchObject({ idleUndeploys: 0 });
    await h.finish(undeploy);
    h.advance(700);
    const last = await reconcile(h.deps);
    // The busy endpoint has now been idle too; the undeployed one is left alone.
    expect(last.idleUndeploys).toBe(1);
    expect((await h.store.get(busy.id))?.asset?.lastOperation?.op).toBe('endpoint-undeploy');
    expect((await getAsset(h.deps, 'endpoint', idle.id)).deployment).toMatchObject({ deployedModels: [] });
  });

  it('money guard: the idle check is off by default, and the list query is validated', async () => {
    const h = harness();
    const model = await h.finish(await createAsset(h.deps, h.ctx(), 'model', { name: 'm' }));
    const ep = await h.finish(await createAsset(h.deps, h.ctx(), 'endpoint', { name: 'e' }));
    await operateAsset(h.deps, 'endpoint', ep.id, 'endpoint-deploy', { model_id: model.id });
    await h.finish(await h.lastOpJob(ep.id));
    h.advance(365 * 24 * 3600);
    expect(await reconcile(h.deps)).toMatchObject({ idleUndeploys: 0 });
    const list = await listLiveEndpoints(h.deps, { provider: 'sagemaker', limit: '5' });
    expect(list).toMatchObject({ idleTtlSec: null, endpoints: [{ id: ep.id, idleUndeployAt: null }] });
    expect((await listLiveEndpoints(h.deps, { provider: 'vertex' })).endpoints).toEqual([]);
    for (const [query, field] of [
      [{ limit: '0' }, 'limit'],
      [{ limit: 'many' }, 'limit'],
      [{ provider: 'aws' }, 'provider'],
    ] as const) {
      const error = await listLiveEndpoints(h.deps, query).catch((e: unknown) => e);
      expect(error, JSON.stringify(query)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]?.field).toBe(field);
    }
  });
});
