import { z } from 'zod';
import { environmentNameProblem } from '../../core/environment-names.js';
import { LIMITS, parseOrThrow, type JobError, type JobSource, type JobSpec } from '../../core/job.js';
import { ValidationError } from '../../errors.js';

/**
 * `JobSpec.kind` of a job created by `POST /api/execute`: run `spec.command` in a shell. Set by the
 * server only: any other route refuses it ({@link refuseCommandKind}).
 */
export const ESSEDUM_EXECUTE_KIND = 'essedum-execute';

/**
 * The origin marker of a command job: `JobRecord.source`, which only the route that created the job
 * sets (no body field reaches it). Every runner re-checks it before running a command.
 */
export const COMMAND_ORIGIN: JobSource = 'essedum-execute';

/** True for the command kind in any spelling a lenient reader might take for it. */
export function isCommandKind(kind: string | undefined): boolean {
  return kind !== undefined && kind.trim().toLowerCase() === ESSEDUM_EXECUTE_KIND;
}

/**
 * Submission side of the /execute gate: a job created by any route but /execute may not carry the
 * command kind. Throws a {@link ValidationError} naming `kind`.
 */
export function refuseCommandKind(source: JobSource, spec: Pick<JobSpec, 'kind'>): void {
  if (source !== COMMAND_ORIGIN && isCommandKind(spec.kind)) {
    throw new ValidationError([
      { field: 'kind', message: `'${ESSEDUM_EXECUTE_KIND}' jobs are created only by POST /api/execute` },
    ]);
  }
}

/**
 * Run side of the /execute gate, asked by every runner (queue worker, dispatcher, one-shot run)
 * right before it would run a command: why this job must not run, or `undefined` when it may.
 * `origin` is the record's `source` as the runner sees it; `executeEnabled` is the runner's current
 * ESSEDUM_EXECUTE_ENABLED, so switching /execute off also stops command jobs already queued.
 */
export function commandRunRefusal(origin: string | undefined, executeEnabled: boolean): JobError | undefined {
  if (origin !== COMMAND_ORIGIN) {
    return {
      code: 'COMMAND_NOT_FROM_EXECUTE',
      message: 'This job asks to run a command but was not created by POST /api/execute; it was not run.',
    };
  }
  if (!executeEnabled) {
    return {
      code: 'EXECUTE_DISABLED',
      message: 'Running commands is disabled (ESSEDUM_EXECUTE_ENABLED=false); this command job was not run.',
    };
  }
  return undefined;
}

/** Names of the dispatch secrets an /execute job carries (never stored; see submitJob `secrets`). */
export const SECRET_KEYS = {
  endpoint: 'storage_endpoint',
  accessKey: 'storage_access_key',
  secretKey: 'storage_secret_key',
} as const;

const text = z.string().max(4096);

/**
 * The body the Essedum backend's remote-job client POSTs. Lenient about extra fields (the backend
 * may add some), strict about the ones the command needs.
 */
export const ExecuteBodySchema = z.object({
  bucket: text.default(''),
  project_id: text.default(''),
  name: text.default(''),
  version: text.default(''),
  /** Object key(s) of the input artifacts in `bucket`; a comma-separated string or a list. */
  input_artifacts: z.union([text, z.array(text).max(100)]).default(''),
  command: z.string().trim().min(1, 'the command is required').max(100_000),
  storage: z.enum(['minio', 's3', 'local']).default('local'),
  credentials: z
    .union([
      z.object({
        endpoint: z.string().max(2048).default(''),
        access_key: z.string().max(1024).default(''),
        secret_key: z.string().max(4096).default(''),
      }),
      z.literal(''),
      z.null(),
    ])
    .optional(),
  configs: z.union([z.record(z.string(), z.unknown()), z.literal(''), z.null()]).optional(),
  // The original executors turn a string environment into {} — keep that.
  environment: z
    .union([
      z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)),
      z.string(),
      z.null(),
    ])
    .optional(),
});

/** Routing hints an Essedum job may carry in `configs` (all optional). */
const ConfigsSchema = z.looseObject({
  rows: z.coerce.number().int().nonnegative().max(LIMITS.maxRows).optional(),
  estimated_runtime_sec: z.coerce.number().nonnegative().max(LIMITS.maxRuntimeSec).optional(),
  max_runtime_sec: z.coerce.number().int().min(1).max(LIMITS.maxRuntimeSec).optional(),
  latency_sensitive: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
  priority: z.enum(['low', 'normal', 'high']).optional(),
  target: z.string().min(1).max(LIMITS.maxTargetLength).optional(),
});

/** What an /execute job stores as `JobSpec.spec` — everything but the credentials. */
export interface EssedumCommandSpec {
  readonly command: string;
  readonly storage: 'minio' | 's3' | 'local';
  readonly bucket: string;
  readonly input_artifacts: readonly string[];
  readonly project_id: string;
  readonly name: string;
  readonly version: string;
  readonly environment: Record<string, string>;
}

export interface ParsedExecute {
  readonly spec: EssedumCommandSpec;
  readonly routing: z.infer<typeof ConfigsSchema>;
  readonly secrets: Record<string, string>;
}

/**
 * Splits an /execute body into what may be stored (the command spec and routing hints) and what
 * must not (the storage credentials, returned as dispatch secrets).
 */
export function parseExecuteBody(body: unknown, artifactsContainer: string): ParsedExecute {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ field: '', message: 'the body must be a JSON object' }]);
  }
  const b = parseOrThrow(ExecuteBodySchema, body);
  const configs = parseOrThrow(ConfigsSchema, b.configs && typeof b.configs === 'object' ? b.configs : {}, 'configs');
  const artifacts = (Array.isArray(b.input_artifacts) ? b.input_artifacts : b.input_artifacts.split(','))
    .map((a) => a.trim())
    .filter(Boolean);
  for (const [i, a] of artifacts.entries()) {
    if (a.split('/').some((seg) => seg === '..'))
      throw new ValidationError([{ field: `input_artifacts.${i}`, message: 'must not contain ".." segments' }]);
  }
  // `storage: "local"` reads our own Blob Storage: only from the one container meant for it, never
  // from the containers holding other jobs' results, payloads or the platform's secrets.
  let bucket = b.bucket;
  if (b.storage === 'local' && artifacts.length > 0) {
    if (bucket && bucket !== artifactsContainer) {
      throw new ValidationError([
        { field: 'bucket', message: `storage "local" artifacts come only from the container '${artifactsContainer}'` },
      ]);
    }
    bucket = artifactsContainer;
  }
  const creds = b.credentials && typeof b.credentials === 'object' ? b.credentials : undefined;
  if (b.storage !== 'local' && artifacts.length > 0) {
    const missing = (['endpoint', 'access_key', 'secret_key'] as const).filter((k) => !creds?.[k]);
    if (missing.length > 0) {
      throw new ValidationError(
        missing.map((k) => ({
          field: `credentials.${k}`,
          message: `required to fetch input artifacts from ${b.storage}`,
        })),
      );
    }
    if (!b.bucket)
      throw new ValidationError([{ field: 'bucket', message: `required to fetch input artifacts from ${b.storage}` }]);
  }
  const secrets: Record<string, string> = {};
  if (creds?.endpoint) secrets[SECRET_KEYS.endpoint] = creds.endpoint;
  if (creds?.access_key) secrets[SECRET_KEYS.accessKey] = creds.access_key;
  if (creds?.secret_key) secrets[SECRET_KEYS.secretKey] = creds.secret_key;
  const environment = b.environment && typeof b.environment === 'object' ? b.environment : {};
  // Checked after the union parse so the problem names the variable (a union reports only its path).
  const envIssues = Object.keys(environment).flatMap((name) => {
    const problem = environmentNameProblem(name);
    return problem ? [{ field: `environment.${name}`, message: problem }] : [];
  });
  if (envIssues.length > 0) throw new ValidationError(envIssues);
  return {
    spec: {
      command: b.command,
      storage: b.storage,
      bucket,
      input_artifacts: artifacts,
      project_id: b.project_id,
      name: b.name,
      version: b.version,
      environment,
    },
    routing: configs,
    secrets,
  };
}

/** Reads a stored command spec back (worker side); throws when the job is not an /execute job. */
export function commandSpecOf(spec: Record<string, unknown> | undefined): EssedumCommandSpec {
  const s = spec as Partial<EssedumCommandSpec> | undefined;
  if (!s || typeof s.command !== 'string' || !s.command)
    throw new ValidationError([{ field: 'spec.command', message: 'an /execute job needs a command' }]);
  return {
    command: s.command,
    storage: s.storage ?? 'local',
    bucket: s.bucket ?? '',
    input_artifacts: Array.isArray(s.input_artifacts) ? s.input_artifacts : [],
    project_id: s.project_id ?? '',
    name: s.name ?? '',
    version: s.version ?? '',
    environment: s.environment ?? {},
  };
}
