import { runKey, type JobError, type JobRecord, type ProviderRef } from '../../core/job.js';
import { ProviderRejectedError, ProviderThrottledError, ValidationError } from '../../errors.js';
import { mapLimit } from '../../retry.js';
import type { PollReport, SubmitOutcome } from '../../ports/provider.js';
import { isVertexAssetKind, type VertexAssetKind } from './catalog.js';
import {
  assetResourceId,
  deployedModelIdFor,
  ENDPOINT_NAME,
  parseVertexAssetSpec,
  type VertexAssetSpecs,
} from './asset-spec.js';
import type { AssetCollection, OperationView, VertexAssetApi } from './client.js';
import { inspectVertexError, PROVIDER, toOrchestratorError } from './errors.js';
import { jobLabelValue, labelEqualsFilter } from './names.js';
import type { VertexSettings } from './settings.js';
import { fromProtoValue, operationOutcome, type VertexResourceView } from './status.js';
import { toProtoValue } from './spec.js';

/** Asset reads per poll cycle that run at once. */
const ASSET_CONCURRENCY = 8;
/** Instances one Predict/Explain call may carry (Vertex's own request limit is 1.5 MB). */
const MAX_INSTANCES = 1000;

/** What `result.asset` of a succeeded asset job says (MLOPS.md §1). */
export interface AssetResult {
  readonly kind: 'dataset' | 'model' | 'endpoint';
  readonly id: string;
  readonly name: string;
  readonly uri?: string;
  readonly instanceType?: string;
  readonly instanceCount?: number;
  readonly deployedModels?: string[];
}

/** The handle an asset job stores: which resource, which operation(s), which phase. */
interface AssetRef {
  readonly kind: VertexAssetKind;
  readonly labelValue: string;
  /** The resource the operation acts on (dataset, model or endpoint name). */
  readonly name?: string;
  /** Running long-running operation(s), comma-separated (undeploying several models). */
  readonly operations: readonly string[];
  /** dataset-create: `create`, then `import` once ImportData started. */
  readonly phase?: string;
  /** endpoint-deploy: the DeployedModel id; endpoint-undeploy: the ids being taken down. */
  readonly deployedModelIds: readonly string[];
}

function readAssetRef(job: JobRecord): AssetRef | undefined {
  const r = job.providerRef ?? {};
  const kind = isVertexAssetKind(r.kind) ? r.kind : isVertexAssetKind(job.spec.kind) ? job.spec.kind : undefined;
  if (!kind) return undefined;
  const list = (v: unknown) => (typeof v === 'string' && v ? v.split(',') : []);
  return {
    kind,
    labelValue: typeof r.labelValue === 'string' ? r.labelValue : jobLabelValue(runKey(job)),
    ...(typeof r.name === 'string' && r.name && { name: r.name }),
    operations: list(r.operations),
    ...(typeof r.phase === 'string' && { phase: r.phase }),
    deployedModelIds: list(r.deployedModelIds),
  };
}

function toProviderRef(ref: AssetRef): ProviderRef {
  return {
    kind: ref.kind,
    labelValue: ref.labelValue,
    ...(ref.name && { name: ref.name }),
    operations: ref.operations.join(','),
    ...(ref.phase && { phase: ref.phase }),
    ...(ref.deployedModelIds.length > 0 && { deployedModelIds: ref.deployedModelIds.join(',') }),
  };
}

/** Operation names look like `projects/…/datasets/123/operations/456`: the resource is the prefix. */
function resourceOfOperation(op: string): string | undefined {
  const m = /^(projects\/[^/]+\/locations\/[^/]+\/(?:datasets|models|endpoints)\/[^/]+)\/operations\/[^/]+$/.exec(op);
  return m?.[1];
}

const COLLECTION: Record<VertexAssetKind, AssetCollection> = {
  'dataset-create': 'datasets',
  'dataset-export': 'datasets',
  'dataset-delete': 'datasets',
  'model-register': 'models',
  'model-export': 'models',
  'model-delete': 'models',
  'endpoint-create': 'endpoints',
  'endpoint-deploy': 'endpoints',
  'endpoint-undeploy': 'endpoints',
  'endpoint-delete': 'endpoints',
};

const isStatus = (error: unknown, ...names: string[]) =>
  names.includes(inspectVertexError((error as { cause?: unknown }).cause ?? error).status);

/** The parts of the provider the asset operations share with the job kinds. */
export interface AssetContext {
  readonly settings: VertexSettings;
  readonly api: VertexAssetApi;
  readonly parent: string;
  /** Runs a read (get/list/getOperation) with the provider's pacing and transient retries. */
  reads<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Datasets, models and endpoints on Vertex AI as jobs (issue 18). Every mutation Vertex offers for
 * them is a long-running operation: `submit` starts it and stores its name; `poll` reads it, then
 * confirms through the resource itself (a delete is done when the resource is gone, a deploy
 * when the endpoint lists the deployed model) before reporting `succeeded` with `result.asset`.
 *
 * Idempotency: models and endpoints are created under an id derived from the run key
 * (`model_id`, `endpoint_id`), so a redelivered create answers ALREADY_EXISTS and re-attaches;
 * datasets (no client-chosen id in v1) are found by our label first; a deploy uses a
 * DeployedModel id derived from the run key and re-attaches when the endpoint already has it;
 * deletes and undeploys of something already gone re-attach and are confirmed by the poll.
 * Exports are not resources: a dispatch redelivered after the export started (before its name
 * was stored) starts a second export into the same destination prefix.
 */
export class VertexAssets {
  constructor(private readonly ctx: AssetContext) {}

  async submit(job: JobRecord): Promise<SubmitOutcome> {
    const kind = job.spec.kind;
    if (!isVertexAssetKind(kind)) throw new Error(`not an asset kind: ${String(kind)}`);
    const labelValue = jobLabelValue(runKey(job));
    try {
      const { ref, attached } = await this.start(kind, job, labelValue);
      return { ref: toProviderRef(ref), attached, status: 'running' };
    } catch (error) {
      throw toOrchestratorError(error, this.ctx.settings.throttleBackoffMs);
    }
  }

  /** Reads every asset job's operation and resource; throttling ends the batch (the rest wait). */
  async poll(
    jobs: readonly JobRecord[],
  ): Promise<{ reports: PollReport[]; throttled?: ProviderThrottledError; unread: string[] }> {
    const reports: PollReport[] = [];
    const read = new Set<string>();
    let throttled: ProviderThrottledError | undefined;
    await mapLimit(jobs, ASSET_CONCURRENCY, async (job) => {
      if (throttled) return;
      const ref = readAssetRef(job);
      if (!ref) return;
      try {
        const report = await this.pollOne(job, ref);
        if (report) reports.push(report);
        read.add(job.id);
      } catch (error) {
        const converted = toOrchestratorError(error, this.ctx.settings.throttleBackoffMs);
        if (converted instanceof ProviderThrottledError) throttled = converted;
        else if (!converted.retriable) throw converted;
        // Unavailable for this one job: it stays as it is until the next cycle.
      }
    });
    const unread = jobs.filter((j) => !read.has(j.id)).map((j) => j.id);
    return { reports, ...(throttled && { throttled }), unread };
  }

  /**
   * Predict / Explain on a live endpoint an `endpoint-create` job made. Instances travel as protobuf
   * Values; the answer comes back as plain JSON (predictions, deployedModelId, model, …).
   */
  async invoke(endpointJob: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    const endpoint = endpointOf(endpointJob);
    const b = (body ?? {}) as { instances?: unknown; parameters?: unknown; deployedModelId?: unknown };
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError([{ field: 'body', message: 'must be a JSON object with instances' }]);
    if (!Array.isArray(b.instances) || b.instances.length === 0 || b.instances.length > MAX_INSTANCES)
      throw new ValidationError([
        { field: 'instances', message: `must be a non-empty array of at most ${MAX_INSTANCES} instances` },
      ]);
    if (
      b.deployedModelId !== undefined &&
      (typeof b.deployedModelId !== 'string' || !/^\d{1,10}$/.test(b.deployedModelId))
    )
      throw new ValidationError([{ field: 'deployedModelId', message: 'a deployed model id (1-10 digits)' }]);
    const instances = b.instances.map(toProtoValue);
    const parameters = b.parameters === undefined ? undefined : toProtoValue(b.parameters);
    try {
      if (operation === 'infer') {
        const res = await this.ctx.api.predict(endpoint, instances, parameters);
        return predictionJson(res);
      }
      const res = await this.ctx.api.explain(endpoint, instances, parameters, b.deployedModelId as string | undefined);
      return explanationJson(res);
    } catch (error) {
      throw toOrchestratorError(error, this.ctx.settings.throttleBackoffMs);
    }
  }

  // ---- submit ---------------------------------------------------------------------------------

  private async start(
    kind: VertexAssetKind,
    job: JobRecord,
    labelValue: string,
  ): Promise<{ ref: AssetRef; attached: boolean }> {
    const { api, parent, settings } = this.ctx;
    const base = { kind, labelValue, operations: [] as string[], deployedModelIds: [] as string[] };
    const withLabel = (l: Record<string, string> | undefined) => ({ ...l, [settings.labelKey]: labelValue });
    const op = (o: OperationView, name?: string, extra: Partial<AssetRef> = {}) => ({
      ref: { ...base, ...extra, name: name ?? resourceOfOperation(o.name), operations: [o.name] },
      attached: false,
    });
    switch (kind) {
      case 'dataset-create': {
        const spec = this.spec(kind, job);
        const existing = await this.findByLabel('datasets', labelValue);
        if (existing?.name) return { ref: { ...base, name: existing.name, phase: 'create' }, attached: true };
        const { importConfigs: _imports, labels, metadata, ...rest } = spec;
        const dataset = {
          ...rest,
          labels: withLabel(labels),
          ...(metadata !== undefined && { metadata: toProtoValue(metadata) }),
        };
        return op(await api.createDataset(parent, dataset), undefined, { phase: 'create' });
      }
      case 'dataset-export': {
        const spec = this.spec(kind, job);
        return op(await api.exportData(spec.dataset, spec.exportConfig), spec.dataset);
      }
      case 'model-register': {
        const spec = this.spec(kind, job);
        const modelId = assetResourceId(runKey(job));
        const { parentModel, labels, metadata, ...rest } = spec;
        const model = {
          ...rest,
          labels: withLabel(labels),
          ...(metadata !== undefined && { metadata: toProtoValue(metadata) }),
        };
        try {
          return op(await api.uploadModel(parent, model, modelId, parentModel), `${parent}/models/${modelId}`);
        } catch (error) {
          if (!isStatus(error, 'ALREADY_EXISTS')) throw error;
          return this.attachOwn('models', `${parent}/models/${modelId}`, base);
        }
      }
      case 'model-export': {
        const spec = this.spec(kind, job);
        return op(await api.exportModel(spec.model, spec.outputConfig), spec.model);
      }
      case 'endpoint-create': {
        const spec = this.spec(kind, job);
        const endpointId = assetResourceId(runKey(job));
        const { labels, ...rest } = spec;
        try {
          return op(
            await api.createEndpoint(parent, { ...rest, labels: withLabel(labels) }, endpointId),
            `${parent}/endpoints/${endpointId}`,
          );
        } catch (error) {
          if (!isStatus(error, 'ALREADY_EXISTS')) throw error;
          return this.attachOwn('endpoints', `${parent}/endpoints/${endpointId}`, base);
        }
      }
      case 'endpoint-deploy': {
        const spec = this.spec(kind, job);
        const id = deployedModelIdFor(runKey(job));
        const ids = { deployedModelIds: [id] };
        const endpoint = await this.ctx.reads(() => api.getAsset('endpoints', spec.endpoint));
        if (deployedIds(endpoint).includes(id))
          return { ref: { ...base, ...ids, name: spec.endpoint }, attached: true };
        const {
          endpoint: _e,
          trafficPercentage,
          model,
          displayName,
          dedicatedResources,
          automaticResources,
          ...rest
        } = spec;
        // Enum fields (acceleratorType) go as the names the caller gave; Vertex rejects unknown ones.
        const deployed = {
          ...rest,
          id,
          model,
          displayName: displayName ?? `${labelValue}`,
          ...(dedicatedResources && { dedicatedResources }),
          ...(automaticResources && { automaticResources }),
        } as Parameters<VertexAssetApi['deployModel']>[1];
        // "0" is the model being deployed; models already there share the rest of the traffic
        // in proportion to what they had (Vertex needs the split to add up to 100).
        const trafficSplit = splitTraffic(endpoint, trafficPercentage);
        try {
          return op(await api.deployModel(spec.endpoint, deployed, trafficSplit), spec.endpoint, ids);
        } catch (error) {
          if (!isStatus(error, 'ALREADY_EXISTS')) throw error;
          return { ref: { ...base, ...ids, name: spec.endpoint }, attached: true };
        }
      }
      case 'endpoint-undeploy': {
        const spec = this.spec(kind, job);
        const endpoint = await this.ctx.reads(() => api.getAsset('endpoints', spec.endpoint));
        const present = deployedIds(endpoint);
        const targets = spec.deployedModelIds ?? present;
        const operations: string[] = [];
        for (const id of targets.filter((t) => present.includes(t))) {
          try {
            operations.push((await api.undeployModel(spec.endpoint, id)).name);
          } catch (error) {
            // Gone already, or an undeploy of it is under way (a redelivery): the poll confirms.
            if (!isStatus(error, 'NOT_FOUND', 'FAILED_PRECONDITION')) throw error;
          }
        }
        return {
          ref: { ...base, name: spec.endpoint, operations, deployedModelIds: targets },
          attached: operations.length === 0,
        };
      }
      case 'dataset-delete':
      case 'model-delete':
      case 'endpoint-delete': {
        const spec = this.spec(kind, job) as { dataset?: string; model?: string; endpoint?: string };
        const name = spec.dataset ?? spec.model ?? spec.endpoint ?? '';
        try {
          return op(await api.deleteAsset(COLLECTION[kind], name), name);
        } catch (error) {
          // Already gone (a redelivered delete): nothing to start, the poll confirms it is gone.
          if (!isStatus(error, 'NOT_FOUND')) throw error;
          return { ref: { ...base, name }, attached: true };
        }
      }
      default: {
        const unreachable: never = kind;
        throw new Error(`unhandled asset kind ${String(unreachable)}`);
      }
    }
  }

  private spec<K extends VertexAssetKind>(kind: K, job: JobRecord): VertexAssetSpecs[K] {
    return parseVertexAssetSpec(kind, job.spec.spec ?? {});
  }

  /** A create answered ALREADY_EXISTS for our id: attach if the resource carries our label. */
  private async attachOwn(
    collection: AssetCollection,
    name: string,
    base: AssetRef,
  ): Promise<{ ref: AssetRef; attached: boolean }> {
    const existing = await this.ctx.reads(() => this.ctx.api.getAsset(collection, name));
    if (existing.labels?.[this.ctx.settings.labelKey] !== base.labelValue) {
      throw new ProviderRejectedError(
        PROVIDER,
        'ALREADY_EXISTS',
        `${name} exists but was not created by this job (its ${this.ctx.settings.labelKey} label differs)`,
      );
    }
    return { ref: { ...base, name }, attached: true };
  }

  private async findByLabel(collection: AssetCollection, labelValue: string): Promise<VertexResourceView | undefined> {
    const found = await this.ctx.reads(() =>
      this.ctx.api.listAssets(
        collection,
        this.ctx.parent,
        labelEqualsFilter(this.ctx.settings.labelKey, labelValue),
        10,
      ),
    );
    return found.find((r) => r.labels?.[this.ctx.settings.labelKey] === labelValue);
  }

  // ---- poll -----------------------------------------------------------------------------------

  private async pollOne(job: JobRecord, ref: AssetRef): Promise<PollReport | undefined> {
    const { api } = this.ctx;
    // 1. The operation(s): still running → nothing new; ended with an error → the job failed.
    for (const name of ref.operations) {
      let op: OperationView | undefined;
      try {
        op = await this.ctx.reads(() => api.getOperation(name));
      } catch (error) {
        // Operations are kept for a limited time; the resource below still tells the truth.
        if (!isStatus(error, 'NOT_FOUND')) throw error;
      }
      if (!op) continue;
      const outcome = operationOutcome(op);
      if (outcome === 'running') return this.stillRunning(job);
      if (outcome !== 'done') return failed(job, ref, outcome);
    }
    // 2. Done: confirm through the resource and say what it is now.
    const collection = COLLECTION[ref.kind];
    const name = ref.name ?? '';
    let resource: VertexResourceView | undefined;
    try {
      resource = await this.ctx.reads(() => api.getAsset(collection, name));
    } catch (error) {
      if (!isStatus(error, 'NOT_FOUND')) throw error;
    }
    switch (ref.kind) {
      case 'dataset-delete':
      case 'model-delete':
      case 'endpoint-delete':
        if (resource) return this.stillRunning(job, `${name} still exists after the delete operation`);
        return succeeded(job, ref, { kind: assetKindOf(collection), id: name, name });
      case 'dataset-create': {
        if (!resource) return missing(job, name);
        const imports = this.spec('dataset-create', job).importConfigs;
        if (imports && ref.phase !== 'import') {
          const started = await api.importData(name, imports as never);
          return {
            jobId: job.id,
            status: 'running',
            notes: [`dataset ${name} created; importing ${imports.length} source(s) (${started.name})`],
            ref: toProviderRef({ ...ref, phase: 'import', operations: [started.name] }),
          };
        }
        return succeeded(job, ref, datasetAsset(resource));
      }
      case 'dataset-export': {
        if (!resource) return missing(job, name);
        const spec = this.spec('dataset-export', job);
        return succeeded(job, ref, {
          ...datasetAsset(resource),
          uri: spec.exportConfig.gcsDestination.outputUriPrefix,
        });
      }
      case 'model-register':
        return resource ? succeeded(job, ref, modelAsset(resource)) : missing(job, name);
      case 'model-export': {
        if (!resource) return missing(job, name);
        const out = this.spec('model-export', job).outputConfig;
        const uri = out.artifactDestination?.outputUriPrefix ?? out.imageDestination?.outputUri;
        return succeeded(job, ref, { ...modelAsset(resource), ...(uri && { uri }) });
      }
      case 'endpoint-create':
        return resource ? succeeded(job, ref, this.endpointAsset(resource)) : missing(job, name);
      case 'endpoint-deploy': {
        if (!resource) return missing(job, name);
        const id = ref.deployedModelIds[0];
        if (id && !deployedIds(resource).includes(id))
          return this.stillRunning(job, `deployed model ${id} is not on ${name} yet`);
        return succeeded(job, ref, this.endpointAsset(resource, id));
      }
      case 'endpoint-undeploy': {
        if (!resource) return missing(job, name);
        const left = ref.deployedModelIds.filter((id) => deployedIds(resource).includes(id));
        if (left.length > 0) return this.stillRunning(job, `still deployed on ${name}: ${left.join(', ')}`);
        return succeeded(job, ref, this.endpointAsset(resource));
      }
      default: {
        const unreachable: never = ref.kind;
        throw new Error(`unhandled asset kind ${String(unreachable)}`);
      }
    }
  }

  /** Still under way: said once (a dispatched job moves to running); a cancelling job stays cancelling. */
  private stillRunning(job: JobRecord, note?: string): PollReport | undefined {
    // Nothing new for a job already running (notes every cycle would flood its history).
    if (job.status === 'cancelling' || job.status === 'running') return undefined;
    return { jobId: job.id, status: 'running', ...(note && { notes: [note] }) };
  }

  private endpointAsset(resource: VertexResourceView, deployedModelId?: string): AssetResult {
    const models = deployedModels(resource);
    const focus = models.find((m) => m.id === deployedModelId) ?? models[0];
    const name = String(resource.name ?? '');
    const machine = focus?.dedicatedResources?.machineSpec?.machineType;
    const replicas = focus?.dedicatedResources?.minReplicaCount ?? focus?.automaticResources?.minReplicaCount;
    return {
      kind: 'endpoint',
      id: name,
      name: String(resource.displayName ?? name),
      uri: `${this.ctx.settings.protocol}://${this.ctx.settings.predictionEndpoint}/v1/${name}:predict`,
      ...(machine && { instanceType: String(machine) }),
      ...(replicas !== undefined && replicas !== null && { instanceCount: Number(replicas) }),
      deployedModels: models.map((m) => String(m.id)),
    };
  }
}

interface DeployedModelView {
  readonly id?: string | null;
  readonly model?: string | null;
  readonly dedicatedResources?: {
    readonly machineSpec?: { readonly machineType?: string | null } | null;
    readonly minReplicaCount?: number | string | null;
  } | null;
  readonly automaticResources?: { readonly minReplicaCount?: number | string | null } | null;
}

function deployedModels(endpoint: VertexResourceView): DeployedModelView[] {
  return Array.isArray(endpoint.deployedModels) ? (endpoint.deployedModels as DeployedModelView[]) : [];
}
function deployedIds(endpoint: VertexResourceView): string[] {
  return deployedModels(endpoint)
    .map((m) => String(m.id ?? ''))
    .filter(Boolean);
}

/** The traffic split of a deploy: the new model ("0") takes `percent`, the others keep theirs in proportion. */
export function splitTraffic(endpoint: VertexResourceView, percent: number): Record<string, number> {
  const current = Object.entries((endpoint.trafficSplit ?? {}) as Record<string, number>).filter(
    ([, v]) => Number(v) > 0,
  );
  const total = current.reduce((s, [, v]) => s + Number(v), 0);
  if (current.length === 0 || total === 0) return { '0': 100 };
  const rest = 100 - percent;
  const split: Record<string, number> = { '0': percent };
  let given = 0;
  current.forEach(([id, v], i) => {
    const share = i === current.length - 1 ? rest - given : Math.floor((Number(v) * rest) / total);
    split[id] = share;
    given += share;
  });
  return split;
}

function assetKindOf(collection: AssetCollection): AssetResult['kind'] {
  return collection === 'datasets' ? 'dataset' : collection === 'models' ? 'model' : 'endpoint';
}

function datasetAsset(r: VertexResourceView): AssetResult {
  const name = String(r.name ?? '');
  return { kind: 'dataset', id: name, name: String(r.displayName ?? name) };
}

function modelAsset(r: VertexResourceView): AssetResult {
  const name = String(r.name ?? '');
  const uri = typeof r.artifactUri === 'string' && r.artifactUri ? r.artifactUri : undefined;
  return { kind: 'model', id: name, name: String(r.displayName ?? name), ...(uri && { uri }) };
}

function succeeded(job: JobRecord, ref: AssetRef, asset: AssetResult): PollReport {
  return {
    jobId: job.id,
    status: 'succeeded',
    nativeStatus: 'OPERATION_DONE',
    result: { asset, operation: ref.kind, ...(ref.operations.length > 0 && { operations: ref.operations }) },
  };
}

function failed(job: JobRecord, ref: AssetRef, error: JobError): PollReport {
  return { jobId: job.id, status: 'failed', nativeStatus: 'OPERATION_ERROR', error, result: { operation: ref.kind } };
}

function missing(job: JobRecord, name: string): PollReport {
  return {
    jobId: job.id,
    status: 'failed',
    error: {
      code: 'NOT_FOUND',
      message: `${name || 'the resource'} no longer exists at Vertex AI (deleted outside the orchestrator?)`,
      category: 'provider',
    },
  };
}

/** The endpoint resource name an `endpoint-create` job made: its `result.asset.id`, else its handle. */
export function endpointOf(job: JobRecord): string {
  const summary = job.result?.summary as { asset?: { id?: unknown } } | undefined;
  const candidates = [
    summary?.asset?.id,
    (job.result as { asset?: { id?: unknown } } | undefined)?.asset?.id,
    job.providerRef?.name,
  ];
  for (const c of candidates) if (ENDPOINT_NAME.safeParse(c).success) return c as string;
  throw new ValidationError([{ field: 'endpoint', message: `job ${job.id} did not create a Vertex AI endpoint` }]);
}

function predictionJson(res: Record<string, unknown>): Record<string, unknown> {
  const predictions = Array.isArray(res.predictions) ? res.predictions.map(fromProtoValue) : [];
  return {
    predictions,
    ...pick(res, ['deployedModelId', 'model', 'modelVersionId', 'modelDisplayName']),
  };
}

function explanationJson(res: Record<string, unknown>): Record<string, unknown> {
  const explanations = Array.isArray(res.explanations)
    ? (res.explanations as { attributions?: Record<string, unknown>[] }[]).map((e) => ({
        attributions: (e.attributions ?? []).map((a) => ({
          ...a,
          ...(a.featureAttributions !== undefined && { featureAttributions: fromProtoValue(a.featureAttributions) }),
        })),
      }))
    : [];
  return {
    explanations,
    predictions: Array.isArray(res.predictions) ? res.predictions.map(fromProtoValue) : [],
    ...pick(res, ['deployedModelId']),
  };
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => typeof o[k] === 'string' && o[k] !== '').map((k) => [k, o[k]]));
}
