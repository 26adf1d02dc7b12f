import { z } from 'zod';
import type { SettingInfo } from './config.js';
import { parseEndpointAllowlist, type AllowEntry } from './core/endpoint-allowlist.js';
import { ConfigurationError } from './errors.js';

/**
 * Settings of the Essedum-compatible routes (`/api/execute…`, `/api/service/v1/pipelines/…`).
 * Running arbitrary commands is off by default: a deployment opts in, and then only callers that
 * hold the function key (Azure) or LOCAL_API_KEY (local runner) can reach the route.
 */
export const ESSEDUM_SETTINGS = [
  {
    name: 'ESSEDUM_EXECUTE_ENABLED',
    scope: ['app', 'worker'],
    default: 'false',
    description:
      "Enables POST /api/execute (runs the caller's shell command in a worker, a local worker process or a Batch task). Off: the route answers 403, and command jobs still queued fail with EXECUTE_DISABLED instead of running (the workers read it too). Locally it also needs LOCAL_API_KEY, so an unauthenticated runner never executes commands.",
  },
  {
    name: 'ESSEDUM_ARTIFACTS_CONTAINER',
    scope: ['app', 'worker'],
    default: 'essedum-artifacts',
    description:
      'The one Blob Storage container /execute jobs with storage "local" read input artifacts from (created at start-up). A body naming another bucket is a 400; the workers check again before reading.',
  },
  {
    name: 'ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST',
    scope: ['app', 'worker'],
    default: '',
    description:
      'Storage endpoints (credentials.endpoint) /execute jobs may fetch minio/s3 artifacts from: host[:port], *.domain[:port], IPv4[:port] or [IPv6][:port], comma-separated. Empty: none. Wildcards reach public addresses only; an exact IP entry admits that address, an exact host name also private-network ones; loopback, link-local (metadata) and unspecified addresses are refused after DNS resolution unless listed as IPs.',
  },
  {
    name: 'ESSEDUM_ADAPTERS',
    scope: ['app'],
    default: '{}',
    description:
      'JSON object mapping an Essedum adapter_instance name to the provider that serves it, e.g. {"aml-prod":{"provider":"azure-ml"},"sm":{"provider":"sagemaker"}}. Connection settings are the provider\'s own (AZUREML_*, SAGEMAKER_*, VERTEX_*); nothing is fetched from the caller.',
  },
  {
    name: 'ESSEDUM_DEFAULT_ADAPTER_PROVIDER',
    scope: ['app'],
    description: "Provider (azure-ml, sagemaker or vertex) for pipeline requests whose adapter_instance is missing or not in ESSEDUM_ADAPTERS. Unset: such requests get 400.",
  },
  {
    name: 'ESSEDUM_COMMAND_TIMEOUT_SEC',
    scope: ['app'],
    default: '3600',
    description: 'Run-time limit of an /execute command when its configs give no max_runtime_sec; the command is killed and the job ends ERROR.',
  },
  {
    name: 'ESSEDUM_MAX_LOG_BYTES',
    scope: ['worker'],
    default: '1048576',
    description: 'Most bytes of command output kept as the job log (the tail is kept when a command prints more).',
  },
] as const satisfies readonly SettingInfo[];

/** Providers the MLOps pipeline routes can send work to. */
export const ESSEDUM_PIPELINE_PROVIDERS = ['azure-ml', 'sagemaker', 'vertex'] as const;
export type EssedumPipelineProvider = (typeof ESSEDUM_PIPELINE_PROVIDERS)[number];

export interface EssedumSettings {
  readonly executeEnabled: boolean;
  readonly adapters: Readonly<Record<string, { readonly provider: EssedumPipelineProvider }>>;
  readonly defaultProvider?: EssedumPipelineProvider;
  readonly commandTimeoutSec: number;
  readonly maxLogBytes: number;
  /** The only container `storage: "local"` artifacts come from. */
  readonly artifactsContainer: string;
  /** Storage endpoints minio/s3 artifacts may be fetched from (empty: none). */
  readonly storageEndpointAllowlist: readonly AllowEntry[];
}

const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/;

type Env = Readonly<Record<string, string | undefined>>;
type Name = (typeof ESSEDUM_SETTINGS)[number]['name'];

const read = (env: Env, name: Name): string | undefined => {
  const v = env[name]?.trim();
  if (v) return v;
  return (ESSEDUM_SETTINGS.find((s) => s.name === name) as SettingInfo | undefined)?.default;
};

const AdaptersSchema = z.record(
  z.string().min(1).max(128),
  z.object({ provider: z.enum(ESSEDUM_PIPELINE_PROVIDERS) }),
);

/** Parses the Essedum settings; throws {@link ConfigurationError} naming each bad one. */
export function parseEssedumSettings(env: Env): EssedumSettings {
  const issues: string[] = [];
  const enabledRaw = (read(env, 'ESSEDUM_EXECUTE_ENABLED') ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(enabledRaw)) issues.push(`ESSEDUM_EXECUTE_ENABLED must be true or false, got '${enabledRaw}'`);
  let adapters: EssedumSettings['adapters'] = {};
  try {
    const parsed = AdaptersSchema.safeParse(JSON.parse(read(env, 'ESSEDUM_ADAPTERS') ?? '{}'));
    if (parsed.success) adapters = parsed.data;
    else issues.push(`ESSEDUM_ADAPTERS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  } catch (error) {
    issues.push(`ESSEDUM_ADAPTERS is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const def = read(env, 'ESSEDUM_DEFAULT_ADAPTER_PROVIDER');
  if (def !== undefined && !(ESSEDUM_PIPELINE_PROVIDERS as readonly string[]).includes(def)) {
    issues.push(`ESSEDUM_DEFAULT_ADAPTER_PROVIDER must be one of ${ESSEDUM_PIPELINE_PROVIDERS.join(', ')}, got '${def}'`);
  }
  const int = (name: Name, min: number) => {
    const n = Number(read(env, name));
    if (!Number.isInteger(n) || n < min) issues.push(`${name} must be a whole number ≥ ${min}`);
    return n;
  };
  const commandTimeoutSec = int('ESSEDUM_COMMAND_TIMEOUT_SEC', 1);
  const maxLogBytes = int('ESSEDUM_MAX_LOG_BYTES', 1024);
  const artifactsContainer = read(env, 'ESSEDUM_ARTIFACTS_CONTAINER') ?? 'essedum-artifacts';
  if (!CONTAINER_NAME.test(artifactsContainer)) issues.push(`ESSEDUM_ARTIFACTS_CONTAINER '${artifactsContainer}' is not a container name (3-63 lower-case letters, digits, single hyphens)`);
  const allowlist = parseEndpointAllowlist(read(env, 'ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST') ?? '');
  issues.push(...allowlist.problems.map((p) => `ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST: ${p}`));
  if (issues.length > 0) throw new ConfigurationError(`Essedum settings: ${issues.join('; ')}`);
  return {
    executeEnabled: enabledRaw === 'true' || enabledRaw === '1',
    adapters,
    ...(def !== undefined && { defaultProvider: def as EssedumPipelineProvider }),
    commandTimeoutSec,
    maxLogBytes,
    artifactsContainer,
    storageEndpointAllowlist: allowlist.entries,
  };
}
