import { randomUUID } from 'node:crypto';
import {
  failoverChain,
  type CapacityWait,
  type CapacityWaitReason,
  type FailoverHistory,
  type FailoverStep,
} from '../../core/capacity.js';
import { ACTIVE_STATUSES, type JobRecord } from '../../core/job.js';
import { note, transition } from '../../core/state-machine.js';
import type { Deps } from '../../deps.js';
import { describeError, describeRefusals, type CapacityRefusal, type ProviderCapacityError } from '../../errors.js';
import type { JobUpdate } from '../../ports/job-store.js';
import type { CapacityFailure, JobProvider } from '../../ports/provider.js';
import { jobMessage, type JobMessage } from '../messages.js';
import { releaseSlot, type CapacityControl } from './admission.js';

/** A wait to record on a queued job and to hold with a delayed copy of its message. */
export interface WaitPlan {
  readonly reason: CapacityWaitReason;
  readonly provider: string;
  readonly detail: string;
  readonly delaySec: number;
  readonly round?: number;
}

/**
 * Makes a queued job wait: records `waitingForCapacity` (with a `note` event the first time it
 * starts waiting for this reason, a quiet write on later checks so a long wait does not flood the
 * history), then re-sends its message with a delay. The caller returns normally, so the current
 * message is completed: no delivery attempt is spent on waiting. `extra` is applied in the same
 * write (the failover history, the provider to try next).
 */
export async function waitForCapacity(
  deps: Deps,
  ctl: CapacityControl,
  job: JobRecord,
  message: JobMessage,
  plan: WaitPlan,
  extra: (current: JobRecord) => Partial<JobRecord> = () => ({}),
  noteReason?: string,
): Promise<void> {
  const at = deps.now();
  const token = randomUUID();
  const nextCheckAt = new Date(at.getTime() + plan.delaySec * 1000).toISOString();
  const updated = await deps.store.update(job.id, (current): JobUpdate => {
    if (current.status !== 'queued') return { job: current, unchanged: true };
    const earlier = current.waitingForCapacity;
    const same = earlier?.reason === plan.reason && earlier.provider === plan.provider && noteReason === undefined;
    const wait: CapacityWait = {
      reason: plan.reason,
      provider: plan.provider,
      detail: plan.detail,
      since: same ? earlier.since : at.toISOString(),
      nextCheckAt,
      token,
      ...(plan.round !== undefined && { round: plan.round }),
    };
    const patch = { ...extra(current), waitingForCapacity: wait };
    if (same) return { job: { ...current, ...patch, updatedAt: at.toISOString() }, quiet: true };
    return note(current, noteReason ?? `waiting for capacity: ${plan.detail}; next try at ${nextCheckAt}`, {
      at,
      patch,
      detail: { waitingForCapacity: plan.reason, provider: plan.provider, nextCheckAt },
    });
  });
  if (updated.status !== 'queued' || updated.waitingForCapacity?.token !== token) return;
  if (ctl.store) {
    await ctl.store.markWaiting(plan.provider, job.id, at).catch((error: unknown) =>
      deps.log.warn('could not record the capacity wait; the count may lag', {
        jobId: job.id,
        error: describeError(error),
      }),
    );
  }
  const queue = updated.queue ?? job.queue;
  if (!queue) throw new Error(`job ${job.id} has no queue to wait in`);
  await deps.queues.send(queue, [{ ...jobMessage(updated, message.secrets), capacityCheck: token }], {
    delaySec: plan.delaySec,
  });
}

/**
 * True when this message is a stale copy: the job waits, the wait is held by another (delayed)
 * message, and that one is not due yet. A copy with no token (the first delivery, a reconciler
 * re-send) is never stale.
 */
export function isStaleWaitCopy(job: JobRecord, message: JobMessage, now: Date): boolean {
  const wait = job.waitingForCapacity;
  if (!wait || message.capacityCheck === undefined || message.capacityCheck === wait.token) return false;
  return now.getTime() < Date.parse(wait.nextCheckAt);
}

/** Decides whether a provider can take this job at all (configured here, its kinds and spec fit). */
async function usable(
  deps: Deps,
  job: JobRecord,
  provider: string,
): Promise<{ ok: true } | { ok: false; why: string }> {
  if (!deps.providers.configured().includes(provider))
    return { ok: false, why: `${provider} is not configured in this deployment` };
  const { requiredJobKinds, validateProviderSpec } = await import('../../providers/registry.js');
  const kinds = await requiredJobKinds(provider);
  if (kinds && job.spec.kind === undefined)
    return { ok: false, why: `${provider} runs only jobs that name a kind (${kinds.join(', ')})` };
  if (kinds || job.spec.kind !== undefined) {
    try {
      await validateProviderSpec(provider, job.spec.kind, job.spec.spec);
    } catch (error) {
      return { ok: false, why: `${provider} does not accept this job's kind/spec: ${describeError(error)}` };
    }
  }
  return { ok: true };
}

/** The failover history of a job, started on first use. */
function historyOf(ctl: CapacityControl, job: JobRecord, primary: string): FailoverHistory {
  const existing = job.decision?.failover;
  if (existing) return existing;
  const fallbacks = job.spec.fallback ?? (job.queue ? ctl.settings.fallbackChains[job.queue] : undefined);
  return { chain: failoverChain(primary, fallbacks), steps: [] };
}

/**
 * The retry round the job is in: 1 on the first pass over the chain, plus one for every pass that
 * ran out of targets (a refusal with nowhere to go next ends a round).
 */
function currentRound(job: JobRecord): number {
  const steps = job.decision?.failover?.steps ?? [];
  return 1 + steps.filter((s) => s.outcome === 'refused' && s.next === undefined).length;
}

/** What dispatch does next after a capacity refusal. */
export type FailoverOutcome = 'moved' | 'waiting' | 'failed';

/**
 * One capacity refusal: a create call the provider refused ({@link ProviderCapacityError}), or a
 * run it accepted and then could not run (`attempt` set: the attempt whose cloud job it was).
 */
export interface Refusal {
  readonly provider: string;
  readonly code: string;
  readonly message: string;
  readonly lasting: boolean;
  readonly attempt?: number;
}

/** What a refusal leads to, with the failover history that records it. */
type FailoverPlan = {
  readonly at: Date;
  readonly round: number;
  readonly chain: readonly string[];
  readonly steps: readonly FailoverStep[];
} & (
  | { readonly kind: 'move'; readonly next: string }
  | { readonly kind: 'wait'; readonly first: string; readonly delaySec: number; readonly detail: string }
  | { readonly kind: 'fail'; readonly why: string; readonly refusals: readonly CapacityRefusal[] }
);

/**
 * Records the refusal in the failover history and decides where the job goes: the next usable
 * target of its chain (its `fallback`, else the queue's default chain), else — the chain exhausted —
 * a wait for the next round (CAPACITY_RETRY_SCHEDULE_SEC) starting over from its first target, or,
 * after the last round or when every refusal of the round is lasting, `NO_CAPACITY`.
 */
async function planFailover(deps: Deps, ctl: CapacityControl, job: JobRecord, refusal: Refusal): Promise<FailoverPlan> {
  const at = deps.now();
  const refusedBy = refusal.provider;
  const primary = job.decision?.provider ?? refusedBy;
  const history = historyOf(ctl, job, primary);
  const round = currentRound(job);
  const steps: FailoverStep[] = [...history.steps];
  const step: FailoverStep = {
    at: at.toISOString(),
    round,
    provider: refusedBy,
    code: refusal.code,
    message: refusal.message.slice(0, 512),
    outcome: 'refused',
    ...(refusal.lasting && { lasting: true }),
    ...(refusal.attempt !== undefined && { attempt: refusal.attempt }),
  };

  // The next usable target after the one that refused, skipping (and recording) those that cannot take the job.
  let next: string | undefined;
  const skipped: FailoverStep[] = [];
  for (const candidate of history.chain.slice(history.chain.indexOf(refusedBy) + 1)) {
    const check = await usable(deps, job, candidate);
    if (check.ok) {
      next = candidate;
      break;
    }
    skipped.push({
      at: at.toISOString(),
      round,
      provider: candidate,
      code: 'NOT_USABLE',
      message: check.why,
      outcome: 'skipped',
    });
  }
  steps.push({ ...step, ...(next && { next }) }, ...skipped);
  const base = { at, round, chain: history.chain, steps };
  if (next) return { ...base, kind: 'move', next };

  const refusals: CapacityRefusal[] = steps
    .filter((s) => s.outcome === 'refused')
    .map((s) => ({ at: s.at, provider: s.provider, code: s.code, message: s.message }));
  const thisRound = steps.filter((s) => s.round === round && s.outcome === 'refused');
  const allLasting = thisRound.length > 0 && thisRound.every((s) => s.lasting);
  const schedule = ctl.settings.retryScheduleSec;
  if (allLasting || round > schedule.length) {
    const why = allLasting
      ? 'every target refused for good (a quota of 0 or a size not offered)'
      : `every target refused on ${round} round(s)`;
    return { ...base, kind: 'fail', why, refusals };
  }
  const first = history.chain[0] ?? primary;
  return {
    ...base,
    kind: 'wait',
    first,
    delaySec: schedule[round - 1]!,
    detail: `every target (${history.chain.join(', ')}) refused for capacity; round ${round + 1} of ${schedule.length + 1} starts from ${first}`,
  };
}

/** The decision with the plan's failover history, for the write that applies the plan. */
function failoverPatch(plan: FailoverPlan, current: JobRecord): Partial<JobRecord> {
  return current.decision
    ? { decision: { ...current.decision, failover: { chain: plan.chain, steps: plan.steps } } }
    : {};
}

function noCapacityError(refusals: readonly CapacityRefusal[]) {
  return { code: 'NO_CAPACITY', message: describeRefusals(refusals), category: 'capacity' };
}

/**
 * A provider refused the job for capacity or quota at create time. Records the refusal in the
 * decision's failover history and moves the job to the next usable target of its chain, so the
 * caller dispatches again at once. When the chain is exhausted the job waits for the next round
 * (CAPACITY_RETRY_SCHEDULE_SEC) starting over from its first target; after the last round, or when
 * every refusal of a round is lasting, it fails with `NO_CAPACITY` naming every refusal.
 */
export async function failOver(
  deps: Deps,
  ctl: CapacityControl,
  job: JobRecord,
  message: JobMessage,
  refusedBy: string,
  error: ProviderCapacityError,
): Promise<FailoverOutcome> {
  await releaseSlot(deps, ctl, refusedBy, job);
  const refusal: Refusal = {
    provider: refusedBy,
    code: error.providerCode,
    message: error.message,
    lasting: error.lasting,
  };
  const plan = await planFailover(deps, ctl, job, refusal);
  const { at, round } = plan;

  if (plan.kind === 'move') {
    const target = plan.next;
    await deps.store.update(job.id, (current) =>
      current.status !== 'queued'
        ? { job: current, unchanged: true }
        : note(current, `${refusedBy} refused for capacity (${error.providerCode}); failing over to ${target}`, {
            at,
            patch: { ...failoverPatch(plan, current), provider: target },
            detail: { failover: { from: refusedBy, to: target, code: error.providerCode, round } },
          }),
    );
    return 'moved';
  }

  if (plan.kind === 'fail') {
    await deps.store.update(job.id, (current) =>
      current.status !== 'queued'
        ? { job: current, unchanged: true }
        : transition(current, 'failed', `no capacity: ${plan.why}`, {
            at,
            patch: { ...failoverPatch(plan, current), error: noCapacityError(plan.refusals) },
            detail: { code: 'NO_CAPACITY', refusals: plan.refusals },
          }),
    );
    await recordRefusal(deps, ctl, job, refusal, undefined);
    return 'failed';
  }

  const { first, delaySec } = plan;
  const rounds = ctl.settings.retryScheduleSec.length + 1;
  await recordRefusal(deps, ctl, job, refusal, new Date(at.getTime() + delaySec * 1000));
  await waitForCapacity(
    deps,
    ctl,
    job,
    message,
    { reason: 'no-capacity', provider: first, detail: plan.detail, delaySec, round },
    (current) => ({ ...failoverPatch(plan, current), provider: first }),
    `${refusedBy} refused for capacity (${error.providerCode}) and no target is left; retrying from ${first} in ${delaySec} s (round ${round + 1} of ${rounds})`,
  );
  return 'waiting';
}

/** What the poll did with a run its provider could not run for capacity. */
export type RunFailoverOutcome = FailoverOutcome | 'cancelled' | 'unchanged';

/**
 * The provider accepted the job's current attempt and then could not run it for capacity or quota
 * (seen by a poll). The run is stopped first when it still waits at the provider, so it can never
 * start late beside its successor; if that stop fails nothing changes and the next poll tries
 * again. The refusal then goes into the same failover history as a refusal at create time and the
 * job leaves its provider in one write: back to `queued` for the next target of its chain (its
 * message re-sent at once; the next dispatch is a new attempt, a new cloud job name on that
 * target), back to `queued` waiting for the next round (a delayed message), or `failed` with
 * `NO_CAPACITY`. A job being cancelled ends `cancelled`. The failed attempt's admission slot is
 * given back. Safe to run twice for one report: only the write that moved the job sends messages.
 */
export async function failOverAfterRun(
  deps: Deps,
  ctl: CapacityControl,
  job: JobRecord,
  provider: JobProvider,
  capacity: CapacityFailure,
  native: string,
): Promise<RunFailoverOutcome> {
  if (!capacity.runEnded) {
    try {
      await provider.cancel(job);
    } catch (error) {
      deps.log.warn('could not stop a run the provider cannot place; the next poll tries again', {
        jobId: job.id,
        provider: provider.name,
        error: describeError(error),
      });
      return 'unchanged';
    }
  }
  const refusal: Refusal = {
    provider: provider.name,
    code: capacity.code,
    message: capacity.message,
    lasting: capacity.lasting,
    attempt: job.attempts,
  };
  const plan = await planFailover(deps, ctl, job, refusal);
  const { at, round } = plan;
  const what = `${provider.name} could not run attempt ${job.attempts} for capacity (${capacity.code}${native})`;
  // Per-attempt stamps go: the next attempt gets its own dispatch time and time limit.
  const fresh = { dispatchedAt: undefined, startedAt: undefined, progress: undefined, heartbeatAt: undefined };
  const token = randomUUID();
  let outcome: RunFailoverOutcome = 'unchanged';
  const updated = await deps.store.update(job.id, (current): JobUpdate => {
    outcome = 'unchanged';
    const unchanged = { job: current, unchanged: true as const };
    // Only the attempt this report is about, and only while the provider still holds the job.
    if (current.attempts !== job.attempts || !(ACTIVE_STATUSES as readonly string[]).includes(current.status))
      return unchanged;
    if (current.status === 'cancelling') {
      outcome = 'cancelled';
      return transition(current, 'cancelled', `${what}; it was being cancelled`, { at });
    }
    const detail = { failover: { from: provider.name, code: capacity.code, round, attempt: job.attempts } };
    switch (plan.kind) {
      case 'move':
        outcome = 'moved';
        return transition(current, 'queued', `${what}; failing over to ${plan.next}`, {
          at,
          patch: { ...fresh, ...failoverPatch(plan, current), provider: plan.next },
          detail: { failover: { ...detail.failover, to: plan.next } },
        });
      case 'wait': {
        outcome = 'waiting';
        const nextCheckAt = new Date(at.getTime() + plan.delaySec * 1000).toISOString();
        const rounds = ctl.settings.retryScheduleSec.length + 1;
        const wait: CapacityWait = {
          reason: 'no-capacity',
          provider: plan.first,
          detail: plan.detail,
          since: at.toISOString(),
          nextCheckAt,
          token,
          round,
        };
        return transition(
          current,
          'queued',
          `${what} and no target is left; retrying from ${plan.first} in ${plan.delaySec} s (round ${round + 1} of ${rounds})`,
          {
            at,
            patch: { ...fresh, ...failoverPatch(plan, current), provider: plan.first, waitingForCapacity: wait },
            detail: { ...detail, waitingForCapacity: 'no-capacity', nextCheckAt },
          },
        );
      }
      case 'fail':
        outcome = 'failed';
        return transition(current, 'failed', `${what}; no capacity: ${plan.why}`, {
          at,
          patch: { ...failoverPatch(plan, current), error: noCapacityError(plan.refusals) },
          detail: { code: 'NO_CAPACITY', refusals: plan.refusals },
        });
      default: {
        const unreachable: never = plan;
        throw new Error(`unhandled failover plan ${String(unreachable)}`);
      }
    }
  });
  if (outcome === 'unchanged' || outcome === 'cancelled') return outcome;
  // The store gives the slot back on the move too; this covers a store built without that wrapper.
  await releaseSlot(deps, ctl, provider.name, job);
  const backingOff = plan.kind === 'wait' ? new Date(at.getTime() + plan.delaySec * 1000) : undefined;
  await recordRefusal(deps, ctl, job, refusal, backingOff);
  const queue = updated.queue ?? job.queue;
  if (outcome === 'failed' || !queue) return outcome;
  // If this send is lost, the reconciler re-sends the queued job's message.
  if (outcome === 'moved') {
    await deps.queues.send(queue, [jobMessage(updated)]);
  } else {
    if (ctl.store) {
      await ctl.store
        .markWaiting(updated.waitingForCapacity?.provider ?? provider.name, job.id, at)
        .catch((e: unknown) =>
          deps.log.warn('could not record the capacity wait; the count may lag', {
            jobId: job.id,
            error: describeError(e),
          }),
        );
    }
    await deps.queues.send(queue, [{ ...jobMessage(updated), capacityCheck: token }], {
      delaySec: plan.kind === 'wait' ? plan.delaySec : 0,
    });
  }
  return outcome;
}

async function recordRefusal(
  deps: Deps,
  ctl: CapacityControl,
  job: JobRecord,
  refusal: Refusal,
  backingOffUntil: Date | undefined,
): Promise<void> {
  if (!ctl.store) return;
  try {
    await ctl.store.recordRefusal(refusal.provider, {
      at: deps.now().toISOString(),
      jobId: job.id,
      code: refusal.code,
      message: refusal.message.slice(0, 512),
      ...(backingOffUntil && { backingOffUntil: backingOffUntil.toISOString() }),
    });
  } catch (e) {
    deps.log.warn('could not record the capacity refusal', { jobId: job.id, error: describeError(e) });
  }
}
