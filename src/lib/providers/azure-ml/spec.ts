import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow, type JobRecord } from '../../core/job.js';
import { ValidationError } from '../../errors.js';
import { type AzureMlAssetSpec, parseAzureMlAssetSpec } from './asset-spec.js';
import { AZURE_ML_JOB_KINDS, type AzureMlJobKind, isAzureMlAssetKind } from './catalog.js';

/**
 * Pure part of the Azure ML provider: the job kinds it accepts (`spec.kind` / `spec.spec`), their
 * validation, and the REST bodies sent to `PUT …/workspaces/{ws}/jobs/{name}`. No SDK, no I/O.
 */

export { AZURE_ML_JOB_KINDS, type AzureMlJobKind };

const INPUT_TYPES = ['uri_file', 'uri_folder', 'mltable', 'mlflow_model', 'custom_model', 'triton_model'] as const;
const OUTPUT_TYPES = ['uri_file', 'uri_folder', 'mltable', 'mlflow_model', 'custom_model', 'triton_model'] as const;
const INPUT_MODES = ['ReadOnlyMount', 'ReadWriteMount', 'Download', 'Direct', 'EvalMount', 'EvalDownload'] as const;
const OUTPUT_MODES = ['ReadWriteMount', 'Upload', 'Direct'] as const;

const nonEmpty = z.string().trim().min(1);
const ioName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'input and output names are letters, digits and "_", not starting with a digit');

const CommandInputSchema = z.union([
  z.string().describe('a literal value'),
  z.number().transform(String),
  z.boolean().transform(String),
  z.strictObject({ type: z.enum(INPUT_TYPES), uri: nonEmpty, mode: z.enum(INPUT_MODES).optional() }),
]);
const CommandOutputSchema = z.strictObject({
  type: z.enum(OUTPUT_TYPES),
  uri: nonEmpty.optional(),
  mode: z.enum(OUTPUT_MODES).optional(),
});

/** `kind: "command"`: a script in an environment (an Azure ML environment asset, or a container image). */
export const CommandSpecSchema = z
  .strictObject({
    command: nonEmpty.max(100_000),
    /** Environment asset: `azureml:name:version`, an ARM id, or an `azureml://registries/…` URI. */
    environment: nonEmpty.optional(),
    /** Container image; an environment version named after the image's hash is created for it. */
    image: nonEmpty.optional(),
    /** Compute cluster name or ARM id; defaults to AZUREML_DEFAULT_COMPUTE. */
    compute: nonEmpty.optional(),
    /** ARM id of a code asset holding the script. */
    codeId: nonEmpty.optional(),
    inputs: z.record(ioName, CommandInputSchema).optional(),
    outputs: z.record(ioName, CommandOutputSchema).optional(),
    environmentVariables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
    instanceCount: z.number().int().min(1).max(1000).optional(),
    instanceType: nonEmpty.optional(),
    timeoutSec: z.number().int().min(1).optional(),
    experimentName: nonEmpty.max(255).optional(),
    displayName: nonEmpty.max(255).optional(),
    description: z.string().max(5000).optional(),
  })
  .refine((s) => (s.environment === undefined) !== (s.image === undefined), {
    message: 'give exactly one of environment or image',
    path: ['environment'],
  });
export type CommandSpec = z.infer<typeof CommandSpecSchema>;

/** Primary metrics the service accepts per task (api-version 2024-04-01). */
export const PRIMARY_METRICS = {
  classification: [
    'AUCWeighted',
    'Accuracy',
    'NormMacroRecall',
    'AveragePrecisionScoreWeighted',
    'PrecisionScoreWeighted',
  ],
  regression: ['SpearmanCorrelation', 'NormalizedRootMeanSquaredError', 'R2Score', 'NormalizedMeanAbsoluteError'],
  forecasting: ['SpearmanCorrelation', 'NormalizedRootMeanSquaredError', 'R2Score', 'NormalizedMeanAbsoluteError'],
} as const;
export type AutoMlTask = keyof typeof PRIMARY_METRICS;

const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * Accepts both the REST spelling (`AUCWeighted`) and the Python SDK's (`AUC_weighted`,
 * `normalized_root_mean_squared_error`), since Essedum users type the latter.
 */
export function normalisePrimaryMetric(task: AutoMlTask, metric: string): string | undefined {
  return PRIMARY_METRICS[task].find((m) => squash(m) === squash(metric));
}

const LimitsSchema = z.strictObject({
  timeoutMinutes: z.number().int().min(1).max(43_200).optional(),
  trialTimeoutMinutes: z.number().int().min(1).max(43_200).optional(),
  maxTrials: z.number().int().min(1).max(1000).optional(),
  maxConcurrentTrials: z.number().int().min(1).max(1000).optional(),
  enableEarlyTermination: z.boolean().optional(),
  exitScore: z.number().optional(),
});

/** `kind: "automl"`: AutoML classification, regression or forecasting on an MLTable. */
export const AutoMlSpecSchema = z
  .strictObject({
    task: z.enum(['classification', 'regression', 'forecasting']),
    /** MLTable input: `azureml:name:version`, `azureml://…`, an ARM id or a URL. */
    trainingData: nonEmpty,
    validationData: nonEmpty.optional(),
    testData: nonEmpty.optional(),
    targetColumn: nonEmpty,
    primaryMetric: nonEmpty.optional(),
    compute: nonEmpty.optional(),
    limits: LimitsSchema.optional(),
    crossValidations: z.union([z.number().int().min(2).max(100), z.literal('auto')]).optional(),
    forecasting: z
      .strictObject({
        timeColumn: nonEmpty,
        horizon: z.union([z.number().int().min(1), z.literal('auto')]).optional(),
        timeSeriesIdColumns: z.array(nonEmpty).optional(),
        frequency: nonEmpty.optional(),
      })
      .optional(),
    experimentName: nonEmpty.max(255).optional(),
    displayName: nonEmpty.max(255).optional(),
    description: z.string().max(5000).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.primaryMetric !== undefined && normalisePrimaryMetric(s.task, s.primaryMetric) === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['primaryMetric'],
        message: `not a ${s.task} metric; use one of ${PRIMARY_METRICS[s.task].join(', ')}`,
      });
    }
    if (s.task === 'forecasting' && s.forecasting === undefined) {
      ctx.addIssue({ code: 'custom', path: ['forecasting'], message: 'forecasting needs forecasting.timeColumn' });
    }
    if (s.task !== 'forecasting' && s.forecasting !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['forecasting'],
        message: 'only a forecasting task takes forecasting settings',
      });
    }
  });
export type AutoMlSpec = z.infer<typeof AutoMlSpecSchema>;

export type AzureMlJobSpec =
  | { readonly kind: 'command'; readonly spec: CommandSpec }
  | { readonly kind: 'automl'; readonly spec: AutoMlSpec };

/**
 * Validates `spec.kind` / `spec.spec` of a job bound for Azure ML. Throws {@link ValidationError}
 * with field paths under `spec.` so the API can reject a bad submission before it is queued.
 */
export function parseAzureMlJobSpec(kind: string | undefined, spec: unknown): AzureMlJobSpec {
  switch (kind) {
    case 'command':
      return { kind, spec: parseOrThrow(CommandSpecSchema, spec ?? {}, 'spec') };
    case 'automl': {
      const parsed = parseOrThrow(AutoMlSpecSchema, spec ?? {}, 'spec');
      const metric =
        parsed.primaryMetric === undefined ? undefined : normalisePrimaryMetric(parsed.task, parsed.primaryMetric);
      return { kind, spec: { ...parsed, ...(metric !== undefined && { primaryMetric: metric }) } };
    }
    default:
      throw new ValidationError([
        {
          field: 'kind',
          message: `Azure ML runs kinds ${AZURE_ML_JOB_KINDS.map((k) => `'${k}'`).join(', ')}${kind ? `, not '${kind}'` : '; none was given'}`,
        },
      ]);
  }
}

/** Validates any kind the provider runs: a workspace job (command, automl) or an asset operation. */
export function parseAzureMlSpec(kind: string | undefined, spec: unknown): AzureMlJobSpec | AzureMlAssetSpec {
  return isAzureMlAssetKind(kind) ? parseAzureMlAssetSpec(kind, spec) : parseAzureMlJobSpec(kind, spec);
}

/**
 * Azure ML job name for one of our jobs. Our ids (`j-01jd3m2x…`) are already valid names, so the
 * name is the id itself: the same id always PUTs the same name, which is what makes a redelivered
 * dispatch converge on one cloud job. Anything else is sanitised and suffixed with a hash.
 */
export function azureMlJobName(jobId: string): string {
  if (/^[a-z0-9][a-z0-9_-]{0,199}$/.test(jobId)) return jobId;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 12);
  const base = jobId
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 180);
  return `${base || 'job'}-${hash}`;
}

/** Name of the environment created for a container image: same image, same environment. */
export function imageEnvironmentName(image: string): string {
  return `cjo-image-${createHash('sha256').update(image).digest('hex').slice(0, 20)}`;
}

/** Where the provider's REST bodies point: the workspace's ARM scope and defaults. */
export interface WorkspaceScope {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  readonly defaultCompute?: string;
  readonly experiment: string;
  readonly tagKey: string;
}

export function workspaceId(ws: WorkspaceScope): string {
  return `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws.workspace}`;
}

function computeId(ws: WorkspaceScope, compute: string | undefined): string {
  const name = compute ?? ws.defaultCompute;
  if (name === undefined) {
    throw new ValidationError([
      { field: 'spec.compute', message: 'no compute given and AZUREML_DEFAULT_COMPUTE is not set' },
    ]);
  }
  if (name.startsWith('/subscriptions/')) return name;
  return `${workspaceId(ws)}/computes/${name.replace(/^azureml:/, '')}`;
}

/** `azureml:name:version` → the version's ARM id; other forms (ARM ids, registry URIs) pass through. */
export function environmentId(ws: WorkspaceScope, environment: string): string {
  const short = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*):([A-Za-z0-9._-]+)$/.exec(environment);
  if (short) return `${workspaceId(ws)}/environments/${short[1]}/versions/${short[2]}`;
  return environment;
}

const isoMinutes = (m: number) => `PT${m}M`;
const isoSeconds = (s: number) => `PT${s}S`;

function tagsFor(job: JobRecord, ws: WorkspaceScope): Record<string, string> {
  // Labels first so a label can never overwrite the tag polling relies on.
  return { ...job.spec.labels, [ws.tagKey]: job.id };
}

/**
 * The `PUT …/jobs/{name}` body for a job. `environmentIdOverride` is the id of the environment
 * created for `image`. Throws {@link ValidationError} when no compute can be chosen.
 */
export function buildJobBody(
  job: JobRecord,
  parsed: AzureMlJobSpec,
  ws: WorkspaceScope,
  environmentIdOverride?: string,
): { properties: Record<string, unknown> } {
  const common = {
    computeId: computeId(ws, parsed.spec.compute),
    experimentName: parsed.spec.experimentName ?? ws.experiment,
    displayName: parsed.spec.displayName ?? job.id,
    ...(parsed.spec.description !== undefined && { description: parsed.spec.description }),
    tags: tagsFor(job, ws),
    properties: { 'cjo.source': job.source },
  };
  if (parsed.kind === 'command') {
    const s = parsed.spec;
    const envId = environmentIdOverride ?? (s.environment !== undefined ? environmentId(ws, s.environment) : undefined);
    if (envId === undefined)
      throw new ValidationError([{ field: 'spec.environment', message: 'give exactly one of environment or image' }]);
    const timeout = s.timeoutSec ?? job.spec.max_runtime_sec;
    return {
      properties: {
        jobType: 'Command',
        ...common,
        command: s.command,
        environmentId: envId,
        ...(s.codeId !== undefined && { codeId: s.codeId }),
        ...(s.inputs !== undefined && {
          inputs: Object.fromEntries(
            Object.entries(s.inputs).map(([k, v]) => [
              k,
              typeof v === 'string'
                ? { jobInputType: 'literal', value: v }
                : { jobInputType: v.type, uri: v.uri, ...(v.mode && { mode: v.mode }) },
            ]),
          ),
        }),
        ...(s.outputs !== undefined && {
          outputs: Object.fromEntries(
            Object.entries(s.outputs).map(([k, v]) => [
              k,
              { jobOutputType: v.type, ...(v.uri && { uri: v.uri }), ...(v.mode && { mode: v.mode }) },
            ]),
          ),
        }),
        ...(s.environmentVariables !== undefined && { environmentVariables: s.environmentVariables }),
        ...((s.instanceCount !== undefined || s.instanceType !== undefined) && {
          resources: {
            ...(s.instanceCount !== undefined && { instanceCount: s.instanceCount }),
            ...(s.instanceType && { instanceType: s.instanceType }),
          },
        }),
        ...(timeout !== undefined && { limits: { jobLimitsType: 'Command', timeout: isoSeconds(timeout) } }),
      },
    };
  }
  const s = parsed.spec;
  const limits = s.limits ?? {};
  const timeoutMinutes =
    limits.timeoutMinutes ??
    (job.spec.max_runtime_sec !== undefined ? Math.max(1, Math.floor(job.spec.max_runtime_sec / 60)) : undefined);
  const limitSettings = {
    ...(timeoutMinutes !== undefined && { timeout: isoMinutes(timeoutMinutes) }),
    ...(limits.trialTimeoutMinutes !== undefined && { trialTimeout: isoMinutes(limits.trialTimeoutMinutes) }),
    ...(limits.maxTrials !== undefined && { maxTrials: limits.maxTrials }),
    ...(limits.maxConcurrentTrials !== undefined && { maxConcurrentTrials: limits.maxConcurrentTrials }),
    ...(limits.enableEarlyTermination !== undefined && { enableEarlyTermination: limits.enableEarlyTermination }),
    ...(limits.exitScore !== undefined && { exitScore: limits.exitScore }),
  };
  const mltable = (uri: string) => ({ jobInputType: 'mltable', uri });
  const taskType = (
    { classification: 'Classification', regression: 'Regression', forecasting: 'Forecasting' } as const
  )[s.task];
  const metric = s.primaryMetric === undefined ? undefined : normalisePrimaryMetric(s.task, s.primaryMetric);
  return {
    properties: {
      jobType: 'AutoML',
      ...common,
      taskDetails: {
        taskType,
        trainingData: mltable(s.trainingData),
        ...(s.validationData !== undefined && { validationData: mltable(s.validationData) }),
        ...(s.testData !== undefined && { testData: mltable(s.testData) }),
        targetColumnName: s.targetColumn,
        ...(metric !== undefined && { primaryMetric: metric }),
        ...(Object.keys(limitSettings).length > 0 && { limitSettings }),
        ...(s.crossValidations !== undefined && {
          nCrossValidations:
            s.crossValidations === 'auto' ? { mode: 'Auto' } : { mode: 'Custom', value: s.crossValidations },
        }),
        ...(s.forecasting !== undefined && {
          forecastingSettings: {
            timeColumnName: s.forecasting.timeColumn,
            ...(s.forecasting.horizon !== undefined && {
              forecastHorizon:
                s.forecasting.horizon === 'auto' ? { mode: 'Auto' } : { mode: 'Custom', value: s.forecasting.horizon },
            }),
            ...(s.forecasting.timeSeriesIdColumns !== undefined && {
              timeSeriesIdColumnNames: s.forecasting.timeSeriesIdColumns,
            }),
            ...(s.forecasting.frequency !== undefined && { frequency: s.forecasting.frequency }),
          },
        }),
      },
    },
  };
}
