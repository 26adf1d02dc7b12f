import { z } from 'zod';
import { type Env, SettingsReader } from '../../settings.js';
import { VERTEX_SETTINGS, isVertexConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them.
export { VERTEX_SETTINGS, isVertexConfigured };

/** The parsed Vertex settings. */
export interface VertexSettings {
  readonly project: string;
  readonly location: string;
  /** Parsed service-account key, or undefined for Application Default Credentials. */
  readonly credentials?: { readonly client_email: string; readonly private_key: string; readonly [k: string]: unknown };
  readonly apiEndpoint: string;
  /** Host of the PredictionService (Predict/Explain); the API endpoint unless overridden. */
  readonly predictionEndpoint: string;
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

type VertexSettingName = (typeof VERTEX_SETTINGS)[number]['name'];

/** GCP label keys: start with a lowercase letter; lowercase letters, digits, `_`, `-`; ≤ 63 chars. */
export const GCP_LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
/** GCP label values: lowercase letters, digits, `_`, `-`; ≤ 63 chars (may be empty). */
export const GCP_LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

const ServiceAccountKey = z.looseObject({ client_email: z.string().min(1), private_key: z.string().min(1) });

const projectId = z
  .string()
  .regex(
    /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
    'not a project id (6-30 lowercase letters, digits, hyphens)',
  );
const location = z.string().regex(/^[a-z]+(?:-[a-z0-9]+)+$|^global$/, 'not a region such as us-central1');
const host = z.string().regex(/^[A-Za-z0-9.[\]:-]+$/, 'a host name or IP, without scheme or path');
const labelKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,62}$/, 'lowercase letters, digits and "_", starting with a letter, at most 63');

/**
 * Parses the Vertex settings from the environment. Throws a ConfigurationError naming every bad
 * setting; the credentials JSON is checked for shape but never echoed.
 */
export function parseVertexSettings(env: Env): VertexSettings {
  const read = new SettingsReader<VertexSettingName>(env, VERTEX_SETTINGS);
  const required = <T>(name: VertexSettingName, schema: z.ZodType<T>): T =>
    read.raw(name) === undefined ? (read.string(name) as T) : read.parse(name, schema);
  const project = required('VERTEX_PROJECT', projectId);
  const loc = required('VERTEX_LOCATION', location);
  const endpoint = read.raw('VERTEX_API_ENDPOINT') === undefined ? undefined : read.parse('VERTEX_API_ENDPOINT', host);
  const predictionHost =
    read.raw('VERTEX_PREDICTION_API_ENDPOINT') === undefined
      ? undefined
      : read.parse('VERTEX_PREDICTION_API_ENDPOINT', host);
  const protocol = read.oneOf('VERTEX_API_PROTOCOL', ['https', 'http']);
  const transport = read.oneOf('VERTEX_TRANSPORT', ['grpc', 'rest']);
  // Plain-text gRPC needs insecure channel credentials, which only tests inject; refuse it here
  // rather than silently sending credentials in the clear.
  if (protocol === 'http' && transport === 'grpc')
    read.issue("VERTEX_API_PROTOCOL: 'http' needs VERTEX_TRANSPORT=rest");
  const credentials = serviceAccountKey(read);
  const apiEndpoint = endpoint ?? `${loc === 'global' ? '' : `${loc}-`}aiplatform.googleapis.com`;
  const settings: VertexSettings = {
    project,
    location: loc,
    ...(credentials && { credentials }),
    apiEndpoint,
    predictionEndpoint: predictionHost ?? apiEndpoint,
    port: read.int('VERTEX_API_PORT', { min: 1, max: 65_535 }),
    protocol,
    transport,
    labelKey: read.parse('VERTEX_LABEL_KEY', labelKey),
    pageSize: read.int('VERTEX_PAGE_SIZE', { min: 1, max: 100 }),
    readRetries: read.int('VERTEX_READ_RETRIES', { min: 0, max: 10 }),
    readRatePerSec: read.int('VERTEX_READ_RATE_PER_SEC', { min: 1, max: 10_000 }),
    readBurst: read.int('VERTEX_READ_BURST', { min: 1, max: 10_000 }),
    retryBaseMs: read.int('VERTEX_RETRY_BASE_MS', { min: 0, max: 60_000 }),
    throttleBackoffMs: read.int('VERTEX_THROTTLE_BACKOFF_MS', { min: 0, max: 3_600_000 }),
    rpcTimeoutMs: read.int('VERTEX_RPC_TIMEOUT_MS', { min: 100, max: 600_000 }),
  };
  read.check('Invalid Vertex settings');
  return Object.freeze(settings);
}

/** The service-account key, if one is set; a malformed one is a problem named without its content. */
function serviceAccountKey(read: SettingsReader<VertexSettingName>): VertexSettings['credentials'] {
  const text = read.raw('VERTEX_CREDENTIALS_JSON');
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    read.issue('VERTEX_CREDENTIALS_JSON is not valid JSON');
    return undefined;
  }
  const key = ServiceAccountKey.safeParse(json);
  if (!key.success) {
    read.issue('VERTEX_CREDENTIALS_JSON needs client_email and private_key');
    return undefined;
  }
  return key.data;
}
