import { z } from 'zod';
import { ConfigurationError } from '../../errors.js';
import { AZURE_ML_SETTINGS, isAzureMlConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them with zod.
export { AZURE_ML_SETTINGS, isAzureMlConfigured };

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
    z
      .string({ message: 'AZUREML_WORKSPACE is required' })
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/, 'AZUREML_WORKSPACE is not a valid workspace name'),
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
  AZUREML_API_VERSION: text
    .transform((v) => v ?? '2024-04-01')
    .pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'AZUREML_API_VERSION looks like 2024-04-01')),
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
