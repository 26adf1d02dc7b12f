import { parseCapacitySettings, type CapacitySettings, type ProviderLimits } from '../../capacity-settings.js';
import { capacityScopes } from '../../core/capacity.js';
import { ACTIVE_STATUSES, isTerminal, type JobRecord, type JobStatus } from '../../core/job.js';
import type { Deps } from '../../deps.js';
import { describeError } from '../../errors.js';
import type { CapacityStore } from '../../ports/capacity-store.js';

/** Admission settings and state of a host; `store` is absent on hosts built without one (some tests). */
export interface CapacityControl {
  readonly settings: CapacitySettings;
  readonly store?: CapacityStore;
}

export function capacityControl(deps: Pick<Deps, 'config' | 'capacity'>): CapacityControl {
  return { settings: parseCapacitySettings(deps.config.env), ...(deps.capacity && { store: deps.capacity }) };
}

export type Admission =
  | { readonly admitted: true }
  | {
      readonly admitted: false;
      readonly reason: 'concurrency-cap' | 'rate-cap';
      readonly retryAfterSec: number;
      readonly detail: string;
    };

/** The capped scopes a job counts against at `provider` (the provider, its instance type). */
export function scopesFor(ctl: CapacityControl, provider: string, job: Pick<JobRecord, 'spec'>): string[] {
  return capacityScopes(provider, job.spec.spec, (key) => ctl.settings.limits[key] !== undefined);
}

/**
 * Lets a dispatch to `provider` go ahead, or says why it must wait: a place under each concurrency
 * cap the job counts against (a slot held until the job leaves the provider), then a token of each
 * create-rate cap. A job over any cap waits; nothing here ever fails one.
 */
export async function admit(
  ctl: CapacityControl,
  provider: string,
  job: Pick<JobRecord, 'id' | 'spec'>,
  at: Date,
): Promise<Admission> {
  const store = ctl.store;
  if (!store) return { admitted: true };
  const scopes = scopesFor(ctl, provider, job);
  const held: string[] = [];
  const giveBack = () => Promise.all(held.map((scope) => store.releaseSlot(scope, job.id)));
  for (const scope of scopes) {
    const limit = ctl.settings.limits[scope]?.concurrent;
    if (limit === undefined) continue;
    const slot = await store.acquireSlot(scope, job.id, limit, at);
    if (!slot.granted) {
      await giveBack();
      return {
        admitted: false,
        reason: 'concurrency-cap',
        retryAfterSec: ctl.settings.waitSec,
        detail: `${slot.inUse} of ${limit} ${scope} jobs allowed at once are running (CAPACITY_LIMITS)`,
      };
    }
    held.push(scope);
  }
  for (const scope of scopes) {
    const perMinute = ctl.settings.limits[scope]?.createsPerMin;
    if (perMinute === undefined) continue;
    const token = await store.takeToken(scope, perMinute, at);
    if (!token.granted) {
      // The slots wait with the job rather than sit idle under their caps.
      await giveBack();
      return {
        admitted: false,
        reason: 'rate-cap',
        retryAfterSec: Math.max(1, Math.ceil(token.retryAfterMs / 1000)),
        detail: `${scope} allows ${perMinute} job creations per minute and they are used up (CAPACITY_LIMITS)`,
      };
    }
  }
  return { admitted: true };
}

/** Gives back the job's slots at `provider` (no-op without a concurrency cap). Never throws. */
export async function releaseSlot(
  deps: Pick<Deps, 'log'>,
  ctl: CapacityControl,
  provider: string,
  job: Pick<JobRecord, 'id' | 'spec'>,
): Promise<void> {
  const store = ctl.store;
  if (!store) return;
  const scopes = scopesFor(ctl, provider, job).filter((s) => ctl.settings.limits[s]?.concurrent !== undefined);
  try {
    await Promise.all(scopes.map((scope) => store.releaseSlot(scope, job.id)));
  } catch (error) {
    // The reconciler's sweep finds the slot of a job that left the provider.
    deps.log.warn('capacity slot release failed; the sweep will release it', {
      jobId: job.id,
      provider,
      error: describeError(error),
    });
  }
}

const ACTIVE: readonly JobStatus[] = ACTIVE_STATUSES;

/** True when a committed change means the job no longer occupies a place at its provider. */
export function leftProvider(before: JobRecord, after: JobRecord): boolean {
  if (before.status === after.status) return false;
  return isTerminal(after.status) || (ACTIVE.includes(before.status) && after.status === 'queued');
}

export interface SweepSummary {
  readonly slotsReleased: number;
  readonly waitsCleared: number;
}

/**
 * Releases slots whose job is gone or no longer at the provider, and forgets waits of jobs that
 * stopped waiting: what a process that died between a job's write and the slot's leaves behind.
 * Only rows older than `graceSec` are looked at, so a dispatch between taking its slot and
 * recording the job dispatched is never disturbed.
 */
export async function sweepCapacity(deps: Deps, graceSec: number): Promise<SweepSummary> {
  const ctl = capacityControl(deps);
  const store = ctl.store;
  if (!store) return { slotsReleased: 0, waitsCleared: 0 };
  const cutoff = deps.now().getTime() - graceSec * 1000;
  let slotsReleased = 0;
  let waitsCleared = 0;
  for (const [scope, limits] of Object.entries(ctl.settings.limits) as [string, ProviderLimits][]) {
    const provider = scope.split('/')[0]!;
    if (limits.concurrent !== undefined) {
      for (const holder of await store.slots(scope)) {
        if (Date.parse(holder.since) > cutoff) continue;
        const job = await deps.store.get(holder.jobId);
        const holds = job !== undefined && job.provider === provider && ACTIVE.includes(job.status);
        if (!holds && (await store.releaseSlot(scope, holder.jobId))) slotsReleased++;
      }
    }
    if (scope !== provider) continue;
    for (const wait of await store.waiting(provider)) {
      if (Date.parse(wait.since) > cutoff) continue;
      const job = await deps.store.get(wait.jobId);
      if (job?.waitingForCapacity?.provider === provider && job.status === 'queued') continue;
      await store.clearWaiting(provider, wait.jobId);
      waitsCleared++;
    }
  }
  return { slotsReleased, waitsCleared };
}

/** What GET /api/providers shows of a provider's admission state. */
export interface ProviderCapacityState {
  readonly concurrent: number | null;
  readonly createsPerMin: number | null;
  /** Jobs holding a place under the concurrency cap now (null: no cap or no shared state). */
  readonly inUse: number | null;
  /** Creation tokens left in the rate cap's bucket now. */
  readonly tokens: number | null;
  /** Jobs waiting in their queue for this provider's capacity. */
  readonly waiting: number | null;
  readonly lastRefusal: { at: string; jobId: string; code: string; message: string } | null;
  /** Until when jobs this provider last refused for capacity back off before their next round. */
  readonly backingOffUntil: string | null;
  /** Caps per instance type (`<provider>/<type>` keys of CAPACITY_LIMITS) and their use. */
  readonly instanceTypes: Readonly<
    Record<
      string,
      { concurrent: number | null; createsPerMin: number | null; inUse: number | null; tokens: number | null }
    >
  >;
}

/** Waiting jobs counted per provider, like active jobs: past this the count says "1000". */
const WAITING_COUNT_LIMIT = 1000;

export async function providerCapacityState(deps: Deps, provider: string): Promise<ProviderCapacityState> {
  const ctl = capacityControl(deps);
  const limits = ctl.settings.limits[provider];
  const store = ctl.store;
  const at = deps.now();
  const [slots, tokens, waiting, refusal] = store
    ? await Promise.all([
        limits?.concurrent !== undefined ? store.slots(provider) : undefined,
        limits?.createsPerMin !== undefined ? store.peekTokens(provider, limits.createsPerMin, at) : undefined,
        store.waiting(provider, WAITING_COUNT_LIMIT),
        store.lastRefusal(provider),
      ])
    : [undefined, undefined, undefined, undefined];
  const until = refusal?.backingOffUntil;
  const instanceTypes: ProviderCapacityState['instanceTypes'] = Object.fromEntries(
    await Promise.all(
      Object.entries(ctl.settings.limits)
        .filter(([key]) => key.startsWith(`${provider}/`))
        .map(async ([key, l]) => [
          key.slice(provider.length + 1),
          {
            concurrent: l.concurrent ?? null,
            createsPerMin: l.createsPerMin ?? null,
            inUse: store && l.concurrent !== undefined ? (await store.slots(key)).length : null,
            tokens:
              store && l.createsPerMin !== undefined
                ? Math.floor(await store.peekTokens(key, l.createsPerMin, at))
                : null,
          },
        ]),
    ),
  );
  return {
    concurrent: limits?.concurrent ?? null,
    createsPerMin: limits?.createsPerMin ?? null,
    inUse: slots ? slots.length : null,
    tokens: tokens === undefined ? null : Math.floor(tokens),
    waiting: waiting ? waiting.length : null,
    lastRefusal: refusal
      ? { at: refusal.at, jobId: refusal.jobId, code: refusal.code, message: refusal.message }
      : null,
    backingOffUntil: until && Date.parse(until) > at.getTime() ? until : null,
    instanceTypes,
  };
}
