/**
 * Essedum's Vertex AI bodies → our Vertex job kinds. The Essedum executor passes Vertex REST bodies
 * through; the provider owns their schemas, this module only checks the body's shape and maps it.
 */
import { parseOrThrow, type JobRecord } from '../../../core/job.js';
import { ValidationError } from '../../../errors.js';
import {
  BatchPredictionSpecSchema,
  normalizeRestBody,
  TrainingPipelineSpecSchema,
  type BatchPredictionSpec,
  type TrainingPipelineSpec,
} from '../../../providers/vertex/spec.js';
import { camelKeys, parseVertexAssetSpec } from '../../../providers/vertex/asset-spec.js';
import type { AssetOp, AssetRefs } from '../assets-types.js';

function requireObject(body: unknown, field: string): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ field, message: 'must be a JSON object' }]);
  }
}

/**
 * Translates the TrainingPipeline REST body the Essedum executor passes through (AutoML or custom
 * training) into our job kind. Pure; throws {@link ValidationError} with field paths under `spec`.
 */
export function fromEssedumTrainingPipeline(body: unknown): { kind: 'training_pipeline'; spec: TrainingPipelineSpec } {
  requireObject(body, 'spec');
  return { kind: 'training_pipeline', spec: parseOrThrow(TrainingPipelineSpecSchema, normalizeRestBody(body), 'spec') };
}

/**
 * Translates the BatchPredictionJob REST body the Essedum executor passes through (inference) into
 * our job kind. Pure; throws {@link ValidationError} with field paths under `spec`.
 */
export function fromEssedumBatchPrediction(body: unknown): { kind: 'batch_prediction'; spec: BatchPredictionSpec } {
  requireObject(body, 'spec');
  return { kind: 'batch_prediction', spec: parseOrThrow(BatchPredictionSpecSchema, normalizeRestBody(body), 'spec') };
}

// ---- asset operations (issue 18) ------------------------------------------------------------

type AssetKindName = 'dataset' | 'model' | 'endpoint';

/** The Vertex resource name a succeeded asset job made (its `result.asset.id`), or a ValidationError naming `field`. */
function assetIdOf(ref: JobRecord | undefined, kind: AssetKindName, field: string): string {
  const summary = ref?.result?.summary as { asset?: { kind?: unknown; id?: unknown } } | undefined;
  const asset = summary?.asset ?? (ref?.result as { asset?: { kind?: unknown; id?: unknown } } | undefined)?.asset;
  if (!ref || !asset || typeof asset.id !== 'string' || asset.kind !== kind) {
    throw new ValidationError([{ field, message: `needs a ${kind} this orchestrator created on Vertex AI` }]);
  }
  if (ref.provider !== undefined && ref.provider !== 'vertex') {
    throw new ValidationError([{ field, message: `the ${kind} lives on ${ref.provider}, not on Vertex AI` }]);
  }
  return asset.id;
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The spec of each op, before the provider's schema checks it. */
function assetSpec(op: AssetOp, b: Record<string, unknown>, refs: AssetRefs): Record<string, unknown> {
  switch (op) {
    case 'dataset-create':
      // The native Dataset body, plus the ImportData configs to load once it exists.
      return { ...record(b.dataset), ...b, dataset: undefined };
    case 'dataset-export': {
      const exportConfig = b.exportConfig ?? (b.gcsDestination ? { gcsDestination: b.gcsDestination } : undefined);
      return { exportConfig, dataset: assetIdOf(refs.dataset, 'dataset', 'dataset') };
    }
    case 'dataset-delete':
      return { dataset: assetIdOf(refs.dataset, 'dataset', 'dataset') };
    case 'model-register':
      // UploadModelRequest shape ({model: {...}}) or the bare Model.
      return { ...b, ...record(b.model), model: undefined };
    case 'model-export':
      return {
        outputConfig: b.outputConfig,
        model: refs.model ? assetIdOf(refs.model, 'model', 'model') : b.model,
      };
    case 'model-delete':
      return { model: assetIdOf(refs.model, 'model', 'model') };
    case 'endpoint-create':
      return { ...b, ...record(b.endpoint), endpoint: undefined };
    case 'endpoint-deploy': {
      // DeployModelRequest shape ({deployedModel: {...}, trafficSplit: {"0": n}}) or flat fields.
      const deployed = { ...b, ...record(b.deployedModel) };
      const split = record(b.trafficSplit)['0'];
      const { deployedModel: _d, trafficSplit: _t, ...rest } = deployed;
      return {
        ...rest,
        ...(typeof split === 'number' && { trafficPercentage: split }),
        endpoint: assetIdOf(refs.endpoint, 'endpoint', 'endpoint'),
        model: refs.model ? assetIdOf(refs.model, 'model', 'model') : deployed.model,
      };
    }
    case 'endpoint-undeploy': {
      const ids = b.deployedModelIds ?? (b.deployedModelId === undefined ? undefined : [b.deployedModelId]);
      return {
        ...(ids !== undefined && { deployedModelIds: ids }),
        endpoint: assetIdOf(refs.endpoint, 'endpoint', 'endpoint'),
      };
    }
    case 'endpoint-delete':
      return { endpoint: assetIdOf(refs.endpoint, 'endpoint', 'endpoint') };
    default: {
      const unreachable: never = op;
      throw new Error(`unhandled asset op ${String(unreachable)}`);
    }
  }
}

/**
 * Essedum's Vertex AI body for a dataset, model or endpoint operation → our job kind and spec. The
 * body is the native REST shape the Essedum UI sends (snake_case or camelCase; extra fields pass
 * through to Vertex); the resources an operation acts on come from `refs` (the jobs that created
 * them). Pure; throws {@link ValidationError} naming the body field (or `dataset` / `model` /
 * `endpoint` for a missing reference).
 */
export function fromEssedumAsset(
  op: AssetOp,
  body: Record<string, unknown>,
  refs: AssetRefs,
): { kind: string; spec: Record<string, unknown> } {
  requireObject(body, 'body');
  const b = camelKeys(body) as Record<string, unknown>;
  const raw = Object.fromEntries(Object.entries(assetSpec(op, b, refs)).filter(([, v]) => v !== undefined));
  // The provider's own schema: the spec stored is exactly what the provider will accept.
  return { kind: op, spec: parseVertexAssetSpec(op, raw, '') as Record<string, unknown> };
}
