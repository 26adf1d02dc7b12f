import { QuotaBucket, type RateLimit } from '../rate-limit.js';

/**
 * In-memory model of the slice of Vertex AI v1 the orchestrator uses (CustomJobs, TrainingPipelines,
 * BatchPredictionJobs: create / get / list / cancel), modelled on the documented API:
 *
 * - resource names `projects/{p}/locations/{l}/{collection}/{numeric id}`, assigned by the server;
 *   creates are not idempotent (a second create makes a second resource);
 * - labels: ≤ 64, keys `[a-z][a-z0-9_-]{0,62}`, values `[a-z0-9_-]{0,63}`;
 * - list: AIP-160 filter on `labels.<key>=<value>`, `labels.<key>:*` and `state` (=, !=), joined by
 *   AND, OR and NOT with parentheses (OR binding tighter than AND, as AIP-160 has it); anything else
 *   is INVALID_ARGUMENT (recorded, so tests can see what was sent); page size is coerced to at most
 *   `maxPageSize` (AIP-158), page tokens are opaque and bound to the filter;
 * - cancel: a running resource goes to *_CANCELLING; a finished one answers FAILED_PRECONDITION;
 *   the test then moves it on (CANCELLED sets error {code: 1}, as the API documents);
 * - state progression is driven only by the test (`setState`), never by time;
 * - optional request quota (`crudLimit`): Vertex AI allows 600 resource-management (CRUD) requests
 *   per minute per region and answers RESOURCE_EXHAUSTED (gRPC code 8; over REST HTTP 429 with
 *   `"status": "RESOURCE_EXHAUSTED"` in the error body) once a project is over it. Modelled as a
 *   token bucket over every call (create, get, list, cancel alike); quota errors carry no retry
 *   hint, so the client falls back on its own backoff.
 *
 * Transport-neutral: the REST front end (vertex-rest-fake.ts) translates HTTP to these calls.
 */

export type FakeKind = 'customJobs' | 'trainingPipelines' | 'batchPredictionJobs';
export const FAKE_KINDS: readonly FakeKind[] = ['customJobs', 'trainingPipelines', 'batchPredictionJobs'];

export const JOB_STATES = [
  'JOB_STATE_UNSPECIFIED',
  'JOB_STATE_QUEUED',
  'JOB_STATE_PENDING',
  'JOB_STATE_RUNNING',
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLING',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_PAUSED',
  'JOB_STATE_EXPIRED',
  'JOB_STATE_UPDATING',
  'JOB_STATE_PARTIALLY_SUCCEEDED',
] as const;
export const PIPELINE_STATES = [
  'PIPELINE_STATE_UNSPECIFIED',
  'PIPELINE_STATE_QUEUED',
  'PIPELINE_STATE_PENDING',
  'PIPELINE_STATE_RUNNING',
  'PIPELINE_STATE_SUCCEEDED',
  'PIPELINE_STATE_FAILED',
  'PIPELINE_STATE_CANCELLING',
  'PIPELINE_STATE_CANCELLED',
  'PIPELINE_STATE_PAUSED',
] as const;
const JOB_TERMINAL = new Set([
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_EXPIRED',
  'JOB_STATE_PARTIALLY_SUCCEEDED',
]);
const PIPELINE_TERMINAL = new Set(['PIPELINE_STATE_SUCCEEDED', 'PIPELINE_STATE_FAILED', 'PIPELINE_STATE_CANCELLED']);

export const statesOf = (kind: FakeKind): readonly string[] =>
  kind === 'trainingPipelines' ? PIPELINE_STATES : JOB_STATES;
const prefixOf = (kind: FakeKind) => (kind === 'trainingPipelines' ? 'PIPELINE_STATE_' : 'JOB_STATE_');
export const isTerminalState = (kind: FakeKind, state: string) =>
  kind === 'trainingPipelines' ? PIPELINE_TERMINAL.has(state) : JOB_TERMINAL.has(state);

/** gRPC canonical codes and the HTTP status Google maps each to. */
export const RPC_STATUS = {
  CANCELLED: { code: 1, http: 499 },
  INVALID_ARGUMENT: { code: 3, http: 400 },
  DEADLINE_EXCEEDED: { code: 4, http: 504 },
  NOT_FOUND: { code: 5, http: 404 },
  ALREADY_EXISTS: { code: 6, http: 409 },
  PERMISSION_DENIED: { code: 7, http: 403 },
  RESOURCE_EXHAUSTED: { code: 8, http: 429 },
  FAILED_PRECONDITION: { code: 9, http: 400 },
  INTERNAL: { code: 13, http: 500 },
  UNAVAILABLE: { code: 14, http: 503 },
  UNAUTHENTICATED: { code: 16, http: 401 },
} as const;
export type RpcStatusName = keyof typeof RPC_STATUS;

export class FakeRpcError extends Error {
  constructor(
    readonly status: RpcStatusName,
    message: string,
    /** Seconds for a google.rpc.RetryInfo detail. */
    readonly retryDelaySec?: number,
  ) {
    super(message);
  }
}

export type Verb =
  | 'create'
  | 'get'
  | 'list'
  | 'cancel'
  | 'delete'
  | 'import'
  | 'export'
  | 'deploy'
  | 'undeploy'
  | 'predict'
  | 'explain';

/** Datasets, models and endpoints (issue 18): resources without a state of their own. */
export type AssetKind = 'datasets' | 'models' | 'endpoints';
export const ASSET_KINDS: readonly AssetKind[] = ['datasets', 'models', 'endpoints'];
/** What a call addressed: a job collection, an asset collection, an operation or a prediction. */
export type CallKind = FakeKind | AssetKind | 'operations';

/** One call as the fake saw it. */
export interface RecordedCall {
  readonly verb: Verb;
  readonly kind: CallKind;
  /** `parent` for create/list, `name` for get/cancel. */
  readonly target: string;
  readonly filter?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
  readonly body?: Record<string, unknown>;
  /** Transport metadata: HTTP headers (lower-case) or gRPC metadata. */
  readonly headers: Readonly<Record<string, string>>;
  readonly transport: 'rest' | 'grpc';
  /** The status the fake answered with (`OK` or a canonical error name). */
  outcome: string;
}

/** A fault the test injects: the next `times` matching calls fail with `status`. */
export interface Fault {
  readonly status: RpcStatusName;
  readonly verb?: Verb;
  readonly kind?: CallKind;
  /** Only list calls whose filter contains this text (e.g. `" OR "` for the finished-job look-up). */
  readonly filterIncludes?: string;
  times: number;
  readonly retryDelaySec?: number;
  readonly message?: string;
}

export interface StoredResource {
  readonly kind: FakeKind;
  readonly name: string;
  /** The resource in proto3 JSON form (camelCase, enum names, RFC 3339 timestamps). */
  body: Record<string, unknown>;
}

/** A dataset, model or endpoint the fake holds. */
export interface StoredAsset {
  readonly kind: AssetKind;
  readonly name: string;
  /** The resource in proto3 JSON form. */
  body: Record<string, unknown>;
  /** DeployedModel ids whose deploy (or undeploy) operation has not completed. */
  readonly deploying: Set<string>;
  readonly undeploying: Set<string>;
  /** ImportData configs applied (datasets). */
  readonly imports: unknown[];
  /** Predict/Explain calls served (endpoints). */
  invocations: number;
}

/** A google.longrunning.Operation; `effect` runs when the test completes it successfully. */
export interface FakeOperation {
  readonly name: string;
  done: boolean;
  error?: { code: number; message: string };
  /** Fully qualified type of the response message (for the Any). */
  readonly responseType: string;
  response?: Record<string, unknown>;
  readonly effect: () => Record<string, unknown>;
}

export interface FakeOptions {
  readonly project?: string;
  readonly location?: string;
  /** Largest page a list returns (larger requests are coerced down). */
  readonly maxPageSize?: number;
  /** When set, calls whose `authorization` is not `Bearer <token>` answer UNAUTHENTICATED. */
  readonly requireBearer?: string;
  /**
   * Per-region CRUD request quota of the project. The real one is 600 per minute per region
   * (`{ perSec: 10, burst: 600 }` as a bucket); tests pass a stricter one. Unset: unlimited.
   */
  readonly crudLimit?: RateLimit;
  /** Clock of the quota bucket (a test's fake clock); `Date.now` by default. */
  readonly quotaClock?: () => number;
}

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
// AIP-160: in an unquoted field path "-" is the negation operator, so filter label keys are
// restricted to letters, digits and "_".
const FILTER_LABEL_KEY = /^[a-z][a-z0-9_]{0,62}$/;

type Predicate = (r: StoredResource) => boolean;

export class VertexFakeService {
  readonly project: string;
  readonly location: string;
  readonly maxPageSize: number;
  readonly requireBearer: string | undefined;
  readonly calls: RecordedCall[] = [];
  private readonly resources = new Map<string, StoredResource>();
  private readonly faults: Fault[] = [];
  private nextId = 1_000_000;
  private clock = Date.parse('2026-11-23T10:00:00Z');
  private quota: QuotaBucket | undefined;
  private readonly quotaClock: (() => number) | undefined;
  /** Calls answered RESOURCE_EXHAUSTED because the CRUD quota was spent (injected faults not counted). */
  throttledByQuota = 0;
  /** Datasets, models and endpoints by full name. */
  private readonly assets = new Map<string, StoredAsset>();
  /** Long-running operations by name. */
  readonly operations = new Map<string, FakeOperation>();
  private nextOp = 9_000_000;
  /** What Predict answers for the instances (the test may replace it). */
  predictor: (instances: unknown[], parameters: unknown) => unknown[] = (instances) =>
    instances.map((instance, i) => ({ index: i, score: 0.75, input: instance }));

  constructor(opts: FakeOptions = {}) {
    this.project = opts.project ?? 'test-project';
    this.location = opts.location ?? 'us-central1';
    this.maxPageSize = opts.maxPageSize ?? 100;
    this.requireBearer = opts.requireBearer;
    this.quotaClock = opts.quotaClock;
    this.quota = QuotaBucket.of(opts.crudLimit, opts.quotaClock);
  }

  get parent(): string {
    return `projects/${this.project}/locations/${this.location}`;
  }

  // ---- test controls -------------------------------------------------------------------------

  /** The next `times` calls matching verb/kind fail with `status`. */
  failNext(fault: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** Sets (or with `undefined` lifts) the CRUD quota from now on, e.g. once a test has seeded its jobs; the bucket starts full. */
  setCrudLimit(limit: RateLimit | undefined): void {
    this.quota = QuotaBucket.of(limit, this.quotaClock);
  }

  /** Moves a resource (by name or by the value of a label) to `state`, merging `patch` into it. */
  setState(nameOrLabel: string | StoredResource, state: string, patch: Record<string, unknown> = {}): StoredResource {
    const r = typeof nameOrLabel === 'string' ? this.find(nameOrLabel) : nameOrLabel;
    if (!r) throw new Error(`fake: no resource ${String(nameOrLabel)}`);
    if (!statesOf(r.kind).includes(state)) throw new Error(`fake: ${state} is not a state of ${r.kind}`);
    const now = this.tick();
    r.body = { ...r.body, ...patch, state, updateTime: now };
    if (state.endsWith('_RUNNING') && !r.body.startTime) r.body.startTime = now;
    if (isTerminalState(r.kind, state)) r.body.endTime = now;
    if (state.endsWith('_CANCELLED') && !patch.error) r.body.error = { code: 1, message: 'CANCELED' };
    return r;
  }

  /** Stores a resource directly (bench set-up), as if created earlier. */
  seed(kind: FakeKind, body: Record<string, unknown>, state?: string): StoredResource {
    const r = this.store(kind, body);
    if (state) this.setState(r, state);
    return r;
  }

  /** The resource is deleted behind the client's back (DeleteCustomJob and friends from elsewhere). */
  remove(name: string): boolean {
    return this.resources.delete(name);
  }

  /** Resource by full name, or the first one whose any label value equals `labelValue`. */
  find(nameOrLabel: string): StoredResource | undefined {
    return (
      this.resources.get(nameOrLabel) ??
      this.all().find((r) => Object.values((r.body.labels ?? {}) as Record<string, string>).includes(nameOrLabel))
    );
  }

  all(kind?: FakeKind): StoredResource[] {
    return [...this.resources.values()].filter((r) => !kind || r.kind === kind);
  }

  /** Calls by verb, optionally only since `from` (an index into `calls`). */
  count(verb: Verb, from = 0): number {
    return this.calls.slice(from).filter((c) => c.verb === verb).length;
  }

  // ---- the API -------------------------------------------------------------------------------

  /** Common entry: records the call, checks auth and injected faults. */
  begin(call: Omit<RecordedCall, 'outcome'>): RecordedCall {
    const recorded: RecordedCall = { ...call, outcome: 'OK' };
    this.calls.push(recorded);
    if (this.requireBearer !== undefined && call.headers.authorization !== `Bearer ${this.requireBearer}`) {
      throw new FakeRpcError('UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
    if (this.quota && !this.quota.take().ok) {
      this.throttledByQuota++;
      throw new FakeRpcError(
        'RESOURCE_EXHAUSTED',
        `Quota exceeded for quota metric 'Resource management (CRUD) requests' and limit 'Resource management (CRUD) requests per minute per region' of service 'aiplatform.googleapis.com' for consumer 'project:${this.project}'.`,
      );
    }
    const fault = this.faults.find(
      (f) =>
        f.times > 0 &&
        (!f.verb || f.verb === call.verb) &&
        (!f.kind || f.kind === call.kind) &&
        (f.filterIncludes === undefined || (call.filter ?? '').includes(f.filterIncludes)),
    );
    if (fault) {
      fault.times--;
      throw new FakeRpcError(fault.status, fault.message ?? `Injected ${fault.status}`, fault.retryDelaySec);
    }
    return recorded;
  }

  create(kind: FakeKind, parent: string, body: Record<string, unknown>): StoredResource {
    this.checkParent(parent);
    if (typeof body.displayName !== 'string' || body.displayName === '') {
      throw new FakeRpcError('INVALID_ARGUMENT', 'display_name is required.');
    }
    this.checkLabels(body.labels, 'labels');
    switch (kind) {
      case 'customJobs': {
        const pools = (body.jobSpec as { workerPoolSpecs?: unknown[] } | undefined)?.workerPoolSpecs;
        if (!Array.isArray(pools) || pools.length === 0)
          throw new FakeRpcError('INVALID_ARGUMENT', 'job_spec.worker_pool_specs is required.');
        pools.forEach((p, i) => {
          const pool = p as {
            machineSpec?: { machineType?: unknown };
            containerSpec?: { imageUri?: unknown };
            pythonPackageSpec?: unknown;
          };
          if (!pool.machineSpec?.machineType)
            throw new FakeRpcError(
              'INVALID_ARGUMENT',
              `worker_pool_specs[${i}].machine_spec.machine_type is required.`,
            );
          if (!pool.containerSpec?.imageUri && !pool.pythonPackageSpec)
            throw new FakeRpcError(
              'INVALID_ARGUMENT',
              `worker_pool_specs[${i}] needs a container_spec or python_package_spec.`,
            );
        });
        break;
      }
      case 'trainingPipelines':
        if (typeof body.trainingTaskDefinition !== 'string' || !body.trainingTaskDefinition) {
          throw new FakeRpcError('INVALID_ARGUMENT', 'training_task_definition is required.');
        }
        if (body.trainingTaskInputs === undefined || body.trainingTaskInputs === null) {
          throw new FakeRpcError('INVALID_ARGUMENT', 'training_task_inputs is required.');
        }
        this.checkLabels((body.modelToUpload as { labels?: unknown } | undefined)?.labels, 'model_to_upload.labels');
        break;
      case 'batchPredictionJobs':
        if (!body.inputConfig || !body.outputConfig)
          throw new FakeRpcError('INVALID_ARGUMENT', 'input_config and output_config are required.');
        if (!body.model && !body.unmanagedContainerModel)
          throw new FakeRpcError('INVALID_ARGUMENT', 'model is required.');
        break;
    }
    const r = this.store(kind, body);
    return r;
  }

  get(kind: FakeKind, name: string): StoredResource {
    const r = this.resources.get(name);
    if (!r || r.kind !== kind) throw new FakeRpcError('NOT_FOUND', `The ${kind} "${name}" does not exist.`);
    return r;
  }

  list(
    kind: FakeKind,
    parent: string,
    filter: string,
    pageSize: number,
    pageToken: string,
  ): { items: StoredResource[]; nextPageToken: string } {
    this.checkParent(parent);
    const predicate = this.parseFilter(kind, filter);
    if (pageSize < 0) throw new FakeRpcError('INVALID_ARGUMENT', 'page_size must not be negative.');
    const size = pageSize === 0 ? this.maxPageSize : Math.min(pageSize, this.maxPageSize);
    let offset = 0;
    if (pageToken) {
      const decoded = decodeToken(pageToken);
      if (!decoded || decoded.filter !== filter || decoded.kind !== kind) {
        throw new FakeRpcError('INVALID_ARGUMENT', 'page_token does not match the request.');
      }
      offset = decoded.offset;
    }
    const matching = this.all(kind).filter(predicate);
    const items = matching.slice(offset, offset + size);
    const next = offset + size < matching.length ? encodeToken({ kind, filter, offset: offset + size }) : '';
    return { items, nextPageToken: next };
  }

  cancel(kind: FakeKind, name: string): void {
    const r = this.get(kind, name);
    const state = String(r.body.state);
    if (isTerminalState(kind, state)) {
      throw new FakeRpcError('FAILED_PRECONDITION', `Cannot cancel ${name}: it is already in state ${state}.`);
    }
    if (!state.endsWith('_CANCELLING')) this.setState(r, `${prefixOf(kind)}CANCELLING`);
  }

  // ---- assets: datasets, models, endpoints (issue 18) -----------------------------------------
  //
  // As the API documents: every mutation is a long-running operation (google.longrunning) whose
  // effect the test completes with `completeOperation` (never time): a dataset/model/endpoint
  // exists from its create call on, a delete removes the resource only when its operation
  // completes, a deploy adds the DeployedModel (and an undeploy removes it) on completion. Creates
  // with a client-chosen id (`model_id`, `endpoint_id`) answer ALREADY_EXISTS for a taken id; deleting
  // an endpoint that still has deployed models, or a model deployed somewhere, is FAILED_PRECONDITION.

  /** Forgets every resource, operation, recorded call and pending fault (a shared fake between tests). */
  reset(): void {
    this.resources.clear();
    this.assets.clear();
    this.operations.clear();
    this.calls.length = 0;
    this.faults.length = 0;
  }

  /** The asset by full name. */
  asset(name: string): StoredAsset | undefined {
    return this.assets.get(name);
  }

  allAssets(kind?: AssetKind): StoredAsset[] {
    return [...this.assets.values()].filter((a) => !kind || a.kind === kind);
  }

  /** Operations not yet done. */
  pendingOperations(): FakeOperation[] {
    return [...this.operations.values()].filter((o) => !o.done);
  }

  /** Completes an operation: applies its effect, or ends it with `error` (no effect). */
  completeOperation(name: string, error?: { status: RpcStatusName; message: string }): FakeOperation {
    const op = this.operations.get(name);
    if (!op) throw new Error(`fake: no operation ${name}`);
    if (op.done) return op;
    op.done = true;
    if (error) op.error = { code: RPC_STATUS[error.status].code, message: error.message };
    else op.response = op.effect();
    return op;
  }

  /** Completes every pending operation (successfully). */
  completeAll(): void {
    for (const op of this.pendingOperations()) this.completeOperation(op.name);
  }

  getOperation(name: string): FakeOperation {
    const op = this.operations.get(name);
    if (!op) throw new FakeRpcError('NOT_FOUND', `Operation ${name} is not found.`);
    return op;
  }

  createDataset(parent: string, body: Record<string, unknown>): FakeOperation {
    this.checkParent(parent);
    if (typeof body.displayName !== 'string' || !body.displayName)
      throw new FakeRpcError('INVALID_ARGUMENT', 'display_name is required.');
    if (typeof body.metadataSchemaUri !== 'string' || !body.metadataSchemaUri)
      throw new FakeRpcError('INVALID_ARGUMENT', 'metadata_schema_uri is required.');
    this.checkLabels(body.labels, 'labels');
    const a = this.storeAsset('datasets', String(this.nextId++), body);
    return this.startOperation(a.name, 'google.cloud.aiplatform.v1.Dataset', () => this.publicBody(a));
  }

  importData(name: string, importConfigs: unknown): FakeOperation {
    const a = this.getAsset('datasets', name);
    if (!Array.isArray(importConfigs) || importConfigs.length === 0)
      throw new FakeRpcError('INVALID_ARGUMENT', 'import_configs is required.');
    return this.startOperation(name, 'google.cloud.aiplatform.v1.ImportDataResponse', () => {
      a.body.dataItemCount = String(Number(a.body.dataItemCount ?? 0) + 100);
      a.imports.push(importConfigs);
      return {};
    });
  }

  exportData(name: string, exportConfig: Record<string, unknown> | undefined): FakeOperation {
    this.getAsset('datasets', name);
    const prefix = (exportConfig?.gcsDestination as { outputUriPrefix?: string } | undefined)?.outputUriPrefix;
    if (!prefix) throw new FakeRpcError('INVALID_ARGUMENT', 'export_config.gcs_destination is required.');
    return this.startOperation(name, 'google.cloud.aiplatform.v1.ExportDataResponse', () => ({
      exportedFiles: [`${prefix.replace(/\/$/, '')}/export-data-1/data-00001.jsonl`],
    }));
  }

  uploadModel(parent: string, model: Record<string, unknown>, modelId: string, parentModel?: string): FakeOperation {
    this.checkParent(parent);
    if (typeof model.displayName !== 'string' || !model.displayName)
      throw new FakeRpcError('INVALID_ARGUMENT', 'model.display_name is required.');
    this.checkLabels(model.labels, 'model.labels');
    if (modelId && !/^[a-z_][a-z0-9_-]{0,62}$/.test(modelId))
      throw new FakeRpcError('INVALID_ARGUMENT', `model_id "${modelId}" is invalid.`);
    if (parentModel) this.getAsset('models', parentModel);
    const id = modelId || String(this.nextId++);
    if (this.assets.has(`${parent}/models/${id}`))
      throw new FakeRpcError('ALREADY_EXISTS', `Model ${parent}/models/${id} already exists.`);
    const a = this.storeAsset('models', id, { ...model, versionId: '1' });
    return this.startOperation(a.name, 'google.cloud.aiplatform.v1.UploadModelResponse', () => ({
      model: a.name,
      modelVersionId: '1',
    }));
  }

  exportModel(name: string, outputConfig: Record<string, unknown> | undefined): FakeOperation {
    this.getAsset('models', name);
    if (!outputConfig?.exportFormatId) throw new FakeRpcError('INVALID_ARGUMENT', 'export_format_id is required.');
    return this.startOperation(name, 'google.cloud.aiplatform.v1.ExportModelResponse', () => ({}));
  }

  createEndpoint(parent: string, body: Record<string, unknown>, endpointId: string): FakeOperation {
    this.checkParent(parent);
    if (typeof body.displayName !== 'string' || !body.displayName)
      throw new FakeRpcError('INVALID_ARGUMENT', 'endpoint.display_name is required.');
    this.checkLabels(body.labels, 'endpoint.labels');
    if (endpointId && !/^(?:[a-z][a-z0-9-]{0,61}[a-z0-9]|[a-z]|[1-9][0-9]{0,8})$/.test(endpointId))
      throw new FakeRpcError('INVALID_ARGUMENT', `endpoint_id "${endpointId}" is invalid.`);
    const id = endpointId || String(this.nextId++);
    if (this.assets.has(`${parent}/endpoints/${id}`))
      throw new FakeRpcError('ALREADY_EXISTS', `Endpoint ${parent}/endpoints/${id} already exists.`);
    const a = this.storeAsset('endpoints', id, { ...body, deployedModels: [], trafficSplit: {} });
    return this.startOperation(a.name, 'google.cloud.aiplatform.v1.Endpoint', () => this.publicBody(a));
  }

  deployModel(
    endpoint: string,
    deployed: Record<string, unknown>,
    trafficSplit: Record<string, number>,
  ): FakeOperation {
    const e = this.getAsset('endpoints', endpoint);
    const model = String(deployed.model ?? '');
    this.getAsset('models', model);
    if (!deployed.dedicatedResources && !deployed.automaticResources)
      throw new FakeRpcError('INVALID_ARGUMENT', 'deployed_model needs dedicated_resources or automatic_resources.');
    const id = String(deployed.id || this.nextId++);
    if (!/^[0-9]{1,10}$/.test(id)) throw new FakeRpcError('INVALID_ARGUMENT', `deployed_model.id "${id}" is invalid.`);
    if (e.deploying.has(id) || this.deployedOn(e).some((d) => d.id === id))
      throw new FakeRpcError('ALREADY_EXISTS', `DeployedModel ${id} already exists on ${endpoint}.`);
    const split = Object.values(trafficSplit ?? {}).reduce((a, b) => a + Number(b), 0);
    if (Object.keys(trafficSplit ?? {}).length > 0 && split !== 100)
      throw new FakeRpcError('INVALID_ARGUMENT', `traffic_split must add up to 100, got ${split}.`);
    e.deploying.add(id);
    return this.startOperation(endpoint, 'google.cloud.aiplatform.v1.DeployModelResponse', () => {
      e.deploying.delete(id);
      const entry = { ...deployed, id, createTime: this.tick() };
      e.body.deployedModels = [...this.deployedOn(e), entry];
      const next: Record<string, number> = {};
      for (const [k, v] of Object.entries(trafficSplit ?? {})) next[k === '0' ? id : k] = Number(v);
      e.body.trafficSplit = Object.keys(next).length > 0 ? next : { [id]: 100 };
      return { deployedModel: { id } };
    });
  }

  undeployModel(endpoint: string, deployedModelId: string): FakeOperation {
    const e = this.getAsset('endpoints', endpoint);
    if (!this.deployedOn(e).some((d) => d.id === deployedModelId))
      throw new FakeRpcError('NOT_FOUND', `DeployedModel ${deployedModelId} is not found on ${endpoint}.`);
    if (e.undeploying.has(deployedModelId))
      throw new FakeRpcError('FAILED_PRECONDITION', `DeployedModel ${deployedModelId} is being undeployed.`);
    e.undeploying.add(deployedModelId);
    return this.startOperation(endpoint, 'google.cloud.aiplatform.v1.UndeployModelResponse', () => {
      e.undeploying.delete(deployedModelId);
      e.body.deployedModels = this.deployedOn(e).filter((d) => d.id !== deployedModelId);
      const split = { ...(e.body.trafficSplit as Record<string, number>) };
      delete split[deployedModelId];
      e.body.trafficSplit = split;
      return {};
    });
  }

  deleteAsset(kind: AssetKind, name: string): FakeOperation {
    const a = this.getAsset(kind, name);
    if (kind === 'endpoints' && this.deployedOn(a).length > 0)
      throw new FakeRpcError('FAILED_PRECONDITION', `Endpoint ${name} has deployed models; undeploy them first.`);
    if (kind === 'models') {
      const on = this.allAssets('endpoints').find((e) => this.deployedOn(e).some((d) => d.model === name));
      if (on) throw new FakeRpcError('FAILED_PRECONDITION', `Model ${name} is deployed on ${on.name}.`);
    }
    return this.startOperation(name, 'google.protobuf.Empty', () => {
      this.assets.delete(name);
      return {};
    });
  }

  getAsset(kind: AssetKind, name: string): StoredAsset {
    const a = this.assets.get(name);
    if (!a || a.kind !== kind) throw new FakeRpcError('NOT_FOUND', `The ${kind} "${name}" does not exist.`);
    return a;
  }

  listAssets(kind: AssetKind, parent: string, filter: string, pageSize: number): StoredAsset[] {
    this.checkParent(parent);
    const predicate = this.parseAssetFilter(filter);
    const size = pageSize <= 0 ? this.maxPageSize : Math.min(pageSize, this.maxPageSize);
    return this.allAssets(kind)
      .filter((a) => predicate(a.body))
      .slice(0, size);
  }

  /** Predict/Explain: the endpoint must exist and serve at least one model. */
  predict(endpoint: string, instances: unknown[], parameters: unknown, explain: boolean): Record<string, unknown> {
    const e = this.getAsset('endpoints', endpoint);
    const served = this.deployedOn(e);
    if (served.length === 0)
      throw new FakeRpcError('FAILED_PRECONDITION', `Endpoint ${endpoint} does not have any deployed model.`);
    if (!Array.isArray(instances) || instances.length === 0)
      throw new FakeRpcError('INVALID_ARGUMENT', 'instances must not be empty.');
    e.invocations++;
    const predictions = this.predictor(instances, parameters);
    const first = served[0]!;
    if (!explain) {
      return { predictions, deployedModelId: first.id, model: first.model, modelVersionId: '1' };
    }
    const explanations = instances.map((instance) => ({
      attributions: [
        {
          baselineOutputValue: 0.5,
          instanceOutputValue: 0.75,
          featureAttributions: Object.fromEntries(Object.keys((instance ?? {}) as object).map((k) => [k, 0.125])),
          outputIndex: [0],
          approximationError: 0.01,
        },
      ],
    }));
    return { explanations, predictions, deployedModelId: first.id };
  }

  /** The public resource body (what a get answers). */
  publicBody(a: StoredAsset): Record<string, unknown> {
    return structuredClone(a.body);
  }

  private deployedOn(e: StoredAsset): { id: string; model?: string; [k: string]: unknown }[] {
    return (e.body.deployedModels ?? []) as { id: string; model?: string }[];
  }

  private storeAsset(kind: AssetKind, id: string, body: Record<string, unknown>): StoredAsset {
    const name = `${this.parent}/${kind}/${id}`;
    const now = this.tick();
    const a: StoredAsset = {
      kind,
      name,
      body: { ...body, name, createTime: now, updateTime: now },
      deploying: new Set(),
      undeploying: new Set(),
      imports: [],
      invocations: 0,
    };
    this.assets.set(name, a);
    return a;
  }

  private startOperation(resource: string, responseType: string, effect: () => Record<string, unknown>): FakeOperation {
    const op: FakeOperation = {
      name: `${resource}/operations/${this.nextOp++}`,
      done: false,
      responseType,
      effect,
    };
    this.operations.set(op.name, op);
    return op;
  }

  /** Label terms of AIP-160 (the asset collections have no `state`). */
  private parseAssetFilter(filter: string): (body: Record<string, unknown>) => boolean {
    if (filter.trim() === '') return () => true;
    const preds = filter.split(/\s+AND\s+/).map((raw) => {
      const term = raw.trim();
      const has = /^labels\.([a-z][a-z0-9_]{0,62})\s*:\s*\*$/.exec(term);
      if (has) return (b: Record<string, unknown>) => Object.hasOwn((b.labels ?? {}) as object, has[1]!);
      const eq = /^labels\.([a-z][a-z0-9_]{0,62})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([a-z0-9_-]+))$/.exec(term);
      if (eq) {
        const value = eq[2] !== undefined ? eq[2].replace(/\\(.)/g, '$1') : eq[3]!;
        return (b: Record<string, unknown>) => ((b.labels ?? {}) as Record<string, string>)[eq[1]!] === value;
      }
      throw new FakeRpcError('INVALID_ARGUMENT', `Invalid filter: unsupported term "${term}".`);
    });
    return (b) => preds.every((p) => p(b));
  }

  // ---- internals -----------------------------------------------------------------------------

  tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private store(kind: FakeKind, body: Record<string, unknown>): StoredResource {
    const name = `${this.parent}/${kind}/${this.nextId++}`;
    const now = this.tick();
    const r: StoredResource = {
      kind,
      name,
      body: {
        ...body,
        name,
        state: `${prefixOf(kind)}${kind === 'trainingPipelines' ? 'PENDING' : 'QUEUED'}`,
        createTime: now,
        updateTime: now,
      },
    };
    this.resources.set(name, r);
    return r;
  }

  private checkParent(parent: string): void {
    if (parent !== this.parent)
      throw new FakeRpcError('NOT_FOUND', `Location ${parent} is not found or access is unauthorized.`);
  }

  private checkLabels(labels: unknown, field: string): void {
    if (labels === undefined || labels === null) return;
    const entries = Object.entries(labels as Record<string, unknown>);
    if (entries.length > 64) throw new FakeRpcError('INVALID_ARGUMENT', `${field}: at most 64 labels.`);
    for (const [k, v] of entries) {
      if (!LABEL_KEY.test(k)) throw new FakeRpcError('INVALID_ARGUMENT', `${field}: invalid label key "${k}".`);
      if (typeof v !== 'string' || !LABEL_VALUE.test(v))
        throw new FakeRpcError('INVALID_ARGUMENT', `${field}: invalid label value for "${k}".`);
    }
  }

  /**
   * The documented subset of AIP-160 for these collections; anything else is INVALID_ARGUMENT.
   * Terms: `labels.<key>:*`, `labels.<key>=<value>`, `state=` / `state!=`. Joined by `AND`, `OR`
   * and `NOT`, with parentheses; as AIP-160 specifies, `OR` binds tighter than `AND`
   * (`a AND b OR c` is `a AND (b OR c)`).
   */
  parseFilter(kind: FakeKind, filter: string): Predicate {
    if (filter.trim() === '') return () => true;
    const p = new FilterParser(filter, (term) => this.parseTerm(kind, term));
    return p.parse();
  }

  /** One comparison of the filter, already cut out of the expression. */
  private parseTerm(kind: FakeKind, term: string): Predicate {
    let m = /^labels\.([^\s=!:"()]+)\s*:\s*\*$/.exec(term);
    if (m) {
      const key = m[1]!;
      if (!FILTER_LABEL_KEY.test(key))
        throw new FakeRpcError('INVALID_ARGUMENT', `Invalid filter: bad label key "${key}".`);
      return (r) => Object.hasOwn((r.body.labels ?? {}) as object, key);
    }
    m = /^labels\.([^\s=!:"()]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([a-z0-9_-]+))$/.exec(term);
    if (m) {
      const key = m[1]!;
      if (!FILTER_LABEL_KEY.test(key))
        throw new FakeRpcError('INVALID_ARGUMENT', `Invalid filter: bad label key "${key}".`);
      const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
      return (r) => ((r.body.labels ?? {}) as Record<string, string>)[key] === value;
    }
    m = /^state\s*(!=|=)\s*(?:"([A-Z_]+)"|([A-Z_]+))$/.exec(term);
    if (m) {
      const state = m[2] ?? m[3]!;
      if (!statesOf(kind).includes(state))
        throw new FakeRpcError('INVALID_ARGUMENT', `Invalid filter: "${state}" is not a state of ${kind}.`);
      return m[1] === '=' ? (r) => r.body.state === state : (r) => r.body.state !== state;
    }
    throw new FakeRpcError('INVALID_ARGUMENT', `Invalid filter: unsupported term "${term}".`);
  }
}

/**
 * Recursive descent over AIP-160's boolean structure:
 * `expr := and; and := or ("AND" or)*; or := unary ("OR" unary)*; unary := "NOT"? primary;
 * primary := "(" expr ")" | term`. A term runs to the next top-level space, parenthesis or end;
 * quoted strings may hold spaces and parentheses.
 */
class FilterParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly term: (text: string) => Predicate,
  ) {}

  parse(): Predicate {
    const p = this.and();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected "${this.text.slice(this.pos)}"`);
    return p;
  }

  private and(): Predicate {
    const parts = [this.or()];
    while (this.keyword('AND')) parts.push(this.or());
    return parts.length === 1 ? parts[0]! : (r) => parts.every((p) => p(r));
  }

  private or(): Predicate {
    const parts = [this.unary()];
    while (this.keyword('OR')) parts.push(this.unary());
    return parts.length === 1 ? parts[0]! : (r) => parts.some((p) => p(r));
  }

  private unary(): Predicate {
    if (this.keyword('NOT')) {
      const inner = this.primary();
      return (r) => !inner(r);
    }
    return this.primary();
  }

  private primary(): Predicate {
    this.skipSpace();
    if (this.text[this.pos] === '(') {
      this.pos++;
      const inner = this.and();
      this.skipSpace();
      if (this.text[this.pos] !== ')') this.fail('missing ")"');
      this.pos++;
      return inner;
    }
    const start = this.pos;
    let quoted = false;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (quoted) {
        if (c === '\\') this.pos++;
        else if (c === '"') quoted = false;
      } else if (c === '"') {
        quoted = true;
      } else if (c === '(' || c === ')') {
        break;
      } else if (/\s/.test(c)) {
        // Spaces around a comparison operator belong to the term (`state != "X"`).
        const rest = this.text.slice(this.pos);
        const around =
          /^\s*(?:!=|=|:)\s*/.exec(rest) ?? (/[=:]$/.test(this.text.slice(start, this.pos)) ? /^\s+/.exec(rest) : null);
        if (!around) break;
        this.pos += around[0].length;
        continue;
      }
      this.pos++;
    }
    if (quoted) this.fail('unterminated string');
    const text = this.text.slice(start, this.pos).trim();
    if (text === '' || /^(?:AND|OR|NOT)$/.test(text)) this.fail(`expected a comparison at "${this.text.slice(start)}"`);
    return this.term(text);
  }

  /** Consumes `word` when it comes next as a keyword (followed by a space or a parenthesis). */
  private keyword(word: string): boolean {
    const save = this.pos;
    this.skipSpace();
    const rest = this.text.slice(this.pos);
    if (rest.startsWith(word) && /^[\s(]/.test(rest.slice(word.length))) {
      this.pos += word.length;
      return true;
    }
    this.pos = save;
    return false;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private fail(why: string): never {
    throw new FakeRpcError('INVALID_ARGUMENT', `Invalid filter: ${why}.`);
  }
}

function encodeToken(t: { kind: FakeKind; filter: string; offset: number }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}
function decodeToken(s: string): { kind: FakeKind; filter: string; offset: number } | undefined {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString()) as { kind: FakeKind; filter: string; offset: number };
    return typeof t.offset === 'number' ? t : undefined;
  } catch {
    return undefined;
  }
}
