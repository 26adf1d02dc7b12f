import { z } from 'zod';
import { type Env, SettingsReader } from '../../settings.js';
import { AZURE_BATCH_SETTINGS, isAzureBatchConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them.
export { AZURE_BATCH_SETTINGS, isAzureBatchConfigured };

export type AzureBatchSettingName = (typeof AZURE_BATCH_SETTINGS)[number]['name'];

/** Parsed, typed settings of the Azure Batch provider. */
export interface AzureBatchSettings {
  readonly accountUrl: string;
  readonly sharedKey?: { readonly accountName: string; readonly accountKey: string };
  readonly poolId: string;
  readonly vmSize: string;
  readonly allowedVmSizes: readonly string[];
  readonly taskSlotsPerNode: number;
  readonly autoscale: boolean;
  readonly maxNodes: number;
  readonly nodeCount: number;
  readonly autoscaleFormula?: string;
  readonly autoscaleInterval: string;
  readonly image: {
    readonly publisher: string;
    readonly offer: string;
    readonly sku: string;
    readonly version: string;
  };
  readonly nodeAgentSku: string;
  readonly workerImage: string;
  readonly workerEntry: string;
  readonly registry?: {
    readonly server: string;
    readonly identityResourceId?: string;
    readonly userName?: string;
    readonly password?: string;
  };
  readonly stagingContainer: string;
  readonly outputPrefix: string;
  readonly inputSasTtlSec: number;
  readonly outputSasMarginSec: number;
  readonly maxTaskRetries: number;
  readonly retentionSec: number;
  readonly retry: { readonly attempts: number; readonly baseMs: number; readonly maxWaitMs: number };
  readonly requestRatePerSec: number;
  readonly requestBurst: number;
  readonly requestTimeoutMs: number;
}

const containerName = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/,
    'container names are 3-63 lower-case letters, digits and single hyphens',
  );
const batchId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,50}$/, 'ids use letters, digits, "-" and "_" (at most 50, leaving room for suffixes)');
const isoDuration = z
  .string()
  .regex(/^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$/, 'an ISO 8601 duration such as PT5M');

const accountUrl = z.url({ protocol: /^https?$/ });
const imageReference = z.string().regex(/^[^:\s]+:[^:\s]+:[^:\s]+:[^:\s]+$/, 'publisher:offer:sku:version');
const workerEntry = z.string().startsWith('/', 'an absolute path inside the image');
const autoscaleFormula = z.string().max(8000);
const outputPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, 'a blob path prefix without leading or trailing "/"');

/**
 * Parses the provider's settings from the raw environment, applying defaults. Throws
 * a ConfigurationError naming every bad setting, so a misconfigured provider fails at creation.
 */
export function parseAzureBatchSettings(env: Env): AzureBatchSettings {
  const read = new SettingsReader<AzureBatchSettingName>(env, AZURE_BATCH_SETTINGS);
  /** A setting with a shape that must be there (set or defaulted). */
  const shaped = <T>(name: AzureBatchSettingName, schema: z.ZodType<T>): T =>
    read.raw(name) === undefined ? (read.string(name) as T) : read.parse(name, schema);
  const optional = (name: AzureBatchSettingName): string | undefined => read.raw(name);
  const day = 24 * 3600;

  const url = shaped('AZURE_BATCH_ACCOUNT_URL', accountUrl);
  const accountName = optional('AZURE_BATCH_ACCOUNT_NAME');
  const accountKey = optional('AZURE_BATCH_ACCOUNT_KEY');
  const vmSize = read.string('AZURE_BATCH_VM_SIZE');
  const image = shaped('AZURE_BATCH_IMAGE', imageReference);
  const formula =
    read.raw('AZURE_BATCH_AUTOSCALE_FORMULA') === undefined
      ? undefined
      : read.parse('AZURE_BATCH_AUTOSCALE_FORMULA', autoscaleFormula);
  const registryServer = optional('AZURE_BATCH_REGISTRY_SERVER');
  const registryIdentity = optional('AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID');
  const registryUser = optional('AZURE_BATCH_REGISTRY_USERNAME');
  const registryPassword = optional('AZURE_BATCH_REGISTRY_PASSWORD');
  if (accountKey && !accountName) read.issue('AZURE_BATCH_ACCOUNT_NAME is required with AZURE_BATCH_ACCOUNT_KEY');
  if ((registryUser || registryPassword || registryIdentity) && !registryServer)
    read.issue('AZURE_BATCH_REGISTRY_SERVER is required with registry credentials');
  if (Boolean(registryUser) !== Boolean(registryPassword))
    read.issue('AZURE_BATCH_REGISTRY_USERNAME and AZURE_BATCH_REGISTRY_PASSWORD go together');

  const settings: AzureBatchSettings = {
    accountUrl: (url ?? '').replace(/\/+$/, ''),
    ...(accountKey && accountName ? { sharedKey: { accountName, accountKey } } : {}),
    poolId: shaped('AZURE_BATCH_POOL_ID', batchId),
    vmSize,
    allowedVmSizes: [...new Set([vmSize, ...read.list('AZURE_BATCH_ALLOWED_VM_SIZES')].map((v) => v.toLowerCase()))],
    taskSlotsPerNode: read.int('AZURE_BATCH_TASK_SLOTS_PER_NODE', { min: 1, max: 256 }),
    autoscale: read.bool('AZURE_BATCH_AUTOSCALE'),
    maxNodes: read.int('AZURE_BATCH_MAX_NODES', { min: 1, max: 10_000 }),
    nodeCount: read.int('AZURE_BATCH_NODE_COUNT', { min: 0, max: 10_000 }),
    ...(formula ? { autoscaleFormula: formula } : {}),
    autoscaleInterval: shaped('AZURE_BATCH_AUTOSCALE_INTERVAL', isoDuration),
    image: imageParts(image),
    nodeAgentSku: read.string('AZURE_BATCH_NODE_AGENT_SKU'),
    workerImage: read.string('AZURE_BATCH_WORKER_IMAGE'),
    workerEntry: shaped('AZURE_BATCH_WORKER_ENTRY', workerEntry),
    ...(registryServer
      ? {
          registry: {
            server: registryServer,
            ...(registryIdentity ? { identityResourceId: registryIdentity } : {}),
            ...(registryUser ? { userName: registryUser } : {}),
            ...(registryPassword ? { password: registryPassword } : {}),
          },
        }
      : {}),
    stagingContainer: shaped('AZURE_BATCH_STAGING_CONTAINER', containerName),
    outputPrefix: shaped('AZURE_BATCH_OUTPUT_PREFIX', outputPrefix),
    inputSasTtlSec: read.int('AZURE_BATCH_INPUT_SAS_TTL_SEC', { min: 300, max: 7 * day }),
    outputSasMarginSec: read.int('AZURE_BATCH_OUTPUT_SAS_MARGIN_SEC', { min: 0, max: 7 * day }),
    maxTaskRetries: read.int('AZURE_BATCH_MAX_TASK_RETRIES', { min: 0, max: 100 }),
    retentionSec: read.int('AZURE_BATCH_RETENTION_SEC', { min: 0, max: 365 * day }),
    retry: {
      attempts: read.int('AZURE_BATCH_RETRY_ATTEMPTS', { min: 1, max: 20 }),
      baseMs: read.int('AZURE_BATCH_RETRY_BASE_MS', { min: 0, max: 60_000 }),
      maxWaitMs: read.int('AZURE_BATCH_RETRY_MAX_WAIT_MS', { min: 0, max: 600_000 }),
    },
    requestRatePerSec: read.int('AZURE_BATCH_REQUEST_RATE_PER_SEC', { min: 1, max: 10_000 }),
    requestBurst: read.int('AZURE_BATCH_REQUEST_BURST', { min: 1, max: 10_000 }),
    requestTimeoutMs: read.int('AZURE_BATCH_REQUEST_TIMEOUT_MS', { min: 100, max: 600_000 }),
  };
  read.check('Invalid Azure Batch settings');
  return settings;
}

function imageParts(image: string | undefined): AzureBatchSettings['image'] {
  const [publisher = '', offer = '', sku = '', version = ''] = (image ?? '').split(':');
  return { publisher, offer, sku, version };
}
