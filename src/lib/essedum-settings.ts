import { z } from 'zod';
import type { SettingInfo } from './config.js';
import { parseEndpointAllowlist, type AllowEntry } from './core/endpoint-allowlist.js';
import { SettingsReader, type Env } from './settings.js';

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
    description:
      'Provider (azure-ml, sagemaker or vertex) for pipeline requests whose adapter_instance is missing or not in ESSEDUM_ADAPTERS. Unset: such requests get 400.',
  },
  {
    name: 'ESSEDUM_COMMAND_TIMEOUT_SEC',
    scope: ['app'],
    default: '3600',
    description:
      'Run-time limit of an /execute command when its configs give no max_runtime_sec; the command is killed and the job ends ERROR.',
  },
  {
    name: 'ENDPOINT_IDLE_TTL_SEC',
    scope: ['app'],
    description:
      'Money guard: an endpoint the orchestrator created (Essedum endpoints/register) whose deployed models received no infer/explain call through it for this many seconds is undeployed by the reconciler (an endpoint-undeploy job, with an event on the endpoint record). Unset or 0: off.',
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
  /** Idle endpoints are undeployed after this many seconds; undefined: never. */
  readonly endpointIdleTtlSec?: number;
  /** The only container `storage: "local"` artifacts come from. */
  readonly artifactsContainer: string;
  /** Storage endpoints minio/s3 artifacts may be fetched from (empty: none). */
  readonly storageEndpointAllowlist: readonly AllowEntry[];
}

const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/;

type Name = (typeof ESSEDUM_SETTINGS)[number]['name'];

const AdaptersSchema = z.record(z.string().min(1).max(128), z.object({ provider: z.enum(ESSEDUM_PIPELINE_PROVIDERS) }));

/** Parses the Essedum settings; throws {@link ConfigurationError} naming each bad one. */
export function parseEssedumSettings(env: Env): EssedumSettings {
  const read = new SettingsReader<Name>(env, ESSEDUM_SETTINGS);
  const executeEnabled = read.bool('ESSEDUM_EXECUTE_ENABLED');
  let adapters: EssedumSettings['adapters'] = {};
  try {
    const parsed = AdaptersSchema.safeParse(JSON.parse(read.raw('ESSEDUM_ADAPTERS') ?? '{}'));
    if (parsed.success) adapters = parsed.data;
    else
      read.issue(`ESSEDUM_ADAPTERS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  } catch (error) {
    read.issue(`ESSEDUM_ADAPTERS is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const defaultProvider = read.isSet('ESSEDUM_DEFAULT_ADAPTER_PROVIDER')
    ? read.oneOf('ESSEDUM_DEFAULT_ADAPTER_PROVIDER', ESSEDUM_PIPELINE_PROVIDERS)
    : undefined;
  const commandTimeoutSec = read.int('ESSEDUM_COMMAND_TIMEOUT_SEC', { min: 1 });
  const maxLogBytes = read.int('ESSEDUM_MAX_LOG_BYTES', { min: 1024 });
  const idleTtl = read.isSet('ENDPOINT_IDLE_TTL_SEC') ? read.int('ENDPOINT_IDLE_TTL_SEC', { min: 0 }) : 0;
  const artifactsContainer = read.raw('ESSEDUM_ARTIFACTS_CONTAINER') ?? 'essedum-artifacts';
  if (!CONTAINER_NAME.test(artifactsContainer))
    read.issue(
      `ESSEDUM_ARTIFACTS_CONTAINER '${artifactsContainer}' is not a container name (3-63 lower-case letters, digits, single hyphens)`,
    );
  const allowlist = parseEndpointAllowlist(read.raw('ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST') ?? '');
  for (const p of allowlist.problems) read.issue(`ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST: ${p}`);
  read.check('Essedum settings');
  return {
    executeEnabled,
    adapters,
    ...(defaultProvider !== undefined && { defaultProvider }),
    commandTimeoutSec,
    maxLogBytes,
    ...(idleTtl > 0 && { endpointIdleTtlSec: idleTtl }),
    artifactsContainer,
    storageEndpointAllowlist: allowlist.entries,
  };
}
