import { WORKER_PROVIDER } from '../core/classifier.js';
import { isTerminal, type JobRecord, type JobStatus } from '../core/job.js';
import { describeError } from '../errors.js';
import { note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { sweepCapacity } from './capacity/admission.js';
import { failJob } from './fail-job.js';
import { jobMessage } from './messages.js';
import { parseReaperSettings, type ReaperSettings } from '../reaper-settings.js';
import { reapOrphans, type ReapSummary } from './reap-orphans.js';

/** Re-sends before a stuck job is failed. */
export const MAX_RESENDS = 3;

export interface ReconcileSummary {
  readonly resent: number;
  readonly failed: number;
  readonly requeued: number;
  readonly cleanedUp: number;
  /** Idle endpoints an undeploy was started for (ENDPOINT_IDLE_TTL_SEC). */
  readonly idleUndeploys: number;
  /** Stop requests re-sent for jobs whose cancel was not confirmed in time. */
  readonly cancelResent: number;
  readonly orphans: ReapSummary;
}

/** Finished jobs per provider offered for clean-up in one pass (newest first). */
const CLEANUP_BATCH = 200;

/**
 * Offers each provider its recently finished jobs for clean-up (Batch deletes tasks and staged
 * inputs after its retention; Azure ML archives finished jobs so its list calls stay short). Jobs a
 * provider reports done are marked, so they are never offered again.
 */
export async function cleanupFinished(deps: Deps): Promise<number> {
  let cleaned = 0;
  for (const name of deps.providers.configured()) {
    if (name === WORKER_PROVIDER) continue;
    const provider = await deps.providers.get(name);
    if (!provider.cleanup) continue;
    const page = await deps.store.list({ provider: name, limit: CLEANUP_BATCH });
    const candidates = page.jobs.filter((j) => isTerminal(j.status) && j.providerRef?.cleanedUp !== true);
    if (candidates.length === 0) continue;
    const done = new Set(await provider.cleanup(candidates));
    for (const id of done) {
      await deps.store.update(id, (c) => ({
        job: { ...c, providerRef: { ...c.providerRef, cleanedUp: true } },
        quiet: true as const,
      }));
      cleaned++;
    }
  }
  return cleaned;
}

/**
 * Finds jobs that sat still too long and moves them on: `submitted` and `queued` jobs whose message
 * was lost get it re-sent (handlers are idempotent, so a duplicate is harmless); after
 * {@link MAX_RESENDS} the job fails with the reason. Worker jobs whose worker vanished (lease and
 * heartbeat long expired) go back to the queue.
 */
export async function reconcile(deps: Deps): Promise<ReconcileSummary> {
  const now = deps.now().getTime();
  const cutoff = deps.config.stuckAfterSec * 1000;
  // A job waiting for capacity is still only when its delayed message is overdue (it went missing).
  const stale = (j: JobRecord): boolean =>
    now - Math.max(Date.parse(j.updatedAt), Date.parse(j.waitingForCapacity?.nextCheckAt ?? '') || 0) > cutoff;
  let resent = 0;
  let failed = 0;
  let requeued = 0;

  for (const status of ['submitted', 'queued'] as const satisfies readonly JobStatus[]) {
    for (const job of (await deps.store.listByStatus(status, 500)).filter(stale)) {
      if ((job.resends ?? 0) >= MAX_RESENDS) {
        await failJob(
          deps,
          job.id,
          { code: 'STUCK', message: `No progress in '${status}' after ${MAX_RESENDS} re-sends.` },
          `stuck in ${status}`,
        );
        failed++;
        continue;
      }
      const queue = status === 'submitted' ? deps.config.queues.intake : job.queue;
      if (!queue) continue;
      await deps.store.update(job.id, (c) =>
        c.status === status
          ? note(c, `no progress for ${deps.config.stuckAfterSec} s; message re-sent to ${queue}`, {
              at: deps.now(),
              patch: { resends: (c.resends ?? 0) + 1 },
            })
          : { job: c, unchanged: true },
      );
      await deps.queues.send(queue, [jobMessage(job)]);
      resent++;
    }
  }

  for (const job of await deps.store.listActive(WORKER_PROVIDER)) {
    const lastSign = Date.parse(job.heartbeatAt ?? job.lease?.until ?? job.updatedAt);
    if (job.status === 'cancelling' || now - lastSign <= cutoff || !job.queue) continue;
    const updated = await deps.store.update(job.id, (c) =>
      c.status === 'dispatched' || c.status === 'running'
        ? transition(c, 'queued', `worker ${c.lease?.owner ?? '?'} went silent; job returned to ${c.queue}`, {
            at: deps.now(),
            patch: { lease: undefined },
          })
        : { job: c, unchanged: true },
    );
    if (updated.status === 'queued') {
      await deps.queues.send(job.queue, [jobMessage(job)]);
      requeued++;
    }
  }
  await sweepCapacity(deps, deps.config.stuckAfterSec).catch((error: unknown) => {
    deps.log.warn('capacity sweep failed; will retry next pass', { error: describeError(error) });
  });
  const cleanedUp = await cleanupFinished(deps).catch((error: unknown) => {
    deps.log.warn('provider clean-up failed; will retry next pass', { error: describeError(error) });
    return 0;
  });
  const reaper = parseReaperSettings(deps.config.env);
  const cancelResent = await resendUnconfirmedCancels(deps, reaper);
  const orphans = await reapOrphans(deps, reaper).catch((error: unknown) => {
    deps.log.warn('orphan reaper pass failed; will retry next pass', { error: describeError(error) });
    return { listed: 0, orphans: 0, stopped: 0, stopFailed: 0, deferred: 0 };
  });
  const idleUndeploys = await undeployIdleEndpoints(deps).catch((error: unknown) => {
    deps.log.warn('idle-endpoint check failed; will retry next pass', { error: describeError(error) });
    return 0;
  });
  return { resent, failed, requeued, cleanedUp, cancelResent, orphans, idleUndeploys };
}

/**
 * Re-sends the stop request of provider jobs still `cancelling` CANCEL_CONFIRM_TIMEOUT_SEC after
 * the last one (the first may have been lost, or refused by a provider that was busy), each with a
 * note; after CANCEL_MAX_RESENDS a last note says re-sending stopped (the poller still confirms the
 * stop whenever it comes). Worker jobs are left out: their worker reads `cancelling` itself.
 */
export async function resendUnconfirmedCancels(deps: Deps, settings: ReaperSettings): Promise<number> {
  const now = deps.now().getTime();
  const lastSent = (j: JobRecord): number => Date.parse(j.cancelResentAt ?? j.cancelRequestedAt ?? j.updatedAt);
  const due = (j: JobRecord): boolean =>
    j.provider !== undefined &&
    j.provider !== WORKER_PROVIDER &&
    (j.cancelResends ?? 0) <= settings.cancelMaxResends &&
    now - lastSent(j) >= settings.cancelConfirmTimeoutMs;
  let resent = 0;
  for (const job of (await deps.store.listByStatus('cancelling', 500)).filter(due)) {
    const count = job.cancelResends ?? 0;
    const waitedSec = Math.round((now - lastSent(job)) / 1000);
    if (count === settings.cancelMaxResends) {
      await deps.store.update(job.id, (c) =>
        c.status === 'cancelling' && (c.cancelResends ?? 0) === count
          ? note(
              c,
              `stop still not confirmed by ${c.provider} ${waitedSec} s after the last of ${count} re-sent requests; no more re-sends`,
              { at: deps.now(), patch: { cancelResends: count + 1, cancelResentAt: deps.now().toISOString() } },
            )
          : { job: c, unchanged: true },
      );
      continue;
    }
    // Claim the re-send first, so two reconcilers (or a retried pass) cannot both send it.
    let won = false;
    const claimed = await deps.store.update(job.id, (c) => {
      won = c.status === 'cancelling' && (c.cancelResends ?? 0) === count;
      return won
        ? note(
            c,
            `stop not confirmed by ${c.provider} after ${waitedSec} s; stop request re-sent (${count + 1} of ${settings.cancelMaxResends})`,
            {
              at: deps.now(),
              patch: { cancelResends: count + 1, cancelResentAt: deps.now().toISOString() },
              detail: { resend: count + 1, maxResends: settings.cancelMaxResends },
            },
          )
        : { job: c, unchanged: true };
    });
    if (!won) continue;
    try {
      const provider = await deps.providers.get(claimed.provider!);
      await provider.cancel(claimed);
      resent++;
    } catch (error) {
      deps.log.warn('re-sent stop request failed; the next pass tries again', {
        jobId: job.id,
        provider: job.provider,
        error: describeError(error),
      });
    }
  }
  return resent;
}

/** The money guard rides on this timer; its module loads only where ENDPOINT_IDLE_TTL_SEC is set. */
async function undeployIdleEndpoints(deps: Deps): Promise<number> {
  const ttl = deps.config.env.ENDPOINT_IDLE_TTL_SEC?.trim();
  if (!ttl || ttl === '0') return 0;
  const { undeployIdleEndpoints: run } = await import('./essedum/assets.js');
  return run(deps);
}
