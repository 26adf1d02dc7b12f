import { z } from 'zod';
import type { SettingInfo } from './config.js';
import { PROVIDER_NAMES } from './providers/all.js';
import { SettingsReader, type Env } from './settings.js';

/**
 * Settings of admission control (caps per provider) and capacity failover. Read by the Function
 * App, which dispatches jobs to providers; the workers never dispatch to a provider.
 */
export const CAPACITY_SETTINGS = [
  {
    name: 'CAPACITY_LIMITS',
    scope: ['app'],
    default:
      '{"vertex":{"createsPerMin":60},"sagemaker":{"concurrent":20},"azure-batch":{"concurrent":40},"azure-ml":{"createsPerMin":600}}',
    description:
      'Admission caps per provider, JSON: {"<provider>": {"concurrent": jobs at once, "createsPerMin": job creations per minute}}; either may be left out (no cap). A key "<provider>/<instance type>" (e.g. "sagemaker/ml.p3.2xlarge", "vertex/NVIDIA_TESLA_T4", "azure-batch/standard_nd6s") caps the jobs naming that instance type, VM size, accelerator or compute, on top of the provider cap. A job over a cap waits in its queue (never failed for it). Defaults from the documented quotas: Vertex AI 60 job creations per minute per region; SageMaker concurrent training jobs (set it to your account quota); Azure Batch 40 tasks (the seed pool: 10 Standard_D2s_v3 nodes × 4 task slots = 20 cores, a common core quota); Azure ML through Resource Manager writes, 10/s. `{}` turns admission control off.',
  },
  {
    name: 'CAPACITY_WAIT_SEC',
    scope: ['app'],
    default: '30',
    description:
      'How long a job over a concurrency cap waits before its dispatch is tried again (its message is re-sent with this delay; no delivery attempt is used up). A rate cap waits until its next token instead.',
  },
  {
    name: 'CAPACITY_FALLBACK_CHAINS',
    scope: ['app'],
    default: '{}',
    description:
      'Default failover chain per queue, JSON: {"ml-jobs": ["azure-ml", "local"]}. When a provider refuses a job for capacity or quota, dispatch moves it to the next provider of its own `fallback` list, else of this chain (providers whose job kinds do not fit the job are skipped).',
  },
  {
    name: 'CAPACITY_RETRY_SCHEDULE_SEC',
    scope: ['app'],
    default: '60,300,900,1800,3600',
    description:
      'Waits (seconds) before each new round over a job whose every target refused for capacity; after the last round fails the job fails with NO_CAPACITY naming every refusal. The default tries for about 2 hours.',
  },
  {
    name: 'CAPACITY_TABLE',
    scope: ['app'],
    default: 'capacity',
    description:
      'Table of admission state: one slot row per running job under each concurrency cap, a token bucket per rate cap, the jobs waiting and each provider’s last capacity refusal.',
  },
] as const satisfies readonly SettingInfo[];

type Name = (typeof CAPACITY_SETTINGS)[number]['name'];

/** Caps of one provider; absent = no cap of that kind. */
export interface ProviderLimits {
  readonly concurrent?: number;
  readonly createsPerMin?: number;
}

export interface CapacitySettings {
  /** Caps by provider name or `provider/instance type`; scopes not listed are not capped. */
  readonly limits: Readonly<Record<string, ProviderLimits>>;
  readonly waitSec: number;
  /** Default failover chains by queue name. */
  readonly fallbackChains: Readonly<Record<string, readonly string[]>>;
  /** Delay before retry round n (n = 1…length). */
  readonly retryScheduleSec: readonly number[];
  readonly table: string;
}

const providerName = z.enum(PROVIDER_NAMES);
/** `<provider>` or `<provider>/<instance type>` (a per-family quota). */
const limitKey = z
  .string()
  .regex(/^[a-z-]+(\/[A-Za-z0-9_.:-]{1,64})?$/, 'use a provider name, or provider/instance-type')
  .refine((k) => (PROVIDER_NAMES as readonly string[]).includes(k.split('/')[0]!), 'unknown provider');
const LimitsSchema = z.record(
  limitKey,
  z.strictObject({
    concurrent: z.number().int().min(1).max(100_000).optional(),
    createsPerMin: z.number().positive().max(1_000_000).optional(),
  }),
);
const ChainsSchema = z.record(z.string().min(1).max(63), z.array(providerName).max(8));

function jsonSetting<T>(read: SettingsReader<Name>, name: Name, schema: z.ZodType<T>): T {
  const raw = read.raw(name) ?? '{}';
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    read.issue(`${name} must be JSON, got '${raw.slice(0, 80)}'`);
    return {} as T;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join(', ');
    read.issue(`${name}: ${issues}`);
    return {} as T;
  }
  return parsed.data;
}

const cache = new WeakMap<object, CapacitySettings>();

/** Parses the capacity settings; throws a ConfigurationError naming every bad one. */
export function parseCapacitySettings(env: Env): CapacitySettings {
  const hit = cache.get(env);
  if (hit) return hit;
  const read = new SettingsReader<Name>(env, CAPACITY_SETTINGS);
  const schedule = read.list('CAPACITY_RETRY_SCHEDULE_SEC').map(Number);
  if (schedule.some((n) => !Number.isFinite(n) || n < 1 || n > 7 * 24 * 3600))
    read.issue('CAPACITY_RETRY_SCHEDULE_SEC must list waits from 1 s to 7 days, comma-separated');
  const table = read.parse(
    'CAPACITY_TABLE',
    z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'table names are 3-63 letters or digits, starting with a letter'),
  );
  const settings: CapacitySettings = {
    limits: jsonSetting(read, 'CAPACITY_LIMITS', LimitsSchema),
    waitSec: read.int('CAPACITY_WAIT_SEC', { min: 1, max: 3600 }),
    fallbackChains: jsonSetting(read, 'CAPACITY_FALLBACK_CHAINS', ChainsSchema),
    retryScheduleSec: schedule,
    table,
  };
  read.check('Capacity settings');
  cache.set(env, settings);
  return settings;
}
