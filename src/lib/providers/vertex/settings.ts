import { z } from 'zod';
import { ConfigurationError } from '../../errors.js';
import { VERTEX_SETTINGS, isVertexConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them with zod.
export { VERTEX_SETTINGS, isVertexConfigured };

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

const blankToUndefined = (v: unknown) =>
  typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v;
const int = (min: number, max: number, dflt: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(dflt));

/** GCP label keys: start with a lowercase letter; lowercase letters, digits, `_`, `-`; ≤ 63 chars. */
export const GCP_LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
/** GCP label values: lowercase letters, digits, `_`, `-`; ≤ 63 chars (may be empty). */
export const GCP_LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

const ServiceAccountKey = z.looseObject({ client_email: z.string().min(1), private_key: z.string().min(1) });

const Schema = z
  .object({
    VERTEX_PROJECT: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(
          /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
          'not a project id (6-30 lowercase letters, digits, hyphens)',
        ),
    ),
    VERTEX_LOCATION: z.preprocess(
      blankToUndefined,
      z.string().regex(/^[a-z]+(?:-[a-z0-9]+)+$|^global$/, 'not a region such as us-central1'),
    ),
    VERTEX_CREDENTIALS_JSON: z.preprocess(blankToUndefined, z.string().optional()),
    VERTEX_API_ENDPOINT: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9.[\]:-]+$/, 'a host name or IP, without scheme or path')
        .optional(),
    ),
    VERTEX_API_PORT: int(1, 65535, 443),
    VERTEX_API_PROTOCOL: z.preprocess(blankToUndefined, z.enum(['https', 'http']).default('https')),
    VERTEX_TRANSPORT: z.preprocess(blankToUndefined, z.enum(['grpc', 'rest']).default('grpc')),
    VERTEX_LABEL_KEY: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,62}$/, 'lowercase letters, digits and "_", starting with a letter, at most 63')
        .default('cjo_job_id'),
    ),
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
    if (!key.success)
      throw new ConfigurationError(
        'Invalid Vertex settings: VERTEX_CREDENTIALS_JSON needs client_email and private_key',
      );
    credentials = key.data;
  }
  return Object.freeze({
    project: s.VERTEX_PROJECT,
    location: s.VERTEX_LOCATION,
    ...(credentials && { credentials }),
    apiEndpoint:
      s.VERTEX_API_ENDPOINT ??
      `${s.VERTEX_LOCATION === 'global' ? '' : `${s.VERTEX_LOCATION}-`}aiplatform.googleapis.com`,
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
