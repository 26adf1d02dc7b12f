import { PROVIDERS } from '../lib/providers/all.js';
import { deps, timerFunction } from './define.js';

// One poller per provider, each on its own schedule setting, so a slow or throttled provider
// never delays another's updates. Names and schedule settings come from the provider descriptors.

/** The timer functions polling each provider, in the order of the provider list. */
export const POLLERS = PROVIDERS.map((descriptor) =>
  timerFunction({
    name: descriptor.pollFunction,
    scheduleSetting: descriptor.pollSchedule.name,
    handler: async () => {
      const [{ pollProvider }, d] = await Promise.all([import('../lib/app/poll-provider.js'), deps()]);
      const summary = await pollProvider(d, descriptor.name);
      // Each cycle is a span already (attributes carry this summary); the line is for a busy debug.
      if (summary.error) d.log.warn('poll cycle', { ...summary });
      else if (summary.active > 0) d.log.debug?.('poll cycle', { ...summary });
    },
  }),
);

/** Moves on jobs that sat still too long (lost messages, silent workers). */
export const reconcile = timerFunction({
  name: 'reconcile',
  scheduleSetting: 'RECONCILE_SCHEDULE',
  handler: async () => {
    const [{ reconcile: reconcileJobs }, d] = await Promise.all([import('../lib/app/reconcile.js'), deps()]);
    const summary = await reconcileJobs(d);
    if (summary.resent + summary.failed + summary.requeued + summary.cleanedUp + summary.idleUndeploys > 0)
      d.log.info('reconcile pass', { ...summary });
  },
});
