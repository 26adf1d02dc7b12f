import type { protos, v1 } from '@google-cloud/aiplatform';
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
  /** Datasets, models and endpoints (issue 18); absent in doubles that only script the job kinds. */
  readonly assets?: VertexAssetApi;
}

type ProtoValue = protos.google.protobuf.IValue;

/** The asset collections the provider manages. */
export type AssetCollection = 'datasets' | 'models' | 'endpoints';

/** A google.longrunning.Operation as the provider reads it: only whether and how it ended. */
export interface OperationView {
  readonly name: string;
  readonly done: boolean;
  readonly error?: { readonly code?: number | null; readonly message?: string | null } | null;
}

/**
 * The Vertex calls behind asset operations. Every mutation is a long-running operation: the
 * method returns it at once (never waits), and the provider polls it by name in later cycles.
 */
export interface VertexAssetApi {
  createDataset(parent: string, dataset: protos.google.cloud.aiplatform.v1.IDataset): Promise<OperationView>;
  importData(
    name: string,
    importConfigs: protos.google.cloud.aiplatform.v1.IImportDataConfig[],
  ): Promise<OperationView>;
  exportData(name: string, exportConfig: protos.google.cloud.aiplatform.v1.IExportDataConfig): Promise<OperationView>;
  uploadModel(
    parent: string,
    model: protos.google.cloud.aiplatform.v1.IModel,
    modelId: string,
    parentModel?: string,
  ): Promise<OperationView>;
  exportModel(
    name: string,
    outputConfig: protos.google.cloud.aiplatform.v1.ExportModelRequest.IOutputConfig,
  ): Promise<OperationView>;
  createEndpoint(
    parent: string,
    endpoint: protos.google.cloud.aiplatform.v1.IEndpoint,
    endpointId: string,
  ): Promise<OperationView>;
  deployModel(
    endpoint: string,
    deployedModel: protos.google.cloud.aiplatform.v1.IDeployedModel,
    trafficSplit: Record<string, number>,
  ): Promise<OperationView>;
  undeployModel(endpoint: string, deployedModelId: string): Promise<OperationView>;
  deleteAsset(collection: AssetCollection, name: string): Promise<OperationView>;
  getAsset(collection: AssetCollection, name: string): Promise<VertexResourceView>;
  /** One page (at most `pageSize`) of a filtered list. */
  listAssets(
    collection: AssetCollection,
    parent: string,
    filter: string,
    pageSize: number,
  ): Promise<VertexResourceView[]>;
  getOperation(name: string): Promise<OperationView>;
  predict(endpoint: string, instances: ProtoValue[], parameters?: ProtoValue): Promise<Record<string, unknown>>;
  explain(
    endpoint: string,
    instances: ProtoValue[],
    parameters?: ProtoValue,
    deployedModelId?: string,
  ): Promise<Record<string, unknown>>;
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
const DATASET_METHODS = [
  'CreateDataset',
  'GetDataset',
  'ListDatasets',
  'DeleteDataset',
  'ImportData',
  'ExportData',
] as const;
const MODEL_METHODS = ['UploadModel', 'GetModel', 'ListModels', 'DeleteModel', 'ExportModel'] as const;
const ENDPOINT_METHODS = [
  'CreateEndpoint',
  'GetEndpoint',
  'ListEndpoints',
  'DeleteEndpoint',
  'DeployModel',
  'UndeployModel',
] as const;
const PREDICTION_METHODS = ['Predict', 'Explain'] as const;
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

  let assets: VertexAssetApi | undefined;
  const assetApi = (): VertexAssetApi => {
    assets ??= createSdkAssetApi(mod, settings, deps);
    return assets;
  };

  return {
    get assets() {
      return assetApi();
    },
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
      await Promise.all([jobs.close(), pipelines.close(), assets && (assets as { close?(): Promise<void> }).close?.()]);
    },
  };
}

type AiplatformModule = typeof import('@google-cloud/aiplatform');

function operationView(op: { name?: string | null; done?: boolean | null; error?: unknown }): OperationView {
  const error = op.error as OperationView['error'];
  return { name: String(op.name ?? ''), done: Boolean(op.done), ...(error && { error }) };
}

/**
 * The SDK adapter of {@link VertexAssetApi}: Dataset, Model, Endpoint and Prediction service
 * clients, built on the first asset operation (a deployment that never touches assets never pays
 * for them). LRO methods return the operation without waiting; `getOperation` reads one by name.
 */
function createSdkAssetApi(mod: AiplatformModule, settings: VertexSettings, deps: VertexClientDeps): VertexAssetApi {
  const base = vertexClientOptions(settings, deps);
  const config = (service: string, methods: readonly string[]) => ({
    ...base,
    clientConfig: noRetryClientConfig(`google.cloud.aiplatform.v1.${service}`, methods, settings.rpcTimeoutMs),
  });
  const datasets = new mod.v1.DatasetServiceClient(config('DatasetService', DATASET_METHODS));
  const models = new mod.v1.ModelServiceClient(config('ModelService', MODEL_METHODS));
  const endpoints = new mod.v1.EndpointServiceClient(config('EndpointService', ENDPOINT_METHODS));
  const prediction = new mod.v1.PredictionServiceClient({
    ...config('PredictionService', PREDICTION_METHODS),
    apiEndpoint: settings.predictionEndpoint,
  });
  const call = { timeout: settings.rpcTimeoutMs };
  const page = { ...call, autoPaginate: false };
  const view = (r: unknown) => r as VertexResourceView;
  const started = async (
    p: Promise<[{ name?: string | null; done?: boolean | null; error?: unknown }, ...unknown[]]>,
  ) => operationView((await p)[0]);

  const api: VertexAssetApi & { close(): Promise<void> } = {
    createDataset: (parent, dataset) => started(datasets.createDataset({ parent, dataset }, call)),
    importData: (name, importConfigs) => started(datasets.importData({ name, importConfigs }, call)),
    exportData: (name, exportConfig) => started(datasets.exportData({ name, exportConfig }, call)),
    uploadModel: (parent, model, modelId, parentModel) =>
      started(models.uploadModel({ parent, model, modelId, ...(parentModel && { parentModel }) }, call)),
    exportModel: (name, outputConfig) => started(models.exportModel({ name, outputConfig }, call)),
    createEndpoint: (parent, endpoint, endpointId) =>
      started(endpoints.createEndpoint({ parent, endpoint, endpointId }, call)),
    deployModel: (endpoint, deployedModel, trafficSplit) =>
      started(endpoints.deployModel({ endpoint, deployedModel, trafficSplit }, call)),
    undeployModel: (endpoint, deployedModelId) => started(endpoints.undeployModel({ endpoint, deployedModelId }, call)),
    async deleteAsset(collection, name) {
      switch (collection) {
        case 'datasets':
          return started(datasets.deleteDataset({ name }, call));
        case 'models':
          return started(models.deleteModel({ name }, call));
        case 'endpoints':
          return started(endpoints.deleteEndpoint({ name }, call));
        default:
          return unreachableKind(collection);
      }
    },
    async getAsset(collection, name) {
      switch (collection) {
        case 'datasets':
          return view((await datasets.getDataset({ name }, call))[0]);
        case 'models':
          return view((await models.getModel({ name }, call))[0]);
        case 'endpoints':
          return view((await endpoints.getEndpoint({ name }, call))[0]);
        default:
          return unreachableKind(collection);
      }
    },
    async listAssets(collection, parent, filter, pageSize) {
      const request = { parent, filter, pageSize };
      switch (collection) {
        case 'datasets':
          return (await datasets.listDatasets(request, page))[0].map(view);
        case 'models':
          return (await models.listModels(request, page))[0].map(view);
        case 'endpoints':
          return (await endpoints.listEndpoints(request, page))[0].map(view);
        default:
          return unreachableKind(collection);
      }
    },
    async getOperation(name) {
      // Any service's operations client reads any operation of the location (one
      // google.longrunning.Operations service); the response itself is not decoded: the
      // provider reads the resource afterwards.
      const request = new mod.protos.google.longrunning.GetOperationRequest({ name });
      const [op] = await endpoints.operationsClient.getOperation(request, call);
      return operationView(op);
    },
    async predict(endpoint, instances, parameters) {
      const [res] = await prediction.predict({ endpoint, instances, ...(parameters && { parameters }) }, call);
      return res as Record<string, unknown>;
    },
    async explain(endpoint, instances, parameters, deployedModelId) {
      const [res] = await prediction.explain(
        { endpoint, instances, ...(parameters && { parameters }), ...(deployedModelId && { deployedModelId }) },
        call,
      );
      return res as Record<string, unknown>;
    },
    async close() {
      await Promise.all([datasets.close(), models.close(), endpoints.close(), prediction.close()]);
    },
  };
  return api;
}

function unreachableKind(kind: never): never {
  throw new Error(`unhandled Vertex kind ${String(kind)}`);
}
