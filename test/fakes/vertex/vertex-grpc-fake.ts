import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { grpc, protobuf } from 'google-gax';
import * as protoLoader from '@grpc/proto-loader';
import {
  FakeRpcError,
  RPC_STATUS,
  VertexFakeService,
  type AssetKind,
  type CallKind,
  type FakeOperation,
  type StoredAsset,
  type FakeKind,
  type FakeOptions,
  type StoredResource,
  type Verb,
} from './vertex-fake-service.js';

const require = createRequire(import.meta.url);
// The .proto files ship inside the client package; google/api, google/rpc … come with google-gax.
const PROTO_DIRS = [
  join(dirname(require.resolve('@google-cloud/aiplatform/package.json')), 'build', 'protos'),
  join(dirname(require.resolve('google-gax')), '..', 'protos'), // google-gax/build/src → build/protos
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type ProtoValue = {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, ProtoValue> };
  listValue?: { values?: ProtoValue[] };
};

function valueToJson(v: ProtoValue | undefined): Json {
  if (!v) return null;
  if (v.structValue)
    return Object.fromEntries(Object.entries(v.structValue.fields ?? {}).map(([k, x]) => [k, valueToJson(x)]));
  if (v.listValue) return (v.listValue.values ?? []).map(valueToJson);
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return null;
}
function jsonToValue(j: unknown): ProtoValue {
  if (j === null || j === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof j === 'number') return { numberValue: j };
  if (typeof j === 'string') return { stringValue: j };
  if (typeof j === 'boolean') return { boolValue: j };
  if (Array.isArray(j)) return { listValue: { values: j.map(jsonToValue) } };
  return {
    structValue: { fields: Object.fromEntries(Object.entries(j as object).map(([k, v]) => [k, jsonToValue(v)])) },
  };
}
function isoToTimestamp(s: unknown): unknown {
  if (typeof s !== 'string') return s;
  const ms = Date.parse(s);
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

const VALUE_FIELDS = ['trainingTaskInputs', 'modelParameters'] as const;
const TIMESTAMPS = ['createTime', 'startTime', 'endTime', 'updateTime'] as const;

/** Protobuf-object request (proto-loader form) → the proto3 JSON form the fake stores. */
function fromWire(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const f of VALUE_FIELDS) if (out[f] !== undefined) out[f] = valueToJson(out[f] as ProtoValue);
  const model = out.modelToUpload as Record<string, unknown> | undefined;
  if (model?.metadata !== undefined)
    out.modelToUpload = { ...model, metadata: valueToJson(model.metadata as ProtoValue) };
  const spec = out.jobSpec as { scheduling?: { timeout?: { seconds?: string | number } } } | undefined;
  if (spec?.scheduling?.timeout)
    out.jobSpec = { ...spec, scheduling: { ...spec.scheduling, timeout: `${spec.scheduling.timeout.seconds ?? 0}s` } };
  return out;
}

/** Stored proto3 JSON → protobuf-object response. */
function toWire(r: StoredResource): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(r.body);
  for (const f of VALUE_FIELDS) if (out[f] !== undefined) out[f] = jsonToValue(out[f]);
  for (const f of TIMESTAMPS) if (out[f] !== undefined) out[f] = isoToTimestamp(out[f]);
  const spec = out.jobSpec as { scheduling?: { timeout?: unknown } } | undefined;
  if (typeof spec?.scheduling?.timeout === 'string')
    spec.scheduling.timeout = { seconds: spec.scheduling.timeout.replace(/s$/, '') };
  return out;
}

/** Asset request (protobuf-object form) → stored proto3 JSON: Value fields become JSON. */
function assetFromWire(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if (out.metadata !== undefined) out.metadata = valueToJson(out.metadata as ProtoValue);
  return out;
}

/** Stored asset → protobuf-object response. */
function assetToWire(a: StoredAsset): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(a.body);
  if (out.metadata !== undefined) out.metadata = jsonToValue(out.metadata);
  for (const f of TIMESTAMPS) if (out[f] !== undefined) out[f] = isoToTimestamp(out[f]);
  if (Array.isArray(out.deployedModels)) {
    out.deployedModels = (out.deployedModels as Record<string, unknown>[]).map((d) => ({
      ...d,
      ...(d.createTime !== undefined && { createTime: isoToTimestamp(d.createTime) }),
    }));
  }
  return out;
}

// The aiplatform message types, to encode an operation's response into its Any.
const aiplatformTypes = protobuf.Root.fromJSON(
  require('@google-cloud/aiplatform/build/protos/protos.json') as protobuf.INamespace,
);

/** The string fields of a response message (enough for the Any; Values, enums and timestamps left out). */
function stringFields(type: protobuf.Type, o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const field = type.fields[k];
    if (field?.type === 'string') out[k] = v;
    else if (field?.resolvedType instanceof protobuf.Type && v && typeof v === 'object' && !Array.isArray(v))
      out[k] = stringFields(field.resolvedType, v as Record<string, unknown>);
  }
  return out;
}

/** An operation as google.longrunning.Operation in protobuf-object form, its response packed in an Any. */
function opToWire(op: FakeOperation): Record<string, unknown> {
  let response: Record<string, unknown> | undefined;
  if (op.done && !op.error) {
    const type = aiplatformTypes.lookupType(op.responseType);
    type.resolveAll();
    response = {
      typeUrl: `type.googleapis.com/${op.responseType}`,
      value: Buffer.from(type.encode(type.fromObject(stringFields(type, op.response ?? {}))).finish()),
    };
  }
  return { name: op.name, done: op.done, ...(op.error && { error: op.error }), ...(response && { response }) };
}

/** Predict/Explain answer: predictions and feature attributions travel as protobuf Values. */
function predictionToWire(out: Record<string, unknown>): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    ...out,
    predictions: ((out.predictions ?? []) as unknown[]).map(jsonToValue),
  };
  if (Array.isArray(out.explanations)) {
    wire.explanations = (out.explanations as { attributions: Record<string, unknown>[] }[]).map((e) => ({
      attributions: e.attributions.map((a) => ({ ...a, featureAttributions: jsonToValue(a.featureAttributions) })),
    }));
  }
  return wire;
}

// google.rpc.Status carrying a google.rpc.RetryInfo, as the service sends in `grpc-status-details-bin`.
const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
            Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            RetryInfo: { fields: { retry_delay: { type: 'google.protobuf.Duration', id: 1 } } },
          },
        },
      },
    },
  },
});

function statusDetails(code: number, message: string, retryDelaySec: number): Buffer {
  const RetryInfo = rpcTypes.lookupType('google.rpc.RetryInfo');
  const Status = rpcTypes.lookupType('google.rpc.Status');
  const retry = RetryInfo.encode(RetryInfo.create({ retry_delay: { seconds: retryDelaySec, nanos: 0 } })).finish();
  return Buffer.from(
    Status.encode(
      Status.create({
        code,
        message,
        details: [{ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value: retry }],
      }),
    ).finish(),
  );
}

type Handler = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

/**
 * gRPC front end of the Vertex fake: a real grpc-js server built from the `.proto` files shipped
 * in `@google-cloud/aiplatform`, serving JobService and PipelineService (create / get / list /
 * cancel for the three resource kinds; every other method answers UNIMPLEMENTED). Errors carry the
 * canonical gRPC code, as the real service's do.
 */
export class VertexGrpcFake {
  readonly service: VertexFakeService;
  private server: grpc.Server | undefined;
  port = 0;

  constructor(opts: FakeOptions = {}) {
    this.service = new VertexFakeService(opts);
  }

  async start(credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<this> {
    const def = protoLoader.loadSync(
      [
        'google/cloud/aiplatform/v1/job_service.proto',
        'google/cloud/aiplatform/v1/pipeline_service.proto',
        'google/cloud/aiplatform/v1/dataset_service.proto',
        'google/cloud/aiplatform/v1/model_service.proto',
        'google/cloud/aiplatform/v1/endpoint_service.proto',
        'google/cloud/aiplatform/v1/prediction_service.proto',
        'google/longrunning/operations.proto',
      ],
      {
        includeDirs: PROTO_DIRS,
        keepCase: false,
        longs: String,
        enums: String,
        defaults: false,
        oneofs: false,
      },
    );
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      google: {
        cloud: { aiplatform: { v1: Record<string, { service: grpc.ServiceDefinition }> } };
        longrunning: Record<string, { service: grpc.ServiceDefinition }>;
      };
    };
    const v1 = pkg.google.cloud.aiplatform.v1;
    const server = new grpc.Server();
    server.addService(v1.JobService!.service, {
      CreateCustomJob: this.create('customJobs', 'customJob'),
      GetCustomJob: this.get('customJobs'),
      ListCustomJobs: this.list('customJobs'),
      CancelCustomJob: this.cancel('customJobs'),
      CreateBatchPredictionJob: this.create('batchPredictionJobs', 'batchPredictionJob'),
      GetBatchPredictionJob: this.get('batchPredictionJobs'),
      ListBatchPredictionJobs: this.list('batchPredictionJobs'),
      CancelBatchPredictionJob: this.cancel('batchPredictionJobs'),
    } as grpc.UntypedServiceImplementation);
    server.addService(v1.PipelineService!.service, {
      CreateTrainingPipeline: this.create('trainingPipelines', 'trainingPipeline'),
      GetTrainingPipeline: this.get('trainingPipelines'),
      ListTrainingPipelines: this.list('trainingPipelines'),
      CancelTrainingPipeline: this.cancel('trainingPipelines'),
    } as grpc.UntypedServiceImplementation);
    this.addAssetServices(server, v1, pkg.google.longrunning);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
    s.forceShutdown();
  }

  /** Dataset, Model, Endpoint and Prediction services, and google.longrunning.Operations. */
  private addAssetServices(
    server: grpc.Server,
    v1: Record<string, { service: grpc.ServiceDefinition }>,
    longrunning: Record<string, { service: grpc.ServiceDefinition }>,
  ): void {
    const svc = this.service;
    const str = (v: unknown) => String(v ?? '');
    const obj = (v: unknown) => (v ?? {}) as Record<string, unknown>;
    const list = (kind: AssetKind) =>
      this.handle(
        'list',
        kind,
        (r) => str(r.parent),
        (r) => ({ filter: str(r.filter), pageSize: Number(r.pageSize ?? 0) }),
        (r) => ({
          [kind]: svc.listAssets(kind, str(r.parent), str(r.filter), Number(r.pageSize ?? 0)).map(assetToWire),
          nextPageToken: '',
        }),
      );
    const get = (kind: AssetKind) =>
      this.handle(
        'get',
        kind,
        (r) => str(r.name),
        () => ({}),
        (r) => assetToWire(svc.getAsset(kind, str(r.name))),
      );
    const del = (kind: AssetKind) =>
      this.handle(
        'delete',
        kind,
        (r) => str(r.name),
        () => ({}),
        (r) => opToWire(svc.deleteAsset(kind, str(r.name))),
      );
    server.addService(v1.DatasetService!.service, {
      CreateDataset: this.handle(
        'create',
        'datasets',
        (r) => str(r.parent),
        (r) => ({ body: assetFromWire(obj(r.dataset)) }),
        (r) => opToWire(svc.createDataset(str(r.parent), assetFromWire(obj(r.dataset)))),
      ),
      GetDataset: get('datasets'),
      ListDatasets: list('datasets'),
      DeleteDataset: del('datasets'),
      ImportData: this.handle(
        'import',
        'datasets',
        (r) => str(r.name),
        (r) => ({ body: { importConfigs: r.importConfigs } }),
        (r) => opToWire(svc.importData(str(r.name), r.importConfigs)),
      ),
      ExportData: this.handle(
        'export',
        'datasets',
        (r) => str(r.name),
        (r) => ({ body: { exportConfig: r.exportConfig } }),
        (r) => opToWire(svc.exportData(str(r.name), obj(r.exportConfig))),
      ),
    } as grpc.UntypedServiceImplementation);
    server.addService(v1.ModelService!.service, {
      UploadModel: this.handle(
        'create',
        'models',
        (r) => str(r.parent),
        (r) => ({ body: { ...r, model: assetFromWire(obj(r.model)) } }),
        (r) =>
          opToWire(
            svc.uploadModel(
              str(r.parent),
              assetFromWire(obj(r.model)),
              str(r.modelId),
              r.parentModel ? str(r.parentModel) : undefined,
            ),
          ),
      ),
      GetModel: get('models'),
      ListModels: list('models'),
      DeleteModel: del('models'),
      ExportModel: this.handle(
        'export',
        'models',
        (r) => str(r.name),
        (r) => ({ body: { outputConfig: r.outputConfig } }),
        (r) => opToWire(svc.exportModel(str(r.name), obj(r.outputConfig))),
      ),
    } as grpc.UntypedServiceImplementation);
    server.addService(v1.EndpointService!.service, {
      CreateEndpoint: this.handle(
        'create',
        'endpoints',
        (r) => str(r.parent),
        (r) => ({ body: { ...obj(r.endpoint), endpointId: str(r.endpointId) } }),
        (r) => opToWire(svc.createEndpoint(str(r.parent), obj(r.endpoint), str(r.endpointId))),
      ),
      GetEndpoint: get('endpoints'),
      ListEndpoints: list('endpoints'),
      DeleteEndpoint: del('endpoints'),
      DeployModel: this.handle(
        'deploy',
        'endpoints',
        (r) => str(r.endpoint),
        (r) => ({ body: { deployedModel: r.deployedModel, trafficSplit: r.trafficSplit } }),
        (r) =>
          opToWire(
            svc.deployModel(str(r.endpoint), obj(r.deployedModel), (r.trafficSplit ?? {}) as Record<string, number>),
          ),
      ),
      UndeployModel: this.handle(
        'undeploy',
        'endpoints',
        (r) => str(r.endpoint),
        (r) => ({ body: { deployedModelId: r.deployedModelId } }),
        (r) => opToWire(svc.undeployModel(str(r.endpoint), str(r.deployedModelId))),
      ),
    } as grpc.UntypedServiceImplementation);
    const predict = (explain: boolean) =>
      this.handle(
        explain ? 'explain' : 'predict',
        'endpoints',
        (r) => str(r.endpoint),
        (r) => ({ body: { instances: ((r.instances ?? []) as ProtoValue[]).map(valueToJson) } }),
        (r) => {
          const out = svc.predict(
            str(r.endpoint),
            ((r.instances ?? []) as ProtoValue[]).map(valueToJson),
            r.parameters === undefined ? undefined : valueToJson(r.parameters as ProtoValue),
            explain,
          );
          return predictionToWire(out);
        },
      );
    server.addService(v1.PredictionService!.service, {
      Predict: predict(false),
      Explain: predict(true),
    } as grpc.UntypedServiceImplementation);
    server.addService(longrunning.Operations!.service, {
      GetOperation: this.handle(
        'get',
        'operations',
        (r) => str(r.name),
        () => ({}),
        (r) => opToWire(svc.getOperation(str(r.name))),
      ),
    } as grpc.UntypedServiceImplementation);
  }

  private handle(
    verb: Verb,
    kind: CallKind,
    target: (req: Record<string, unknown>) => string,
    extra: (req: Record<string, unknown>) => object,
    fn: (req: Record<string, unknown>) => unknown,
  ): Handler {
    return (call, cb) => {
      const req = call.request;
      const headers = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
      try {
        this.service.begin({ verb, kind, target: target(req), ...extra(req), headers, transport: 'grpc' });
        cb(null, fn(req));
      } catch (error) {
        const e = error instanceof FakeRpcError ? error : new FakeRpcError('INTERNAL', String(error));
        const last = this.service.calls.at(-1);
        if (last) last.outcome = e.status;
        const metadata = new grpc.Metadata();
        const code = RPC_STATUS[e.status].code;
        if (e.retryDelaySec !== undefined)
          metadata.set('grpc-status-details-bin', statusDetails(code, e.message, e.retryDelaySec));
        cb({ code, details: e.message, metadata });
      }
    };
  }

  private create(kind: FakeKind, field: string): Handler {
    return this.handle(
      'create',
      kind,
      (r) => String(r.parent),
      (r) => ({ body: fromWire((r[field] ?? {}) as Record<string, unknown>) }),
      (r) => toWire(this.service.create(kind, String(r.parent), fromWire((r[field] ?? {}) as Record<string, unknown>))),
    );
  }

  private get(kind: FakeKind): Handler {
    return this.handle(
      'get',
      kind,
      (r) => String(r.name),
      () => ({}),
      (r) => toWire(this.service.get(kind, String(r.name))),
    );
  }

  private list(kind: FakeKind): Handler {
    const args = (r: Record<string, unknown>) => ({
      filter: String(r.filter ?? ''),
      pageSize: Number(r.pageSize ?? 0),
      pageToken: String(r.pageToken ?? ''),
    });
    return this.handle(
      'list',
      kind,
      (r) => String(r.parent),
      args,
      (r) => {
        const a = args(r);
        const page = this.service.list(kind, String(r.parent), a.filter, a.pageSize, a.pageToken);
        return { [kind]: page.items.map(toWire), nextPageToken: page.nextPageToken };
      },
    );
  }

  private cancel(kind: FakeKind): Handler {
    return this.handle(
      'cancel',
      kind,
      (r) => String(r.name),
      () => ({}),
      (r) => {
        this.service.cancel(kind, String(r.name));
        return {};
      },
    );
  }
}
