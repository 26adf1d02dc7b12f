import { isTerminal, SPEC_DEFAULTS, type JobRecord, type JobSpec } from '../../core/job.js';
import type { Deps } from '../../deps.js';
import { NotFoundError, ProviderNotConfiguredError, ValidationError } from '../../errors.js';
import { parseEssedumSettings, type EssedumPipelineProvider } from '../../essedum-settings.js';
import { cancelJob } from '../cancel-job.js';
import { submitJob } from '../submit-job.js';
import { taskStatus } from './execute.js';

/**
 * The MLOps pipeline routes of the Essedum executors (training and inference), served by our
 * providers. The body is the provider's own form, as the Essedum UI builds it; it becomes a job
 * whose `target` is the adapter's provider and whose `kind`/`spec` come from that provider's
 * translation. Which provider serves an `adapter_instance` is our setting (ESSEDUM_ADAPTERS): no
 * connection details are ever fetched from a URL the caller controls (the originals fetched them
 * from the Referer — a server-side request forgery).
 */

export const TRAINING_TYPES = ['automl', 'custom_script', 'train'] as const;
export type TrainingType = (typeof TRAINING_TYPES)[number];
export type PipelineType = 'training' | 'inference';

/** Query parameters and headers the Essedum backend adds to every MLOps call. */
export interface MlopsContext {
  readonly adapterInstance?: string;
  readonly project?: string;
  readonly isCached?: string;
  readonly isInstance?: string;
  /** Kept for the record only; never dereferenced. */
  readonly referer?: string;
}

/** What a pipeline job keeps of its Essedum origin, in `JobSpec.data.essedum`. */
export interface PipelineMeta {
  readonly type: PipelineType;
  readonly trainingType?: TrainingType;
  readonly adapter: string;
  readonly project: string | null;
  readonly name: string | null;
  readonly description: string | null;
  readonly createdBy: string | null;
  readonly rawPayload: unknown;
}

/** Largest original body kept verbatim as `rawPayload` (the translated spec is always kept). */
const MAX_RAW_PAYLOAD_BYTES = 16 * 1024;

export class PipelineNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('Pipeline', id);
  }
}

/** The provider an adapter instance names, by our settings. */
export function resolveAdapter(deps: Deps, ctx: MlopsContext): { adapter: string; provider: EssedumPipelineProvider } {
  const settings = parseEssedumSettings(deps.config.env);
  const name = ctx.adapterInstance?.trim() ?? '';
  const configured = name ? settings.adapters[name] : undefined;
  const provider = configured?.provider ?? settings.defaultProvider;
  if (!provider) {
    const known = Object.keys(settings.adapters);
    throw new ValidationError([
      {
        field: 'adapter_instance',
        message: name
          ? `adapter instance '${name}' is not configured (ESSEDUM_ADAPTERS knows ${known.length ? known.join(', ') : 'none'}) and no ESSEDUM_DEFAULT_ADAPTER_PROVIDER is set`
          : 'required (no ESSEDUM_DEFAULT_ADAPTER_PROVIDER is set)',
      },
    ]);
  }
  if (!deps.providers.configured().includes(provider)) throw new ProviderNotConfiguredError(provider);
  return { adapter: name || `default:${provider}`, provider };
}

/** Body → `{kind, spec}` for a provider, by the Essedum translation for that provider (translate/<provider>.ts). */
export async function translate(
  provider: EssedumPipelineProvider,
  type: PipelineType,
  trainingType: TrainingType | undefined,
  body: unknown,
): Promise<{ kind: string; spec: Record<string, unknown> }> {
  switch (provider) {
    case 'azure-ml': {
      const [m, t] = await Promise.all([import('../../providers/azure-ml/spec.js'), import('./translate/azure-ml.js')]);
      // Batch inference on Azure ML is a scoring script run as a command job; the executors' contract
      // defines no other Azure ML inference body, so the body is that command job's spec.
      if (type === 'inference' || trainingType === 'custom_script')
        return m.parseAzureMlJobSpec('command', body) as { kind: string; spec: Record<string, unknown> };
      return t.fromEssedumTrain(body) as { kind: string; spec: Record<string, unknown> };
    }
    case 'sagemaker': {
      const [m, t] = await Promise.all([
        import('../../providers/sagemaker/spec.js'),
        import('./translate/sagemaker.js'),
      ]);
      if (type === 'inference') return t.fromEssedumInference(body) as { kind: string; spec: Record<string, unknown> };
      switch (trainingType) {
        case 'automl':
          return t.fromEssedumAutoml(body) as { kind: string; spec: Record<string, unknown> };
        case 'custom_script':
          return m.validateSageMakerSpec('training', body, { kind: 'kind', spec: 'body' }) as {
            kind: string;
            spec: Record<string, unknown>;
          };
        default:
          return t.fromEssedumTrain(body) as { kind: string; spec: Record<string, unknown> };
      }
    }
    case 'vertex': {
      const [m, t] = await Promise.all([import('../../providers/vertex/spec.js'), import('./translate/vertex.js')]);
      if (type === 'inference')
        return t.fromEssedumBatchPrediction(body) as { kind: string; spec: Record<string, unknown> };
      // A custom script arrives as a CustomJob body (jobSpec.workerPoolSpecs); AutoML and training
      // pipelines as a TrainingPipeline body.
      if (
        trainingType === 'custom_script' &&
        body &&
        typeof body === 'object' &&
        ('jobSpec' in body || 'job_spec' in body)
      ) {
        return m.parseVertexJobSpec({ kind: 'custom', spec: body as Record<string, unknown> }) as {
          kind: string;
          spec: Record<string, unknown>;
        };
      }
      return t.fromEssedumTrainingPipeline(body) as { kind: string; spec: Record<string, unknown> };
    }
    default: {
      const unreachable: never = provider;
      throw new Error(`unknown provider ${String(unreachable)}`);
    }
  }
}

const str = (v: unknown, max = 512): string | null =>
  typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : null;

/** The display name the Essedum bodies carry, whichever provider's spelling they use. */
function nameOf(body: unknown): string | null {
  const b = (body ?? {}) as Record<string, unknown>;
  return str(b.name) ?? str(b.job_name) ?? str(b.displayName) ?? str(b.display_name) ?? str(b.TransformJobName);
}

/** Submits a training or inference pipeline; returns the job (as a record via {@link pipelineRecord}). */
export async function submitPipeline(
  deps: Deps,
  ctx: MlopsContext,
  type: PipelineType,
  trainingType: TrainingType | undefined,
  body: unknown,
): Promise<JobRecord> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ValidationError([{ field: '', message: 'the body must be a JSON object' }]);
  const { adapter, provider } = resolveAdapter(deps, ctx);
  const translated = await translate(provider, type, trainingType, body);
  const raw = JSON.stringify(body);
  const b = body as Record<string, unknown>;
  const meta: PipelineMeta = {
    type,
    ...(trainingType && { trainingType }),
    adapter,
    project: str(ctx.project, 256),
    name: nameOf(body),
    description: str(b.description, 2000),
    createdBy: str(b.createdBy ?? b.created_by, 256),
    rawPayload:
      Buffer.byteLength(raw) <= MAX_RAW_PAYLOAD_BYTES ? body : { truncated: true, bytes: Buffer.byteLength(raw) },
  };
  const spec: JobSpec = {
    rows: SPEC_DEFAULTS.rows,
    estimated_runtime_sec: SPEC_DEFAULTS.estimated_runtime_sec,
    priority: SPEC_DEFAULTS.priority,
    latency_sensitive: false,
    data: { essedum: meta },
    labels: {},
    target: provider,
    kind: translated.kind,
    spec: translated.spec,
  };
  const { job } = await submitJob(deps, { body: undefined, mode: 'lenient', source: 'essedum-pipeline', spec });
  return job;
}

export function pipelineMeta(job: JobRecord): PipelineMeta | undefined {
  const m = (job.spec.data as { essedum?: PipelineMeta }).essedum;
  return job.source === 'essedum-pipeline' && m && typeof m === 'object' ? m : undefined;
}

/** The Essedum record of a pipeline job: our job id is `sourceId`; status as of the latest poll. */
export function pipelineRecord(job: JobRecord): Record<string, unknown> {
  const m = pipelineMeta(job);
  return {
    sourceId: job.id,
    name: m?.name ?? job.id,
    status: taskStatus(job.status),
    type: m?.type === 'training' ? `training:${m.trainingType ?? 'train'}` : 'inference',
    adapter: m?.adapter ?? null,
    rawPayload: m?.rawPayload ?? null,
    createdOn: job.createdAt,
    createdBy: m?.createdBy ?? null,
    syncDate: job.updatedAt,
    description: m?.description ?? null,
    project: m?.project ?? null,
    artifacts: job.result?.summary ?? {},
    deployment: {
      provider: job.provider ?? job.spec.target ?? null,
      kind: job.spec.kind ?? null,
      providerRef: job.providerRef ?? null,
    },
    // Beyond the Essedum fields: our own state and the failure, when there is one.
    jobStatus: job.status,
    ...(job.error && { error: job.error }),
  };
}

async function pipelineJob(deps: Deps, id: string, type: PipelineType): Promise<JobRecord> {
  const job = await deps.store.get(id);
  if (!job || pipelineMeta(job)?.type !== type) throw new PipelineNotFoundError(id);
  return job;
}

export async function getPipeline(deps: Deps, id: string, type: PipelineType): Promise<Record<string, unknown>> {
  return pipelineRecord(await pipelineJob(deps, id, type));
}

/** Lists pipeline jobs of one type, newest first, for the adapter's provider (and project, when given). */
export async function listPipelines(
  deps: Deps,
  ctx: MlopsContext,
  type: PipelineType,
  max = 100,
): Promise<Record<string, unknown>[]> {
  const { adapter, provider } = resolveAdapter(deps, ctx);
  const project = str(ctx.project, 256);
  const out: Record<string, unknown>[] = [];
  let token: string | undefined;
  for (let page = 0; page < 10 && out.length < max; page++) {
    const res = await deps.store.list({ limit: 200, provider, ...(token && { continuationToken: token }) });
    for (const job of res.jobs) {
      const m = pipelineMeta(job);
      if (!m || m.type !== type || m.adapter !== adapter) continue;
      if (project && m.project !== project) continue;
      out.push(pipelineRecord(job));
      if (out.length >= max) break;
    }
    token = res.continuationToken;
    if (!token) break;
  }
  return out;
}

/**
 * Stops the provider job (a later poll confirms it); the reply is the record as it stands. Stopping
 * a finished pipeline changes nothing and is not an error.
 */
export async function cancelPipeline(deps: Deps, id: string, type: PipelineType): Promise<Record<string, unknown>> {
  const job = await pipelineJob(deps, id, type);
  if (isTerminal(job.status)) return pipelineRecord(job);
  const after = await cancelJob(deps, id, `cancel requested via Essedum ${type} pipeline route`).catch(
    async (error: unknown) => {
      const current = await deps.store.get(id);
      if (current && isTerminal(current.status)) return current;
      throw error;
    },
  );
  return pipelineRecord(after);
}

/**
 * Delete: the provider job is stopped if it still runs; our record and its history are kept (they
 * are the audit trail, removed by retention, not by a client). The reply says so.
 */
export async function deletePipeline(deps: Deps, id: string, type?: PipelineType): Promise<Record<string, unknown>> {
  const job = await deps.store.get(id);
  const m = job && pipelineMeta(job);
  if (!job || !m || (type && m.type !== type)) throw new PipelineNotFoundError(id);
  const record = await cancelPipeline(deps, id, m.type);
  return {
    ...record,
    deleted: true,
    message: 'the provider job is stopped; the orchestrator keeps the record and its history',
  };
}
