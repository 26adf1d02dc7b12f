import { WORKER_PROVIDER } from '../core/classifier.js';
import type { JobRecord } from '../core/job.js';
import { note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError, IllegalTransitionError } from '../errors.js';

/**
 * Cancels a job. Before it reaches a provider it ends `cancelled` at once; afterwards it becomes
 * `cancelling`, the provider (or worker) is asked to stop, and a later poll confirms `cancelled` —
 * so a job is never shown cancelled while it still runs (and bills) somewhere.
 * Cancelling a finished job is a 409 (illegal transition); cancelling twice is harmless.
 */
export async function cancelJob(deps: Deps, id: string, reason = 'cancel requested via API'): Promise<JobRecord> {
  const updated = await deps.store.update(id, (current) => {
    switch (current.status) {
      case 'submitted':
      case 'queued':
        return transition(current, 'cancelled', `${reason} (before it reached a provider)`, { at: deps.now() });
      case 'dispatched':
      case 'running':
        return transition(current, 'cancelling', reason, { at: deps.now() });
      case 'cancelling':
        return { job: current, unchanged: true };
      case 'succeeded':
      case 'failed':
      case 'cancelled':
        throw new IllegalTransitionError(current.status, 'cancelled', id);
      default: {
        const unreachable: never = current.status;
        throw new Error(`unhandled status ${String(unreachable)}`);
      }
    }
  });

  // Worker jobs notice `cancelling` between chunks of work; provider jobs need a stop call.
  if (updated.status === 'cancelling' && updated.provider && updated.provider !== WORKER_PROVIDER) {
    try {
      const provider = await deps.providers.get(updated.provider);
      await provider.cancel(updated);
    } catch (error) {
      // The poller re-issues the stop while the provider still reports the job running.
      return deps.store.update(id, (current) =>
        note(current, `stop request to ${updated.provider} failed, will retry: ${describeError(error)}`, {
          at: deps.now(),
        }),
      );
    }
  }
  return updated;
}
