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
}

/** Parses the provider's settings; throws a ConfigurationError naming every bad one. */
export function parseAzureMlSettings(env: Env): AzureMlSettings {
  const read = new SettingsReader<AzureMlSettingName>(env, AZURE_ML_SETTINGS);
  const subscriptionId = read.string('AZUREML_SUBSCRIPTION_ID');
  const resourceGroup = read.string('AZUREML_RESOURCE_GROUP');
  const workspace = read.isSet('AZUREML_WORKSPACE')
    ? read.parse('AZUREML_WORKSPACE', workspaceName)
    : read.string('AZUREML_WORKSPACE');
  const defaultCompute = read.raw('AZUREML_DEFAULT_COMPUTE');
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
  };
  read.check('Azure ML provider');
  return Object.freeze(settings);
}
