import { z } from 'zod';
import type { protos } from '@google-cloud/aiplatform';
import type { JobSpec } from '../../core/job.js';
import { parseOrThrow } from '../../core/job.js';
import { ValidationError } from '../../errors.js';
import { GCP_LABEL_KEY, GCP_LABEL_VALUE } from './settings.js';
import { isVertexAssetKind, VERTEX_JOB_KINDS, VERTEX_KINDS, type VertexKind } from './catalog.js';
import { parseVertexAssetSpec } from './asset-spec.js';

type V1 = typeof protos.google.cloud.aiplatform.v1;
export type CustomJobResource = protos.google.cloud.aiplatform.v1.ICustomJob;
export type TrainingPipelineResource = protos.google.cloud.aiplatform.v1.ITrainingPipeline;
export type BatchPredictionJobResource = protos.google.cloud.aiplatform.v1.IBatchPredictionJob;
type ProtoValue = protos.google.protobuf.IValue;

export { VERTEX_JOB_KINDS, VERTEX_KINDS, type VertexKind };

/** Accelerators Vertex knows (AcceleratorType in accelerator_type.proto, v1). */
export const ACCELERATOR_TYPES = [
  'NVIDIA_TESLA_P100',
  'NVIDIA_TESLA_V100',
  'NVIDIA_TESLA_P4',
  'NVIDIA_TESLA_T4',
  'NVIDIA_TESLA_A100',
  'NVIDIA_A100_80GB',
  'NVIDIA_L4',
  'NVIDIA_H100_80GB',
  'NVIDIA_H100_MEGA_80GB',
  'NVIDIA_H200_141GB',
  'NVIDIA_B200',
  'NVIDIA_GB200',
  'NVIDIA_RTX_PRO_6000',
  'TPU_V2',
  'TPU_V3',
  'TPU_V4_POD',
  'TPU_V5_LITEPOD',
] as const satisfies readonly (keyof V1['AcceleratorType'])[];

// Our own label takes one of the 64 labels a Vertex resource may carry.
const MAX_USER_LABELS = 63;
const gcpLabels = z
  .record(
    z
      .string()
      .regex(
        GCP_LABEL_KEY,
        'label keys: lowercase letter first, then lowercase letters, digits, "_" or "-", at most 63',
      ),
    z.string().regex(GCP_LABEL_VALUE, 'label values: lowercase letters, digits, "_" or "-", at most 63'),
  )
  .refine((l) => Object.keys(l).length <= MAX_USER_LABELS, `at most ${MAX_USER_LABELS} labels`);
const displayName = z.string().min(1).max(128);
const gcsUri = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](?:\/.*)?$/, 'a gs://bucket/path URI');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and "_"');

const WorkerPoolSpec = z
  .strictObject({
    machineSpec: z.strictObject({
      machineType: z.string().min(1).max(64),
      acceleratorType: z.enum(ACCELERATOR_TYPES).optional(),
      acceleratorCount: z.number().int().min(1).max(64).optional(),
    }),
    replicaCount: z.number().int().min(1).max(1000).default(1),
    containerSpec: z.strictObject({
      imageUri: z.string().min(1).max(1024),
      command: z.array(z.string()).optional(),
      args: z.array(z.string()).optional(),
      env: z
        .union([z.array(z.strictObject({ name: envName, value: z.string() })), z.record(envName, z.string())])
        .optional(),
    }),
    diskSpec: z
      .strictObject({
        bootDiskType: z.enum(['pd-ssd', 'pd-standard']).optional(),
        bootDiskSizeGb: z.number().int().min(100).max(64_000).optional(),
      })
      .optional(),
  })
  .refine((p) => p.machineSpec.acceleratorCount === undefined || p.machineSpec.acceleratorType !== undefined, {
    message: 'acceleratorCount needs acceleratorType',
    path: ['machineSpec', 'acceleratorCount'],
  });

/**
 * `spec.spec` of a `custom` job: a CustomJob with container worker pools. Strict, so a typo is an
 * error rather than a field the SDK would silently drop.
 */
export const CustomJobSpecSchema = z
  .strictObject({
    displayName: displayName.optional(),
    workerPoolSpecs: z.array(WorkerPoolSpec).min(1).max(4),
    baseOutputDirectory: gcsUri.optional(),
    serviceAccount: z.email().optional(),
    network: z.string().min(1).optional(),
    timeoutSec: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional(),
    restartJobOnWorkerRestart: z.boolean().optional(),
    schedulingStrategy: z.enum(['STANDARD', 'SPOT', 'FLEX_START']).optional(),
    enableWebAccess: z.boolean().optional(),
    labels: gcpLabels.optional(),
  })
  .refine((s) => s.workerPoolSpecs[0]?.replicaCount === 1, {
    message: 'the first worker pool (the chief) must have replicaCount 1',
    path: ['workerPoolSpecs', 0, 'replicaCount'],
  });
export type CustomJobSpec = z.infer<typeof CustomJobSpecSchema>;

// Output-only fields of the REST resources: a body copied from an earlier GET may carry them.
const OUTPUT_ONLY = new Set([
  'name',
  'state',
  'error',
  'createTime',
  'startTime',
  'endTime',
  'updateTime',
  'trainingTaskMetadata',
  'outputInfo',
  'partialFailures',
  'resourcesConsumed',
  'completionStats',
  'modelVersionId',
  'satisfiesPzs',
  'satisfiesPzi',
]);
// Free-form maps and protobuf Values: their keys are user data, never renamed.
const OPAQUE = new Set([
  'labels',
  'trainingTaskInputs',
  'modelParameters',
  'metadata',
  'parameters',
  'annotationLabels',
]);

/**
 * `spec.spec` of a `training_pipeline` job: the native REST TrainingPipeline body (AutoML or
 * custom training), as the Essedum executor passes it through. Loose: fields we do not model pass
 * through to Vertex, which validates them.
 */
export const TrainingPipelineSpecSchema = z.looseObject({
  displayName,
  trainingTaskDefinition: z.string().min(1).max(2048),
  trainingTaskInputs: z.record(z.string(), z.unknown()),
  inputDataConfig: z.looseObject({ datasetId: z.string().min(1) }).optional(),
  modelToUpload: z.looseObject({ displayName: displayName.optional() }).optional(),
  modelId: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'model ids: lowercase letters, digits and "-", at most 63')
    .optional(),
  parentModel: z.string().min(1).optional(),
  labels: gcpLabels.optional(),
});
export type TrainingPipelineSpec = z.infer<typeof TrainingPipelineSpecSchema>;

/** `spec.spec` of a `batch_prediction` job: the native REST BatchPredictionJob body. */
export const BatchPredictionSpecSchema = z
  .looseObject({
    displayName,
    model: z.string().min(1).optional(),
    unmanagedContainerModel: z.record(z.string(), z.unknown()).optional(),
    inputConfig: z
      .looseObject({
        instancesFormat: z.string().min(1),
        gcsSource: z.strictObject({ uris: z.array(gcsUri).min(1) }).optional(),
        bigquerySource: z.strictObject({ inputUri: z.string().regex(/^bq:\/\//, 'a bq:// URI') }).optional(),
      })
      .refine(
        (c) => (c.gcsSource === undefined) !== (c.bigquerySource === undefined),
        'exactly one of gcsSource and bigquerySource',
      ),
    outputConfig: z
      .looseObject({
        predictionsFormat: z.string().min(1),
        gcsDestination: z.strictObject({ outputUriPrefix: gcsUri }).optional(),
        bigqueryDestination: z.strictObject({ outputUri: z.string().regex(/^bq:\/\//, 'a bq:// URI') }).optional(),
      })
      .refine(
        (c) => (c.gcsDestination === undefined) !== (c.bigqueryDestination === undefined),
        'exactly one of gcsDestination and bigqueryDestination',
      ),
    modelParameters: z.unknown().optional(),
    labels: gcpLabels.optional(),
  })
  .refine((b) => (b.model === undefined) !== (b.unmanagedContainerModel === undefined), {
    message: 'exactly one of model and unmanagedContainerModel',
    path: ['model'],
  });
export type BatchPredictionSpec = z.infer<typeof BatchPredictionSpecSchema>;

/** A validated Vertex job description, stored as plain JSON in `JobRecord.spec.spec`. */
export type VertexJobSpec =
  | { readonly kind: 'custom'; readonly spec: CustomJobSpec }
  | { readonly kind: 'training_pipeline'; readonly spec: TrainingPipelineSpec }
  | { readonly kind: 'batch_prediction'; readonly spec: BatchPredictionSpec };

function snakeToCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Proto3 JSON accepts both `display_name` and `displayName`; the Node client only the latter.
 * Renames snake_case keys outside free-form maps and drops output-only top-level fields.
 */
export function normalizeRestBody(body: unknown, top = true): unknown {
  if (Array.isArray(body)) return body.map((v) => normalizeRestBody(v, false));
  if (body === null || typeof body !== 'object') return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const key = snakeToCamel(k);
    if (top && OUTPUT_ONLY.has(key)) continue;
    // The camelCase spelling wins when a body carries both.
    if (key !== k && Object.hasOwn(body, key)) continue;
    out[key] = OPAQUE.has(key) ? v : normalizeRestBody(v, false);
  }
  return out;
}

/**
 * Validates any job routed to Vertex: a job-resource kind or an asset operation. Errors name
 * `spec.kind` or `spec.spec.<path>`.
 */
export function validateVertexSpec(spec: Pick<JobSpec, 'kind' | 'spec'>): void {
  if (isVertexAssetKind(spec.kind)) parseVertexAssetSpec(spec.kind, spec.spec ?? {});
  else parseVertexJobSpec(spec);
}

/** Validates `spec.kind` / `spec.spec` of a Vertex job-resource kind. Errors name `spec.kind` or `spec.spec.<path>`. */
export function parseVertexJobSpec(spec: Pick<JobSpec, 'kind' | 'spec'>): VertexJobSpec {
  const kind = spec.kind;
  if (kind === undefined || !(VERTEX_JOB_KINDS as readonly string[]).includes(kind)) {
    throw new ValidationError([
      {
        field: 'spec.kind',
        message: `Vertex AI runs kinds ${VERTEX_KINDS.join(', ')}; got ${kind === undefined ? 'none' : `'${kind}'`}`,
      },
    ]);
  }
  const body = spec.spec ?? {};
  const k = kind as VertexKind;
  switch (k) {
    case 'custom':
      return { kind: k, spec: parseOrThrow(CustomJobSpecSchema, body, 'spec.spec') };
    case 'training_pipeline':
      return { kind: k, spec: parseOrThrow(TrainingPipelineSpecSchema, normalizeRestBody(body), 'spec.spec') };
    case 'batch_prediction':
      return { kind: k, spec: parseOrThrow(BatchPredictionSpecSchema, normalizeRestBody(body), 'spec.spec') };
    default: {
      const unreachable: never = k;
      throw new Error(`unhandled kind ${String(unreachable)}`);
    }
  }
}

/**
 * Plain JSON → google.protobuf.Value. The Node client (unlike REST) does not convert Struct/Value
 * fields itself: a plain object there is silently sent as an empty Value.
 */
export function toProtoValue(json: unknown): ProtoValue {
  if (json === null || json === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: { values: json.map(toProtoValue) } };
  if (typeof json === 'object') {
    return { structValue: { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, toProtoValue(v)])) } };
  }
  return { stringValue: String(json) };
}

/** What every resource we create carries besides its body. */
export interface ResourceIdentity {
  readonly jobId: string;
  readonly labelKey: string;
  readonly labelValue: string;
  /** JobSpec.max_runtime_sec, used as the CustomJob timeout when the spec sets none. */
  readonly maxRuntimeSec?: number;
}

function withOurLabel(labels: Record<string, string> | undefined, id: ResourceIdentity): Record<string, string> {
  return { ...labels, [id.labelKey]: id.labelValue };
}

/** Builds the CustomJob the client sends. Pure. */
export function buildCustomJob(spec: CustomJobSpec, id: ResourceIdentity): CustomJobResource {
  const timeoutSec = spec.timeoutSec ?? id.maxRuntimeSec;
  const scheduling = {
    ...(timeoutSec !== undefined && { timeout: { seconds: timeoutSec } }),
    ...(spec.restartJobOnWorkerRestart !== undefined && { restartJobOnWorkerRestart: spec.restartJobOnWorkerRestart }),
    ...(spec.schedulingStrategy !== undefined && { strategy: spec.schedulingStrategy }),
  };
  return {
    displayName: spec.displayName ?? id.jobId,
    labels: withOurLabel(spec.labels, id),
    jobSpec: {
      workerPoolSpecs: spec.workerPoolSpecs.map((p) => ({
        machineSpec: { ...p.machineSpec },
        replicaCount: p.replicaCount,
        containerSpec: {
          imageUri: p.containerSpec.imageUri,
          ...(p.containerSpec.command && { command: p.containerSpec.command }),
          ...(p.containerSpec.args && { args: p.containerSpec.args }),
          ...(p.containerSpec.env && {
            env: Array.isArray(p.containerSpec.env)
              ? p.containerSpec.env
              : Object.entries(p.containerSpec.env).map(([name, value]) => ({ name, value })),
          }),
        },
        ...(p.diskSpec && { diskSpec: { ...p.diskSpec } }),
      })),
      ...(spec.baseOutputDirectory && { baseOutputDirectory: { outputUriPrefix: spec.baseOutputDirectory } }),
      ...(spec.serviceAccount && { serviceAccount: spec.serviceAccount }),
      ...(spec.network && { network: spec.network }),
      ...(spec.enableWebAccess !== undefined && { enableWebAccess: spec.enableWebAccess }),
      ...(Object.keys(scheduling).length > 0 && { scheduling }),
    },
  };
}

/** Builds the TrainingPipeline the client sends, converting the Value fields. Pure. */
export function buildTrainingPipeline(spec: TrainingPipelineSpec, id: ResourceIdentity): TrainingPipelineResource {
  const { trainingTaskInputs, modelToUpload, labels, ...rest } = spec;
  const model = modelToUpload as (Record<string, unknown> & { metadata?: unknown }) | undefined;
  return {
    ...(rest as TrainingPipelineResource),
    labels: withOurLabel(labels, id),
    trainingTaskInputs: toProtoValue(trainingTaskInputs),
    ...(model && {
      modelToUpload: {
        ...(model as protos.google.cloud.aiplatform.v1.IModel),
        // Models the pipeline uploads carry the label too, so they can be traced back to the job.
        labels: withOurLabel(model.labels as Record<string, string> | undefined, id),
        ...(model.metadata !== undefined && { metadata: toProtoValue(model.metadata) }),
      },
    }),
  };
}

/** Builds the BatchPredictionJob the client sends, converting the Value fields. Pure. */
export function buildBatchPredictionJob(spec: BatchPredictionSpec, id: ResourceIdentity): BatchPredictionJobResource {
  const { modelParameters, labels, ...rest } = spec;
  return {
    ...(rest as BatchPredictionJobResource),
    labels: withOurLabel(labels, id),
    ...(modelParameters !== undefined && { modelParameters: toProtoValue(modelParameters) }),
  };
}
