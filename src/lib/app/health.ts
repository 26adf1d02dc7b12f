import type { Deps } from '../deps.js';

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  /** Which dependency is down, never why: the route is anonymous, so error text stays in the log. */
  readonly checks: Record<'tables' | 'queues' | 'blobs' | 'providers', { ok: boolean }>;
}

/** A dependency that answers slower than this counts as down, so a hung storage call cannot pile up callers. */
const CHECK_TIMEOUT_MS = 3000;

/** One probe of table, queue and blob storage; `onFailure` receives each failure's message for the log. */
export async function probeHealth(
  deps: Deps,
  onFailure: (dependency: string, message: string) => void = () => undefined,
): Promise<HealthReport> {
  const check = async (dependency: string, fn: () => Promise<unknown>) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        fn(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        }),
      ]);
      return { ok: true };
    } catch (error) {
      onFailure(dependency, error instanceof Error ? error.message.split('\n')[0]! : String(error));
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  };
  const [tables, queues, blobs] = await Promise.all([
    check('tables', () => deps.store.get('j-00000000000000000000000000')),
    check('queues', () => deps.queues.depth(deps.config.queues.intake)),
    check('blobs', () => deps.blobs.get(deps.config.containers.results, '.health')),
  ]);
  const checks = { tables, queues, blobs, providers: { ok: deps.providers.configured().length > 0 } };
  return { status: Object.values(checks).every((c) => c.ok) ? 'healthy' : 'degraded', checks };
}

interface CachedProbe {
  at: number;
  report: Promise<HealthReport>;
}

const cache = new WeakMap<Deps, CachedProbe>();

/**
 * The health report, probed at most once per HEALTH_CACHE_SEC per set of dependencies. Concurrent
 * callers share the probe in flight (single-flight), so a flood of health checks costs one probe.
 */
export function health(
  deps: Deps,
  onFailure?: (dependency: string, message: string) => void,
  now = Date.now(),
): Promise<HealthReport> {
  const ttlMs = deps.config.healthCacheSec * 1000;
  const cached = cache.get(deps);
  if (cached && now - cached.at < ttlMs) return cached.report;
  const entry: CachedProbe = { at: now, report: probeHealth(deps, onFailure) };
  cache.set(deps, entry);
  // The probe only starts counting its age once it has answered: a slow probe is not re-run mid-flight.
  void entry.report.then(() => (entry.at = Date.now()));
  return entry.report;
}
