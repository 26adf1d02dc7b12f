import type { JobRecord } from '../core/job.js';
import { eventsOf, type JobStore, type JobUpdate } from '../ports/job-store.js';
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
    if (last) {
      // One write may carry several steps (claimed and running at once): each counts as itself.
      const { before, change } = last;
      const steps = eventsOf(change).filter((e) => e.type === 'transition');
      let prev = before;
      steps.forEach((step, i) => {
        const next = i === steps.length - 1 ? after : { ...after, status: step.to };
        recordTransition(prev, next, step.at);
        prev = next;
      });
    }
    return after;
  };
  const create: JobStore['create'] = async (job, firstEvent, later) => {
    await store.create(job, firstEvent, later);
    instruments().transitions.add(1, { from: 'none', to: firstEvent.to });
    // Created already past its first state (classified at submission): those steps count too.
    for (const step of later ?? [])
      if (step.type === 'transition' && step.from)
        recordTransition({ ...job, status: step.from }, { ...job, status: step.to }, step.at);
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
