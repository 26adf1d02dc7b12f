import { resetPollBackoff } from '../../src/lib/app/poll-provider.js';
import { loadConfig } from '../../src/lib/config.js';
import type { JobRecord, JobStatus } from '../../src/lib/core/job.js';
import { creationEvent } from '../../src/lib/core/state-machine.js';
import type { Deps } from '../../src/lib/deps.js';
import { ProviderNotConfiguredError } from '../../src/lib/errors.js';
import type { JobProvider } from '../../src/lib/ports/provider.js';
import { CapacityReleasingJobStore } from '../../src/lib/app/capacity/releasing-store.js';
import { parseCapacitySettings } from '../../src/lib/capacity-settings.js';
import { InMemoryCapacityStore } from '../fakes/in-memory-capacity-store.js';
import { InMemoryQueueTransport } from '../fakes/in-memory-queue.js';
import { InMemoryBlobStore, InMemoryJobStore } from '../fakes/in-memory-stores.js';
import { ScriptedProvider } from '../fakes/scripted-provider.js';
import { makeJob } from './jobs.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Use-case dependencies held in memory, on a clock the test moves by hand. */
export interface AppHarness {
  readonly deps: Deps;
  readonly store: InMemoryJobStore;
  readonly queues: InMemoryQueueTransport;
  readonly provider: ScriptedProvider;
  /** Every scripted provider by name (`provider` and those named in the options). */
  readonly providers: Readonly<Record<string, ScriptedProvider>>;
  /** Admission state (slots, buckets, waits), shared like the Table one. */
  readonly capacity: InMemoryCapacityStore;
  /** Store writes (update calls) so far. */
  readonly writes: () => number;
  now(): Date;
  advance(sec: number): void;
  /** Stores a job as it would be in `status` now (provider jobs at the scripted provider). */
  seed(status: JobStatus, over?: Partial<JobRecord>, body?: Record<string, unknown>): Promise<JobRecord>;
}

/**
 * The in-memory JobStore and QueueTransport (both pass the real adapters' contract suites), a
 * scripted provider, and a clock starting at a fixed instant. No Azurite, no timers, no waiting.
 */
export function appHarness(
  env: Record<string, string> = {},
  options: {
    providers?: readonly string[];
    /** Providers beside the scripted ones: real adapters on their wire fakes, by name. */
    real?: Readonly<Record<string, JobProvider>>;
  } = {},
): AppHarness {
  resetPollBackoff();
  let t = Date.parse('2026-12-04T12:00:00.000Z');
  const now = () => new Date(t);
  const config = loadConfig({ JOB_STUCK_AFTER_SEC: '60', JOB_MAX_ATTEMPTS: '3', ...env });
  const store = new InMemoryJobStore();
  let writes = 0;
  const update = store.update.bind(store);
  store.update = (id, mutate) => {
    writes++;
    return update(id, mutate);
  };
  const queues = new InMemoryQueueTransport({ now: () => t });
  const names = options.providers?.length ? options.providers : ['scripted'];
  const scripted = Object.fromEntries(names.map((n) => [n, new ScriptedProvider(n)]));
  const provider = scripted[names[0]!]!;
  const extra = new Map<string, JobProvider>([...Object.entries(scripted), ...Object.entries(options.real ?? {})]);
  const capacity = new InMemoryCapacityStore();
  const capped = Object.entries(parseCapacitySettings(config.env).limits)
    .filter(([, l]) => l.concurrent !== undefined)
    .map(([p]) => p);
  const silentLog = silent;
  const deps: Deps = {
    config,
    // As createDeps builds it: every committed change gives back the admission state it frees.
    store: new CapacityReleasingJobStore(store, capacity, new Set(capped), silentLog),
    capacity,
    queues,
    blobs: new InMemoryBlobStore(),
    providers: {
      configured: () => [...extra.keys()],
      get: async (name) => {
        const p = extra.get(name);
        if (!p) throw new ProviderNotConfiguredError(name);
        return p;
      },
    },
    now,
    log: silent,
  };
  return {
    deps,
    store,
    queues,
    provider,
    providers: scripted,
    capacity,
    writes: () => writes,
    now,
    advance: (sec) => {
      t += sec * 1000;
    },
    async seed(status, over = {}, body = {}) {
      const at = now().toISOString();
      const past = status !== 'submitted' && status !== 'queued';
      const job = makeJob(
        {
          status,
          createdAt: at,
          updatedAt: at,
          ...(status !== 'submitted' && { queue: config.queues.ml }),
          ...(past && {
            provider: provider.name,
            attempts: 1,
            dispatchedAt: at,
            providerRef: { seeded: true },
          }),
          ...((status === 'running' || status === 'cancelling') && { startedAt: at }),
          ...over,
        },
        body,
      );
      await store.create(job, creationEvent(job, 'seeded by the test'));
      return job;
    },
  };
}
