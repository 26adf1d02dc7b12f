import { z } from 'zod';
import type { SettingInfo } from '../../config.js';
import { ConfigurationError } from '../../errors.js';

/** Every setting the Azure ML provider reads. Merged into the catalogue by the lead. */
export const AZURE_ML_SETTINGS = [
  { name: 'AZUREML_SUBSCRIPTION_ID', scope: ['provider'], description: 'Azure subscription id of the Azure Machine Learning workspace.' },
  { name: 'AZUREML_RESOURCE_GROUP', scope: ['provider'], description: 'Resource group of the Azure Machine Learning workspace.' },
  { name: 'AZUREML_WORKSPACE', scope: ['provider'], description: 'Name of the Azure Machine Learning workspace jobs are created in.' },
  { name: 'AZUREML_ARM_ENDPOINT', scope: ['provider'], default: 'https://management.azure.com', description: 'Azure Resource Manager endpoint (sovereign clouds, or a local fake in tests). Must be https: tokens are never sent in clear text.' },
  { name: 'AZUREML_API_VERSION', scope: ['provider'], default: '2024-04-01', description: 'api-version of the Microsoft.MachineLearningServices jobs API. 2024-04-01 or newer keeps AutoML limit and metric settings.' },
  { name: 'AZUREML_DEFAULT_COMPUTE', scope: ['provider'], description: 'Compute cluster name (or ARM id) used when a job spec names none.' },
  { name: 'AZUREML_TAG_KEY', scope: ['provider'], default: 'cjo-job-id', description: 'Tag key carrying our job id on every Azure ML job; polling lists jobs having this tag.' },
  { name: 'AZUREML_EXPERIMENT', scope: ['provider'], default: 'cloud-job-orchestrator', description: 'Experiment name for jobs whose spec names none.' },
  { name: 'AZUREML_REQUEST_TIMEOUT_MS', scope: ['provider'], default: '30000', description: 'Timeout of one Resource Manager request.' },
  { name: 'AZUREML_RETRIES', scope: ['provider'], default: '2', description: 'In-call retries of a 5xx or network failure before it surfaces as ProviderUnavailable (429 is never retried in-call: its Retry-After is handed to the caller).' },
  { name: 'AZUREML_RETRY_DELAY_MS', scope: ['provider'], default: '500', description: 'First delay of the in-call 5xx retry (doubles each time, capped by Retry-After when the service sends one).' },
  { name: 'AZUREML_READ_RATE_PER_SEC', scope: ['provider'], default: '25', description: 'Client-side pace of Resource Manager reads (GETs), in reads per second. ARM refills 25 reads/s per principal into a bucket of 250; a poll cycle stays under it instead of running into 429s.' },
  { name: 'AZUREML_READ_BURST', scope: ['provider'], default: '250', description: 'Reads that may go at once after a quiet spell (the size of the client-side token bucket; ARM documents 250).' },
  { name: 'AZUREML_CANCEL_WAIT_MS', scope: ['provider'], default: '10000', description: 'How long cancel follows the cancel operation (202 + Location) before leaving the confirmation to the poller.' },
] as const satisfies readonly SettingInfo[];

const positiveInt = (name: string, fallback: number, min = 0) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a whole number ≥ ${min}, got '${v}'` });
        return z.NEVER;
      }
      return n;
    });

const text = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const SettingsSchema = z.object({
  AZUREML_SUBSCRIPTION_ID: text.pipe(z.string({ message: 'AZUREML_SUBSCRIPTION_ID is required' })),
  AZUREML_RESOURCE_GROUP: text.pipe(z.string({ message: 'AZUREML_RESOURCE_GROUP is required' })),
  AZUREML_WORKSPACE: text.pipe(
    z.string({ message: 'AZUREML_WORKSPACE is required' }).regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/, 'AZUREML_WORKSPACE is not a valid workspace name'),
  ),
  AZUREML_ARM_ENDPOINT: text.transform((v, ctx) => {
    const raw = v ?? 'https://management.azure.com';
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      ctx.addIssue({ code: 'custom', message: `AZUREML_ARM_ENDPOINT is not a URL: '${raw}'` });
      return z.NEVER;
    }
    // The bearer token must never travel over plain HTTP; tests use a TLS fake instead.
    if (url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'AZUREML_ARM_ENDPOINT must be an https URL' });
      return z.NEVER;
    }
    return url.origin;
  }),
  AZUREML_API_VERSION: text.transform((v) => v ?? '2024-04-01').pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'AZUREML_API_VERSION looks like 2024-04-01')),
  AZUREML_DEFAULT_COMPUTE: text,
  AZUREML_TAG_KEY: text.transform((v) => v ?? 'cjo-job-id'),
  AZUREML_EXPERIMENT: text.transform((v) => v ?? 'cloud-job-orchestrator'),
  AZUREML_REQUEST_TIMEOUT_MS: positiveInt('AZUREML_REQUEST_TIMEOUT_MS', 30_000, 1),
  AZUREML_RETRIES: positiveInt('AZUREML_RETRIES', 2),
  AZUREML_RETRY_DELAY_MS: positiveInt('AZUREML_RETRY_DELAY_MS', 500),
  AZUREML_CANCEL_WAIT_MS: positiveInt('AZUREML_CANCEL_WAIT_MS', 10_000),
  AZUREML_READ_RATE_PER_SEC: positiveInt('AZUREML_READ_RATE_PER_SEC', 25, 1),
  AZUREML_READ_BURST: positiveInt('AZUREML_READ_BURST', 250, 1),
});

/** The parsed settings of the Azure ML provider. */
export interface AzureMlSettings {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  /** Origin of Resource Manager, no trailing slash. */
  readonly armEndpoint: string;
  readonly apiVersion: string;
  readonly defaultCompute?: string;
  readonly tagKey: string;
  readonly experiment: string;
  readonly requestTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly cancelWaitMs: number;
  readonly readRatePerSec: number;
  readonly readBurst: number;
}

/** True when subscription, resource group and workspace are all set. */
export function isAzureMlConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return ['AZUREML_SUBSCRIPTION_ID', 'AZUREML_RESOURCE_GROUP', 'AZUREML_WORKSPACE'].every((k) => (env[k] ?? '').trim() !== '');
}

/** Parses the provider's settings; throws {@link ConfigurationError} naming every bad one. */
export function parseAzureMlSettings(env: Readonly<Record<string, string | undefined>>): AzureMlSettings {
  const picked = Object.fromEntries(AZURE_ML_SETTINGS.map((s) => [s.name, env[s.name]]));
  const r = SettingsSchema.safeParse(picked);
  if (!r.success) {
    throw new ConfigurationError(`Azure ML provider: ${r.error.issues.map((i) => i.message).join('; ')}`);
  }
  const s = r.data;
  return Object.freeze({
    subscriptionId: s.AZUREML_SUBSCRIPTION_ID,
    resourceGroup: s.AZUREML_RESOURCE_GROUP,
    workspace: s.AZUREML_WORKSPACE,
    armEndpoint: s.AZUREML_ARM_ENDPOINT,
    apiVersion: s.AZUREML_API_VERSION,
    ...(s.AZUREML_DEFAULT_COMPUTE !== undefined && { defaultCompute: s.AZUREML_DEFAULT_COMPUTE }),
    tagKey: s.AZUREML_TAG_KEY,
    experiment: s.AZUREML_EXPERIMENT,
    requestTimeoutMs: s.AZUREML_REQUEST_TIMEOUT_MS,
    retries: s.AZUREML_RETRIES,
    retryDelayMs: s.AZUREML_RETRY_DELAY_MS,
    cancelWaitMs: s.AZUREML_CANCEL_WAIT_MS,
    readRatePerSec: s.AZUREML_READ_RATE_PER_SEC,
    readBurst: s.AZUREML_READ_BURST,
  });
}
