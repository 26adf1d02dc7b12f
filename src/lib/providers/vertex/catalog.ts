import { ASSET_OPS } from '../../core/asset-ops.js';
import type { SettingInfo } from '../../config.js';

// The provider's settings and the check that it is configured: light (no zod, no SDK), so the
// descriptor in index.ts and the settings catalogue can import it from the Functions entry.

/**
 * Settings of the Vertex AI provider. Every endpoint and credential is a setting so tests (a local
 * fake) and other deployments (private endpoints, other universes) can point the client elsewhere.
 */
export const VERTEX_SETTINGS = [
  {
    name: 'VERTEX_PROJECT',
    scope: ['provider'],
    description: 'Google Cloud project id that owns the Vertex AI jobs. Required to enable the provider.',
  },
  {
    name: 'VERTEX_LOCATION',
    scope: ['provider'],
    description:
      'Vertex AI region (e.g. us-central1). Required to enable the provider; also selects the regional API endpoint.',
  },
  {
    name: 'VERTEX_CREDENTIALS_JSON',
    scope: ['provider'],
    description:
      'Service-account key JSON. When unset, Application Default Credentials are used (workload identity federation, GOOGLE_APPLICATION_CREDENTIALS, metadata server).',
    secret: true,
  },
  {
    name: 'VERTEX_API_ENDPOINT',
    scope: ['provider'],
    description:
      'API host override. Default: <VERTEX_LOCATION>-aiplatform.googleapis.com (Vertex resources live on regional endpoints).',
  },
  { name: 'VERTEX_API_PORT', scope: ['provider'], default: '443', description: 'API port.' },
  {
    name: 'VERTEX_API_PROTOCOL',
    scope: ['provider'],
    default: 'https',
    description: "'https', or 'http' for a local stand-in (only with VERTEX_TRANSPORT=rest).",
  },
  {
    name: 'VERTEX_TRANSPORT',
    scope: ['provider'],
    default: 'grpc',
    description: "Client transport: 'grpc' (the SDK default) or 'rest' (HTTP/1.1 JSON fallback).",
  },
  {
    name: 'VERTEX_LABEL_KEY',
    scope: ['provider'],
    default: 'cjo_job_id',
    description:
      'Label key carrying our job id on every Vertex resource; used to re-attach on redelivery and to filter list calls. Lowercase letters, digits, "_" (no "-": it is the negation operator of the list filter grammar).',
  },
  {
    name: 'VERTEX_PAGE_SIZE',
    scope: ['provider'],
    default: '100',
    description: 'Page size of list calls while polling (1-100).',
  },
  {
    name: 'VERTEX_READ_RATE_PER_SEC',
    scope: ['provider'],
    default: '10',
    description:
      'Client-side pace of get/list/cancel calls per second. Vertex AI allows 600 resource-management (CRUD) requests per minute per region, i.e. 10/s.',
  },
  {
    name: 'VERTEX_READ_BURST',
    scope: ['provider'],
    default: '10',
    description: 'Calls that may go at once after a quiet spell (the size of the client-side token bucket).',
  },
  {
    name: 'VERTEX_READ_RETRIES',
    scope: ['provider'],
    default: '2',
    description:
      'Extra attempts of get/list/cancel calls on RESOURCE_EXHAUSTED/UNAVAILABLE inside one poll; creates are never retried (not idempotent).',
  },
  {
    name: 'VERTEX_RETRY_BASE_MS',
    scope: ['provider'],
    default: '500',
    description: 'First backoff delay of those retries (doubles each attempt; a Retry-After hint wins).',
  },
  {
    name: 'VERTEX_THROTTLE_BACKOFF_MS',
    scope: ['provider'],
    default: '30000',
    description: 'Back-off reported to the caller after throttling when Vertex gives no retry hint.',
  },
  { name: 'VERTEX_RPC_TIMEOUT_MS', scope: ['provider'], default: '60000', description: 'Timeout of one API call.' },
  {
    name: 'VERTEX_PREDICTION_API_ENDPOINT',
    scope: ['provider'],
    description:
      'Host of the prediction API (Predict/Explain on endpoints the orchestrator deployed). Default: VERTEX_API_ENDPOINT (the regional endpoint); set it for a dedicated or private endpoint host. Port, protocol and transport are shared with VERTEX_API_*.',
  },
] as const satisfies readonly SettingInfo[];

/** True when the provider has what it needs to run: a project and a location. */
export function isVertexConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.VERTEX_PROJECT?.trim() && env.VERTEX_LOCATION?.trim());
}

/** The kinds that run as a Vertex job resource (CustomJob, TrainingPipeline, BatchPredictionJob). */
export const VERTEX_JOB_KINDS = ['custom', 'training_pipeline', 'batch_prediction'] as const;
export type VertexKind = (typeof VERTEX_JOB_KINDS)[number];

/**
 * Asset operations (issue 18): datasets, models and endpoints, each one job. The same names every
 * MLOps provider uses (ASSET_OPS in app/essedum/assets-types.ts, not imported: providers stay below app).
 */
export const VERTEX_ASSET_KINDS = ASSET_OPS;
export type VertexAssetKind = (typeof VERTEX_ASSET_KINDS)[number];

/** True for the asset-operation kinds. */
export function isVertexAssetKind(kind: unknown): kind is VertexAssetKind {
  return typeof kind === 'string' && (VERTEX_ASSET_KINDS as readonly string[]).includes(kind);
}

/** Every job kind this provider runs, as `JobRecord.spec.kind`. */
export const VERTEX_KINDS = [...VERTEX_JOB_KINDS, ...VERTEX_ASSET_KINDS] as const;
