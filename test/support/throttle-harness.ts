import { inject } from 'vitest';
import { pollProvider, resetPollBackoff } from '../../src/lib/app/poll-provider.js';
import { loadConfig, type Config } from '../../src/lib/config.js';
import type { JobRecord, JobStatus } from '../../src/lib/core/job.js';
import { createDeps, type Deps } from '../../src/lib/deps.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import type { JobProvider, SubmitOutcome } from '../../src/lib/ports/provider.js';
import { createProviderRegistry } from '../../src/lib/providers/registry.js';
import { mapLimit } from '../../src/lib/retry.js';
import { InMemoryBlobStore, InMemoryJobStore } from '../fakes/in-memory-stores.js';
import type { FakeClock } from '../fakes/rate-limit.js';

/**
 * Jobs per mass-completion test. `npm test` runs a few hundred so the suite stays quick on two cores;
 * `npm run test:throttle` (CI) runs the full 1 000 of the issue.
 */
export const MASS_JOBS = Number(process.env.THROTTLE_TEST_JOBS ?? 100);

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A config with the provider's own settings (the queue transport points at the shared Azurite but is not used). */
export function throttleConfig(env: Record<string, string>): Config {
  const suffix = Math.random().toString(36).slice(2, 8);
  return loadConfig({
    JobsStorage: inject('storageConnectionString'),
    RESULTS_CONTAINER: `thr-results-${suffix}`,
    PAYLOADS_CONTAINER: `thr-payloads-${suffix}`,
    ...env,
  });
}

/**
 * Deps with `provider` registered under its name, time from `clock`, and the in-memory job and blob
 * stores (they pass the JobStore contract suite): a thousand-job mass completion is about the poll
 * use case and the provider, and must not spend minutes on storage round trips.
 */
export async function throttleDeps(
  config: Config,
  provider: JobProvider | ((blobs: BlobStore) => Promise<JobProvider>),
  clock: FakeClock,
  blobs: BlobStore = new InMemoryBlobStore(),
): Promise<Deps> {
  const store = new InMemoryJobStore();
  const built = typeof provider === 'function' ? await provider(blobs) : provider;
  return createDeps(config, {
    blobs,
    store,
    providers: createProviderRegistry({ config, blobs }, { [built.name]: built }),
    // No admission control: these suites are about the providers' own request quotas, and the
    // shared Azurite's capacity table belongs to no suite (test/unit/app/capacity.test.ts covers caps).
    capacity: undefined,
    // Nor costs: pricing is not what these suites measure.
    costs: undefined,
    log: silent,
    now: () => new Date(clock.now()),
  });
}

/**
 * Creates `n` jobs at the provider (through its real submit) and stores them as dispatched, the way
 * the dispatch use case leaves them. `record(i)` builds job i (its id names the cloud job).
 */
export async function seedDispatched(
  deps: Deps,
  provider: JobProvider,
  records: readonly JobRecord[],
): Promise<JobRecord[]> {
  return mapLimit(records, 16, async (job) => {
    const outcome: SubmitOutcome = await provider.submit(job);
    const at = deps.now().toISOString();
    const stored: JobRecord = {
      ...job,
      status: 'dispatched',
      providerRef: outcome.ref,
      dispatchedAt: at,
      updatedAt: at,
    };
    await deps.store.create(stored, {
      seq: 0,
      at,
      type: 'transition',
      from: null,
      to: 'dispatched',
      reason: 'seeded by the throttling test',
    });
    return stored;
  });
}

export interface DrainOutcome {
  readonly cycles: number;
  /** Cycles the provider cut short (throttled part-way) but that still applied reports. */
  readonly partialCycles: number;
  /** Cycles that learned nothing because the provider throttled the whole cycle. */
  readonly emptyThrottledCycles: number;
  /** Fake-clock time from the first to the last cycle. */
  readonly elapsedMs: number;
  readonly statuses: Record<string, number>;
}

/**
 * Runs poll cycles as the timer would, waiting out each Retry-After on the fake clock, until no job
 * of the provider is active (or `maxCycles` ran). `between` runs before each cycle (fault schedules).
 */
export async function drain(
  deps: Deps,
  providerName: string,
  ids: readonly string[],
  clock: FakeClock,
  options: { maxCycles: number; intervalMs?: number },
): Promise<DrainOutcome> {
  resetPollBackoff();
  const start = clock.now();
  let cycles = 0;
  let partialCycles = 0;
  let emptyThrottledCycles = 0;
  for (; cycles < options.maxCycles; ) {
    const summary = await pollProvider(deps, providerName);
    if (summary.skipped === 'backing-off') {
      clock.advance(options.intervalMs ?? 1000);
      continue;
    }
    cycles++;
    if (summary.retryAfterMs !== undefined) {
      if (summary.reports > 0 || summary.changed > 0) partialCycles++;
      else emptyThrottledCycles++;
    }
    if (summary.active === 0) break;
    clock.advance(Math.max(summary.retryAfterMs ?? 0, options.intervalMs ?? 1000));
  }
  const statuses: Record<string, number> = {};
  const jobs = await mapLimit(ids, 32, (id) => deps.store.get(id));
  for (const job of jobs) {
    const s: JobStatus | 'absent' = job?.status ?? 'absent';
    statuses[s] = (statuses[s] ?? 0) + 1;
  }
  return { cycles, partialCycles, emptyThrottledCycles, elapsedMs: clock.now() - start, statuses };
}
