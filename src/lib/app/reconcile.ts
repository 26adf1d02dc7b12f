import { WORKER_PROVIDER } from '../core/classifier.js';
import { isTerminal, type JobRecord, type JobStatus } from '../core/job.js';
import { describeError } from '../errors.js';
import { note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { sweepCapacity } from './capacity/admission.js';
import { failJob } from './fail-job.js';
import { jobMessage } from './messages.js';

/** Re-sends before a stuck job is failed. */
export const MAX_RESENDS = 3;

export interface ReconcileSummary {
  readonly resent: number;
  readonly failed: number;
  readonly requeued: number;
  readonly cleanedUp: number;
  /** Idle endpoints an undeploy was started for (ENDPOINT_IDLE_TTL_SEC). */
  readonly idleUndeploys: number;
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
  const idleUndeploys = await undeployIdleEndpoints(deps).catch((error: unknown) => {
    deps.log.warn('idle-endpoint check failed; will retry next pass', { error: describeError(error) });
    return 0;
  });
  return { resent, failed, requeued, cleanedUp, idleUndeploys };
}

/** The money guard rides on this timer; its module loads only where ENDPOINT_IDLE_TTL_SEC is set. */
async function undeployIdleEndpoints(deps: Deps): Promise<number> {
  const ttl = deps.config.env.ENDPOINT_IDLE_TTL_SEC?.trim();
  if (!ttl || ttl === '0') return 0;
  const { undeployIdleEndpoints: run } = await import('./essedum/assets.js');
  return run(deps);
}
