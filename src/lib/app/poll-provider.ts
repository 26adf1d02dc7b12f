import { isTerminal, type JobRecord } from '../core/job.js';
import { note, transition, type JobPatch } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError, ProviderThrottledError, ProviderUnavailableError } from '../errors.js';
import type { JobProvider, PollReport } from '../ports/provider.js';
import { saveResult } from './results.js';

export interface PollSummary {
  readonly provider: string;
  readonly skipped?: 'not-configured' | 'backing-off';
  readonly active: number;
  readonly reports: number;
  readonly changed: number;
  readonly timedOut: number;
  readonly error?: string;
  readonly retryAfterMs?: number;
}

/** Per-process back-off: after a throttle the poller waits as long as the provider asked. */
const backoffUntil = new Map<string, number>();

/** Per-process record of each provider's last poll cycle, for GET /api/providers. */
const lastPoll = new Map<string, { at: number; error?: string }>();

/** What this instance knows of a provider's polling: last cycle and back-off, if any. */
export function pollStateOf(providerName: string): { lastPollAt?: number; lastPollError?: string; backingOffUntil?: number } {
  const last = lastPoll.get(providerName);
  const until = backoffUntil.get(providerName);
  return { ...(last && { lastPollAt: last.at, ...(last.error && { lastPollError: last.error }) }), ...(until !== undefined && until > Date.now() && { backingOffUntil: until }) };
}

/** Default pause after an outage that gave no Retry-After. */
const UNAVAILABLE_BACKOFF_MS = 30_000;

/**
 * One poll cycle for one provider: read only that provider's active jobs, fail the ones past their
 * time limit (stopping them at the provider first), ask the provider about the rest in one batched
 * call, and apply what changed. A throttled or unreachable provider changes no job.
 */
export async function pollProvider(deps: Deps, providerName: string): Promise<PollSummary> {
  const base = { provider: providerName, active: 0, reports: 0, changed: 0, timedOut: 0 };
  if (!deps.providers.configured().includes(providerName)) return { ...base, skipped: 'not-configured' };
  const now = deps.now().getTime();
  if ((backoffUntil.get(providerName) ?? 0) > now) return { ...base, skipped: 'backing-off' };
  lastPoll.set(providerName, { at: now });

  const active = await deps.store.listActive(providerName);
  if (active.length === 0) return base;
  const provider = await deps.providers.get(providerName);

  const overdue = active.filter((j) => isOverdue(deps, j, now));
  for (const job of overdue) await timeOut(deps, provider, job);
  const watched = active.filter((j) => !overdue.includes(j));

  let reports: PollReport[];
  try {
    reports = watched.length > 0 ? await provider.poll(watched) : [];
  } catch (error) {
    if (error instanceof ProviderThrottledError || error instanceof ProviderUnavailableError) {
      const wait = error instanceof ProviderThrottledError ? error.retryAfterMs : (error.retryAfterMs ?? UNAVAILABLE_BACKOFF_MS);
      backoffUntil.set(providerName, now + wait);
      lastPoll.set(providerName, { at: now, error: error.message });
      deps.log.warn('poll backed off', { provider: providerName, retryAfterMs: wait, error: error.message });
      return { ...base, active: active.length, timedOut: overdue.length, error: error.message, retryAfterMs: wait };
    }
    throw error;
  }
  backoffUntil.delete(providerName);

  let changed = 0;
  const byId = new Map(watched.map((j) => [j.id, j]));
  for (const report of reports) {
    const job = byId.get(report.jobId);
    if (!job) continue;
    if (await applyReport(deps, provider, job, report)) changed++;
  }
  return { ...base, active: active.length, reports: reports.length, changed, timedOut: overdue.length };
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
  const refPatch: JobPatch = report.ref ? { providerRef: { ...job.providerRef, ...report.ref } } : {};

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
    if (isTerminal(current.status)) return unchanged;
    switch (report.status) {
      case 'dispatched':
        return unchanged;
      case 'running':
        return current.status === 'dispatched' ? transition(current, 'running', `started${native}`, { at, patch: refPatch }) : unchanged;
      case 'cancelling':
        return current.status === 'cancelling' ? unchanged : transition(current, 'cancelling', `stopping${native}`, { at, patch: refPatch });
      case 'succeeded':
        return transition(current, 'succeeded', `completed${native}`, { at, patch: { ...refPatch, ...resultPatch } });
      case 'failed':
        return transition(current, 'failed', `failed${native}: ${report.error?.message ?? 'no reason given'}`, {
          at,
          patch: { ...refPatch, ...resultPatch, error: report.error ?? { code: 'PROVIDER_FAILED', message: 'The provider reported failure without a reason.' } },
        });
      case 'cancelled':
        return transition(current, 'cancelled', `stopped${native}`, { at, patch: refPatch });
      case 'missing': {
        if (current.status === 'cancelling') return transition(current, 'cancelled', `${provider.name} no longer has the job`, { at });
        const since = Date.parse(current.dispatchedAt ?? current.updatedAt);
        if (at.getTime() - since < deps.config.stuckAfterSec * 1000) return unchanged;
        return transition(current, 'failed', `${provider.name} has no record of the job`, {
          at,
          patch: { error: { code: 'PROVIDER_JOB_MISSING', message: `${provider.name} does not know this job.` } },
        });
      }
      default: {
        const unreachable: never = report.status;
        throw new Error(`unhandled observed status ${String(unreachable)}`);
      }
    }
  });

  // Still running although we asked it to stop: ask again (the first stop call may have failed).
  if (updated.status === 'cancelling' && (report.status === 'running' || report.status === 'dispatched')) {
    await provider.cancel(updated).catch((error: unknown) => deps.log.warn('stop retry failed', { jobId: job.id, error: describeError(error) }));
  }
  return updated.status !== before;
}

/** Test seam: forget back-off state between test cases. */
export function resetPollBackoff(): void {
  backoffUntil.clear();
}
