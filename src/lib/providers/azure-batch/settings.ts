import { z } from 'zod';
import type { SettingInfo } from '../../config.js';
import { ConfigurationError } from '../../errors.js';

/**
 * Settings of the Azure Batch provider. Every endpoint and credential is a setting so tests and
 * deployments can point them elsewhere. Defaults are those of the ddeutil-workflow Batch provider this
 * one replaces (Standard_D2s_v3, 4 tasks per node, PT1H retention) except autoscale, which is on so an
 * idle pool costs nothing.
 */
export const AZURE_BATCH_SETTINGS = [
  { name: 'AZURE_BATCH_ACCOUNT_URL', scope: ['provider'], description: 'Batch account endpoint, e.g. https://<account>.<region>.batch.azure.com. Setting it enables the provider.' },
  { name: 'AZURE_BATCH_ACCOUNT_NAME', scope: ['provider'], description: 'Batch account name; required with AZURE_BATCH_ACCOUNT_KEY (shared-key auth).' },
  { name: 'AZURE_BATCH_ACCOUNT_KEY', scope: ['provider'], secret: true, description: 'Batch account shared key. Leave unset to authenticate with Entra ID (managed identity / DefaultAzureCredential).' },
  { name: 'AZURE_BATCH_POOL_ID', scope: ['provider'], default: 'cjo-pool', description: 'Pool that runs orchestrator tasks; created if missing. Per-job VM sizes get their own pool `<id>-<vmsize>`.' },
  { name: 'AZURE_BATCH_VM_SIZE', scope: ['provider'], default: 'Standard_D2s_v3', description: 'VM size of the default pool.' },
  { name: 'AZURE_BATCH_ALLOWED_VM_SIZES', scope: ['provider'], default: '', description: 'Comma-separated VM sizes a job may request in spec.vmSize (the default size is always allowed).' },
  { name: 'AZURE_BATCH_TASK_SLOTS_PER_NODE', scope: ['provider'], default: '4', description: 'Task slots per node (tasks that run at once on one node).' },
  { name: 'AZURE_BATCH_AUTOSCALE', scope: ['provider'], default: 'true', description: "Autoscale new pools ('true') with a formula that scales to zero when idle; 'false' uses AZURE_BATCH_NODE_COUNT fixed nodes." },
  { name: 'AZURE_BATCH_MAX_NODES', scope: ['provider'], default: '10', description: 'Upper bound of the autoscale formula.' },
  { name: 'AZURE_BATCH_NODE_COUNT', scope: ['provider'], default: '1', description: 'Dedicated nodes of a new pool when autoscale is off.' },
  { name: 'AZURE_BATCH_AUTOSCALE_FORMULA', scope: ['provider'], description: 'Replaces the built-in autoscale formula (Batch formula language).' },
  { name: 'AZURE_BATCH_AUTOSCALE_INTERVAL', scope: ['provider'], default: 'PT5M', description: 'Autoscale evaluation interval (ISO 8601 duration, 5 min to 168 h).' },
  { name: 'AZURE_BATCH_IMAGE', scope: ['provider'], default: 'microsoft-dsvm:ubuntu-hpc:2204:latest', description: 'Marketplace image publisher:offer:sku:version of new pools; must be container-capable.' },
  { name: 'AZURE_BATCH_NODE_AGENT_SKU', scope: ['provider'], default: 'batch.node.ubuntu 22.04', description: 'Node agent SKU matching AZURE_BATCH_IMAGE.' },
  { name: 'AZURE_BATCH_WORKER_IMAGE', scope: ['provider'], default: 'cjo-worker:latest', description: 'Container image of the worker (registry/name:tag); pre-fetched on pool nodes.' },
  { name: 'AZURE_BATCH_WORKER_ENTRY', scope: ['provider'], default: '/app/dist/src/worker/main.js', description: "Absolute path of the worker entry inside the image (the task's working directory is the Batch task directory, not the image WORKDIR)." },
  { name: 'AZURE_BATCH_REGISTRY_SERVER', scope: ['provider'], description: 'Container registry server of the worker image (e.g. myacr.azurecr.io); unset for a public image.' },
  { name: 'AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID', scope: ['provider'], description: 'Resource id of the user-assigned identity nodes use to pull from the registry (the pool must carry that identity).' },
  { name: 'AZURE_BATCH_REGISTRY_USERNAME', scope: ['provider'], description: 'Registry user name, when not using a managed identity.' },
  { name: 'AZURE_BATCH_REGISTRY_PASSWORD', scope: ['provider'], secret: true, description: 'Registry password, when not using a managed identity.' },
  { name: 'AZURE_BATCH_STAGING_CONTAINER', scope: ['provider'], default: 'batch-staging', description: 'Blob container of staged inputs (job spec JSON) handed to nodes through read-only SAS URLs.' },
  { name: 'AZURE_BATCH_OUTPUT_PREFIX', scope: ['provider'], default: 'azure-batch', description: 'Blob prefix under RESULTS_CONTAINER where Batch uploads result.json, stdout.txt and stderr.txt of each job.' },
  { name: 'AZURE_BATCH_INPUT_SAS_TTL_SEC', scope: ['provider'], default: '14400', description: 'Lifetime of the read-only SAS of staged inputs; must cover the wait for a node (scale from zero).' },
  { name: 'AZURE_BATCH_OUTPUT_SAS_MARGIN_SEC', scope: ['provider'], default: '3600', description: 'Extra lifetime of the write-only output SAS beyond input TTL + max runtime.' },
  { name: 'AZURE_BATCH_MAX_TASK_RETRIES', scope: ['provider'], default: '0', description: 'Default maxTaskRetryCount; a job may ask for fewer or up to this many in spec.maxTaskRetryCount.' },
  { name: 'AZURE_BATCH_RETENTION_SEC', scope: ['provider'], default: '3600', description: 'How long finished tasks (node files) and staged blobs are kept before cleanup deletes them.' },
  { name: 'AZURE_BATCH_RETRY_ATTEMPTS', scope: ['provider'], default: '3', description: 'Attempts per Batch call on 429/5xx/network errors before reporting the provider throttled/unavailable.' },
  { name: 'AZURE_BATCH_RETRY_BASE_MS', scope: ['provider'], default: '1000', description: 'First backoff between attempts when the service sends no Retry-After (doubles per attempt).' },
  { name: 'AZURE_BATCH_RETRY_MAX_WAIT_MS', scope: ['provider'], default: '10000', description: 'Longest in-process wait; a longer Retry-After is handed to the caller as ProviderThrottledError.' },
  { name: 'AZURE_BATCH_REQUEST_RATE_PER_SEC', scope: ['provider'], default: '50', description: 'Client-side pace of Batch calls per second. Batch publishes no fixed request quota (it answers 429 TooManyRequests / 503 ServerBusy when an account sends too much), so polling stays well under it and lets bursts drain.' },
  { name: 'AZURE_BATCH_REQUEST_BURST', scope: ['provider'], default: '100', description: 'Calls that may go at once after a quiet spell (the size of the client-side token bucket).' },
  { name: 'AZURE_BATCH_REQUEST_TIMEOUT_MS', scope: ['provider'], default: '30000', description: 'Time one Batch request may take before it is abandoned and retried; a task add whose reply was lost re-attaches on retry (TaskExists).' },
] as const satisfies readonly SettingInfo[];

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
  readonly image: { readonly publisher: string; readonly offer: string; readonly sku: string; readonly version: string };
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

/** True when the provider has an account to talk to. */
export function isAzureBatchConfigured(env: Env): boolean {
  return Boolean(env.AZURE_BATCH_ACCOUNT_URL?.trim());
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const containerName = z.string().regex(/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/, 'container names are 3-63 lower-case letters, digits and single hyphens');
const batchId = z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, 'ids use letters, digits, "-" and "_" (at most 50, leaving room for suffixes)');
const isoDuration = z.string().regex(/^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$/, 'an ISO 8601 duration such as PT5M');

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
  AZURE_BATCH_OUTPUT_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, 'a blob path prefix without leading or trailing "/"'),
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
  if (s.AZURE_BATCH_ACCOUNT_KEY && !s.AZURE_BATCH_ACCOUNT_NAME) problems.push('AZURE_BATCH_ACCOUNT_NAME is required with AZURE_BATCH_ACCOUNT_KEY');
  const hasRegistryCreds = Boolean(s.AZURE_BATCH_REGISTRY_USERNAME || s.AZURE_BATCH_REGISTRY_PASSWORD || s.AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID);
  if (hasRegistryCreds && !s.AZURE_BATCH_REGISTRY_SERVER) problems.push('AZURE_BATCH_REGISTRY_SERVER is required with registry credentials');
  if (Boolean(s.AZURE_BATCH_REGISTRY_USERNAME) !== Boolean(s.AZURE_BATCH_REGISTRY_PASSWORD)) {
    problems.push('AZURE_BATCH_REGISTRY_USERNAME and AZURE_BATCH_REGISTRY_PASSWORD go together');
  }
  if (problems.length > 0) throw new ConfigurationError(`Invalid Azure Batch settings: ${problems.join('; ')}`);

  const [publisher, offer, sku, version] = s.AZURE_BATCH_IMAGE.split(':') as [string, string, string, string];
  const allowed = s.AZURE_BATCH_ALLOWED_VM_SIZES.split(',').map((v) => v.trim()).filter(Boolean);
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
            ...(s.AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID ? { identityResourceId: s.AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID } : {}),
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
    retry: { attempts: s.AZURE_BATCH_RETRY_ATTEMPTS, baseMs: s.AZURE_BATCH_RETRY_BASE_MS, maxWaitMs: s.AZURE_BATCH_RETRY_MAX_WAIT_MS },
    requestRatePerSec: s.AZURE_BATCH_REQUEST_RATE_PER_SEC,
    requestBurst: s.AZURE_BATCH_REQUEST_BURST,
    requestTimeoutMs: s.AZURE_BATCH_REQUEST_TIMEOUT_MS,
  };
}
