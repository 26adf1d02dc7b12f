/**
 * Essedum's Azure ML bodies → our Azure ML job kinds. The provider owns the schema
 * (`parseAzureMlJobSpec`); this module only maps Essedum's field names and defaults onto it.
 */
import { z } from 'zod';
import { parseOrThrow } from '../../../core/job.js';
import { ValidationError } from '../../../errors.js';
import {
  normalisePrimaryMetric,
  parseAzureMlJobSpec,
  PRIMARY_METRICS,
  type AutoMlSpec,
} from '../../../providers/azure-ml/spec.js';

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
