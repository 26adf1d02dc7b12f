import { z } from 'zod';
import { type Env, SettingsReader } from '../../settings.js';
import { AZURE_ML_SETTINGS, isAzureMlConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them.
export { AZURE_ML_SETTINGS, isAzureMlConfigured };

type AzureMlSettingName = (typeof AZURE_ML_SETTINGS)[number]['name'];

const workspaceName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/, 'AZUREML_WORKSPACE is not a valid workspace name');

/** An https origin: the bearer token must never travel over plain HTTP (tests use a TLS fake). */
const armEndpoint = z.string().transform((raw, ctx) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: `AZUREML_ARM_ENDPOINT is not a URL: '${raw}'` });
    return z.NEVER;
  }
  if (url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'AZUREML_ARM_ENDPOINT must be an https URL' });
    return z.NEVER;
  }
  return url.origin;
});

const apiVersion = z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'AZUREML_API_VERSION looks like 2024-04-01');

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
  /** Datastore folder exports copy into (no trailing slash); unset refuses exports. */
  readonly exportPath?: string;
  readonly exportEnvironment: string;
  /** Hosts a scoring URI may name (`.suffix` matches subdomains); the inference token goes nowhere else. */
  readonly scoringHosts: readonly string[];
  readonly scoringScope: string;
  readonly scoringTimeoutMs: number;
  readonly endpointInstanceType: string;
}

/** `azureml://datastores/<datastore>/paths/<folder>`: where an export's copy job uploads to. */
const exportPath = z
  .string()
  .regex(
    /^azureml:\/\/datastores\/[A-Za-z0-9_]+\/paths\/[A-Za-z0-9._\-/]+$/,
    'AZUREML_EXPORT_PATH looks like azureml://datastores/<datastore>/paths/<folder>',
  )
  .refine((v) => !v.split('/').includes('..'), 'AZUREML_EXPORT_PATH must not contain ".."')
  .transform((v) => v.replace(/\/+$/, ''));

/** Parses the provider's settings; throws a ConfigurationError naming every bad one. */
export function parseAzureMlSettings(env: Env): AzureMlSettings {
  const read = new SettingsReader<AzureMlSettingName>(env, AZURE_ML_SETTINGS);
  const subscriptionId = read.string('AZUREML_SUBSCRIPTION_ID');
  const resourceGroup = read.string('AZUREML_RESOURCE_GROUP');
  const workspace = read.isSet('AZUREML_WORKSPACE')
    ? read.parse('AZUREML_WORKSPACE', workspaceName)
    : read.string('AZUREML_WORKSPACE');
  const defaultCompute = read.raw('AZUREML_DEFAULT_COMPUTE');
  const exportTo = read.isSet('AZUREML_EXPORT_PATH') ? read.parse('AZUREML_EXPORT_PATH', exportPath) : undefined;
  const scoringHosts = read.list('AZUREML_SCORING_HOSTS').map((h) => h.toLowerCase());
  if (scoringHosts.length === 0) read.issue('AZUREML_SCORING_HOSTS must name at least one host');
  const settings: AzureMlSettings = {
    subscriptionId,
    resourceGroup,
    workspace,
    armEndpoint: read.parse('AZUREML_ARM_ENDPOINT', armEndpoint),
    apiVersion: read.parse('AZUREML_API_VERSION', apiVersion),
    ...(defaultCompute !== undefined && { defaultCompute }),
    tagKey: read.string('AZUREML_TAG_KEY'),
    experiment: read.string('AZUREML_EXPERIMENT'),
    requestTimeoutMs: read.int('AZUREML_REQUEST_TIMEOUT_MS', { min: 1 }),
    retries: read.int('AZUREML_RETRIES', { min: 0 }),
    retryDelayMs: read.int('AZUREML_RETRY_DELAY_MS', { min: 0 }),
    cancelWaitMs: read.int('AZUREML_CANCEL_WAIT_MS', { min: 0 }),
    readRatePerSec: read.int('AZUREML_READ_RATE_PER_SEC', { min: 1 }),
    readBurst: read.int('AZUREML_READ_BURST', { min: 1 }),
    ...(exportTo !== undefined && { exportPath: exportTo }),
    exportEnvironment: read.string('AZUREML_EXPORT_ENVIRONMENT'),
    scoringHosts,
    scoringScope: read.string('AZUREML_SCORING_SCOPE'),
    scoringTimeoutMs: read.int('AZUREML_SCORING_TIMEOUT_MS', { min: 1 }),
    endpointInstanceType: read.string('AZUREML_ENDPOINT_INSTANCE_TYPE'),
  };
  read.check('Azure ML provider');
  return Object.freeze(settings);
}
