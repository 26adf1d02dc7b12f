import { pollProvider } from '../lib/app/poll-provider.js';
import { reconcile as reconcileJobs } from '../lib/app/reconcile.js';
import type { ProviderName } from '../lib/config.js';
import { deps, timerFunction, type ScheduleSetting } from './define.js';

// One poller per provider, each on its own schedule setting, so a slow or throttled provider
// never delays another's updates.

function poller(name: string, provider: ProviderName, scheduleSetting: ScheduleSetting) {
  return timerFunction({
    name,
    scheduleSetting,
    handler: async (context) => {
      const summary = await pollProvider(await deps(), provider);
      if (summary.active > 0 || summary.error) context.log(JSON.stringify(summary));
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
  handler: async (context) => {
    const summary = await reconcileJobs(await deps());
    if (summary.resent + summary.failed + summary.requeued > 0) context.log(JSON.stringify(summary));
  },
});
