import { z } from 'zod';
import { ConfigurationError } from '../../errors.js';
import { AZURE_BATCH_SETTINGS, isAzureBatchConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them with zod.
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

type Env = Readonly<Record<string, string | undefined>>;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
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

const schema = z.object({
  AZURE_BATCH_ACCOUNT_URL: z.url({ protocol: /^https?$/ }),
  AZURE_BATCH_ACCOUNT_NAME: z.string().optional(),
  AZURE_BATCH_ACCOUNT_KEY: z.string().optional(),
  AZURE_BATCH_POOL_ID: batchId,
  AZURE_BATCH_VM_SIZE: z.string().min(1),
  AZURE_BATCH_ALLOWED_VM_SIZES: z.string(),
  AZURE_BATCH_TASK_SLOTS_PER_NODE: int(1, 256),
  AZURE_BATCH_AUTOSCALE: z.enum(['true', 'false']),
  AZURE_BATCH_MAX_NODES: int(1, 10_000),
  AZURE_BATCH_NODE_COUNT: int(0, 10_000),
  AZURE_BATCH_AUTOSCALE_FORMULA: z.string().max(8000).optional(),
  AZURE_BATCH_AUTOSCALE_INTERVAL: isoDuration,
  AZURE_BATCH_IMAGE: z.string().regex(/^[^:\s]+:[^:\s]+:[^:\s]+:[^:\s]+$/, 'publisher:offer:sku:version'),
  AZURE_BATCH_NODE_AGENT_SKU: z.string().min(1),
  AZURE_BATCH_WORKER_IMAGE: z.string().min(1),
  AZURE_BATCH_WORKER_ENTRY: z.string().startsWith('/', 'an absolute path inside the image'),
  AZURE_BATCH_REGISTRY_SERVER: z.string().optional(),
  AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID: z.string().optional(),
  AZURE_BATCH_REGISTRY_USERNAME: z.string().optional(),
  AZURE_BATCH_REGISTRY_PASSWORD: z.string().optional(),
  AZURE_BATCH_STAGING_CONTAINER: containerName,
  AZURE_BATCH_OUTPUT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, 'a blob path prefix without leading or trailing "/"'),
  AZURE_BATCH_INPUT_SAS_TTL_SEC: int(300, 7 * 24 * 3600),
  AZURE_BATCH_OUTPUT_SAS_MARGIN_SEC: int(0, 7 * 24 * 3600),
  AZURE_BATCH_MAX_TASK_RETRIES: int(0, 100),
  AZURE_BATCH_RETENTION_SEC: int(0, 365 * 24 * 3600),
  AZURE_BATCH_RETRY_ATTEMPTS: int(1, 20),
  AZURE_BATCH_RETRY_BASE_MS: int(0, 60_000),
  AZURE_BATCH_RETRY_MAX_WAIT_MS: int(0, 600_000),
  AZURE_BATCH_REQUEST_RATE_PER_SEC: int(1, 10_000),
  AZURE_BATCH_REQUEST_BURST: int(1, 10_000),
  AZURE_BATCH_REQUEST_TIMEOUT_MS: int(100, 600_000),
});

/**
 * Parses the provider's settings from the raw environment, applying defaults. Throws
 * {@link ConfigurationError} naming every bad setting, so a misconfigured provider fails at creation.
 */
export function parseAzureBatchSettings(env: Env): AzureBatchSettings {
  const raw: Record<string, string | undefined> = {};
  for (const s of AZURE_BATCH_SETTINGS) {
    const v = env[s.name]?.trim();
    raw[s.name] = v === undefined || v === '' ? ('default' in s ? s.default : undefined) : v;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigurationError(
      `Invalid Azure Batch settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const s = parsed.data;
  const problems: string[] = [];
  if (s.AZURE_BATCH_ACCOUNT_KEY && !s.AZURE_BATCH_ACCOUNT_NAME)
    problems.push('AZURE_BATCH_ACCOUNT_NAME is required with AZURE_BATCH_ACCOUNT_KEY');
  const hasRegistryCreds = Boolean(
    s.AZURE_BATCH_REGISTRY_USERNAME || s.AZURE_BATCH_REGISTRY_PASSWORD || s.AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID,
  );
  if (hasRegistryCreds && !s.AZURE_BATCH_REGISTRY_SERVER)
    problems.push('AZURE_BATCH_REGISTRY_SERVER is required with registry credentials');
  if (Boolean(s.AZURE_BATCH_REGISTRY_USERNAME) !== Boolean(s.AZURE_BATCH_REGISTRY_PASSWORD)) {
    problems.push('AZURE_BATCH_REGISTRY_USERNAME and AZURE_BATCH_REGISTRY_PASSWORD go together');
  }
  if (problems.length > 0) throw new ConfigurationError(`Invalid Azure Batch settings: ${problems.join('; ')}`);

  const [publisher, offer, sku, version] = s.AZURE_BATCH_IMAGE.split(':') as [string, string, string, string];
  const allowed = s.AZURE_BATCH_ALLOWED_VM_SIZES.split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  return {
    accountUrl: s.AZURE_BATCH_ACCOUNT_URL.replace(/\/+$/, ''),
    ...(s.AZURE_BATCH_ACCOUNT_KEY && s.AZURE_BATCH_ACCOUNT_NAME
      ? { sharedKey: { accountName: s.AZURE_BATCH_ACCOUNT_NAME, accountKey: s.AZURE_BATCH_ACCOUNT_KEY } }
      : {}),
    poolId: s.AZURE_BATCH_POOL_ID,
    vmSize: s.AZURE_BATCH_VM_SIZE,
    allowedVmSizes: [...new Set([s.AZURE_BATCH_VM_SIZE, ...allowed].map((v) => v.toLowerCase()))],
    taskSlotsPerNode: s.AZURE_BATCH_TASK_SLOTS_PER_NODE,
    autoscale: s.AZURE_BATCH_AUTOSCALE === 'true',
    maxNodes: s.AZURE_BATCH_MAX_NODES,
    nodeCount: s.AZURE_BATCH_NODE_COUNT,
    ...(s.AZURE_BATCH_AUTOSCALE_FORMULA ? { autoscaleFormula: s.AZURE_BATCH_AUTOSCALE_FORMULA } : {}),
    autoscaleInterval: s.AZURE_BATCH_AUTOSCALE_INTERVAL,
    image: { publisher, offer, sku, version },
    nodeAgentSku: s.AZURE_BATCH_NODE_AGENT_SKU,
    workerImage: s.AZURE_BATCH_WORKER_IMAGE,
    workerEntry: s.AZURE_BATCH_WORKER_ENTRY,
    ...(s.AZURE_BATCH_REGISTRY_SERVER
      ? {
          registry: {
            server: s.AZURE_BATCH_REGISTRY_SERVER,
            ...(s.AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID
              ? { identityResourceId: s.AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID }
              : {}),
            ...(s.AZURE_BATCH_REGISTRY_USERNAME ? { userName: s.AZURE_BATCH_REGISTRY_USERNAME } : {}),
            ...(s.AZURE_BATCH_REGISTRY_PASSWORD ? { password: s.AZURE_BATCH_REGISTRY_PASSWORD } : {}),
          },
        }
      : {}),
    stagingContainer: s.AZURE_BATCH_STAGING_CONTAINER,
    outputPrefix: s.AZURE_BATCH_OUTPUT_PREFIX,
    inputSasTtlSec: s.AZURE_BATCH_INPUT_SAS_TTL_SEC,
    outputSasMarginSec: s.AZURE_BATCH_OUTPUT_SAS_MARGIN_SEC,
    maxTaskRetries: s.AZURE_BATCH_MAX_TASK_RETRIES,
    retentionSec: s.AZURE_BATCH_RETENTION_SEC,
    retry: {
      attempts: s.AZURE_BATCH_RETRY_ATTEMPTS,
      baseMs: s.AZURE_BATCH_RETRY_BASE_MS,
      maxWaitMs: s.AZURE_BATCH_RETRY_MAX_WAIT_MS,
    },
    requestRatePerSec: s.AZURE_BATCH_REQUEST_RATE_PER_SEC,
    requestBurst: s.AZURE_BATCH_REQUEST_BURST,
    requestTimeoutMs: s.AZURE_BATCH_REQUEST_TIMEOUT_MS,
  };
}
