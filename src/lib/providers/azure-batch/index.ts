/**
 * The Azure Batch provider. Nothing heavy is imported here: the Batch SDK loads with `provider.ts`
 * on first use, and the spec schema (zod) only when a job is checked.
 */
import { defineProvider } from '../provider-context.js';
import { AZURE_BATCH_SETTINGS, isAzureBatchConfigured } from './catalog.js';

export const descriptor = defineProvider({
  name: 'azure-batch',
  pollFunction: 'pollAzureBatch',
  pollSchedule: {
    name: 'POLL_AZURE_BATCH_SCHEDULE',
    scope: ['app'],
    default: '*/30 * * * * *',
    description: 'NCRONTAB schedule of the Azure Batch poller.',
  },
  settings: AZURE_BATCH_SETTINGS,
  isConfigured: isAzureBatchConfigured,
  load: () => import('./provider.js'),
  async validateSpec(_kind, spec) {
    // Per-job task options (VM size, retries, environment names) are checked again at dispatch
    // against the provider's settings; the environment rule needs none, so it holds here already.
    const [{ BatchJobOptionsSchema }, { parseOrThrow }] = await Promise.all([
      import('./mapping.js'),
      import('../../core/job.js'),
    ]);
    parseOrThrow(BatchJobOptionsSchema, spec ?? {}, 'spec');
  },
});
