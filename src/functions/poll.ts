import { PROVIDERS } from '../lib/providers/all.js';
import { deps, timerFunction } from './define.js';

// One poller per provider, each on its own schedule setting, so a slow or throttled provider
// never delays another's updates. Names and schedule settings come from the provider descriptors.

/** The timer functions polling each provider, in the order of the provider list. */
export const POLLERS = PROVIDERS.map((descriptor) =>
  timerFunction({
    name: descriptor.pollFunction,
    scheduleSetting: descriptor.pollSchedule.name,
    handler: async (context) => {
      const [{ pollProvider }, d] = await Promise.all([import('../lib/app/poll-provider.js'), deps()]);
      const summary = await pollProvider(d, descriptor.name);
      if (summary.active > 0 || summary.error) context.log(JSON.stringify(summary));
    },
  }),
);

/** Moves on jobs that sat still too long (lost messages, silent workers). */
export const reconcile = timerFunction({
  name: 'reconcile',
  scheduleSetting: 'RECONCILE_SCHEDULE',
  handler: async (context) => {
    const [{ reconcile: reconcileJobs }, d] = await Promise.all([import('../lib/app/reconcile.js'), deps()]);
    const summary = await reconcileJobs(d);
    if (summary.resent + summary.failed + summary.requeued + summary.cleanedUp > 0) context.log(JSON.stringify(summary));
  },
});
