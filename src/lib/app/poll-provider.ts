import { billingFromResult } from '../core/costs.js';
import { isTerminal, type JobRecord } from '../core/job.js';
import { note, transition, type JobPatch } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError, PollThrottledError, ProviderThrottledError, ProviderUnavailableError } from '../errors.js';
import type { JobUpdate } from '../ports/job-store.js';
import type { JobProvider, PollReport } from '../ports/provider.js';
import { capacityFailedAttempts } from '../core/capacity.js';
import { capacityControl } from './capacity/admission.js';
import { failOverAfterRun } from './capacity/failover.js';
import { jobMessage } from './messages.js';
import { saveResult } from './results.js';
import { countingPollCycle } from '../telemetry/metrics.js';
import { inJobTrace, inSpan } from '../telemetry/trace.js';

export interface PollSummary {
  readonly provider: string;
  readonly skipped?: 'not-configured' | 'backing-off';
  readonly active: number;
  readonly reports: number;
  readonly changed: number;
  readonly timedOut: number;
  readonly error?: string;
  readonly retryAfterMs?: number;
  /** Jobs the provider could not read this cycle (throttled part-way); they are read first next cycle. */
  readonly carried?: number;
}

/** Per-process back-off: after a throttle the poller waits as long as the provider asked. */
const backoffUntil = new Map<string, number>();

/**
 * Per-process fairness: the cycle in which each active job was last read. Jobs go to the provider
 * least-recently-read first, so a cycle cut short by throttling resumes with the jobs it missed and
 * no job starves behind a steady stream of 429s.
 */
const lastRead = new Map<string, Map<string, number>>();
let cycleSeq = 0;

/** Per-process record of each provider's last poll cycle, for GET /api/providers. */
const lastPoll = new Map<string, { at: number; error?: string }>();

/** What this instance knows of a provider's polling: last cycle and back-off, if any. */
export function pollStateOf(providerName: string): {
  lastPollAt?: number;
  lastPollError?: string;
  backingOffUntil?: number;
} {
  const last = lastPoll.get(providerName);
  const until = backoffUntil.get(providerName);
  return {
    ...(last && { lastPollAt: last.at, ...(last.error && { lastPollError: last.error }) }),
    ...(until !== undefined && until > Date.now() && { backingOffUntil: until }),
  };
}

/** Default pause after an outage that gave no Retry-After. */
const UNAVAILABLE_BACKOFF_MS = 30_000;

/**
 * One poll cycle for one provider: read only that provider's active jobs, fail the ones past their
 * time limit (stopping them at the provider first), ask the provider about the rest in one batched
 * call, and apply what changed. An unreachable provider changes no job; a provider that throttles
 * part-way hands back what it read before the throttle (applied now) and the jobs it did not reach
 * (read first next cycle, after the Retry-After). A run the provider accepted but could not run
 * for capacity (`no-capacity`) fails over along the job's chain (capacity/failover.ts).
 */
export async function pollProvider(deps: Deps, providerName: string): Promise<PollSummary> {
  return inSpan('poll.cycle', { attributes: { 'provider.name': providerName } }, async (span) => {
    const summary = await countingPollCycle(providerName, () => pollCycle(deps, providerName));
    span.setAttributes({
      'poll.active': summary.active,
      'poll.reports': summary.reports,
      'poll.changed': summary.changed,
      'poll.timed_out': summary.timedOut,
      ...(summary.skipped && { 'poll.skipped': summary.skipped }),
      ...(summary.carried !== undefined && { 'poll.carried': summary.carried }),
      ...(summary.retryAfterMs !== undefined && { 'poll.retry_after_ms': summary.retryAfterMs }),
    });
    return summary;
  });
}

async function pollCycle(deps: Deps, providerName: string): Promise<PollSummary> {
  const base = { provider: providerName, active: 0, reports: 0, changed: 0, timedOut: 0 };
  if (!deps.providers.configured().includes(providerName)) return { ...base, skipped: 'not-configured' };
  const now = deps.now().getTime();
  if ((backoffUntil.get(providerName) ?? 0) > now) return { ...base, skipped: 'backing-off' };
  lastPoll.set(providerName, { at: now });

  const active = await deps.store.listActive(providerName);
  if (active.length === 0) return base;
  const provider = await deps.providers.get(providerName);

  // Overdue jobs are read with the others first: one that finished before we could see it (the
  // provider was throttling or down) is not failed for a deadline it met. Only a job the provider
  // reports still running (or has nothing new on) past its limit is stopped and failed.
  const overdue = active.filter((j) => isOverdue(deps, j, now));
  const watched = active;

  const cycle = ++cycleSeq;
  const ordered = leastRecentlyReadFirst(providerName, watched);
  let reports: readonly PollReport[];
  let unread: ReadonlySet<string> = new Set();
  let throttled: PollThrottledError | undefined;
  try {
    reports = ordered.length > 0 ? await provider.poll(ordered) : [];
  } catch (error) {
    if (error instanceof PollThrottledError) {
      throttled = error;
      reports = error.reports;
      unread = new Set(error.unread);
    } else if (error instanceof ProviderThrottledError || error instanceof ProviderUnavailableError) {
      const wait =
        error instanceof ProviderThrottledError ? error.retryAfterMs : (error.retryAfterMs ?? UNAVAILABLE_BACKOFF_MS);
      backoffUntil.set(providerName, now + wait);
      lastPoll.set(providerName, { at: now, error: error.message });
      deps.log.warn('poll backed off', { provider: providerName, retryAfterMs: wait, error: error.message });
      return { ...base, active: active.length, error: error.message, retryAfterMs: wait };
    } else {
      throw error;
    }
  }
  if (throttled) {
    backoffUntil.set(providerName, now + throttled.retryAfterMs);
    deps.log.warn('poll throttled part-way', {
      provider: providerName,
      retryAfterMs: throttled.retryAfterMs,
      reports: reports.length,
      carried: unread.size,
    });
  } else {
    backoffUntil.delete(providerName);
  }
  markRead(providerName, watched, unread, cycle);

  let changed = 0;
  const byId = new Map(watched.map((j) => [j.id, j]));
  const settled = new Set<string>();
  for (const report of reports) {
    const job = byId.get(report.jobId);
    if (!job) continue;
    if (report.status !== 'running' && report.status !== 'dispatched') settled.add(job.id);
    // Per-job work runs in the job's own trace, linked to this cycle: one job stays one trace.
    const moved = await inJobTrace(
      'poll.apply',
      job,
      {
        'provider.name': providerName,
        'provider.status': report.status,
        ...(report.nativeStatus && { 'provider.native_status': report.nativeStatus }),
      },
      () => applyReport(deps, provider, job, report),
    );
    if (moved) changed++;
  }
  // Past the limit and still running by the provider's own account: stop it and fail the job. A job
  // this cycle did not reach (throttled part-way) waits for the cycle that reads it.
  const timedOut = overdue.filter((j) => !settled.has(j.id) && !unread.has(j.id));
  for (const job of timedOut)
    await inJobTrace('poll.timeout', job, { 'provider.name': providerName }, () => timeOut(deps, provider, job));
  const summary = { ...base, active: active.length, reports: reports.length, changed, timedOut: timedOut.length };
  return throttled
    ? { ...summary, error: throttled.message, retryAfterMs: throttled.retryAfterMs, carried: unread.size }
    : summary;
}

function leastRecentlyReadFirst(providerName: string, jobs: readonly JobRecord[]): JobRecord[] {
  const seen = lastRead.get(providerName);
  const at = (j: JobRecord) => seen?.get(j.id) ?? 0;
  return [...jobs].sort((a, b) => at(a) - at(b) || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/** Records this cycle's reads; forgets jobs no longer active, so the map stays as small as the watch list. */
function markRead(providerName: string, jobs: readonly JobRecord[], unread: ReadonlySet<string>, cycle: number): void {
  const before = lastRead.get(providerName);
  const after = new Map<string, number>();
  for (const job of jobs) after.set(job.id, unread.has(job.id) ? (before?.get(job.id) ?? 0) : cycle);
  lastRead.set(providerName, after);
}

function isOverdue(deps: Deps, job: JobRecord, now: number): boolean {
  const limitSec = job.spec.max_runtime_sec ?? deps.config.defaultMaxRuntimeSec;
  const since = Date.parse(job.startedAt ?? job.dispatchedAt ?? job.createdAt);
  return job.status !== 'cancelling' && now - since > limitSec * 1000;
}

async function timeOut(deps: Deps, provider: JobProvider, job: JobRecord): Promise<void> {
  const limitSec = job.spec.max_runtime_sec ?? deps.config.defaultMaxRuntimeSec;
  try {
    await provider.cancel(job);
  } catch (error) {
    deps.log.warn('stop after timeout failed; failing the job anyway', { jobId: job.id, error: describeError(error) });
  }
  await deps.store.update(job.id, (current) =>
    isTerminal(current.status)
      ? { job: current, unchanged: true }
      : transition(current, 'failed', `timed out after ${limitSec} s; stop requested at ${provider.name}`, {
          at: deps.now(),
          patch: { error: { code: 'TIMEOUT', message: `The job ran longer than its limit of ${limitSec} s.` } },
        }),
  );
}

/** Applies one provider report. Returns true when the job's state changed. */
async function applyReport(deps: Deps, provider: JobProvider, job: JobRecord, report: PollReport): Promise<boolean> {
  const at = deps.now();
  const native = report.nativeStatus ? ` (${provider.name}: ${report.nativeStatus})` : '';
  if (report.status === 'no-capacity') {
    // Accepted, then not run for capacity: the job fails over like a refusal at create time.
    const capacity = report.capacity ?? {
      code: report.error?.code ?? 'NO_CAPACITY',
      message: report.error?.message ?? 'the provider could not run the job for capacity',
      lasting: false,
      runEnded: true,
    };
    const via = report.nativeStatus ? `; ${report.nativeStatus}` : '';
    const outcome = await failOverAfterRun(deps, capacityControl(deps), job, provider, capacity, via);
    return outcome !== 'unchanged';
  }
  const refPatch: JobPatch = report.ref ? { providerRef: { ...job.providerRef, ...report.ref } } : {};
  // The provider's own run times go on the finishing write: the actual cost is billed from them.
  const billing = report.billing ?? billingFromResult(report.result);
  const endPatch: JobPatch = { ...refPatch, ...(billing && { billing }) };

  for (const text of report.notes ?? []) {
    await deps.store.update(job.id, (c) => note(c, text, { at, patch: refPatch }));
  }

  let resultPatch: JobPatch = {};
  if (report.status === 'succeeded' || report.status === 'failed') {
    resultPatch = { result: await saveResult(deps, job, provider.name, report.status, report.result) };
  }

  const before = job.status;
  const updated = await deps.store.update(job.id, (current) => {
    const unchanged = { job: current, unchanged: true as const };
    // A report about an earlier attempt (the job was re-dispatched meanwhile) says nothing about this one.
    if (isTerminal(current.status) || current.attempts !== job.attempts) return unchanged;
    switch (report.status) {
      case 'dispatched':
        return unchanged;
      case 'running':
        return current.status === 'dispatched'
          ? transition(current, 'running', `started${native}`, { at, patch: refPatch })
          : unchanged;
      case 'cancelling':
        return current.status === 'cancelling'
          ? unchanged
          : transition(current, 'cancelling', `stopping${native}`, { at, patch: refPatch });
      case 'succeeded':
        return transition(current, 'succeeded', `completed${native}`, { at, patch: { ...endPatch, ...resultPatch } });
      case 'failed':
        return transition(current, 'failed', `failed${native}: ${report.error?.message ?? 'no reason given'}`, {
          at,
          patch: {
            ...endPatch,
            ...resultPatch,
            error: report.error ?? {
              code: 'PROVIDER_FAILED',
              message: 'The provider reported failure without a reason.',
            },
          },
        });
      case 'cancelled':
        return transition(current, 'cancelled', `stopped${native}`, { at, patch: endPatch });
      case 'no-capacity':
        // Handled above, before this write.
        return unchanged;
      case 'missing': {
        if (current.status === 'cancelling')
          return transition(current, 'cancelled', `${provider.name} no longer has the job`, { at });
        // A run just created may not be visible yet: only a job gone for longer counts as lost.
        const since = Date.parse(current.dispatchedAt ?? current.updatedAt);
        if (at.getTime() - since < deps.config.stuckAfterSec * 1000) return unchanged;
        return lostRunUpdate(deps, current, `${provider.name} has no record of the run`, at);
      }
      case 'lost':
        if (current.status === 'cancelling')
          return transition(current, 'cancelled', `stopped${native}`, { at, patch: refPatch });
        return lostRunUpdate(
          deps,
          current,
          report.error?.message ?? `the ${provider.name} run ended without a result${native}`,
          at,
        );
      default: {
        const unreachable: never = report.status;
        throw new Error(`unhandled observed status ${String(unreachable)}`);
      }
    }
  });

  if (updated.status === 'queued' && before !== 'queued' && updated.queue) {
    // Re-dispatch through the normal path; if this send is lost, the reconciler re-sends it.
    await deps.queues.send(updated.queue, [jobMessage(job)]);
  }
  // Still running although we asked it to stop: ask again (the first stop call may have failed).
  if (updated.status === 'cancelling' && (report.status === 'running' || report.status === 'dispatched')) {
    await provider
      .cancel(updated)
      .catch((error: unknown) => deps.log.warn('stop retry failed', { jobId: job.id, error: describeError(error) }));
  }
  return updated.status !== before;
}

/**
 * The update for a run lost to infrastructure: back to `queued` for a new attempt (a `note` names
 * the cause and the attempt), or — once JOB_MAX_ATTEMPTS attempts were lost in a row — `failed`
 * with INFRASTRUCTURE_LOST. Every attempt but a lost one ends the job, so `attempts` counts the
 * losses in a row. Per-attempt stamps are cleared so the next attempt gets its own time limit.
 */
export function lostRunUpdate(deps: Deps, current: JobRecord, cause: string, at: Date): JobUpdate {
  const attempt = current.attempts;
  // Attempts its provider could not run for capacity were not lost: they do not count here.
  const skipped = capacityFailedAttempts(current.decision?.failover);
  const lost = attempt - skipped;
  const max = deps.config.maxAttempts;
  if (lost >= max) {
    return transition(
      current,
      'failed',
      `attempt ${attempt} lost (${cause}); ${lost} of ${max} attempts lost to infrastructure`,
      {
        at,
        patch: {
          error: {
            code: 'INFRASTRUCTURE_LOST',
            message: `All ${lost} attempts were lost to infrastructure, the last because ${cause}.`,
            category: 'infrastructure',
          },
        },
        detail: { attempt, maxAttempts: max, cause },
      },
    );
  }
  const noted = note(
    current,
    `attempt ${attempt} lost: ${cause}; re-dispatching as attempt ${attempt + 1} of ${max + skipped}`,
    {
      at,
      detail: { attempt, maxAttempts: max, cause },
    },
  );
  const requeued = transition(noted.job, 'queued', `re-dispatch after lost attempt ${attempt}`, {
    at,
    patch: { dispatchedAt: undefined, startedAt: undefined, progress: undefined, heartbeatAt: undefined },
    detail: { attempt, nextAttempt: attempt + 1 },
  });
  return { ...requeued, earlier: [noted.event] };
}

/** Test seam: forget back-off state between test cases. */
export function resetPollBackoff(): void {
  backoffUntil.clear();
  lastRead.clear();
}
