import {
  isTerminal,
  SPEC_DEFAULTS,
  type AssetState,
  type JobRecord,
  type JobSpec,
  type JobStatus,
} from '../../core/job.js';
import { note } from '../../core/state-machine.js';
import type { Deps } from '../../deps.js';
import {
  describeError,
  NotFoundError,
  NotSupportedError,
  OrchestratorError,
  ProviderNotConfiguredError,
  ValidationError,
} from '../../errors.js';
import {
  ESSEDUM_PIPELINE_PROVIDERS,
  parseEssedumSettings,
  type EssedumPipelineProvider,
} from '../../essedum-settings.js';
import { submitJob } from '../submit-job.js';
import type { AssetOp, AssetRefs } from './assets-types.js';
import { taskStatus } from './execute.js';
import { resolveAdapter, type MlopsContext } from './pipelines.js';

/**
 * The Essedum MLOps asset routes (datasets, models, endpoints) on our providers. Every operation is
 * a job (source `essedum-asset`) whose kind and spec come from the provider's Essedum translation
 * (`translate/<provider>.ts` `fromEssedumAsset`); the provider runs it like any other job, so
 * minutes-long work (endpoint creation, deployment, imports) is polled in its batched cycle and the
 * reply to the Essedum call returns at once.
 *
 * An asset's record id is the id of the job that created it (dataset-create, model-register,
 * endpoint-create). Later operations are jobs of their own that point back at it
 * (`data.essedum.asset.of`); the creating job keeps a small state (`JobRecord.asset`) that an
 * operation's outcome is folded into once its job ended — so a delete or an undeploy changes the
 * record only after the provider confirmed it.
 */

export const ASSET_TYPES = ['dataset', 'model', 'endpoint'] as const;
export type AssetType = (typeof ASSET_TYPES)[number];

/** The operation that creates each type of asset: its job's id is the asset's record id. */
export const CREATING_OP = {
  dataset: 'dataset-create',
  model: 'model-register',
  endpoint: 'endpoint-create',
} as const satisfies Record<AssetType, AssetOp>;

const TYPE_OF_OP: Record<AssetOp, AssetType> = {
  'dataset-create': 'dataset',
  'dataset-export': 'dataset',
  'dataset-delete': 'dataset',
  'model-register': 'model',
  'model-export': 'model',
  'model-delete': 'model',
  'endpoint-create': 'endpoint',
  'endpoint-deploy': 'endpoint',
  'endpoint-undeploy': 'endpoint',
  'endpoint-delete': 'endpoint',
};

/** What an asset job keeps of its Essedum origin, in `JobSpec.data.essedum.asset`. */
export interface AssetMeta {
  readonly op: AssetOp;
  readonly assetType: AssetType;
  readonly adapter: string;
  readonly name: string | null;
  readonly description: string | null;
  readonly project: string | null;
  readonly createdBy: string | null;
  readonly rawPayload: unknown;
  /** The record the operation acts on; absent on a creating operation (its own id is the record's). */
  readonly of?: string;
  /** Other records the operation refers to (a deploy's model), by record id. */
  readonly refs?: { readonly dataset?: string; readonly model?: string; readonly endpoint?: string };
  /** Who started it: an Essedum call, or the money guard's idle check. */
  readonly trigger?: 'essedum' | 'idle-ttl';
}

/** What a provider's PollReport `result.asset` says about the resource (shared design, MLOPS.md §1). */
export interface ResultAsset {
  readonly kind?: AssetType;
  readonly id?: string;
  readonly name?: string;
  readonly uri?: string;
  readonly instanceType?: string;
  readonly instanceCount?: number;
  readonly deployedModels?: readonly string[];
}

/** Largest original body kept verbatim as `rawPayload` (the translated spec is always kept). */
const MAX_RAW_PAYLOAD_BYTES = 16 * 1024;
/** Exports remembered on a record (newest last). */
const MAX_EXPORTS = 10;
/** Models listed on an endpoint record. */
const MAX_DEPLOYED_MODELS = 50;
/** Jobs read per list call and pages at most: lists are bounded (newest asset jobs first). */
const LIST_PAGE = 200;
const LIST_PAGES = 10;
/** A claim for an operation whose job never appeared (the host died in between) lapses after this. */
const PENDING_CLAIM_MS = 60_000;
/** lastInvokedAt is rewritten at most this often, so a busy endpoint does not write its record per call. */
const INVOKE_STAMP_MS = 30_000;

/** An asset id that is not a record of that type: the Essedum routes answer their 404 body. */
export class AssetNotFoundError extends NotFoundError {
  constructor(type: AssetType, id: string) {
    super(type[0]!.toUpperCase() + type.slice(1), id);
  }
}

/** The asset is not in a state the operation needs (still being created, deleted, busy): 409. */
export class AssetConflictError extends OrchestratorError {
  constructor(message: string) {
    super('ILLEGAL_TRANSITION', message);
  }
}

/**
 * Body → `{kind, spec}` by the provider's own Essedum translation (translate/<provider>.ts, loaded
 * on first use). A provider whose translation has no asset support answers 501.
 */
export async function translateAsset(
  deps: Deps,
  provider: EssedumPipelineProvider,
  op: AssetOp,
  body: Record<string, unknown>,
  refs: AssetRefs,
): Promise<{ kind: string; spec: Record<string, unknown> }> {
  if (deps.assetTranslation) return deps.assetTranslation(provider, op, body, refs);
  type Module = {
    readonly fromEssedumAsset?: (
      op: AssetOp,
      body: Record<string, unknown>,
      refs: AssetRefs,
    ) => { kind: string; spec: Record<string, unknown> };
  };
  let module: Module;
  switch (provider) {
    case 'azure-ml':
      module = (await import('./translate/azure-ml.js')) as unknown as Module;
      break;
    case 'sagemaker':
      module = (await import('./translate/sagemaker.js')) as unknown as Module;
      break;
    case 'vertex':
      module = (await import('./translate/vertex.js')) as unknown as Module;
      break;
    default: {
      const unreachable: never = provider;
      throw new Error(`unknown provider ${String(unreachable)}`);
    }
  }
  if (typeof module.fromEssedumAsset !== 'function')
    throw new NotSupportedError(`Provider '${provider}' has no Essedum ${TYPE_OF_OP[op]} operations in this build.`);
  return module.fromEssedumAsset(op, body, refs);
}

const str = (v: unknown, max = 512): string | null =>
  typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : null;

/** The display name an Essedum body carries, whichever provider's spelling it uses. */
function nameOf(body: Record<string, unknown>): string | null {
  return (
    str(body.name) ??
    str(body.displayName) ??
    str(body.display_name) ??
    str(body.dataset_name) ??
    str(body.model_name) ??
    str(body.endpoint_name) ??
    str(body.ModelName) ??
    str(body.EndpointName)
  );
}

function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ValidationError([{ field: '', message: 'the body must be a JSON object' }]);
  return body as Record<string, unknown>;
}

function boundedPayload(body: unknown): unknown {
  const bytes = Buffer.byteLength(JSON.stringify(body));
  return bytes <= MAX_RAW_PAYLOAD_BYTES ? body : { truncated: true, bytes };
}

/** The asset meta of an asset job, or undefined for any other job. */
export function assetMeta(job: JobRecord): AssetMeta | undefined {
  if (job.source !== 'essedum-asset') return undefined;
  const m = (job.spec.data as { essedum?: { asset?: AssetMeta } }).essedum?.asset;
  return m && typeof m === 'object' ? m : undefined;
}

/** True for the job that created an asset of `type` (an asset record). */
function isRecordOf(job: JobRecord, type?: AssetType): boolean {
  const m = assetMeta(job);
  return !!m && m.of === undefined && m.op === CREATING_OP[m.assetType] && (!type || m.assetType === type);
}

/** `result.asset` of a finished asset job, as the provider reported it. */
export function resultAsset(job: JobRecord): ResultAsset | undefined {
  const a = (job.result?.summary as { asset?: unknown } | undefined)?.asset;
  return a && typeof a === 'object' && !Array.isArray(a) ? (a as ResultAsset) : undefined;
}

/** The models deployed on an endpoint record: the last confirmed deploy/undeploy, else what creation reported. */
export function deployedModels(record: JobRecord): readonly string[] {
  const reported = resultAsset(record)?.deployedModels;
  return record.asset?.deployedModels ?? (Array.isArray(reported) ? reported.map(String) : []);
}

function isLive(record: JobRecord): boolean {
  return record.status === 'succeeded' && record.asset?.deleted !== true;
}

/** The Essedum record of an asset: its creating job plus what later operations did to it. */
export function assetRecord(record: JobRecord): Record<string, unknown> {
  const m = assetMeta(record);
  const s: AssetState = record.asset ?? {};
  const a = resultAsset(record);
  const type = m?.assetType ?? 'dataset';
  return {
    sourceId: record.id,
    name: m?.name ?? a?.name ?? record.id,
    // Deleted only once the provider confirmed it; otherwise the creating job's status.
    status: s.deleted ? 'DELETED' : taskStatus(record.status),
    type,
    adapter: m?.adapter ?? null,
    rawPayload: m?.rawPayload ?? null,
    createdOn: record.createdAt,
    createdBy: m?.createdBy ?? null,
    syncDate: record.updatedAt,
    description: m?.description ?? null,
    project: m?.project ?? null,
    artifacts: {
      ...(a && { asset: a }),
      ...(a?.uri && { uri: a.uri }),
      ...(s.exports?.length && { exports: s.exports }),
    },
    deployment: {
      provider: record.provider ?? record.spec.target ?? null,
      kind: record.spec.kind ?? null,
      providerRef: record.providerRef ?? null,
      resourceId: a?.id ?? null,
      ...(type === 'endpoint' && {
        instanceType: a?.instanceType ?? null,
        instanceCount: a?.instanceCount ?? null,
        deployedModels: s.deleted ? [] : deployedModels(record),
        lastInvokedAt: s.lastInvokedAt ?? null,
      }),
    },
    // Beyond the Essedum fields: our own state, the operation last started on the asset, the failure.
    jobStatus: record.status,
    ...(s.lastOperation && { lastOperation: s.lastOperation }),
    ...(s.deleted && { deleted: true, deletedAt: s.deletedAt ?? null }),
    ...(record.error && { error: record.error }),
  };
}

/**
 * Folds the outcome of the record's last operation into its state once that job ended: a confirmed
 * delete marks the asset deleted, a confirmed deploy/undeploy sets the deployed models, an export
 * remembers where it went. One `note` on the record says what was confirmed. Idempotent.
 */
export async function settleAsset(deps: Deps, record: JobRecord): Promise<JobRecord> {
  const last = record.asset?.lastOperation;
  if (!last || last.status) return record;
  const opJob = await deps.store.get(last.jobId);
  if (opJob && !isTerminal(opJob.status)) return record;
  const at = deps.now();
  return deps.store.update(record.id, (c) => {
    const current = c.asset?.lastOperation;
    if (!current || current.jobId !== last.jobId || current.status) return { job: c, unchanged: true };
    const folded = foldOperation(c, current.op as AssetOp, opJob, at);
    const outcome = folded.lastOperation?.status ?? 'failed';
    const provider = opJob?.provider ?? c.provider ?? 'the provider';
    const reason =
      outcome === 'succeeded'
        ? `${current.op} confirmed by ${provider} (job ${current.jobId})`
        : `${current.op} ${outcome} (job ${current.jobId})${opJob?.error ? `: ${opJob.error.message}` : ''}`;
    return note(c, reason, { at, patch: { asset: folded }, detail: { op: current.op, jobId: current.jobId, outcome } });
  });
}

function foldOperation(record: JobRecord, op: AssetOp, opJob: JobRecord | undefined, at: Date): AssetState {
  const s: AssetState = record.asset ?? {};
  const status: JobStatus = opJob?.status ?? 'failed';
  const ended = opJob?.finishedAt ?? at.toISOString();
  const lastOperation = {
    ...s.lastOperation!,
    status: status === 'succeeded' || status === 'cancelled' ? status : ('failed' as const),
    ...(opJob?.error
      ? { error: opJob.error }
      : !opJob && { error: { code: 'JOB_MISSING', message: 'The operation’s job is gone from the store.' } }),
  };
  const base: AssetState = { ...s, lastOperation };
  if (!opJob || status !== 'succeeded') return base;
  const reported = resultAsset(opJob);
  switch (op) {
    case 'dataset-delete':
    case 'model-delete':
    case 'endpoint-delete':
      return { ...base, deleted: true, deletedAt: ended, ...(op === 'endpoint-delete' && { deployedModels: [] }) };
    case 'endpoint-deploy':
    case 'endpoint-undeploy': {
      let models: string[];
      if (Array.isArray(reported?.deployedModels)) models = reported.deployedModels.map(String);
      else if (op === 'endpoint-undeploy') models = [];
      else {
        // The provider did not list them: the deployed model is the one the deploy referred to.
        const ref = assetMeta(opJob)?.refs?.model;
        models = [...deployedModels(record), ...(ref ? [ref] : [])];
      }
      return { ...base, deployedModels: [...new Set(models)].slice(0, MAX_DEPLOYED_MODELS), deployedAt: ended };
    }
    case 'dataset-export':
    case 'model-export': {
      const entry = { jobId: opJob.id, at: ended, ...(reported?.uri && { uri: String(reported.uri) }) };
      return { ...base, exports: [...(s.exports ?? []), entry].slice(-MAX_EXPORTS) };
    }
    case 'dataset-create':
    case 'model-register':
    case 'endpoint-create':
      return base;
    default: {
      const unreachable: never = op;
      throw new Error(`unknown asset operation ${String(unreachable)}`);
    }
  }
}

/** Reads an asset record (settled), or throws {@link AssetNotFoundError}. */
export async function getAssetRecord(deps: Deps, type: AssetType, id: string): Promise<JobRecord> {
  const job = await deps.store.get(id);
  if (!job || !isRecordOf(job, type)) throw new AssetNotFoundError(type, id);
  return settleAsset(deps, job);
}

export async function getAsset(deps: Deps, type: AssetType, id: string): Promise<Record<string, unknown>> {
  return assetRecord(await getAssetRecord(deps, type, id));
}

function requireLive(record: JobRecord, type: AssetType, what: string): void {
  if (record.asset?.deleted) throw new AssetConflictError(`The ${type} '${record.id}' was deleted; it cannot ${what}.`);
  if (record.status !== 'succeeded')
    throw new AssetConflictError(
      `The ${type} '${record.id}' is ${record.status === 'failed' || record.status === 'cancelled' ? `${record.status}` : `still being created (${record.status})`}; it cannot ${what}.`,
    );
}

/** Our job ids look like this; a body field holding one refers to one of our records. */
const RECORD_ID = /^j-[0-9A-HJKMNP-TV-Z]{26}$/i;

/** The model record a body names (`model_id`, `modelId`, `model_source_id`, `sourceId`), if it names one of ours. */
async function modelRefIn(
  deps: Deps,
  body: Record<string, unknown>,
  purpose: 'deploy' | 'undeploy' = 'deploy',
): Promise<JobRecord | undefined> {
  const id = [body.model_id, body.modelId, body.model_source_id, body.modelSourceId, body.sourceId].find(
    (v): v is string => typeof v === 'string' && RECORD_ID.test(v.trim()),
  );
  if (!id) return undefined;
  const model = await getAssetRecord(deps, 'model', id.trim());
  // A model deleted since may still be taken off an endpoint; only a deploy needs it live.
  if (purpose === 'deploy') requireLive(model, 'model', 'be deployed');
  return model;
}

async function submitAssetJob(
  deps: Deps,
  provider: EssedumPipelineProvider,
  translated: { kind: string; spec: Record<string, unknown> },
  meta: AssetMeta,
): Promise<JobRecord> {
  const spec: JobSpec = {
    rows: SPEC_DEFAULTS.rows,
    estimated_runtime_sec: SPEC_DEFAULTS.estimated_runtime_sec,
    priority: SPEC_DEFAULTS.priority,
    latency_sensitive: false,
    data: { essedum: { asset: meta } },
    labels: {},
    target: provider,
    kind: translated.kind,
    spec: translated.spec,
  };
  const { job } = await submitJob(deps, { body: undefined, mode: 'lenient', source: 'essedum-asset', spec });
  return job;
}

function metaOf(
  op: AssetOp,
  adapter: string,
  project: string | null,
  body: Record<string, unknown>,
  extra: Partial<AssetMeta> = {},
): AssetMeta {
  return {
    op,
    assetType: TYPE_OF_OP[op],
    adapter,
    name: nameOf(body),
    description: str(body.description, 2000),
    project,
    createdBy: str(body.createdBy ?? body.created_by, 256),
    rawPayload: boundedPayload(body),
    trigger: 'essedum',
    ...extra,
  };
}

/**
 * Creates a dataset, registers a model or creates an endpoint: resolves the adapter by our settings,
 * translates the body by the provider's rules and submits the job. Its id is the new record's.
 */
export async function createAsset(
  deps: Deps,
  ctx: MlopsContext,
  type: AssetType,
  rawBody: unknown,
): Promise<JobRecord> {
  const body = requireObject(rawBody);
  const { adapter, provider } = resolveAdapter(deps, ctx);
  const op = CREATING_OP[type];
  const model = type === 'endpoint' ? await modelRefIn(deps, body) : undefined;
  const translated = await translateAsset(deps, provider, op, body, { ...(model && { model }) });
  return submitAssetJob(
    deps,
    provider,
    translated,
    metaOf(op, adapter, str(ctx.project, 256), body, model ? { refs: { model: model.id } } : {}),
  );
}

/** The provider a record lives at (configured here), whatever adapter a later call names. */
function providerOf(record: JobRecord): EssedumPipelineProvider {
  const name = record.provider ?? record.spec.target ?? '';
  if (!(ESSEDUM_PIPELINE_PROVIDERS as readonly string[]).includes(name)) throw new ProviderNotConfiguredError(name);
  return name as EssedumPipelineProvider;
}

/**
 * Starts an operation on an existing asset (export, delete, deploy, undeploy) as a job of its own
 * that points back at the record. One operation at a time per asset: a second one while the first
 * runs is a 409 (a claim on the record, written before the job exists, keeps two racing requests
 * from both starting one).
 */
export async function operateAsset(
  deps: Deps,
  type: AssetType,
  id: string,
  op: AssetOp,
  rawBody: unknown,
  options: { trigger?: AssetMeta['trigger']; reason?: string } = {},
): Promise<{ record: JobRecord; job: JobRecord }> {
  if (TYPE_OF_OP[op] !== type || op === CREATING_OP[type]) throw new Error(`${op} is not an operation on a ${type}`);
  const body = requireObject(rawBody);
  const record = await getAssetRecord(deps, type, id);
  requireLive(record, type, `take ${op}`);
  const provider = providerOf(record);
  const model =
    op === 'endpoint-deploy'
      ? await modelRefIn(deps, body)
      : op === 'endpoint-undeploy'
        ? await modelRefIn(deps, body, 'undeploy')
        : undefined;
  const refs: AssetRefs = { [type]: record, ...(model && { model }) };
  const translated = await translateAsset(deps, provider, op, body, refs);
  const m = assetMeta(record);

  const claimedAt = deps.now();
  await deps.store.update(record.id, (c) => {
    const s = c.asset ?? {};
    if (s.deleted) throw new AssetConflictError(`The ${type} '${c.id}' was deleted; it cannot take ${op}.`);
    const last = s.lastOperation;
    if (last && !last.status)
      throw new AssetConflictError(
        `The ${type} '${c.id}' is busy: ${last.op} (job ${last.jobId}) has not finished; try again when it has.`,
      );
    if (s.pending && claimedAt.getTime() - Date.parse(s.pending.at) < PENDING_CLAIM_MS)
      throw new AssetConflictError(`The ${type} '${c.id}' is busy: ${s.pending.op} is being started.`);
    return { job: { ...c, asset: { ...s, pending: { op, at: claimedAt.toISOString() } } }, quiet: true };
  });

  let job: JobRecord;
  try {
    job = await submitAssetJob(
      deps,
      provider,
      translated,
      metaOf(op, m?.adapter ?? `default:${provider}`, m?.project ?? null, body, {
        of: record.id,
        name: nameOf(body) ?? m?.name ?? null,
        trigger: options.trigger ?? 'essedum',
        ...(model && { refs: { model: model.id } }),
      }),
    );
  } catch (error) {
    await deps.store
      .update(record.id, (c) => {
        const { pending: _dropped, ...rest } = c.asset ?? {};
        return { job: { ...c, asset: rest }, quiet: true };
      })
      .catch((e: unknown) => deps.log.warn('asset claim not released', { id: record.id, error: describeError(e) }));
    throw error;
  }
  const at = deps.now();
  const linked = await deps.store.update(record.id, (c) => {
    const { pending: _done, ...rest } = c.asset ?? {};
    return note(c, `${options.reason ? `${options.reason}: ` : ''}${op} requested (job ${job.id})`, {
      at,
      patch: { asset: { ...rest, lastOperation: { op, jobId: job.id, at: at.toISOString() } } },
      detail: { op, jobId: job.id, trigger: options.trigger ?? 'essedum' },
    });
  });
  return { record: linked, job };
}

/**
 * Essedum infer/explain: a synchronous call to the live endpoint through the provider. The record
 * remembers when it was last used (the money guard's idle clock).
 */
export async function invokeAsset(
  deps: Deps,
  id: string,
  operation: 'infer' | 'explain',
  body: unknown,
): Promise<Record<string, unknown>> {
  if (body === undefined || body === null || typeof body !== 'object')
    throw new ValidationError([{ field: '', message: 'the body must be a JSON object or array' }]);
  const record = await getAssetRecord(deps, 'endpoint', id);
  requireLive(record, 'endpoint', operation);
  const provider = await deps.providers.get(providerOf(record));
  if (!provider.invokeEndpoint)
    throw new NotSupportedError(`Provider '${provider.name}' cannot call endpoints (${operation}) in this build.`);
  const output = await provider.invokeEndpoint(record, operation, body);
  const at = deps.now();
  const last = record.asset?.lastInvokedAt;
  if (!last || at.getTime() - Date.parse(last) >= INVOKE_STAMP_MS) {
    await deps.store.update(record.id, (c) => ({
      job: { ...c, asset: { ...(c.asset ?? {}), lastInvokedAt: at.toISOString() } },
      quiet: true,
    }));
  }
  return {
    sourceId: record.id,
    name: assetMeta(record)?.name ?? record.id,
    operation,
    output,
    invokedAt: at.toISOString(),
  };
}

/** Asset records, newest first, of the most recent asset jobs (bounded), for `filter`. */
async function scanRecords(
  deps: Deps,
  filter: (record: JobRecord, meta: AssetMeta) => boolean,
  max: number,
): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  let token: string | undefined;
  for (let page = 0; page < LIST_PAGES && out.length < max; page++) {
    const res = await deps.store.list({
      source: 'essedum-asset',
      limit: LIST_PAGE,
      ...(token && { continuationToken: token }),
    });
    for (const job of res.jobs) {
      const m = assetMeta(job);
      if (!m || !isRecordOf(job) || !filter(job, m)) continue;
      out.push(await settleAsset(deps, job));
      if (out.length >= max) break;
    }
    token = res.continuationToken;
    if (!token) break;
  }
  return out;
}

/** `datasets/list`, `models/list`, `endpoints/list`: the adapter's (and project's) records, deleted ones left out. */
export async function listAssets(
  deps: Deps,
  ctx: MlopsContext,
  type: AssetType,
  max = 100,
): Promise<Record<string, unknown>[]> {
  const { adapter } = resolveAdapter(deps, ctx);
  const project = str(ctx.project, 256);
  const records = await scanRecords(
    deps,
    (_job, m) => m.assetType === type && m.adapter === adapter && (!project || m.project === project),
    max,
  );
  return records.filter((r) => !r.asset?.deleted).map(assetRecord);
}

/** What the Essedum delete routes answer: the record as it stands, with the delete under way. */
export async function deleteAsset(deps: Deps, type: AssetType, id: string): Promise<Record<string, unknown>> {
  const op = ({ dataset: 'dataset-delete', model: 'model-delete', endpoint: 'endpoint-delete' } as const)[type];
  const { record } = await operateAsset(deps, type, id, op, {});
  return {
    ...assetRecord(record),
    message: `delete requested; the record says DELETED once ${record.provider ?? 'the provider'} confirms the ${type} is gone`,
  };
}

/** Live endpoints of one scan: created by us, creation not failed, not deleted. */
export async function liveEndpoints(deps: Deps, max = 1000): Promise<JobRecord[]> {
  const records = await scanRecords(
    deps,
    (job, m) => m.assetType === 'endpoint' && job.status !== 'failed' && job.status !== 'cancelled',
    max,
  );
  return records.filter((r) => !r.asset?.deleted);
}

/** When an endpoint was last used or changed: the idle clock starts there. */
export function idleSince(record: JobRecord): number {
  const s = record.asset ?? {};
  return Math.max(
    ...[s.lastInvokedAt, s.deployedAt, record.finishedAt, record.createdAt]
      .filter((t): t is string => typeof t === 'string')
      .map((t) => Date.parse(t)),
  );
}

/**
 * The money guard's timer step (run by the reconciler when ENDPOINT_IDLE_TTL_SEC is set): every live
 * endpoint with deployed models and no infer/explain call for that long gets an endpoint-undeploy
 * job, with a note on its record saying why. Returns how many it started.
 */
export async function undeployIdleEndpoints(deps: Deps): Promise<number> {
  const ttlSec = parseEssedumSettings(deps.config.env).endpointIdleTtlSec;
  if (!ttlSec) return 0;
  const now = deps.now().getTime();
  let started = 0;
  for (const record of await liveEndpoints(deps)) {
    if (!isLive(record) || deployedModels(record).length === 0) continue;
    const s = record.asset ?? {};
    if ((s.lastOperation && !s.lastOperation.status) || s.pending) continue;
    const idleSec = Math.floor((now - idleSince(record)) / 1000);
    if (idleSec < ttlSec) continue;
    try {
      await operateAsset(
        deps,
        'endpoint',
        record.id,
        'endpoint-undeploy',
        {},
        {
          trigger: 'idle-ttl',
          reason: `no invocation for ${idleSec} s (ENDPOINT_IDLE_TTL_SEC=${ttlSec})`,
        },
      );
      started++;
    } catch (error) {
      deps.log.warn('idle endpoint not undeployed; will retry next pass', {
        id: record.id,
        error: describeError(error),
      });
    }
  }
  return started;
}
