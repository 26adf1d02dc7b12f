import type { JobEvent, JobRecord } from '../core/job.js';
import type { JobStore, JobUpdate } from '../ports/job-store.js';
import { instruments, recordTransition } from './metrics.js';

const INSTRUMENTED = Symbol('cjo.instrumented');

/**
 * The store with job metrics: every committed change of state (whoever makes it — classifier,
 * dispatcher, poller, worker, reconciler) counts in `cjo.job.transitions` and feeds the time-in-state
 * histograms. The mutator may run several times under contention; only its last run committed.
 * Other methods pass straight through, bound to the store itself.
 */
export function instrumentedStore(store: JobStore): JobStore {
  if ((store as { [INSTRUMENTED]?: boolean })[INSTRUMENTED]) return store;
  const update: JobStore['update'] = async (id, mutate) => {
    let last: { before: JobRecord; change: JobUpdate } | undefined;
    const after = await store.update(id, (current) => {
      const change = mutate(current);
      last = { before: current, change };
      return change;
    });
    const event: JobEvent | undefined = last?.change.event;
    if (last && event?.type === 'transition') recordTransition(last.before, after, event.at);
    return after;
  };
  const create: JobStore['create'] = async (job, firstEvent, later) => {
    await store.create(job, firstEvent, later);
    instruments().transitions.add(1, { from: 'none', to: job.status });
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === INSTRUMENTED) return true;
      if (prop === 'update') return update;
      if (prop === 'create') return create;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
