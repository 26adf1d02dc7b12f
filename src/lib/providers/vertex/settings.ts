import { z } from 'zod';
import type { SettingInfo } from '../../config.js';
import { ConfigurationError } from '../../errors.js';

/**
 * Settings of the Vertex AI provider. Every endpoint and credential is a setting so tests (a local
 * fake) and other deployments (private endpoints, other universes) can point the client elsewhere.
 */
export const VERTEX_SETTINGS = [
  { name: 'VERTEX_PROJECT', scope: ['provider'], description: 'Google Cloud project id that owns the Vertex AI jobs. Required to enable the provider.' },
  { name: 'VERTEX_LOCATION', scope: ['provider'], description: 'Vertex AI region (e.g. us-central1). Required to enable the provider; also selects the regional API endpoint.' },
  { name: 'VERTEX_CREDENTIALS_JSON', scope: ['provider'], description: 'Service-account key JSON. When unset, Application Default Credentials are used (workload identity federation, GOOGLE_APPLICATION_CREDENTIALS, metadata server).', secret: true },
  { name: 'VERTEX_API_ENDPOINT', scope: ['provider'], description: 'API host override. Default: <VERTEX_LOCATION>-aiplatform.googleapis.com (Vertex resources live on regional endpoints).' },
  { name: 'VERTEX_API_PORT', scope: ['provider'], default: '443', description: 'API port.' },
  { name: 'VERTEX_API_PROTOCOL', scope: ['provider'], default: 'https', description: "'https', or 'http' for a local stand-in (only with VERTEX_TRANSPORT=rest)." },
  { name: 'VERTEX_TRANSPORT', scope: ['provider'], default: 'grpc', description: "Client transport: 'grpc' (the SDK default) or 'rest' (HTTP/1.1 JSON fallback)." },
  { name: 'VERTEX_LABEL_KEY', scope: ['provider'], default: 'cjo_job_id', description: 'Label key carrying our job id on every Vertex resource; used to re-attach on redelivery and to filter list calls. Lowercase letters, digits, "_" (no "-": it is the negation operator of the list filter grammar).' },
  { name: 'VERTEX_PAGE_SIZE', scope: ['provider'], default: '100', description: 'Page size of list calls while polling (1-100).' },
  { name: 'VERTEX_READ_RATE_PER_SEC', scope: ['provider'], default: '10', description: 'Client-side pace of get/list/cancel calls per second. Vertex AI allows 600 resource-management (CRUD) requests per minute per region, i.e. 10/s.' },
  { name: 'VERTEX_READ_BURST', scope: ['provider'], default: '10', description: 'Calls that may go at once after a quiet spell (the size of the client-side token bucket).' },
  { name: 'VERTEX_READ_RETRIES', scope: ['provider'], default: '2', description: 'Extra attempts of get/list/cancel calls on RESOURCE_EXHAUSTED/UNAVAILABLE inside one poll; creates are never retried (not idempotent).' },
  { name: 'VERTEX_RETRY_BASE_MS', scope: ['provider'], default: '500', description: 'First backoff delay of those retries (doubles each attempt; a Retry-After hint wins).' },
  { name: 'VERTEX_THROTTLE_BACKOFF_MS', scope: ['provider'], default: '30000', description: 'Back-off reported to the caller after throttling when Vertex gives no retry hint.' },
  { name: 'VERTEX_RPC_TIMEOUT_MS', scope: ['provider'], default: '60000', description: 'Timeout of one API call.' },
] as const satisfies readonly SettingInfo[];

/** The parsed Vertex settings. */
export interface VertexSettings {
  readonly project: string;
  readonly location: string;
  /** Parsed service-account key, or undefined for Application Default Credentials. */
  readonly credentials?: { readonly client_email: string; readonly private_key: string; readonly [k: string]: unknown };
  readonly apiEndpoint: string;
  readonly port: number;
  readonly protocol: 'https' | 'http';
  readonly transport: 'grpc' | 'rest';
  readonly labelKey: string;
  readonly pageSize: number;
  readonly readRetries: number;
  readonly readRatePerSec: number;
  readonly readBurst: number;
  readonly retryBaseMs: number;
  readonly throttleBackoffMs: number;
  readonly rpcTimeoutMs: number;
}

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v);
const int = (min: number, max: number, dflt: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(dflt));

/** GCP label keys: start with a lowercase letter; lowercase letters, digits, `_`, `-`; ≤ 63 chars. */
export const GCP_LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
/** GCP label values: lowercase letters, digits, `_`, `-`; ≤ 63 chars (may be empty). */
export const GCP_LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

const ServiceAccountKey = z.looseObject({ client_email: z.string().min(1), private_key: z.string().min(1) });

const Schema = z
  .object({
    VERTEX_PROJECT: z.preprocess(blankToUndefined, z.string().regex(/^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'not a project id (6-30 lowercase letters, digits, hyphens)')),
    VERTEX_LOCATION: z.preprocess(blankToUndefined, z.string().regex(/^[a-z]+(?:-[a-z0-9]+)+$|^global$/, 'not a region such as us-central1')),
    VERTEX_CREDENTIALS_JSON: z.preprocess(blankToUndefined, z.string().optional()),
    VERTEX_API_ENDPOINT: z.preprocess(blankToUndefined, z.string().regex(/^[A-Za-z0-9.[\]:-]+$/, 'a host name or IP, without scheme or path').optional()),
    VERTEX_API_PORT: int(1, 65535, 443),
    VERTEX_API_PROTOCOL: z.preprocess(blankToUndefined, z.enum(['https', 'http']).default('https')),
    VERTEX_TRANSPORT: z.preprocess(blankToUndefined, z.enum(['grpc', 'rest']).default('grpc')),
    VERTEX_LABEL_KEY: z.preprocess(blankToUndefined, z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lowercase letters, digits and "_", starting with a letter, at most 63').default('cjo_job_id')),
    VERTEX_PAGE_SIZE: int(1, 100, 100),
    VERTEX_READ_RETRIES: int(0, 10, 2),
    VERTEX_READ_RATE_PER_SEC: int(1, 10_000, 10),
    VERTEX_READ_BURST: int(1, 10_000, 10),
    VERTEX_RETRY_BASE_MS: int(0, 60_000, 500),
    VERTEX_THROTTLE_BACKOFF_MS: int(0, 3_600_000, 30_000),
    VERTEX_RPC_TIMEOUT_MS: int(100, 600_000, 60_000),
  })
  .superRefine((s, ctx) => {
    // Plain-text gRPC needs insecure channel credentials, which only tests inject; refuse it here
    // rather than silently sending credentials in the clear.
    if (s.VERTEX_API_PROTOCOL === 'http' && s.VERTEX_TRANSPORT === 'grpc') {
      ctx.addIssue({ code: 'custom', path: ['VERTEX_API_PROTOCOL'], message: "'http' needs VERTEX_TRANSPORT=rest" });
    }
  });

/** True when the provider has what it needs to run: a project and a location. */
export function isVertexConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.VERTEX_PROJECT?.trim() && env.VERTEX_LOCATION?.trim());
}

/**
 * Parses the Vertex settings from the environment. Throws {@link ConfigurationError} naming every
 * bad setting; the credentials JSON is checked for shape but never echoed.
 */
export function parseVertexSettings(env: Readonly<Record<string, string | undefined>>): VertexSettings {
  const r = Schema.safeParse(env);
  if (!r.success) {
    throw new ConfigurationError(
      `Invalid Vertex settings: ${r.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')}`,
    );
  }
  const s = r.data;
  let credentials: VertexSettings['credentials'];
  if (s.VERTEX_CREDENTIALS_JSON !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(s.VERTEX_CREDENTIALS_JSON);
    } catch {
      throw new ConfigurationError('Invalid Vertex settings: VERTEX_CREDENTIALS_JSON is not valid JSON');
    }
    const key = ServiceAccountKey.safeParse(json);
    if (!key.success) throw new ConfigurationError('Invalid Vertex settings: VERTEX_CREDENTIALS_JSON needs client_email and private_key');
    credentials = key.data;
  }
  return Object.freeze({
    project: s.VERTEX_PROJECT,
    location: s.VERTEX_LOCATION,
    ...(credentials && { credentials }),
    apiEndpoint: s.VERTEX_API_ENDPOINT ?? `${s.VERTEX_LOCATION === 'global' ? '' : `${s.VERTEX_LOCATION}-`}aiplatform.googleapis.com`,
    port: s.VERTEX_API_PORT,
    protocol: s.VERTEX_API_PROTOCOL,
    transport: s.VERTEX_TRANSPORT,
    labelKey: s.VERTEX_LABEL_KEY,
    pageSize: s.VERTEX_PAGE_SIZE,
    readRetries: s.VERTEX_READ_RETRIES,
    readRatePerSec: s.VERTEX_READ_RATE_PER_SEC,
    readBurst: s.VERTEX_READ_BURST,
    retryBaseMs: s.VERTEX_RETRY_BASE_MS,
    throttleBackoffMs: s.VERTEX_THROTTLE_BACKOFF_MS,
    rpcTimeoutMs: s.VERTEX_RPC_TIMEOUT_MS,
  });
}
