import { z } from 'zod';
import { CLASSIFIER_PRESETS, type ClassifierConfig } from './core/classifier.js';
import { ConfigurationError } from './errors.js';
import { PROVIDER_NAMES, PROVIDERS, type ProviderName, type ProviderPollSetting } from './providers/all.js';
import { SettingsReader, type Bounds } from './settings.js';

/**
 * Where a setting applies. `app` settings are read by the Function App and belong in Bicep;
 * `worker` ones by the container app; `local` ones only by the local runner; `provider` ones only
 * when that provider is configured.
 */
export type SettingScope = 'app' | 'worker' | 'local' | 'provider';

export interface SettingInfo {
  readonly name: string;
  readonly scope: readonly SettingScope[];
  readonly default?: string;
  readonly description: string;
  /** Secret values never appear in logs, replies or the README examples. */
  readonly secret?: boolean;
}

/**
 * Every setting the code reads, in one list. README's settings table, local.settings.example.json
 * and the Bicep app settings are checked against this list by tests.
 */
export const SETTINGS = [
  // Storage: job state, queues, results.
  {
    name: 'JobsStorage',
    scope: ['app', 'worker', 'local'],
    description:
      'Connection string of the storage account holding job tables, queues and blobs (local: Azurite). In Azure use the identity-based form below instead.',
    secret: true,
  },
  {
    name: 'JobsStorage__tableServiceUri',
    scope: ['app', 'worker'],
    description: 'Identity-based connection: Table service URI of the jobs storage account.',
  },
  {
    name: 'JobsStorage__queueServiceUri',
    scope: ['app', 'worker'],
    description: 'Identity-based connection: Queue service URI.',
  },
  {
    name: 'JobsStorage__blobServiceUri',
    scope: ['app', 'worker'],
    description: 'Identity-based connection: Blob service URI.',
  },
  {
    name: 'JobsStorage__credential',
    scope: ['app', 'worker'],
    default: 'managedidentity',
    description: 'Identity-based connection: credential kind (managedidentity).',
  },
  {
    name: 'JobsStorage__clientId',
    scope: ['app', 'worker'],
    description: 'Client id of the user-assigned managed identity used for identity-based connections.',
  },
  {
    name: 'JOBS_TABLE',
    scope: ['app', 'worker'],
    default: 'jobshards',
    description:
      "Table of jobs, sharded: each job's record, history and index rows (by status, queue, provider, active) share one partition, so every change is one transaction.",
  },
  {
    name: 'TABLE_SHARDS',
    scope: ['app', 'worker'],
    default: '16',
    description:
      'Partitions a new jobs table is spread over (hash of the job id). Each shard takes about 2 000 entity writes/s in Azure; a list reads every shard. The first process records the count in the table and every process uses the recorded count, so changing the setting affects new tables only.',
  },
  {
    name: 'IDEMPOTENCY_TABLE',
    scope: ['app'],
    default: 'idempotency',
    description: 'Table remembering Idempotency-Key headers and the job each one created.',
  },
  {
    name: 'RESULTS_CONTAINER',
    scope: ['app', 'worker'],
    default: 'job-results',
    description: 'Blob container for result documents and logs.',
  },
  {
    name: 'PAYLOADS_CONTAINER',
    scope: ['app', 'worker'],
    default: 'job-payloads',
    description: 'Blob container for large job data and claim-checked queue messages.',
  },
  // Queues.
  {
    name: 'QUEUE_TRANSPORT',
    scope: ['app', 'worker'],
    default: 'storage',
    description: "Queue transport: 'storage' (Storage Queues, the local default) or 'servicebus'.",
  },
  {
    name: 'QUEUE_INTAKE',
    scope: ['app'],
    default: 'jobqueue',
    description: 'Queue of submitted jobs awaiting classification.',
  },
  {
    name: 'QUEUE_ACTOR',
    scope: ['app', 'worker'],
    default: 'actor-jobs',
    description: 'Queue of latency-sensitive jobs for the actor worker.',
  },
  {
    name: 'QUEUE_SPARK',
    scope: ['app', 'worker'],
    default: 'spark-jobs',
    description: 'Queue of data-heavy jobs for the spark worker.',
  },
  { name: 'QUEUE_ML', scope: ['app'], default: 'ml-jobs', description: 'Queue of jobs dispatched to the ML provider.' },
  {
    name: 'QUEUE_BATCH',
    scope: ['app'],
    default: 'batch-jobs',
    description: 'Queue of jobs dispatched to the batch provider.',
  },
  {
    name: 'QUEUE_WEBHOOKS',
    scope: ['app', 'worker'],
    default: 'webhooks',
    description:
      'Queue of webhook deliveries (one message per delivery attempt; retries are re-sent with a visibility delay).',
  },
  {
    name: 'IDLE_POLL_MAX_SEC',
    scope: ['worker', 'local'],
    default: '10',
    description:
      'Longest wait between receives on an empty queue: workers and the local runner back off to it (doubling from 50 ms) and poll at once again after a message; in-process sends wake the consumers of the local runner immediately. The Functions host uses host.json maxPollingInterval instead.',
  },
  {
    name: 'QUEUE_MAX_DELIVERIES',
    scope: ['app', 'worker', 'local'],
    default: '5',
    description:
      'Deliveries before a message goes to <queue>-poison (Storage) or the dead-letter queue; keep equal to host.json maxDequeueCount and Service Bus maxDeliveryCount.',
  },
  {
    name: 'CLAIM_CHECK_THRESHOLD_BYTES',
    scope: ['app', 'worker'],
    default: '48000',
    description: 'Messages larger than this go to Blob Storage with a reference in the message.',
  },
  // Classification and routing.
  {
    name: 'CLASSIFIER_PRESET',
    scope: ['app'],
    default: 'readme',
    description: "Weighting preset: 'readme' (the seed README formula) or 'reference' (the seed code's weighting).",
  },
  {
    name: 'CLASSIFIER_ROW_WEIGHT',
    scope: ['app'],
    description: 'Cost per row; overrides the preset (readme: 0.000001).',
  },
  {
    name: 'CLASSIFIER_SECOND_WEIGHT',
    scope: ['app'],
    description: 'Cost per second of estimated runtime; overrides the preset (readme: 0.1, reference: 1/60).',
  },
  {
    name: 'CLASSIFIER_HIGH_PRIORITY_FACTOR',
    scope: ['app'],
    description: 'Cost multiplier for high-priority jobs; overrides the preset (readme: 1.5, reference: 2).',
  },
  {
    name: 'CLASSIFIER_LOW_PRIORITY_FACTOR',
    scope: ['app'],
    description: 'Cost multiplier for low-priority jobs; overrides the preset (both: 1).',
  },
  {
    name: 'CLASSIFIER_SPARK_THRESHOLD',
    scope: ['app'],
    description: 'Cost strictly above which a job goes to spark-jobs (default 10).',
  },
  {
    name: 'CLASSIFIER_ML_THRESHOLD',
    scope: ['app'],
    description: 'Cost strictly above which a job goes to ml-jobs (default 4).',
  },
  {
    name: 'ML_JOBS_PROVIDER',
    scope: ['app'],
    default: 'local',
    description: 'Provider that runs ml-jobs: local, azure-batch, azure-ml, sagemaker or vertex.',
  },
  {
    name: 'BATCH_JOBS_PROVIDER',
    scope: ['app'],
    default: 'local',
    description: 'Provider that runs batch-jobs: local or azure-batch.',
  },
  // Lifecycle.
  {
    name: 'MAX_BODY_BYTES',
    scope: ['app'],
    default: '262144',
    description: 'Largest accepted request body; larger bodies get 413.',
  },
  {
    name: 'MAX_JSON_DEPTH',
    scope: ['app'],
    default: '64',
    description:
      'Deepest nesting of arrays and objects accepted in a JSON body; deeper bodies get 400 before anything is stored.',
  },
  {
    name: 'MAX_JSON_ITEMS',
    scope: ['app'],
    default: '20000',
    description: 'Most object keys plus array items accepted in one JSON body; more get 400 before anything is stored.',
  },
  {
    name: 'HEALTH_CACHE_SEC',
    scope: ['app'],
    default: '5',
    description: 'How long GET /api/health reuses its last dependency probe; concurrent calls share one probe.',
  },
  {
    name: 'JOB_DEFAULT_MAX_RUNTIME_SEC',
    scope: ['app', 'worker'],
    default: '86400',
    description: 'Timeout for jobs that set no max_runtime_sec: the job is cancelled at the provider and failed.',
  },
  {
    name: 'JOB_STUCK_AFTER_SEC',
    scope: ['app'],
    default: '900',
    description: 'A job queued or dispatched longer than this is reconciled (re-sent or failed).',
  },
  {
    name: 'JOB_MAX_ATTEMPTS',
    scope: ['app'],
    default: '3',
    description:
      'A run lost to infrastructure (host restart, worker process killed, node preempted, provider run vanished) is re-dispatched as a new attempt; after this many attempts lost in a row the job fails with INFRASTRUCTURE_LOST.',
  },
  {
    name: 'RECONCILE_SCHEDULE',
    scope: ['app'],
    default: '0 */2 * * * *',
    description: 'NCRONTAB schedule of the reconciler (stuck jobs, worker heartbeats).',
  },
  // Workers.
  {
    name: 'WORKER_MODE',
    scope: ['worker'],
    default: 'actor',
    description: "Which queue the worker consumes: 'actor' or 'spark'.",
  },
  { name: 'WORKER_CONCURRENCY', scope: ['worker'], default: '4', description: 'Jobs one worker replica runs at once.' },
  {
    name: 'WORKER_LOCK_SEC',
    scope: ['worker'],
    default: '60',
    description: 'Message lock / visibility timeout; renewed while a job runs.',
  },
  {
    name: 'WORKER_HEARTBEAT_SEC',
    scope: ['worker'],
    default: '5',
    description: 'Interval of heartbeat and progress writes to the job record.',
  },
  {
    name: 'WORKER_SHUTDOWN_GRACE_SEC',
    scope: ['worker'],
    default: '25',
    description: 'On SIGTERM, time allowed for in-flight jobs to finish before they are released.',
  },
  {
    name: 'SIMULATION_TIME_SCALE',
    scope: ['app', 'worker'],
    default: '1',
    description: 'Multiplier on simulated work time (estimated_runtime_sec × scale); 0.01 makes local runs quick.',
  },
  {
    name: 'LOCAL_PROVIDER_DIR',
    scope: ['local'],
    default: '.data/local-runs',
    description: 'Working folder of the local provider (one sub-folder per job).',
  },
  // Local runner.
  {
    name: 'HTTP_PORT',
    scope: ['local'],
    default: '7071',
    description: 'Port of the local runner HTTP host (routes under /api).',
  },
  {
    name: 'AZURITE_BLOB_PORT',
    scope: ['local'],
    default: '10000',
    description: 'Azurite blob port started by npm start.',
  },
  {
    name: 'AZURITE_QUEUE_PORT',
    scope: ['local'],
    default: '10001',
    description: 'Azurite queue port started by npm start.',
  },
  {
    name: 'AZURITE_TABLE_PORT',
    scope: ['local'],
    default: '10002',
    description: 'Azurite table port started by npm start.',
  },
  {
    name: 'AZURITE_LOCATION',
    scope: ['local'],
    default: '.azurite',
    description: 'Folder of Azurite data (git-ignored).',
  },
  {
    name: 'LOCAL_API_KEY',
    scope: ['local'],
    description:
      'When set, the local runner requires this key (x-functions-key header or ?code=) on every route but health.',
    secret: true,
  },
] as const satisfies readonly SettingInfo[];

export type SettingName = (typeof SETTINGS)[number]['name'];

export { PROVIDER_NAMES, type ProviderName };

/** The parsed, frozen configuration every host builds its dependencies from. */
export interface Config {
  readonly storage: {
    readonly connectionString?: string;
    readonly tableServiceUri?: string;
    readonly queueServiceUri?: string;
    readonly blobServiceUri?: string;
    readonly managedIdentityClientId?: string;
  };
  readonly tables: { readonly jobs: string; readonly idempotency: string };
  /** Shards of the jobs table (TABLE_SHARDS). */
  readonly tableShards: number;
  readonly containers: { readonly results: string; readonly payloads: string };
  readonly transport: 'storage' | 'servicebus';
  readonly queues: {
    readonly intake: string;
    readonly actor: string;
    readonly spark: string;
    readonly ml: string;
    readonly batch: string;
  };
  /** Queue of webhook deliveries (QUEUE_WEBHOOKS); kept apart from `queues`, which are the job queues. */
  readonly webhookQueue: string;
  readonly maxDeliveries: number;
  readonly claimCheckThresholdBytes: number;
  readonly classifier: ClassifierConfig;
  readonly maxBodyBytes: number;
  readonly maxJsonDepth: number;
  readonly maxJsonItems: number;
  readonly healthCacheSec: number;
  readonly defaultMaxRuntimeSec: number;
  readonly stuckAfterSec: number;
  /** Attempts a job gets when its runs are lost to infrastructure (JOB_MAX_ATTEMPTS). */
  readonly maxAttempts: number;
  /** NCRONTAB schedule of each timer function, by the setting that names it. */
  readonly schedules: Readonly<Record<ScheduleSetting, string>>;
  readonly worker: {
    readonly mode: 'actor' | 'spark';
    readonly concurrency: number;
    readonly lockSec: number;
    readonly heartbeatSec: number;
    readonly shutdownGraceSec: number;
    /** Longest idle wait between receives (IDLE_POLL_MAX_SEC). */
    readonly maxPollSec: number;
  };
  readonly simulationTimeScale: number;
  readonly localProviderDir: string;
  readonly local: {
    readonly httpPort: number;
    readonly azuriteBlobPort: number;
    readonly azuriteQueuePort: number;
    readonly azuriteTablePort: number;
    readonly azuriteLocation: string;
    readonly apiKey?: string;
  };
  /** Raw environment, for provider modules that parse their own settings lazily. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const tableName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'table names are 3-63 letters or digits, starting with a letter');
const queueName = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/,
    'queue names are 3-63 lower-case letters, digits and single hyphens',
  );
const containerName = queueName;

/**
 * Parses the environment once. Throws {@link ConfigurationError} naming every bad setting, so a
 * misconfigured host fails at start-up rather than mid-request.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const read = new SettingsReader<SettingName>(env, SETTINGS);
  const get = (name: SettingName) => read.raw(name);
  const parse = <T>(name: SettingName, schema: z.ZodType<T>): T => read.parse(name, schema);
  const optNum = (name: SettingName, bounds: Bounds) => read.optionalFloat(name, bounds);

  const presetName = read.oneOf(
    'CLASSIFIER_PRESET',
    Object.keys(CLASSIFIER_PRESETS) as Array<keyof typeof CLASSIFIER_PRESETS>,
  );
  const preset = CLASSIFIER_PRESETS[presetName ?? 'readme'];
  const overrides = {
    perRow: optNum('CLASSIFIER_ROW_WEIGHT', { min: 0 }),
    perSecond: optNum('CLASSIFIER_SECOND_WEIGHT', { min: 0 }),
    highPriorityFactor: optNum('CLASSIFIER_HIGH_PRIORITY_FACTOR', { min: 0 }),
    lowPriorityFactor: optNum('CLASSIFIER_LOW_PRIORITY_FACTOR', { min: 0 }),
    sparkThreshold: optNum('CLASSIFIER_SPARK_THRESHOLD', { min: 0 }),
    mlThreshold: optNum('CLASSIFIER_ML_THRESHOLD', { min: 0 }),
  };
  const customised = Object.values(overrides).some((v) => v !== undefined);
  const weights = Object.fromEntries(
    Object.entries(preset).map(([k, v]) => [k, overrides[k as keyof typeof overrides] ?? v]),
  ) as unknown as ClassifierConfig['weights'];
  if (weights.mlThreshold > weights.sparkThreshold)
    read.issue('CLASSIFIER_ML_THRESHOLD must not exceed CLASSIFIER_SPARK_THRESHOLD');

  const queues = {
    intake: parse('QUEUE_INTAKE', queueName),
    actor: parse('QUEUE_ACTOR', queueName),
    spark: parse('QUEUE_SPARK', queueName),
    ml: parse('QUEUE_ML', queueName),
    batch: parse('QUEUE_BATCH', queueName),
  };
  if (new Set(Object.values(queues)).size !== 5) read.issue('QUEUE_*: the five queue names must differ');
  const webhookQueue = parse('QUEUE_WEBHOOKS', queueName);
  if ((Object.values(queues) as string[]).includes(webhookQueue))
    read.issue('QUEUE_WEBHOOKS must differ from the job queues');
  const mlProvider = read.oneOf('ML_JOBS_PROVIDER', PROVIDER_NAMES);
  const batchProvider = read.oneOf('BATCH_JOBS_PROVIDER', PROVIDER_NAMES);

  const storage = {
    connectionString: env.JobsStorage?.trim() || undefined,
    tableServiceUri: env.JobsStorage__tableServiceUri?.trim() || undefined,
    queueServiceUri: env.JobsStorage__queueServiceUri?.trim() || undefined,
    blobServiceUri: env.JobsStorage__blobServiceUri?.trim() || undefined,
    managedIdentityClientId: env.JobsStorage__clientId?.trim() || undefined,
  };

  const config: Config = {
    storage,
    tables: { jobs: parse('JOBS_TABLE', tableName), idempotency: parse('IDEMPOTENCY_TABLE', tableName) },
    tableShards: read.int('TABLE_SHARDS', { min: 1, max: 256 }),
    containers: {
      results: parse('RESULTS_CONTAINER', containerName),
      payloads: parse('PAYLOADS_CONTAINER', containerName),
    },
    transport: read.oneOf('QUEUE_TRANSPORT', ['storage', 'servicebus']),
    queues,
    webhookQueue,
    maxDeliveries: read.int('QUEUE_MAX_DELIVERIES', { min: 1, max: 100 }),
    claimCheckThresholdBytes: read.int('CLAIM_CHECK_THRESHOLD_BYTES', { min: 1024, max: 200_000 }),
    classifier: {
      preset: customised ? `${presetName ?? 'readme'}+custom` : (presetName ?? 'readme'),
      weights,
      queues: { actor: queues.actor, spark: queues.spark, ml: queues.ml, batch: queues.batch },
      mlProvider,
      batchProvider,
      providers: PROVIDER_NAMES,
    },
    maxBodyBytes: read.int('MAX_BODY_BYTES', { min: 1024, max: 100 * 1024 * 1024 }),
    maxJsonDepth: read.int('MAX_JSON_DEPTH', { min: 2, max: 512 }),
    maxJsonItems: read.int('MAX_JSON_ITEMS', { min: 10, max: 10_000_000 }),
    healthCacheSec: read.float('HEALTH_CACHE_SEC', { min: 0, max: 300 }),
    defaultMaxRuntimeSec: read.int('JOB_DEFAULT_MAX_RUNTIME_SEC', { min: 1 }),
    stuckAfterSec: read.int('JOB_STUCK_AFTER_SEC', { min: 1 }),
    maxAttempts: read.int('JOB_MAX_ATTEMPTS', { min: 1, max: 100 }),
    schedules: {
      // Each provider's poller schedule setting comes from its descriptor.
      ...(Object.fromEntries(
        PROVIDERS.map((p) => [
          p.pollSchedule.name,
          env[p.pollSchedule.name]?.trim() ? env[p.pollSchedule.name]! : p.pollSchedule.default,
        ]),
      ) as Record<ProviderPollSetting, string>),
      RECONCILE_SCHEDULE: get('RECONCILE_SCHEDULE')!,
    },
    worker: {
      mode: read.oneOf('WORKER_MODE', ['actor', 'spark']),
      concurrency: read.int('WORKER_CONCURRENCY', { min: 1, max: 256 }),
      lockSec: read.int('WORKER_LOCK_SEC', { min: 5, max: 300 }),
      heartbeatSec: read.float('WORKER_HEARTBEAT_SEC', { min: 0.05, max: 300 }),
      shutdownGraceSec: read.float('WORKER_SHUTDOWN_GRACE_SEC', { min: 0, max: 3600 }),
      maxPollSec: read.float('IDLE_POLL_MAX_SEC', { min: 0.05, max: 300 }),
    },
    simulationTimeScale: read.float('SIMULATION_TIME_SCALE', { min: 0, max: 1000 }),
    localProviderDir: get('LOCAL_PROVIDER_DIR')!,
    local: {
      httpPort: read.int('HTTP_PORT', { min: 0, max: 65535 }),
      azuriteBlobPort: read.int('AZURITE_BLOB_PORT', { min: 0, max: 65535 }),
      azuriteQueuePort: read.int('AZURITE_QUEUE_PORT', { min: 0, max: 65535 }),
      azuriteTablePort: read.int('AZURITE_TABLE_PORT', { min: 0, max: 65535 }),
      azuriteLocation: get('AZURITE_LOCATION')!,
      ...(env.LOCAL_API_KEY?.trim() ? { apiKey: env.LOCAL_API_KEY.trim() } : {}),
    },
    env: Object.freeze({ ...env }),
  };
  read.check('Invalid settings');
  return deepFreeze(config);
}

/** The settings that hold timer schedules; timer functions bind their schedule by setting. */
export type ScheduleSetting = ProviderPollSetting | Extract<SettingName, 'RECONCILE_SCHEDULE'>;

/** The settings that name queues; functions bind their queue by setting. */
export type QueueSetting = Extract<
  SettingName,
  'QUEUE_INTAKE' | 'QUEUE_ACTOR' | 'QUEUE_SPARK' | 'QUEUE_ML' | 'QUEUE_BATCH' | 'QUEUE_WEBHOOKS'
>;

/** The queue a QUEUE_* setting names, with its default applied. */
export function queueNameFor(config: Config, setting: QueueSetting): string {
  switch (setting) {
    case 'QUEUE_INTAKE':
      return config.queues.intake;
    case 'QUEUE_ACTOR':
      return config.queues.actor;
    case 'QUEUE_SPARK':
      return config.queues.spark;
    case 'QUEUE_ML':
      return config.queues.ml;
    case 'QUEUE_BATCH':
      return config.queues.batch;
    case 'QUEUE_WEBHOOKS':
      return config.webhookQueue;
    default: {
      const unreachable: never = setting;
      throw new Error(`unknown queue setting ${String(unreachable)}`);
    }
  }
}

/** Connection string of an Azurite listening on the given ports (the well-known dev account). */
export function azuriteConnectionString(
  ports: { blob: number; queue: number; table: number },
  host = '127.0.0.1',
): string {
  // The Azurite development account key is public and documented; it is not a secret.
  const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
  const parts = [
    'DefaultEndpointsProtocol=http',
    'AccountName=devstoreaccount1',
    `AccountKey=${key}`,
    `BlobEndpoint=http://${host}:${ports.blob}/devstoreaccount1`,
    `QueueEndpoint=http://${host}:${ports.queue}/devstoreaccount1`,
    `TableEndpoint=http://${host}:${ports.table}/devstoreaccount1`,
  ];
  return `${parts.join(';')};`;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
