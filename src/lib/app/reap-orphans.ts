import { WORKER_PROVIDER } from '../core/classifier.js';
import { isTerminal, type JobRecord } from '../core/job.js';
import { note } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError, ProviderThrottledError } from '../errors.js';
import type { JobProvider, OwnedCloudJob } from '../ports/provider.js';
import { parseReaperSettings, type ReaperSettings } from '../reaper-settings.js';

/** What one reaper pass did, summed over providers. */
export interface ReapSummary {
  /** Cloud jobs listed. */
  readonly listed: number;
  /** Of those, orphans (past the grace age, owned by no active record). */
  readonly orphans: number;
  readonly stopped: number;
  /** Stops that failed (tried again next pass, the orphan is still listed). */
  readonly stopFailed: number;
  /** Orphans left for a later pass (ORPHAN_STOPS_PER_PASS reached, or the provider throttled). */
  readonly deferred: number;
}

/** Why a listed cloud job is left alone, or why it is an orphan. */
export type OrphanVerdict =
  | { readonly orphan: false; readonly why: 'young' | 'owned' }
  | { readonly orphan: true; readonly reason: string; readonly owner?: JobRecord };

/**
 * Decides whether one listed cloud job of `providerName` is an orphan, given the record it names
 * (read after the listing, so the record is at least as new as what was listed).
 *
 * Never an orphan: a run younger than the grace age (a dispatch may be creating it right now); a run
 * whose attempt is unknown while its record is not finished; the current attempt of an active record
 * of this provider; the attempt a `queued` record is about to dispatch (a dispatch died after create:
 * its redelivery re-attaches). An orphan: a run whose record is gone, finished, moved to another
 * provider, or on a later attempt, and a run that names no job at all.
 */
export function judgeCloudJob(
  providerName: string,
  cloud: OwnedCloudJob,
  record: JobRecord | undefined,
  nowMs: number,
  graceMs: number,
): OrphanVerdict {
  const created = cloud.createdAt === undefined ? Number.NaN : Date.parse(cloud.createdAt);
  // A run of unknown age might be seconds old: leave it.
  if (!Number.isFinite(created) || nowMs - created < graceMs) return { orphan: false, why: 'young' };
  if (cloud.jobId === undefined)
    return { orphan: true, reason: 'it carries this deployment’s marker but names no job of ours' };
  if (!record) return { orphan: true, reason: `job ${cloud.jobId} does not exist (deleted by hand?)` };
  const run = cloud.attempt === undefined ? 'its run' : `the run of attempt ${cloud.attempt}`;
  if (isTerminal(record.status))
    return { orphan: true, reason: `${run} still runs although the job ended ${record.status}`, owner: record };
  if (cloud.attempt === undefined) return { orphan: false, why: 'owned' };
  switch (record.status) {
    case 'submitted':
    case 'queued':
      // Attempt `attempts + 1` is the one being dispatched; anything earlier was lost and replaced.
      return cloud.attempt > record.attempts
        ? { orphan: false, why: 'owned' }
        : {
            orphan: true,
            reason: `${run} still runs although the job is ${record.status} for attempt ${record.attempts + 1}`,
            owner: record,
          };
    case 'dispatched':
    case 'running':
    case 'cancelling':
      if (record.provider !== undefined && record.provider !== providerName)
        return {
          orphan: true,
          reason: `${run} still runs although the job now runs at ${record.provider}`,
          owner: record,
        };
      return cloud.attempt >= record.attempts
        ? { orphan: false, why: 'owned' }
        : {
            orphan: true,
            reason: `${run} still runs although the job is on attempt ${record.attempts}`,
            owner: record,
          };
    default:
      return { orphan: false, why: 'owned' };
  }
}

/** Per-process resume point of each provider's listing: a pass goes on where the last one stopped. */
const cursors = new Map<string, string>();

/** Test seam: start every provider's listing from the first page again. */
export function resetReaperCursors(): void {
  cursors.clear();
}

/**
 * The orphan reaper, one pass: for each configured provider that can list its own jobs, reads up to
 * ORPHAN_PAGES_PER_PASS pages of this deployment's unfinished cloud jobs and stops each orphan (see
 * {@link judgeCloudJob}), at most ORPHAN_STOPS_PER_PASS per provider. Each stop leaves a note on
 * the job it belonged to, or a log line when no job record names it. A throttled provider ends its
 * share of the pass; the next pass resumes from the same page.
 */
export async function reapOrphans(
  deps: Deps,
  settings: ReaperSettings = parseReaperSettings(deps.config.env),
): Promise<ReapSummary> {
  const total = { listed: 0, orphans: 0, stopped: 0, stopFailed: 0, deferred: 0 };
  if (!settings.enabled) return total;
  for (const name of deps.providers.configured()) {
    if (name === WORKER_PROVIDER) continue;
    const provider = await deps.providers.get(name);
    if (!provider.listOwnedJobs || !provider.stopOwnedJob) continue;
    const one = await reapProvider(deps, settings, provider);
    for (const k of Object.keys(total) as (keyof ReapSummary)[]) total[k] += one[k];
  }
  return total;
}

async function reapProvider(deps: Deps, settings: ReaperSettings, provider: JobProvider): Promise<ReapSummary> {
  const summary = { listed: 0, orphans: 0, stopped: 0, stopFailed: 0, deferred: 0 };
  let stopsLeft = settings.stopsPerPass;
  for (let page = 0; page < settings.pagesPerPass; page++) {
    let listed: Awaited<ReturnType<NonNullable<JobProvider['listOwnedJobs']>>>;
    try {
      listed = await provider.listOwnedJobs!(cursors.get(provider.name));
    } catch (error) {
      // Throttled or down: the next pass resumes from this page.
      deps.log.warn('orphan listing interrupted; resuming next pass', {
        provider: provider.name,
        error: describeError(error),
        ...(error instanceof ProviderThrottledError && { retryAfterMs: error.retryAfterMs }),
      });
      break;
    }
    summary.listed += listed.jobs.length;
    let halted = false;
    for (const cloud of listed.jobs) {
      // Read after the listing: a record only moves forward, so it is at least as new as the run.
      const record = cloud.jobId === undefined ? undefined : await deps.store.get(cloud.jobId);
      const verdict = judgeCloudJob(provider.name, cloud, record, deps.now().getTime(), settings.graceMs);
      if (!verdict.orphan) continue;
      summary.orphans++;
      if (halted || stopsLeft <= 0) {
        summary.deferred++;
        continue;
      }
      stopsLeft--;
      try {
        await provider.stopOwnedJob!(cloud.providerId);
      } catch (error) {
        summary.stopFailed++;
        deps.log.warn('orphan stop failed; will retry next pass', {
          provider: provider.name,
          providerId: cloud.providerId,
          ...(cloud.jobId && { jobId: cloud.jobId }),
          error: describeError(error),
        });
        // A throttled provider gets no more stops this pass.
        if (error instanceof ProviderThrottledError) halted = true;
        continue;
      }
      summary.stopped++;
      await recordStop(deps, provider.name, cloud, verdict);
    }
    // Re-read from the page where stops ran out, so the orphans left there are met again.
    if (halted || stopsLeft <= 0) break;
    if (listed.next === undefined) {
      cursors.delete(provider.name);
      break;
    }
    cursors.set(provider.name, listed.next);
  }
  return summary;
}

async function recordStop(
  deps: Deps,
  providerName: string,
  cloud: OwnedCloudJob,
  verdict: Extract<OrphanVerdict, { orphan: true }>,
): Promise<void> {
  const detail = {
    provider: providerName,
    providerId: cloud.providerId,
    nativeStatus: cloud.nativeStatus,
    ...(cloud.attempt !== undefined && { attempt: cloud.attempt }),
  };
  if (!verdict.owner) {
    deps.log.warn('orphan cloud job stopped; no job record owns it', {
      ...detail,
      ...(cloud.jobId && { jobId: cloud.jobId }),
      reason: verdict.reason,
    });
    return;
  }
  try {
    await deps.store.update(verdict.owner.id, (current) =>
      note(current, `orphaned ${providerName} run ${cloud.providerId} stopped: ${verdict.reason}`, {
        at: deps.now(),
        detail: { ...detail, orphan: true },
      }),
    );
  } catch (error) {
    // The stop happened; losing its history line must not hide that in the logs.
    deps.log.warn('orphan stopped but its note could not be written', {
      ...detail,
      jobId: verdict.owner.id,
      reason: verdict.reason,
      error: describeError(error),
    });
  }
}
