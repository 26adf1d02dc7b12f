import { randomUUID } from 'node:crypto';
import {
  failoverChain,
  type CapacityWait,
  type CapacityWaitReason,
  type FailoverHistory,
  type FailoverStep,
} from '../../core/capacity.js';
import type { JobRecord } from '../../core/job.js';
import { note, transition } from '../../core/state-machine.js';
import type { Deps } from '../../deps.js';
import { describeError, describeRefusals, type CapacityRefusal, type ProviderCapacityError } from '../../errors.js';
import type { JobUpdate } from '../../ports/job-store.js';
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
 * A provider refused the job for capacity or quota. Records the refusal in the decision's failover
 * history and moves the job to the next usable target of its chain (its `fallback`, else the
 * queue's default chain), so the caller dispatches again at once. When the chain is exhausted the
 * job waits for the next round (CAPACITY_RETRY_SCHEDULE_SEC) starting over from its first target;
 * after the last round, or when every refusal of a round is lasting, it fails with `NO_CAPACITY`
 * naming every refusal.
 */
export async function failOver(
  deps: Deps,
  ctl: CapacityControl,
  job: JobRecord,
  message: JobMessage,
  refusedBy: string,
  error: ProviderCapacityError,
): Promise<FailoverOutcome> {
  const at = deps.now();
  await releaseSlot(deps, ctl, refusedBy, job);
  const primary = job.decision?.provider ?? refusedBy;
  const history = historyOf(ctl, job, primary);
  const round = currentRound(job);
  const steps: FailoverStep[] = [...history.steps];
  const refusal: FailoverStep = {
    at: at.toISOString(),
    round,
    provider: refusedBy,
    code: error.providerCode,
    message: error.message.slice(0, 512),
    outcome: 'refused',
    ...(error.lasting && { lasting: true }),
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
  steps.push({ ...refusal, ...(next && { next }) }, ...skipped);
  const failover = (current: JobRecord): Partial<JobRecord> =>
    current.decision ? { decision: { ...current.decision, failover: { chain: history.chain, steps } } } : {};

  if (next) {
    const target = next;
    await deps.store.update(job.id, (current) =>
      current.status !== 'queued'
        ? { job: current, unchanged: true }
        : note(current, `${refusedBy} refused for capacity (${error.providerCode}); failing over to ${target}`, {
            at,
            patch: { ...failover(current), provider: target },
            detail: { failover: { from: refusedBy, to: target, code: error.providerCode, round } },
          }),
    );
    return 'moved';
  }

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
    const noCapacity = { code: 'NO_CAPACITY', message: describeRefusals(refusals), category: 'capacity' };
    await deps.store.update(job.id, (current) =>
      current.status !== 'queued'
        ? { job: current, unchanged: true }
        : transition(current, 'failed', `no capacity: ${why}`, {
            at,
            patch: { ...failover(current), error: noCapacity },
            detail: { code: 'NO_CAPACITY', refusals },
          }),
    );
    await recordRefusal(deps, ctl, job, refusedBy, error, undefined);
    return 'failed';
  }

  const delaySec = schedule[round - 1]!;
  const first = history.chain[0] ?? primary;
  await recordRefusal(deps, ctl, job, refusedBy, error, new Date(at.getTime() + delaySec * 1000));
  await waitForCapacity(
    deps,
    ctl,
    job,
    message,
    {
      reason: 'no-capacity',
      provider: first,
      detail: `every target (${history.chain.join(', ')}) refused for capacity; round ${round + 1} of ${schedule.length + 1} starts from ${first}`,
      delaySec,
      round,
    },
    (current) => ({ ...failover(current), provider: first }),
    `${refusedBy} refused for capacity (${error.providerCode}) and no target is left; retrying from ${first} in ${delaySec} s (round ${round + 1} of ${schedule.length + 1})`,
  );
  return 'waiting';
}

async function recordRefusal(
  deps: Deps,
  ctl: CapacityControl,
  job: JobRecord,
  provider: string,
  error: ProviderCapacityError,
  backingOffUntil: Date | undefined,
): Promise<void> {
  if (!ctl.store) return;
  try {
    await ctl.store.recordRefusal(provider, {
      at: deps.now().toISOString(),
      jobId: job.id,
      code: error.providerCode,
      message: error.message.slice(0, 512),
      ...(backingOffUntil && { backingOffUntil: backingOffUntil.toISOString() }),
    });
  } catch (e) {
    deps.log.warn('could not record the capacity refusal', { jobId: job.id, error: describeError(e) });
  }
}
