import { transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError } from '../errors.js';
import { jobMessage } from './messages.js';

/** What a host shutdown did with the provider runs it hosted. */
export interface ReleaseSummary {
  /** Runs stopped past the grace period whose jobs went back to their queue. */
  readonly released: number;
}

/**
 * Host shutdown for runs that live in this process tree (the local provider's children): they get
 * `graceSec` to finish (a finished run is recorded by the next poll, in this process or the next);
 * the rest are stopped and their jobs go back to `queued` with a new message, so the next start
 * runs them again as their next attempt. A job that was cancelled meanwhile is left to the poller.
 */
export async function releaseHostedRuns(deps: Deps, graceSec: number): Promise<ReleaseSummary> {
  let released = 0;
  for (const name of deps.providers.configured()) {
    // Only providers that host runs here implement shutdown; never load a cloud SDK to ask.
    if (name !== 'local') continue;
    const provider = await deps.providers.get(name);
    const stopped = (await provider.shutdown?.(graceSec * 1000)) ?? [];
    for (const run of stopped) {
      try {
        const after = await deps.store.update(run.jobId, (c) =>
          (c.status === 'dispatched' || c.status === 'running') && c.attempts === run.attempt
            ? transition(
                c,
                'queued',
                `released on shutdown: ${name} run of attempt ${run.attempt} did not finish within ${graceSec} s; runs again as attempt ${run.attempt + 1}`,
                {
                  at: deps.now(),
                  patch: { dispatchedAt: undefined, startedAt: undefined, progress: undefined, heartbeatAt: undefined },
                  detail: { attempt: run.attempt },
                },
              )
            : { job: c, unchanged: true },
        );
        if (after.status === 'queued' && after.queue) {
          await deps.queues.send(after.queue, [jobMessage(after)]);
          released++;
        }
      } catch (error) {
        // The next start's poller finds the run gone and re-dispatches it as a lost run.
        deps.log.warn('could not release a stopped run', { jobId: run.jobId, error: describeError(error) });
      }
    }
  }
  return { released };
}
