import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { grpc } from 'google-gax';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ProviderRejectedError, ProviderThrottledError, ValidationError } from '../../../src/lib/errors.js';
import type { PollReport } from '../../../src/lib/ports/provider.js';
import { deployedModelIdFor } from '../../../src/lib/providers/vertex/asset-spec.js';
import { createVertexProvider, type VertexProvider } from '../../../src/lib/providers/vertex/provider.js';
import { parseVertexSettings } from '../../../src/lib/providers/vertex/settings.js';
import { CUSTOM_SPEC, fakeSettings, makeJob, staticAuthClient, TEST_TOKEN } from '../../fakes/vertex/fixtures.js';
import { VertexGrpcFake } from '../../fakes/vertex/vertex-grpc-fake.js';
import { VertexRestFake } from '../../fakes/vertex/vertex-rest-fake.js';
import type { VertexFakeService } from '../../fakes/vertex/vertex-fake-service.js';

const LABEL = 'cjo_job_id';
const PARENT = 'projects/test-project/locations/us-central1';

const DATASET_BODY = {
  displayName: 'churn-data',
  metadataSchemaUri: 'gs://google-cloud-aiplatform/schema/dataset/metadata/tabular_1.0.0.yaml',
  metadata: { inputConfig: { gcsSource: { uri: ['gs://bucket-in/churn.csv'] } } },
  labels: { team: 'ml' },
};
const MODEL_BODY = {
  displayName: 'churn-model',
  artifactUri: 'gs://bucket-out/model/',
  containerSpec: { imageUri: 'us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest' },
};

type Transport = 'rest' | 'grpc';

/**
 * Datasets, models and endpoints as jobs, through the real @google-cloud/aiplatform clients
 * (Dataset/Model/Endpoint/Prediction services and the long-running operations client) against
 * the Vertex fake, over both transports. Operations complete only when the test says so.
 */
describe.each<Transport>(['rest', 'grpc'])('Vertex AI asset operations over %s', (transport) => {
  let rest: VertexRestFake | undefined;
  let grpcFake: VertexGrpcFake | undefined;
  let fake: VertexFakeService;
  let provider: VertexProvider;

  // One fake and one provider per transport (building the SDK clients costs seconds); the fake
  // forgets everything between tests, and every test uses jobs of its own.
  beforeAll(async () => {
    if (transport === 'rest') {
      rest = await new VertexRestFake({ requireBearer: TEST_TOKEN }).start();
      fake = rest.service;
      provider = await createVertexProvider(fakeSettings(rest), { authClient: staticAuthClient() });
    } else {
      grpcFake = await new VertexGrpcFake().start();
      fake = grpcFake.service;
      const settings = parseVertexSettings({
        VERTEX_PROJECT: fake.project,
        VERTEX_LOCATION: fake.location,
        VERTEX_API_ENDPOINT: '127.0.0.1',
        VERTEX_API_PORT: String(grpcFake.port),
        VERTEX_TRANSPORT: 'grpc',
        VERTEX_RETRY_BASE_MS: '1',
      });
      provider = await createVertexProvider(settings, {
        authClient: staticAuthClient(),
        sslCreds: grpc.credentials.createInsecure(),
      });
    }
  });
  afterAll(async () => {
    await provider.close();
    await rest?.stop();
    await grpcFake?.stop();
  });
  beforeEach(() => fake.reset());

  /** Submits; returns the job as the dispatch use case stores it. */
  async function submitted(kind: string, spec: Record<string, unknown>): Promise<JobRecord> {
    const job = makeJob(kind, spec);
    const out = await provider.submit(job);
    expect(out.status).toBe('running');
    return { ...job, status: out.status, providerRef: out.ref };
  }

  async function pollOne(job: JobRecord): Promise<PollReport | undefined> {
    const reports = await provider.poll([job]);
    return reports.find((r) => r.jobId === job.id);
  }

  /** The job as the poll use case stores a report (status, merged handle, result summary). */
  function applied(job: JobRecord, report: PollReport | undefined): JobRecord {
    if (!report) return job;
    return {
      ...job,
      status: report.status as JobRecord['status'],
      ...(report.ref && { providerRef: { ...job.providerRef, ...report.ref } }),
      ...(report.result && { result: { summary: report.result } }),
    };
  }

  /** Completes every pending operation and polls until the job settles (a bounded number of cycles). */
  async function settle(job: JobRecord): Promise<JobRecord> {
    let current = job;
    for (let i = 0; i < 4 && !['succeeded', 'failed'].includes(current.status); i++) {
      fake.completeAll();
      current = applied(current, await pollOne(current));
    }
    return current;
  }

  async function createdEndpointWithModel(): Promise<{ endpoint: JobRecord; model: JobRecord; deploy: JobRecord }> {
    const model = await settle(await submitted('model-register', MODEL_BODY));
    const endpoint = await settle(await submitted('endpoint-create', { displayName: 'churn-endpoint' }));
    const deploy = await settle(
      await submitted('endpoint-deploy', {
        endpoint: assetId(endpoint),
        model: assetId(model),
        dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 },
      }),
    );
    expect(deploy.status).toBe('succeeded');
    return { endpoint, model, deploy };
  }

  it('dataset-create: CreateDataset, then ImportData, each a long-running operation; succeeded only after both', async () => {
    const job = await submitted('dataset-create', {
      ...DATASET_BODY,
      importConfigs: [
        {
          gcsSource: { uris: ['gs://bucket-in/churn.csv'] },
          importSchemaUri: 'gs://google-cloud-aiplatform/schema/dataset/ioformat/tabular_1.0.0.yaml',
        },
      ],
    });
    const [dataset] = fake.allAssets('datasets');
    expect(dataset?.body.labels).toEqual({ team: 'ml', [LABEL]: job.id });
    expect(dataset?.body.metadata).toEqual(DATASET_BODY.metadata);

    // The create operation is still running: nothing to report for a running job.
    const running = { ...job, status: 'running' as const };
    expect(await pollOne(running)).toBeUndefined();

    fake.completeAll();
    const importing = await pollOne(running);
    expect(importing).toMatchObject({ status: 'running', ref: { phase: 'import' } });
    expect(importing?.notes?.[0]).toContain('importing 1 source');
    const afterImportStarted = applied(running, importing);
    expect(fake.pendingOperations()).toHaveLength(1);
    expect(await pollOne(afterImportStarted)).toBeUndefined();

    fake.completeAll();
    const done = await pollOne(afterImportStarted);
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { asset: { kind: 'dataset', id: dataset!.name, name: 'churn-data' } },
    });
    expect(dataset!.imports).toHaveLength(1);
  });

  it('dataset-create re-attaches on a redelivered dispatch: one dataset', async () => {
    const job = makeJob('dataset-create', DATASET_BODY);
    const first = await provider.submit(job);
    const again = await provider.submit(job);
    expect(first.attached).toBe(false);
    expect(again).toMatchObject({ attached: true, ref: { name: first.ref.name } });
    expect(fake.allAssets('datasets')).toHaveLength(1);
  });

  it('dataset-export and dataset-delete: delete is confirmed only once the dataset is gone', async () => {
    const created = await settle(await submitted('dataset-create', DATASET_BODY));
    const id = assetId(created);

    const exported = await settle(
      await submitted('dataset-export', {
        dataset: id,
        exportConfig: { gcsDestination: { outputUriPrefix: 'gs://bucket-out/export' } },
      }),
    );
    expect(exported.result?.summary).toMatchObject({
      asset: { kind: 'dataset', id, uri: 'gs://bucket-out/export' },
    });

    const del = await submitted('dataset-delete', { dataset: id });
    expect(await pollOne({ ...del, status: 'running' })).toBeUndefined(); // operation pending, dataset still there
    expect(fake.asset(id)).toBeDefined();
    fake.completeAll();
    expect(await pollOne({ ...del, status: 'running' })).toMatchObject({
      status: 'succeeded',
      result: { asset: { kind: 'dataset', id } },
    });
    expect(fake.asset(id)).toBeUndefined();

    // A redelivered delete of a dataset already gone re-attaches, and the poll confirms it.
    const again = await provider.submit(del);
    expect(again.attached).toBe(true);
    expect(await pollOne({ ...del, status: 'running', providerRef: again.ref })).toMatchObject({ status: 'succeeded' });
  });

  it('model-register uploads under an id from the run key; a redelivery attaches (ALREADY_EXISTS), export and delete follow', async () => {
    const job = makeJob('model-register', { ...MODEL_BODY, labels: { stage: 'dev' } });
    const first = await provider.submit(job);
    const again = await provider.submit(job);
    expect(again.attached).toBe(true);
    expect(fake.allAssets('models')).toHaveLength(1);
    const model = fake.allAssets('models')[0]!;
    expect(model.name).toBe(`${PARENT}/models/${job.id}`);
    expect(model.body.labels).toEqual({ stage: 'dev', [LABEL]: job.id });

    const registered = await settle({ ...job, status: 'running', providerRef: first.ref });
    expect(registered.result?.summary).toMatchObject({
      asset: { kind: 'model', id: model.name, name: 'churn-model', uri: 'gs://bucket-out/model/' },
    });

    const exported = await settle(
      await submitted('model-export', {
        model: model.name,
        outputConfig: {
          exportFormatId: 'custom-trained',
          artifactDestination: { outputUriPrefix: 'gs://bucket-out/x' },
        },
      }),
    );
    expect(exported.result?.summary).toMatchObject({ asset: { kind: 'model', uri: 'gs://bucket-out/x' } });

    const deleted = await settle(await submitted('model-delete', { model: model.name }));
    expect(deleted.status).toBe('succeeded');
    expect(fake.asset(model.name)).toBeUndefined();
  });

  it('refuses to attach to a model id taken by a resource that is not ours', async () => {
    const job = makeJob('model-register', MODEL_BODY);
    fake.uploadModel(PARENT, { displayName: 'someone-else', labels: { [LABEL]: 'other' } }, job.id);

    const error = await provider.submit(job).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect((error as ProviderRejectedError).message).toContain('not created by this job');
  });

  it('endpoint-create → deploy → infer/explain → undeploy → delete, confirmed through the endpoint each time', async () => {
    const { endpoint, model, deploy } = await createdEndpointWithModel();
    const endpointName = assetId(endpoint);
    const stored = fake.asset(endpointName)!;
    expect(stored.body.labels).toEqual({ [LABEL]: endpoint.id });
    const deployedId = deployedModelIdFor(deploy.id);
    expect(deploy.result?.summary).toMatchObject({
      asset: {
        kind: 'endpoint',
        id: endpointName,
        instanceType: 'n1-standard-2',
        instanceCount: 1,
        deployedModels: [deployedId],
      },
    });
    expect(stored.body.trafficSplit).toEqual({ [deployedId]: 100 });
    expect((stored.body.deployedModels as { model: string }[])[0]?.model).toBe(assetId(model));

    const endpointJob = { ...endpoint, status: 'succeeded' as const };
    const prediction = (await provider.invokeEndpoint(endpointJob, 'infer', {
      instances: [{ age: 41, plan: 'gold', tags: ['a', 'b'], active: true }],
      parameters: { threshold: 0.5 },
    })) as Record<string, unknown>;
    expect(prediction).toMatchObject({
      predictions: [{ index: 0, score: 0.75, input: { age: 41, plan: 'gold', tags: ['a', 'b'], active: true } }],
      deployedModelId: deployedId,
      model: assetId(model),
    });
    const explanation = (await provider.invokeEndpoint(endpointJob, 'explain', {
      instances: [{ age: 41, plan: 'gold' }],
    })) as { explanations: { attributions: { featureAttributions: unknown }[] }[] };
    expect(explanation.explanations[0]?.attributions[0]?.featureAttributions).toEqual({ age: 0.125, plan: 0.125 });
    expect(stored.invocations).toBe(2);

    // Deleting an endpoint that still serves a model is refused by Vertex.
    await expect(provider.submit(makeJob('endpoint-delete', { endpoint: endpointName }))).rejects.toMatchObject({
      code: 'PROVIDER_REJECTED',
    });

    const undeploy = await submitted('endpoint-undeploy', { endpoint: endpointName });
    expect(await pollOne({ ...undeploy, status: 'running' })).toBeUndefined(); // still deployed
    const undeployed = await settle({ ...undeploy, status: 'running' });
    expect(undeployed.result?.summary).toMatchObject({ asset: { kind: 'endpoint', deployedModels: [] } });
    await expect(provider.invokeEndpoint(endpointJob, 'infer', { instances: [{ a: 1 }] })).rejects.toBeInstanceOf(
      ProviderRejectedError,
    );

    const deleted = await settle(await submitted('endpoint-delete', { endpoint: endpointName }));
    expect(deleted.status).toBe('succeeded');
    expect(fake.asset(endpointName)).toBeUndefined();
  });

  it('endpoint-create and endpoint-deploy never make a second resource on redelivery', async () => {
    const job = makeJob('endpoint-create', { displayName: 'ep' });
    await provider.submit(job);
    const again = await provider.submit(job);
    expect(again.attached).toBe(true);
    expect(fake.allAssets('endpoints')).toHaveLength(1);

    const model = await settle(await submitted('model-register', MODEL_BODY));
    fake.completeAll();
    const deployJob = makeJob('endpoint-deploy', {
      endpoint: fake.allAssets('endpoints')[0]!.name,
      model: assetId(model),
      automaticResources: { minReplicaCount: 1 },
    });
    await provider.submit(deployJob);
    const redelivered = await provider.submit(deployJob); // deploy still running: ALREADY_EXISTS → attach
    expect(redelivered.attached).toBe(true);
    fake.completeAll();
    const afterDone = await provider.submit(deployJob); // deployed: found on the endpoint → attach
    expect(afterDone.attached).toBe(true);
    expect(fake.allAssets('endpoints')[0]!.body.deployedModels).toHaveLength(1);
    expect(fake.count('deploy')).toBe(2);
  });

  it('a failed operation fails the job with the operation error', async () => {
    const job = await submitted('endpoint-create', { displayName: 'ep' });
    const op = fake.pendingOperations()[0]!;
    fake.completeOperation(op.name, { status: 'RESOURCE_EXHAUSTED', message: 'Quota for endpoints exceeded.' });

    const report = await pollOne({ ...job, status: 'running' });

    expect(report).toMatchObject({
      status: 'failed',
      error: { code: 'RESOURCE_EXHAUSTED', message: 'Quota for endpoints exceeded.' },
    });
  });

  it('throttling while polling is a back-off, never a job failure', async () => {
    const job = await submitted('dataset-create', DATASET_BODY);
    fake.failNext({ status: 'RESOURCE_EXHAUSTED', kind: 'operations', times: 10 });

    const error = await provider.poll([{ ...job, status: 'running' }]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderThrottledError);
  });

  it('polls asset jobs and job-resource kinds in the same cycle; cancel leaves an asset operation to finish', async () => {
    const custom = makeJob('custom', CUSTOM_SPEC);
    const customOut = await provider.submit(custom);
    fake.setState(String(customOut.ref.name), 'JOB_STATE_SUCCEEDED');
    const endpoint = await submitted('endpoint-create', { displayName: 'ep' });
    const calls = fake.calls.length;
    await provider.cancel({ ...endpoint, status: 'cancelling' });
    expect(fake.calls.length).toBe(calls); // nothing asked of Vertex
    fake.completeAll();

    const reports = await provider.poll([
      { ...custom, status: 'running', providerRef: customOut.ref },
      { ...endpoint, status: 'cancelling' },
    ]);

    expect(reports.find((r) => r.jobId === custom.id)?.status).toBe('succeeded');
    expect(reports.find((r) => r.jobId === endpoint.id)).toMatchObject({
      status: 'succeeded',
      result: { asset: { kind: 'endpoint' } },
    });
  });

  it('validates asset specs and invoke bodies, naming the field', async () => {
    await expect(provider.submit(makeJob('endpoint-deploy', { endpoint: 'nope', model: 'x' }))).rejects.toSatisfy(
      (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.field === 'spec.spec.endpoint'),
    );
    const endpointJob = { ...makeJob('endpoint-create', { displayName: 'ep' }), status: 'succeeded' as const };
    await expect(provider.invokeEndpoint(endpointJob, 'infer', { instances: [] })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

function assetId(job: JobRecord): string {
  const id = (job.result?.summary as { asset?: { id?: string } } | undefined)?.asset?.id;
  if (!id) throw new Error(`job ${job.id} has no asset (status ${job.status})`);
  return id;
}
