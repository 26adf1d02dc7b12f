import type { ProviderName } from '../lib/config.js';
import { deps, timerFunction, type ScheduleSetting } from './define.js';

// One poller per provider, each on its own schedule setting, so a slow or throttled provider
// never delays another's updates.

function poller(name: string, provider: ProviderName, scheduleSetting: ScheduleSetting) {
  return timerFunction({
    name,
    scheduleSetting,
    handler: async () => {
      const [{ pollProvider }, d] = await Promise.all([import('../lib/app/poll-provider.js'), deps()]);
      const summary = await pollProvider(d, provider);
      // Each cycle is a span already (attributes carry this summary); the line is for a busy debug.
      if (summary.error) d.log.warn('poll cycle', { ...summary });
      else if (summary.active > 0) d.log.debug?.('poll cycle', { ...summary });
    },
  });
}

export const pollLocal = poller('pollLocal', 'local', 'POLL_LOCAL_SCHEDULE');
export const pollAzureBatch = poller('pollAzureBatch', 'azure-batch', 'POLL_AZURE_BATCH_SCHEDULE');
export const pollAzureMl = poller('pollAzureMl', 'azure-ml', 'POLL_AZURE_ML_SCHEDULE');
export const pollSageMaker = poller('pollSageMaker', 'sagemaker', 'POLL_SAGEMAKER_SCHEDULE');
export const pollVertex = poller('pollVertex', 'vertex', 'POLL_VERTEX_SCHEDULE');

/** Moves on jobs that sat still too long (lost messages, silent workers). */
export const reconcile = timerFunction({
  name: 'reconcile',
  scheduleSetting: 'RECONCILE_SCHEDULE',
  handler: async () => {
    const [{ reconcile: reconcileJobs }, d] = await Promise.all([import('../lib/app/reconcile.js'), deps()]);
    const summary = await reconcileJobs(d);
    if (summary.resent + summary.failed + summary.requeued + summary.cleanedUp > 0) d.log.info('reconcile pass', { ...summary });
  },
});
