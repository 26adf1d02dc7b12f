/**
 * Essedum's Azure ML bodies → our Azure ML job kinds. The provider owns the schema
 * (`parseAzureMlJobSpec`); this module only maps Essedum's field names and defaults onto it.
 */
import { z } from 'zod';
import { type JobRecord, parseOrThrow } from '../../../core/job.js';
import { ValidationError } from '../../../errors.js';
import {
  assetName,
  assetVersion,
  DATA_TYPES,
  dataVersionOf,
  endpointName,
  MODEL_TYPES,
  modelVersionOf,
} from '../../../providers/azure-ml/asset-spec.js';
import {
  normalisePrimaryMetric,
  parseAzureMlJobSpec,
  parseAzureMlSpec,
  PRIMARY_METRICS,
  type AutoMlSpec,
} from '../../../providers/azure-ml/spec.js';
import type { AssetOp, AssetRefs } from '../assets-types.js';

const nonEmpty = z.string().trim().min(1);

/** Defaults of Essedum's Azure ML `train` route, kept so migrated clients see the same jobs. */
export const ESSEDUM_TRAIN_DEFAULTS = { crossValidations: 5, timeoutMinutes: 180, maxTrials: 5 } as const;

const EssedumTrainSchema = z.object({
  compute: nonEmpty,
  dataset_name: nonEmpty,
  name: nonEmpty.max(255).optional(),
  task_type: z
    .string()
    .trim()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(['classification', 'regression'])),
  target_column_name: nonEmpty,
  metrics_type: nonEmpty.optional(),
  // Overrides of the original's fixed defaults, in the Python SDK's spelling.
  n_cross_validations: z.union([z.number().int().min(2).max(100), z.literal('auto')]).optional(),
  timeout_minutes: z.number().int().min(1).max(43_200).optional(),
  max_trials: z.number().int().min(1).max(1000).optional(),
  trial_timeout_minutes: z.number().int().min(1).max(43_200).optional(),
  max_concurrent_trials: z.number().int().min(1).max(1000).optional(),
  experiment_name: nonEmpty.max(255).optional(),
});

/** A bare data asset name means its latest version, as in the Essedum UI. */
function datasetUri(name: string): string {
  if (/^(azureml:|azureml:\/\/|https?:\/\/|abfss?:\/\/|wasbs?:\/\/|\/subscriptions\/)/i.test(name)) return name;
  return name.includes(':') ? `azureml:${name}` : `azureml:${name}@latest`;
}

/**
 * Translates Essedum's Azure ML `train` body (`{compute, dataset_name, name, task_type,
 * target_column_name, metrics_type}`) into our `automl` kind. Unknown fields are ignored (the
 * Essedum backend forwards the UI's whole body). Throws {@link ValidationError}.
 */
export function fromEssedumTrain(body: unknown): { kind: 'automl'; spec: AutoMlSpec } {
  const b = parseOrThrow(EssedumTrainSchema, body);
  const spec: Record<string, unknown> = {
    task: b.task_type,
    trainingData: datasetUri(b.dataset_name),
    targetColumn: b.target_column_name,
    compute: b.compute,
    crossValidations: b.n_cross_validations ?? ESSEDUM_TRAIN_DEFAULTS.crossValidations,
    limits: {
      timeoutMinutes: b.timeout_minutes ?? ESSEDUM_TRAIN_DEFAULTS.timeoutMinutes,
      maxTrials: b.max_trials ?? ESSEDUM_TRAIN_DEFAULTS.maxTrials,
      ...(b.trial_timeout_minutes !== undefined && { trialTimeoutMinutes: b.trial_timeout_minutes }),
      ...(b.max_concurrent_trials !== undefined && { maxConcurrentTrials: b.max_concurrent_trials }),
    },
    ...(b.metrics_type !== undefined && { primaryMetric: b.metrics_type }),
    ...(b.name !== undefined && { displayName: b.name }),
    ...(b.experiment_name !== undefined && { experimentName: b.experiment_name }),
  };
  // Field paths of metric errors must name Essedum's field, not ours.
  if (b.metrics_type !== undefined && normalisePrimaryMetric(b.task_type, b.metrics_type) === undefined) {
    throw new ValidationError([
      {
        field: 'metrics_type',
        message: `not a ${b.task_type} metric; use one of ${PRIMARY_METRICS[b.task_type].join(', ')}`,
      },
    ]);
  }
  const parsed = parseAzureMlJobSpec('automl', spec);
  return parsed as { kind: 'automl'; spec: AutoMlSpec };
}

// ---- Asset operations (issue 18) ----------------------------------------------------------------

/** The first of several spellings the Essedum UI and backend use for one field. */
function pick(body: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (body[n] !== undefined && body[n] !== null && body[n] !== '') return body[n];
  return undefined;
}

const textField = z.string().trim().min(1);
const tagsField = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** Parses one field (under the name the body used) and throws ValidationError naming it. */
function field<T>(schema: z.ZodType<T>, body: Record<string, unknown>, names: string[]): T {
  const name = names.find((n) => body[n] !== undefined && body[n] !== null && body[n] !== '') ?? names[0]!;
  return parseOrThrow(schema, pick(body, ...names), name);
}

function optionalField<T>(schema: z.ZodType<T>, body: Record<string, unknown>, names: string[]): T | undefined {
  return pick(body, ...names) === undefined ? undefined : field(schema, body, names);
}

/** `result.asset` of the job that made the asset an operation refers to; ValidationError when missing. */
function refAsset(
  refs: AssetRefs,
  which: keyof AssetRefs,
): { id: string; name: string; uri?: string; summary: Record<string, unknown>; job: JobRecord } {
  const job = refs[which];
  const summary = (job?.result?.summary ?? {}) as Record<string, unknown>;
  const asset = summary.asset as { id?: unknown; name?: unknown; uri?: unknown } | undefined;
  if (job?.status !== 'succeeded' || typeof asset?.id !== 'string' || typeof asset.name !== 'string') {
    throw new ValidationError([{ field: which, message: `no ${which} created on Azure ML by this orchestrator` }]);
  }
  return {
    id: asset.id,
    name: asset.name,
    ...(typeof asset.uri === 'string' && { uri: asset.uri }),
    summary,
    job,
  };
}

/** Name and version of a data or model asset from its creating job (ARM id, then the job's spec). */
function versionOf(which: 'dataset' | 'model', asset: ReturnType<typeof refAsset>): { name: string; version: string } {
  const fromId = which === 'dataset' ? dataVersionOf(asset.id) : modelVersionOf(asset.id);
  if (fromId) return fromId;
  const version = asset.summary.version;
  if (typeof version === 'string') return { name: asset.name, version };
  throw new ValidationError([{ field: which, message: `the ${which} record names no Azure ML asset version` }]);
}

const computeNames = ['compute', 'compute_name', 'computeName'];

/**
 * Essedum's dataset, model and endpoint bodies → an Azure ML asset job kind and spec (MLOPS.md §2).
 * Lenient on fields we do not use (the backend forwards the UI's whole body), strict on those we
 * do; ops on an existing asset read it from `refs` (the job that created it). The spec is checked
 * by the provider's own schema, so what passes here passes submission.
 */
export function fromEssedumAsset(
  op: AssetOp,
  body: Record<string, unknown>,
  refs: AssetRefs,
): { kind: string; spec: Record<string, unknown> } {
  const spec = essedumAssetSpec(op, body, refs);
  try {
    parseAzureMlSpec(op, spec);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // The provider names its own fields (`spec.dataUri`); the caller sent Essedum's (`path`).
    throw new ValidationError(error.issues.map((i) => ({ ...i, field: essedumFieldOf(i.field, body) })));
  }
  return { kind: op, spec };
}

/** Essedum's spellings of each spec field, first the one named in errors when the body has none. */
const ESSEDUM_ALIASES: Readonly<Record<string, readonly string[]>> = {
  dataUri: ['path', 'uri', 'data_uri', 'dataUri'],
  modelUri: ['path', 'model_uri', 'modelUri', 'artifact_uri', 'uri'],
  dataType: ['type', 'data_type', 'dataType'],
  modelType: ['type', 'model_type', 'modelType'],
  instanceType: ['instance_type', 'instanceType', 'machine_type'],
  instanceCount: ['instance_count', 'instanceCount', 'min_replica_count'],
  trafficPercent: ['traffic_percent', 'trafficPercent', 'traffic_percentage'],
  model: ['model_id', 'modelId', 'model'],
  deploymentName: ['deployment_name', 'deploymentName'],
  environment: ['environment', 'environment_id'],
  codeId: ['code_id', 'codeId'],
  scoringScript: ['scoring_script', 'scoringScript'],
  authMode: ['auth_mode', 'authMode'],
  compute: ['compute', 'compute_name', 'computeName'],
  deployments: ['deployments', 'deployment_names', 'deployment_name'],
  models: ['deployed_model_ids', 'deployed_model_id', 'models', 'model_id'],
};

function essedumFieldOf(specField: string, body: Record<string, unknown>): string {
  const [, key, ...rest] = specField.split('.');
  const aliases = key === undefined ? undefined : ESSEDUM_ALIASES[key];
  if (!aliases) return key === undefined ? specField : [key, ...rest].join('.');
  const used = aliases.find((a) => body[a] !== undefined) ?? aliases[0]!;
  return [used, ...rest].join('.');
}

function essedumAssetSpec(op: AssetOp, body: Record<string, unknown>, refs: AssetRefs): Record<string, unknown> {
  const description = optionalField(z.string().max(5000), body, ['description']);
  const tags = optionalField(tagsField, body, ['tags']);
  const common = { ...(description !== undefined && { description }), ...(tags !== undefined && { tags }) };
  switch (op) {
    case 'dataset-create':
      return {
        name: field(assetName, body, ['name', 'dataset_name', 'datasetName']),
        ...optional('version', optionalField(assetVersion, body, ['version'])),
        ...optional('dataType', optionalField(z.enum(DATA_TYPES), body, ['type', 'data_type', 'dataType'])),
        dataUri: field(textField, body, ['path', 'uri', 'data_uri', 'dataUri']),
        ...common,
      };
    case 'model-register':
      return {
        name: field(assetName, body, ['name', 'model_name', 'modelName']),
        ...optional('version', optionalField(assetVersion, body, ['version'])),
        ...optional('modelType', optionalField(z.enum(MODEL_TYPES), body, ['type', 'model_type', 'modelType'])),
        modelUri: field(textField, body, ['path', 'model_uri', 'modelUri', 'artifact_uri', 'uri']),
        ...common,
      };
    case 'dataset-export': {
      const asset = refAsset(refs, 'dataset');
      const dataType = asset.summary.dataType;
      return {
        ...versionOf('dataset', asset),
        ...optional('dataType', typeof dataType === 'string' ? dataType : undefined),
        ...optional('compute', optionalField(textField, body, computeNames)),
      };
    }
    case 'model-export': {
      const asset = refAsset(refs, 'model');
      const modelType = asset.summary.modelType;
      return {
        ...versionOf('model', asset),
        ...optional('modelType', typeof modelType === 'string' ? modelType : undefined),
        ...optional('compute', optionalField(textField, body, computeNames)),
      };
    }
    case 'dataset-delete':
      return versionOf('dataset', refAsset(refs, 'dataset'));
    case 'model-delete':
      return versionOf('model', refAsset(refs, 'model'));
    case 'endpoint-create': {
      // The UI's `name` is a display name; it becomes the endpoint's name only when Azure ML allows it.
      const explicit = optionalField(endpointName, body, ['endpoint_name', 'endpointName']);
      const display = pick(body, 'name');
      const name = explicit ?? (endpointName.safeParse(display).success ? (display as string) : undefined);
      return {
        ...optional('name', name),
        ...optional(
          'authMode',
          optionalField(z.enum(['AADToken', 'Key', 'AMLToken']), body, ['auth_mode', 'authMode']),
        ),
        ...common,
      };
    }
    case 'endpoint-deploy': {
      const endpoint = refAsset(refs, 'endpoint');
      const model = refs.model ? refAsset(refs, 'model').id : field(textField, body, ['model_id', 'modelId', 'model']);
      return {
        endpointName: endpoint.name,
        model,
        ...optional('deploymentName', optionalField(endpointName, body, ['deployment_name', 'deploymentName'])),
        ...optional('instanceType', optionalField(textField, body, ['instance_type', 'instanceType', 'machine_type'])),
        ...optional(
          'instanceCount',
          optionalField(z.coerce.number().int(), body, ['instance_count', 'instanceCount', 'min_replica_count']),
        ),
        ...optional(
          'trafficPercent',
          optionalField(z.coerce.number().int(), body, ['traffic_percent', 'trafficPercent', 'traffic_percentage']),
        ),
        ...optional('environment', optionalField(textField, body, ['environment', 'environment_id'])),
        ...optional('codeId', optionalField(textField, body, ['code_id', 'codeId'])),
        ...optional('scoringScript', optionalField(textField, body, ['scoring_script', 'scoringScript'])),
      };
    }
    case 'endpoint-undeploy': {
      const endpoint = refAsset(refs, 'endpoint');
      const list = z.union([textField.transform((v) => [v]), z.array(textField).min(1)]);
      return {
        endpointName: endpoint.name,
        ...optional('deployments', optionalField(list, body, ['deployments', 'deployment_names', 'deployment_name'])),
        ...optional(
          'models',
          optionalField(list, body, ['deployed_model_ids', 'deployed_model_id', 'models', 'model_id']),
        ),
      };
    }
    case 'endpoint-delete':
      return { endpointName: refAsset(refs, 'endpoint').name };
    default: {
      const unreachable: never = op;
      throw new ValidationError([{ field: 'operation', message: `unknown asset operation ${String(unreachable)}` }]);
    }
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
