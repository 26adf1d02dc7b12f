/**
 * Pure rules of admission control and capacity failover: the token bucket of a rate cap, the
 * failover chain of a job and the record of its capacity wait. No I/O.
 */

/** A rate cap's bucket as stored: tokens left at a time (ms since the epoch). */
export interface BucketState {
  readonly tokens: number;
  readonly at: number;
}

/**
 * Refills the bucket to `at` and takes one token if there is one. The bucket holds at most
 * `perMinute` tokens (a minute's worth, as Vertex's per-minute quota and ARM's bucket allow a
 * burst) and refills continuously at `perMinute / 60 000` per ms.
 */
export function takeToken(
  state: BucketState | undefined,
  perMinute: number,
  at: number,
): { state: BucketState; granted: boolean; retryAfterMs: number } {
  const capacity = Math.max(1, perMinute);
  const perMs = perMinute / 60_000;
  const current = state ? Math.min(capacity, state.tokens + Math.max(0, at - state.at) * perMs) : capacity;
  if (current >= 1) return { state: { tokens: current - 1, at }, granted: true, retryAfterMs: 0 };
  return { state: { tokens: current, at }, granted: false, retryAfterMs: Math.ceil((1 - current) / perMs) };
}

/** Tokens in the bucket at `at`, without taking one. */
export function tokensAt(state: BucketState | undefined, perMinute: number, at: number): number {
  const capacity = Math.max(1, perMinute);
  return state ? Math.min(capacity, state.tokens + Math.max(0, at - state.at) * (perMinute / 60_000)) : capacity;
}

/** Why a job waits in its queue instead of being dispatched. */
export type CapacityWaitReason = 'concurrency-cap' | 'rate-cap' | 'no-capacity';

/**
 * Shown on a queued job that waits for capacity (`waitingForCapacity` on GET /api/jobs/{id}).
 * Cleared when the job leaves `queued`.
 */
export interface CapacityWait {
  readonly reason: CapacityWaitReason;
  /** The provider it waits for. */
  readonly provider: string;
  readonly detail: string;
  readonly since: string;
  /** When its dispatch is tried again (its delayed message becomes visible). */
  readonly nextCheckAt: string;
  /** Matches the delayed message that holds the wait; other copies of the message are dropped. */
  readonly token: string;
  /** Retry rounds over the whole chain used so far (`no-capacity` waits). */
  readonly round?: number;
}

/** One move of the failover history kept in the job's decision. */
export interface FailoverStep {
  readonly at: string;
  /** Retry round (1 = the first pass over the chain). */
  readonly round: number;
  /** The provider that refused, or was skipped. */
  readonly provider: string;
  readonly code: string;
  readonly message: string;
  /** Where the job went next; absent when the chain ran out. */
  readonly next?: string;
  /** `refused`: the provider said no for capacity. `skipped`: the target cannot run this job here. */
  readonly outcome: 'refused' | 'skipped';
  readonly lasting?: boolean;
  /**
   * Set when the provider accepted the run and then could not run it for capacity (seen by a poll):
   * the attempt whose cloud job that was. Absent for a refusal of the create call.
   */
  readonly attempt?: number;
}

/** The failover part of a routing decision: the chain and every step taken along it. */
export interface FailoverHistory {
  readonly chain: readonly string[];
  readonly steps: readonly FailoverStep[];
}

/**
 * Attempts of the job whose accepted run its provider could not run for capacity. They are not
 * runs lost to infrastructure, so JOB_MAX_ATTEMPTS does not count them.
 */
export function capacityFailedAttempts(history: FailoverHistory | undefined): number {
  return (history?.steps ?? []).filter((s) => s.outcome === 'refused' && s.attempt !== undefined).length;
}

/** The targets a job may run on, in order: its decided provider, then its fallbacks (each once). */
export function failoverChain(primary: string, fallbacks: readonly string[] | undefined): string[] {
  return [...new Set([primary, ...(fallbacks ?? [])])];
}

/**
 * The instance type or family a provider keeps a quota for, read from the job's spec where the job
 * names one: SageMaker `instance_type`, Vertex the first worker pool's accelerator (GPU quotas are
 * per accelerator type) else its machine type, Azure ML the compute target, Azure Batch `vmSize`.
 * `undefined` when the job leaves it to the provider's default.
 */
export function instanceTypeOf(provider: string, spec: Record<string, unknown> | undefined): string | undefined {
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  switch (provider) {
    case 'sagemaker':
      return text(spec?.instance_type);
    case 'vertex': {
      const pools = spec?.workerPoolSpecs;
      const machine = Array.isArray(pools)
        ? (pools[0] as { machineSpec?: Record<string, unknown> })?.machineSpec
        : undefined;
      return text(machine?.acceleratorType) ?? text(machine?.machineType);
    }
    case 'azure-ml':
      return text(spec?.compute);
    case 'azure-batch':
      return text(spec?.vmSize);
    default:
      return undefined;
  }
}

/**
 * The capacity scopes a job counts against at `provider`: the provider itself and, when a cap is
 * set for it, `provider/<instance type>` (a per-family quota). `capped` says which keys have caps.
 */
export function capacityScopes(
  provider: string,
  spec: Record<string, unknown> | undefined,
  capped: (key: string) => boolean,
): string[] {
  const type = instanceTypeOf(provider, spec);
  return [provider, ...(type ? [`${provider}/${type}`] : [])].filter(capped);
}
