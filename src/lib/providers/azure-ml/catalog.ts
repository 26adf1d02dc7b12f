import { ASSET_OPS } from '../../core/asset-ops.js';
import type { SettingInfo } from '../../config.js';

// The provider's settings and the check that it is configured: light (no zod, no SDK), so the
// descriptor in index.ts and the settings catalogue can import it from the Functions entry.

/** Every setting the Azure ML provider reads. Part of the settings catalogue through the descriptor. */
export const AZURE_ML_SETTINGS = [
  {
    name: 'AZUREML_SUBSCRIPTION_ID',
    scope: ['provider'],
    description: 'Azure subscription id of the Azure Machine Learning workspace.',
  },
  {
    name: 'AZUREML_RESOURCE_GROUP',
    scope: ['provider'],
    description: 'Resource group of the Azure Machine Learning workspace.',
  },
  {
    name: 'AZUREML_WORKSPACE',
    scope: ['provider'],
    description: 'Name of the Azure Machine Learning workspace jobs are created in.',
  },
  {
    name: 'AZUREML_ARM_ENDPOINT',
    scope: ['provider'],
    default: 'https://management.azure.com',
    description:
      'Azure Resource Manager endpoint (sovereign clouds, or a local fake in tests). Must be https: tokens are never sent in clear text.',
  },
  {
    name: 'AZUREML_API_VERSION',
    scope: ['provider'],
    default: '2024-04-01',
    description:
      'api-version of the Microsoft.MachineLearningServices jobs API. 2024-04-01 or newer keeps AutoML limit and metric settings.',
  },
  {
    name: 'AZUREML_DEFAULT_COMPUTE',
    scope: ['provider'],
    description: 'Compute cluster name (or ARM id) used when a job spec names none.',
  },
  {
    name: 'AZUREML_TAG_KEY',
    scope: ['provider'],
    default: 'cjo-job-id',
    description: 'Tag key carrying our job id on every Azure ML job; polling lists jobs having this tag.',
  },
  {
    name: 'AZUREML_EXPERIMENT',
    scope: ['provider'],
    default: 'cloud-job-orchestrator',
    description: 'Experiment name for jobs whose spec names none.',
  },
  {
    name: 'AZUREML_REQUEST_TIMEOUT_MS',
    scope: ['provider'],
    default: '30000',
    description: 'Timeout of one Resource Manager request.',
  },
  {
    name: 'AZUREML_RETRIES',
    scope: ['provider'],
    default: '2',
    description:
      'In-call retries of a 5xx or network failure before it surfaces as ProviderUnavailable (429 is never retried in-call: its Retry-After is handed to the caller).',
  },
  {
    name: 'AZUREML_RETRY_DELAY_MS',
    scope: ['provider'],
    default: '500',
    description:
      'First delay of the in-call 5xx retry (doubles each time, capped by Retry-After when the service sends one).',
  },
  {
    name: 'AZUREML_READ_RATE_PER_SEC',
    scope: ['provider'],
    default: '25',
    description:
      'Client-side pace of Resource Manager reads (GETs), in reads per second. ARM refills 25 reads/s per principal into a bucket of 250; a poll cycle stays under it instead of running into 429s.',
  },
  {
    name: 'AZUREML_READ_BURST',
    scope: ['provider'],
    default: '250',
    description:
      'Reads that may go at once after a quiet spell (the size of the client-side token bucket; ARM documents 250).',
  },
  {
    name: 'AZUREML_CANCEL_WAIT_MS',
    scope: ['provider'],
    default: '10000',
    description:
      'How long cancel follows the cancel operation (202 + Location) before leaving the confirmation to the poller.',
  },
  {
    name: 'AZUREML_EXPORT_PATH',
    scope: ['provider'],
    description:
      'Datastore folder that dataset-export and model-export copy assets into, e.g. azureml://datastores/workspaceblobstore/paths/cjo-exports (a copy lands in <path>/<datasets|models>/<name>/<version>/). Unset: exports are refused.',
  },
  {
    name: 'AZUREML_EXPORT_ENVIRONMENT',
    scope: ['provider'],
    default: 'azureml://registries/azureml/environments/sklearn-1.5/labels/latest',
    description:
      'Environment of the copy job an export runs (any Linux image with cp will do); its compute is AZUREML_DEFAULT_COMPUTE unless the request names one.',
  },
  {
    name: 'AZUREML_SCORING_HOSTS',
    scope: ['provider'],
    default: '.inference.ml.azure.com',
    description:
      'Comma-separated hosts (a leading "." matches any subdomain) an online endpoint scoring URI may point at. The Entra token for inference is only sent there, over https; sovereign clouds add theirs (.inference.ml.azure.us), tests a local fake.',
  },
  {
    name: 'AZUREML_SCORING_SCOPE',
    scope: ['provider'],
    default: 'https://ml.azure.com/.default',
    description: 'Entra ID scope of the token sent to online endpoints with authMode AADToken.',
  },
  {
    name: 'AZUREML_SCORING_TIMEOUT_MS',
    scope: ['provider'],
    default: '60000',
    description: 'Timeout of one infer call to an online endpoint (managed online endpoints allow up to 180 s).',
  },
  {
    name: 'AZUREML_ENDPOINT_INSTANCE_TYPE',
    scope: ['provider'],
    default: 'Standard_DS3_v2',
    description: 'VM size of an online deployment whose request names none.',
  },
] as const satisfies readonly SettingInfo[];

/** True when subscription, resource group and workspace are all set. */
export function isAzureMlConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return ['AZUREML_SUBSCRIPTION_ID', 'AZUREML_RESOURCE_GROUP', 'AZUREML_WORKSPACE'].every(
    (k) => (env[k] ?? '').trim() !== '',
  );
}

/** The asset operations (issue 18): same names on every provider. */
export const AZURE_ML_ASSET_KINDS = ASSET_OPS;
export type AzureMlAssetKind = (typeof AZURE_ML_ASSET_KINDS)[number];

/** The job kinds this provider runs, as `JobRecord.spec.kind`. */
export const AZURE_ML_JOB_KINDS = ['command', 'automl', ...AZURE_ML_ASSET_KINDS] as const;
export type AzureMlJobKind = (typeof AZURE_ML_JOB_KINDS)[number];

export function isAzureMlAssetKind(kind: string | undefined): kind is AzureMlAssetKind {
  return (AZURE_ML_ASSET_KINDS as readonly (string | undefined)[]).includes(kind);
}
