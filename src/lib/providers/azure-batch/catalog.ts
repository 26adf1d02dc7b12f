import type { SettingInfo } from '../../config.js';

// The provider's settings and the check that it is configured: light (no zod, no SDK), so the
// descriptor in index.ts and the settings catalogue can import it from the Functions entry.

/**
 * Settings of the Azure Batch provider. Every endpoint and credential is a setting so tests and
 * deployments can point them elsewhere. Defaults: Standard_D2s_v3 nodes, 4 tasks per node, PT1H
 * retention, and autoscale on so an idle pool costs nothing.
 */
export const AZURE_BATCH_SETTINGS = [
  {
    name: 'AZURE_BATCH_ACCOUNT_URL',
    scope: ['provider'],
    description:
      'Batch account endpoint, e.g. https://<account>.<region>.batch.azure.com. Setting it enables the provider.',
  },
  {
    name: 'AZURE_BATCH_ACCOUNT_NAME',
    scope: ['provider'],
    description: 'Batch account name; required with AZURE_BATCH_ACCOUNT_KEY (shared-key auth).',
  },
  {
    name: 'AZURE_BATCH_ACCOUNT_KEY',
    scope: ['provider'],
    secret: true,
    description:
      'Batch account shared key. Leave unset to authenticate with Entra ID (managed identity / DefaultAzureCredential).',
  },
  {
    name: 'AZURE_BATCH_POOL_ID',
    scope: ['provider'],
    default: 'cjo-pool',
    description:
      'Pool that runs orchestrator tasks; created if missing. Per-job VM sizes get their own pool `<id>-<vmsize>`.',
  },
  {
    name: 'AZURE_BATCH_VM_SIZE',
    scope: ['provider'],
    default: 'Standard_D2s_v3',
    description: 'VM size of the default pool.',
  },
  {
    name: 'AZURE_BATCH_ALLOWED_VM_SIZES',
    scope: ['provider'],
    default: '',
    description: 'Comma-separated VM sizes a job may request in spec.vmSize (the default size is always allowed).',
  },
  {
    name: 'AZURE_BATCH_TASK_SLOTS_PER_NODE',
    scope: ['provider'],
    default: '4',
    description: 'Task slots per node (tasks that run at once on one node).',
  },
  {
    name: 'AZURE_BATCH_AUTOSCALE',
    scope: ['provider'],
    default: 'true',
    description:
      "Autoscale new pools ('true') with a formula that scales to zero when idle; 'false' uses AZURE_BATCH_NODE_COUNT fixed nodes.",
  },
  {
    name: 'AZURE_BATCH_MAX_NODES',
    scope: ['provider'],
    default: '10',
    description: 'Upper bound of the autoscale formula.',
  },
  {
    name: 'AZURE_BATCH_NODE_COUNT',
    scope: ['provider'],
    default: '1',
    description: 'Dedicated nodes of a new pool when autoscale is off.',
  },
  {
    name: 'AZURE_BATCH_AUTOSCALE_FORMULA',
    scope: ['provider'],
    description: 'Replaces the built-in autoscale formula (Batch formula language).',
  },
  {
    name: 'AZURE_BATCH_AUTOSCALE_INTERVAL',
    scope: ['provider'],
    default: 'PT5M',
    description: 'Autoscale evaluation interval (ISO 8601 duration, 5 min to 168 h).',
  },
  {
    name: 'AZURE_BATCH_IMAGE',
    scope: ['provider'],
    default: 'microsoft-dsvm:ubuntu-hpc:2204:latest',
    description: 'Marketplace image publisher:offer:sku:version of new pools; must be container-capable.',
  },
  {
    name: 'AZURE_BATCH_NODE_AGENT_SKU',
    scope: ['provider'],
    default: 'batch.node.ubuntu 22.04',
    description: 'Node agent SKU matching AZURE_BATCH_IMAGE.',
  },
  {
    name: 'AZURE_BATCH_WORKER_IMAGE',
    scope: ['provider'],
    default: 'cjo-worker:latest',
    description: 'Container image of the worker (registry/name:tag); pre-fetched on pool nodes.',
  },
  {
    name: 'AZURE_BATCH_WORKER_ENTRY',
    scope: ['provider'],
    default: '/app/dist/src/worker/main.js',
    description:
      "Absolute path of the worker entry inside the image (the task's working directory is the Batch task directory, not the image WORKDIR).",
  },
  {
    name: 'AZURE_BATCH_REGISTRY_SERVER',
    scope: ['provider'],
    description: 'Container registry server of the worker image (e.g. myacr.azurecr.io); unset for a public image.',
  },
  {
    name: 'AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID',
    scope: ['provider'],
    description:
      'Resource id of the user-assigned identity nodes use to pull from the registry (the pool must carry that identity).',
  },
  {
    name: 'AZURE_BATCH_REGISTRY_USERNAME',
    scope: ['provider'],
    description: 'Registry user name, when not using a managed identity.',
  },
  {
    name: 'AZURE_BATCH_REGISTRY_PASSWORD',
    scope: ['provider'],
    secret: true,
    description: 'Registry password, when not using a managed identity.',
  },
  {
    name: 'AZURE_BATCH_STAGING_CONTAINER',
    scope: ['provider'],
    default: 'batch-staging',
    description: 'Blob container of staged inputs (job spec JSON) handed to nodes through read-only SAS URLs.',
  },
  {
    name: 'AZURE_BATCH_OUTPUT_PREFIX',
    scope: ['provider'],
    default: 'azure-batch',
    description:
      'Blob prefix under RESULTS_CONTAINER where Batch uploads result.json, stdout.txt and stderr.txt of each job.',
  },
  {
    name: 'AZURE_BATCH_INPUT_SAS_TTL_SEC',
    scope: ['provider'],
    default: '14400',
    description: 'Lifetime of the read-only SAS of staged inputs; must cover the wait for a node (scale from zero).',
  },
  {
    name: 'AZURE_BATCH_OUTPUT_SAS_MARGIN_SEC',
    scope: ['provider'],
    default: '3600',
    description: 'Extra lifetime of the write-only output SAS beyond input TTL + max runtime.',
  },
  {
    name: 'AZURE_BATCH_MAX_TASK_RETRIES',
    scope: ['provider'],
    default: '0',
    description: 'Default maxTaskRetryCount; a job may ask for fewer or up to this many in spec.maxTaskRetryCount.',
  },
  {
    name: 'AZURE_BATCH_RETENTION_SEC',
    scope: ['provider'],
    default: '3600',
    description: 'How long finished tasks (node files) and staged blobs are kept before cleanup deletes them.',
  },
  {
    name: 'AZURE_BATCH_RETRY_ATTEMPTS',
    scope: ['provider'],
    default: '3',
    description:
      'Attempts per Batch call on 429/5xx/network errors before reporting the provider throttled/unavailable.',
  },
  {
    name: 'AZURE_BATCH_RETRY_BASE_MS',
    scope: ['provider'],
    default: '1000',
    description: 'First backoff between attempts when the service sends no Retry-After (doubles per attempt).',
  },
  {
    name: 'AZURE_BATCH_RETRY_MAX_WAIT_MS',
    scope: ['provider'],
    default: '10000',
    description: 'Longest in-process wait; a longer Retry-After is handed to the caller as ProviderThrottledError.',
  },
  {
    name: 'AZURE_BATCH_REQUEST_RATE_PER_SEC',
    scope: ['provider'],
    default: '50',
    description:
      'Client-side pace of Batch calls per second. Batch publishes no fixed request quota (it answers 429 TooManyRequests / 503 ServerBusy when an account sends too much), so polling stays well under it and lets bursts drain.',
  },
  {
    name: 'AZURE_BATCH_REQUEST_BURST',
    scope: ['provider'],
    default: '100',
    description: 'Calls that may go at once after a quiet spell (the size of the client-side token bucket).',
  },
  {
    name: 'AZURE_BATCH_REQUEST_TIMEOUT_MS',
    scope: ['provider'],
    default: '30000',
    description:
      'Time one Batch request may take before it is abandoned and retried; a task add whose reply was lost re-attaches on retry (TaskExists).',
  },
] as const satisfies readonly SettingInfo[];

/** True when the provider has an account to talk to. */
export function isAzureBatchConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.AZURE_BATCH_ACCOUNT_URL?.trim());
}
