import type { v1 } from '@google-cloud/aiplatform';
import type { BatchPredictionJobResource, CustomJobResource, TrainingPipelineResource, VertexKind } from './spec.js';
import type { VertexSettings } from './settings.js';
import type { VertexResourceView } from './status.js';

/** One page of a list call. */
export interface VertexPage {
  readonly resources: readonly VertexResourceView[];
  readonly nextPageToken?: string;
}

/** The resource a create call takes, by kind. */
export type VertexCreateBody = CustomJobResource | TrainingPipelineResource | BatchPredictionJobResource;

/**
 * The few Vertex calls the provider makes, one shape for the three resource kinds. The SDK adapter
 * below is the only implementation in the product; the seam keeps the provider logic testable.
 */
export interface VertexApi {
  create(kind: VertexKind, parent: string, resource: VertexCreateBody): Promise<VertexResourceView>;
  get(kind: VertexKind, name: string): Promise<VertexResourceView>;
  list(kind: VertexKind, parent: string, filter: string, pageSize: number, pageToken?: string): Promise<VertexPage>;
  cancel(kind: VertexKind, name: string): Promise<void>;
  close(): Promise<void>;
}

type ClientOptions = NonNullable<ConstructorParameters<typeof v1.JobServiceClient>[0]>;

/** Test and deployment hooks the settings cannot express (objects, not strings). */
export interface VertexClientDeps {
  /** Ready auth client (tests pass a static-token OAuth2Client so the metadata server is never probed). */
  readonly authClient?: ClientOptions['authClient'];
  /** gRPC channel credentials (tests pass insecure ones to reach a plain-text fake). */
  readonly sslCreds?: ClientOptions['sslCreds'];
}

const JOB_METHODS = [
  'CreateCustomJob',
  'GetCustomJob',
  'ListCustomJobs',
  'CancelCustomJob',
  'CreateBatchPredictionJob',
  'GetBatchPredictionJob',
  'ListBatchPredictionJobs',
  'CancelBatchPredictionJob',
] as const;
const PIPELINE_METHODS = [
  'CreateTrainingPipeline',
  'GetTrainingPipeline',
  'ListTrainingPipelines',
  'CancelTrainingPipeline',
] as const;

/**
 * Retry codes, stated rather than inherited: the client retries nothing. Creates must never be
 * retried blindly (a create that timed out may have succeeded: the label look-up on redelivery
 * handles that), and gax's own retry hides the last error's code behind DEADLINE_EXCEEDED once it
 * gives up (and over REST would need HTTP statuses in the list). Reads are retried by the
 * provider, which keeps the code and honours Retry-After.
 */
function noRetryClientConfig(service: string, methods: readonly string[], timeoutMs: number) {
  return {
    interfaces: {
      [service]: {
        retry_codes: { cjo_never: [] as string[] },
        retry_params: {
          cjo_single: {
            initial_retry_delay_millis: 0,
            retry_delay_multiplier: 1,
            max_retry_delay_millis: 0,
            initial_rpc_timeout_millis: timeoutMs,
            rpc_timeout_multiplier: 1,
            max_rpc_timeout_millis: timeoutMs,
            total_timeout_millis: timeoutMs,
          },
        },
        methods: Object.fromEntries(
          methods.map((m) => [
            m,
            { retry_codes_name: 'cjo_never', retry_params_name: 'cjo_single', timeout_millis: timeoutMs },
          ]),
        ),
      },
    },
  };
}

/** Client options from the settings: endpoint override, transport, credentials. */
export function vertexClientOptions(settings: VertexSettings, deps: VertexClientDeps = {}): ClientOptions {
  return {
    projectId: settings.project,
    apiEndpoint: settings.apiEndpoint,
    port: settings.port,
    ...(settings.transport === 'rest'
      ? { fallback: 'rest' as const, protocol: settings.protocol }
      : { fallback: false }),
    // The whole key, not just email and private key: its private_key_id becomes the `kid` of the
    // self-signed JWTs the auth library sends, which Google uses to pick the verification key.
    ...(settings.credentials && { credentials: settings.credentials as ClientOptions['credentials'] }),
    ...(deps.authClient && { authClient: deps.authClient }),
    ...(deps.sslCreds && { sslCreds: deps.sslCreds }),
  };
}

/**
 * Builds the SDK-backed {@link VertexApi}. `@google-cloud/aiplatform` is imported here, on first
 * use, never at module load (it weighs seconds of cold start).
 */
export async function createSdkVertexApi(settings: VertexSettings, deps: VertexClientDeps = {}): Promise<VertexApi> {
  const mod = await import('@google-cloud/aiplatform');
  const base = vertexClientOptions(settings, deps);
  const jobs = new mod.v1.JobServiceClient({
    ...base,
    clientConfig: noRetryClientConfig('google.cloud.aiplatform.v1.JobService', JOB_METHODS, settings.rpcTimeoutMs),
  });
  const pipelines = new mod.v1.PipelineServiceClient({
    ...base,
    clientConfig: noRetryClientConfig(
      'google.cloud.aiplatform.v1.PipelineService',
      PIPELINE_METHODS,
      settings.rpcTimeoutMs,
    ),
  });
  const call = { timeout: settings.rpcTimeoutMs };
  const page = { ...call, autoPaginate: false };
  const view = (r: unknown) => r as VertexResourceView;

  return {
    async create(kind, parent, resource) {
      switch (kind) {
        case 'custom':
          return view((await jobs.createCustomJob({ parent, customJob: resource as CustomJobResource }, call))[0]);
        case 'training_pipeline':
          return view(
            (
              await pipelines.createTrainingPipeline(
                { parent, trainingPipeline: resource as TrainingPipelineResource },
                call,
              )
            )[0],
          );
        case 'batch_prediction':
          return view(
            (
              await jobs.createBatchPredictionJob(
                { parent, batchPredictionJob: resource as BatchPredictionJobResource },
                call,
              )
            )[0],
          );
        default:
          return unreachableKind(kind);
      }
    },
    async get(kind, name) {
      switch (kind) {
        case 'custom':
          return view((await jobs.getCustomJob({ name }, call))[0]);
        case 'training_pipeline':
          return view((await pipelines.getTrainingPipeline({ name }, call))[0]);
        case 'batch_prediction':
          return view((await jobs.getBatchPredictionJob({ name }, call))[0]);
        default:
          return unreachableKind(kind);
      }
    },
    async list(kind, parent, filter, pageSize, pageToken) {
      const request = { parent, filter, pageSize, ...(pageToken && { pageToken }) };
      // autoPaginate:false: one call, one page; the raw response (third element) has the token.
      switch (kind) {
        case 'custom': {
          const [items, , raw] = await jobs.listCustomJobs(request, page);
          return { resources: items.map(view), ...(raw?.nextPageToken && { nextPageToken: raw.nextPageToken }) };
        }
        case 'training_pipeline': {
          const [items, , raw] = await pipelines.listTrainingPipelines(request, page);
          return { resources: items.map(view), ...(raw?.nextPageToken && { nextPageToken: raw.nextPageToken }) };
        }
        case 'batch_prediction': {
          const [items, , raw] = await jobs.listBatchPredictionJobs(request, page);
          return { resources: items.map(view), ...(raw?.nextPageToken && { nextPageToken: raw.nextPageToken }) };
        }
        default:
          return unreachableKind(kind);
      }
    },
    async cancel(kind, name) {
      switch (kind) {
        case 'custom':
          await jobs.cancelCustomJob({ name }, call);
          return;
        case 'training_pipeline':
          await pipelines.cancelTrainingPipeline({ name }, call);
          return;
        case 'batch_prediction':
          await jobs.cancelBatchPredictionJob({ name }, call);
          return;
        default:
          unreachableKind(kind);
      }
    },
    async close() {
      await Promise.all([jobs.close(), pipelines.close()]);
    },
  };
}

function unreachableKind(kind: never): never {
  throw new Error(`unhandled Vertex kind ${String(kind)}`);
}
