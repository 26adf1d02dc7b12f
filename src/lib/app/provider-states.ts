import { WORKER_PROVIDER } from '../core/classifier.js';
import type { Deps } from '../deps.js';
import { knownProviders } from '../providers/registry.js';
import { providerCapacityState, type ProviderCapacityState } from './capacity/admission.js';
import { pollStateOf } from './poll-provider.js';

export interface ProviderState {
  readonly name: string;
  readonly configured: boolean;
  readonly activeJobs: number | null;
  readonly lastPollAt: string | null;
  readonly lastPollError: string | null;
  readonly backingOffUntil: string | null;
  /**
   * Admission control: caps (CAPACITY_LIMITS), places in use, creation tokens left, jobs waiting
   * for this provider and its last capacity refusal with the back-off it started. Shared by all
   * instances (read from the capacity table). `null` for the workers, which are not capped.
   */
  readonly capacity: ProviderCapacityState | null;
}

/** Most active jobs counted per provider; the count says "1000" rather than reading a huge index. */
const ACTIVE_COUNT_LIMIT = 1000;

/**
 * Every provider with what an operator wants to see: configured or not, jobs it owns now, and this
 * instance's last poll and back-off (per process: another instance may have polled more recently),
 * and its admission state (caps, in use, waiting, capacity back-off), which all instances share.
 * The KEDA workers appear as `worker` (they are not polled; they report through heartbeats).
 */
export async function providerStates(deps: Deps): Promise<ProviderState[]> {
  const configured = new Set(deps.providers.configured());
  const names = [...new Set([...knownProviders(), ...configured, WORKER_PROVIDER])];
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return Promise.all(
    names.map(async (name) => {
      const isConfigured = name === WORKER_PROVIDER || configured.has(name);
      const poll = pollStateOf(name);
      return {
        name,
        configured: isConfigured,
        activeJobs: isConfigured ? (await deps.store.listActive(name, ACTIVE_COUNT_LIMIT)).length : null,
        lastPollAt: iso(poll.lastPollAt),
        lastPollError: poll.lastPollError ?? null,
        backingOffUntil: iso(poll.backingOffUntil),
        capacity: name === WORKER_PROVIDER ? null : await providerCapacityState(deps, name),
      };
    }),
  );
}
