import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow } from '../../core/job.js';
import { GCP_LABEL_KEY, GCP_LABEL_VALUE } from './settings.js';
import type { VertexAssetKind } from './catalog.js';

// The `spec.spec` of each asset operation (issue 18). Bodies arrive in REST (proto3 JSON) form,
// camelCase; `normalizeRestBody` (spec.ts) has already renamed snake_case keys. Lenient on fields we
// do not model (Vertex validates them), strict on what the operation needs.

const MAX_USER_LABELS = 63;
const labels = z
  .record(
    z.string().regex(GCP_LABEL_KEY, 'label keys: lowercase letter first, then lowercase letters, digits, "_" or "-"'),
    z.string().regex(GCP_LABEL_VALUE, 'label values: lowercase letters, digits, "_" or "-", at most 63'),
  )
  .refine((l) => Object.keys(l).length <= MAX_USER_LABELS, `at most ${MAX_USER_LABELS} labels`);
const displayName = z.string().min(1).max(128);
const gcsUri = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](?:\/.*)?$/, 'a gs://bucket/path URI');
const resourceName = (collection: string) =>
  z
    .string()
    .regex(
      new RegExp(`^projects/[^/\\s]+/locations/[^/\\s]+/${collection}/[^/\\s]+$`),
      `a resource name projects/{project}/locations/{location}/${collection}/{id}`,
    );
export const DATASET_NAME = resourceName('datasets');
export const MODEL_NAME = resourceName('models');
export const ENDPOINT_NAME = resourceName('endpoints');
const deployedModelId = z.string().regex(/^[1-9][0-9]{0,9}$/, 'a deployed model id (1-10 digits)');

const ImportConfig = z.looseObject({
  gcsSource: z.strictObject({ uris: z.array(gcsUri).min(1).max(100) }),
  importSchemaUri: z.string().min(1),
  dataItemLabels: z.record(z.string(), z.string()).optional(),
  annotationLabels: z.record(z.string(), z.string()).optional(),
});

export const DatasetCreateSpecSchema = z.looseObject({
  displayName,
  metadataSchemaUri: z.string().min(1),
  metadata: z.unknown().optional(),
  description: z.string().max(4096).optional(),
  labels: labels.optional(),
  /** Imported with ImportData once the dataset exists (a second long-running operation). */
  importConfigs: z.array(ImportConfig).min(1).max(10).optional(),
});
export const DatasetExportSpecSchema = z.looseObject({
  dataset: DATASET_NAME,
  exportConfig: z.looseObject({ gcsDestination: z.strictObject({ outputUriPrefix: gcsUri }) }),
});
export const DatasetDeleteSpecSchema = z.looseObject({ dataset: DATASET_NAME });

export const ModelRegisterSpecSchema = z.looseObject({
  displayName,
  description: z.string().max(4096).optional(),
  artifactUri: gcsUri.optional(),
  containerSpec: z.looseObject({
    imageUri: z.string().min(1).max(1024),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).optional(),
    predictRoute: z.string().optional(),
    healthRoute: z.string().optional(),
  }),
  parentModel: MODEL_NAME.optional(),
  labels: labels.optional(),
  metadata: z.unknown().optional(),
});
export const ModelExportSpecSchema = z.looseObject({
  model: MODEL_NAME,
  outputConfig: z
    .looseObject({
      exportFormatId: z.string().min(1),
      artifactDestination: z.strictObject({ outputUriPrefix: gcsUri }).optional(),
      imageDestination: z.strictObject({ outputUri: z.string().min(1) }).optional(),
    })
    .refine((c) => c.artifactDestination !== undefined || c.imageDestination !== undefined, {
      message: 'needs artifactDestination or imageDestination',
      path: ['artifactDestination'],
    }),
});
export const ModelDeleteSpecSchema = z.looseObject({ model: MODEL_NAME });

export const EndpointCreateSpecSchema = z.looseObject({
  displayName,
  description: z.string().max(4096).optional(),
  labels: labels.optional(),
});
const MachineSpec = z.looseObject({
  machineType: z.string().min(1).max(64),
  acceleratorType: z.string().min(1).optional(),
  acceleratorCount: z.number().int().min(1).max(64).optional(),
});
export const EndpointDeploySpecSchema = z
  .looseObject({
    endpoint: ENDPOINT_NAME,
    model: MODEL_NAME,
    displayName: displayName.optional(),
    dedicatedResources: z
      .looseObject({
        machineSpec: MachineSpec,
        minReplicaCount: z.number().int().min(1).max(1000).default(1),
        maxReplicaCount: z.number().int().min(1).max(1000).optional(),
      })
      .optional(),
    automaticResources: z
      .looseObject({
        minReplicaCount: z.number().int().min(1).max(1000).optional(),
        maxReplicaCount: z.number().int().min(1).max(1000).optional(),
      })
      .optional(),
    /** Share of the endpoint's traffic the new model takes (the rest stays with models already there). */
    trafficPercentage: z.number().int().min(0).max(100).default(100),
  })
  .refine((s) => (s.dedicatedResources === undefined) !== (s.automaticResources === undefined), {
    message: 'exactly one of dedicatedResources and automaticResources',
    path: ['dedicatedResources'],
  });
export const EndpointUndeploySpecSchema = z.looseObject({
  endpoint: ENDPOINT_NAME,
  /** Which deployed models to take down; all of them when absent (Essedum's undeploy_models). */
  deployedModelIds: z.array(deployedModelId).min(1).max(100).optional(),
});
export const EndpointDeleteSpecSchema = z.looseObject({ endpoint: ENDPOINT_NAME });

const SCHEMAS = {
  'dataset-create': DatasetCreateSpecSchema,
  'dataset-export': DatasetExportSpecSchema,
  'dataset-delete': DatasetDeleteSpecSchema,
  'model-register': ModelRegisterSpecSchema,
  'model-export': ModelExportSpecSchema,
  'model-delete': ModelDeleteSpecSchema,
  'endpoint-create': EndpointCreateSpecSchema,
  'endpoint-deploy': EndpointDeploySpecSchema,
  'endpoint-undeploy': EndpointUndeploySpecSchema,
  'endpoint-delete': EndpointDeleteSpecSchema,
} as const satisfies Record<VertexAssetKind, z.ZodType>;

/** The validated spec of each asset kind. */
export type VertexAssetSpecs = { [K in VertexAssetKind]: z.infer<(typeof SCHEMAS)[K]> };
/** A validated asset operation, kind and spec. */
export type VertexAssetSpec = {
  [K in VertexAssetKind]: { readonly kind: K; readonly spec: VertexAssetSpecs[K] };
}[VertexAssetKind];

/** Validates an asset operation's `spec.spec`; errors name `<prefix>.<path>` (`spec.spec.…` by default). */
export function parseVertexAssetSpec<K extends VertexAssetKind>(
  kind: K,
  spec: unknown,
  prefix = 'spec.spec',
): VertexAssetSpecs[K] {
  return parseOrThrow(SCHEMAS[kind] as unknown as z.ZodType<VertexAssetSpecs[K]>, camelKeys(spec), prefix);
}

// Free-form maps (user data): their keys are never renamed.
const OPAQUE = new Set(['labels', 'metadata', 'dataItemLabels', 'annotationLabels', 'parameters']);

/** snake_case → camelCase outside free-form maps (proto3 JSON accepts both; the Node client only camelCase). */
export function camelKeys(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(camelKeys);
  if (body === null || typeof body !== 'object') return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const key = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (key !== k && Object.hasOwn(body, key)) continue;
    out[key] = OPAQUE.has(key) ? v : camelKeys(v);
  }
  return out;
}

/**
 * The resource id we ask Vertex to use for a model or endpoint created by a run (`model_id`,
 * `endpoint_id`): with a fixed id a redelivered create answers ALREADY_EXISTS instead of making a
 * second resource. Our run keys (`j-01jd…`, `j-01jd…-a2`) already fit both alphabets (lowercase letter
 * first, `[a-z0-9-]`, ≤ 63); anything else becomes `j` + a hash.
 */
export function assetResourceId(runKey: string): string {
  if (/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/.test(runKey)) return runKey;
  return `j${createHash('sha256').update(runKey).digest('hex').slice(0, 40)}`;
}

/** The DeployedModel id of a deploy run: 1-10 digits, from a hash of the run key (no leading zero). */
export function deployedModelIdFor(runKey: string): string {
  const n = createHash('sha256').update(runKey).digest().readUInt32BE(0);
  return String(1_000_000_000 + (n % 999_999_999));
}
