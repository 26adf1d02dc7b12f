import type { JobRecord, JobStatus, ProviderRef } from '../../../src/lib/core/job.js';
import { providerJob } from '../../support/jobs.js';
import { googleAuthLibrary } from 'google-gax';
import { parseVertexSettings, type VertexSettings } from '../../../src/lib/providers/vertex/settings.js';
import type { VertexRestFake } from './vertex-rest-fake.js';

/** The static token the test auth client sends (so the client never probes the metadata server). */
export const TEST_TOKEN = 'test-token-vertex';

/** An OAuth2 client holding a static, unexpired access token. */
export function staticAuthClient(token = TEST_TOKEN): InstanceType<typeof googleAuthLibrary.OAuth2Client> {
  const client = new googleAuthLibrary.OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  return client;
}

/** Settings pointing the REST transport at a running fake; fast retries for tests. */
export function fakeSettings(fake: VertexRestFake, extra: Record<string, string> = {}): VertexSettings {
  return parseVertexSettings({
    VERTEX_PROJECT: fake.service.project,
    VERTEX_LOCATION: fake.service.location,
    VERTEX_API_ENDPOINT: '127.0.0.1',
    VERTEX_API_PORT: String(fake.port),
    VERTEX_API_PROTOCOL: 'http',
    VERTEX_TRANSPORT: 'rest',
    VERTEX_RETRY_BASE_MS: '1',
    VERTEX_RPC_TIMEOUT_MS: '10000',
    ...extra,
  });
}

let seq = 0;
/** A job record as the dispatch/poll use cases would hand it to the provider. */
export function makeJob(
  kind: string | undefined,
  spec: Record<string, unknown> | undefined,
  over: Partial<JobRecord> = {},
): JobRecord {
  seq++;
  const id = `j-01jd3m2x7k9q8w4e5r6t7y${String(seq).padStart(4, '0')}`;
  return providerJob('vertex', id, kind, spec, { createdAt: '2026-11-23T10:00:00.000Z', over });
}

/** The job after the use case applied a report: new status and handle. */
export function applied(job: JobRecord, status: JobStatus, ref?: ProviderRef): JobRecord {
  return { ...job, status, ...(ref && { providerRef: ref }) };
}

export const CUSTOM_SPEC = {
  displayName: 'train-resnet',
  workerPoolSpecs: [
    {
      machineSpec: { machineType: 'n1-standard-8', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 1 },
      replicaCount: 1,
      containerSpec: { imageUri: 'us-docker.pkg.dev/p/r/trainer:1', args: ['--epochs', '3'], env: { LR: '0.01' } },
    },
  ],
  baseOutputDirectory: 'gs://bucket-out/run-1',
};

/** A TrainingPipeline REST body as the Essedum UI sends it (AutoML tabular). */
export const AUTOML_BODY = {
  display_name: 'churn-automl',
  training_task_definition: 'gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_tabular_1.0.0.yaml',
  training_task_inputs: {
    targetColumn: 'churned',
    predictionType: 'classification',
    budgetMilliNodeHours: 1000,
    transformations: [{ auto: { column_name: 'age' } }],
  },
  input_data_config: { dataset_id: '123456' },
  model_to_upload: { display_name: 'churn-model' },
};

/** A BatchPredictionJob REST body as the Essedum UI sends it. */
export const BATCH_BODY = {
  displayName: 'score-nightly',
  model: 'projects/test-project/locations/us-central1/models/42',
  inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: ['gs://bucket-in/instances.jsonl'] } },
  outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: 'gs://bucket-out/preds' } },
  modelParameters: { confidenceThreshold: 0.5 },
};
