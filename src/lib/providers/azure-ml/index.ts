/**
 * The Azure Machine Learning provider. Nothing heavy is imported here: the REST pipeline and the
 * credential load with `provider.ts` on first use, the spec schema (zod) when a job is checked.
 */
import { defineProvider } from '../provider-context.js';
import { AZURE_ML_JOB_KINDS, AZURE_ML_SETTINGS, isAzureMlConfigured } from './catalog.js';

export const descriptor = defineProvider({
  name: 'azure-ml',
  pollFunction: 'pollAzureMl',
  pollSchedule: {
    name: 'POLL_AZURE_ML_SCHEDULE',
    scope: ['app'],
    default: '*/30 * * * * *',
    description:
      'NCRONTAB schedule of the Azure ML poller. Every 30 s: a cycle is one ARM list page per 100 running jobs, far inside ARM read limits; a cancel is confirmed within one cycle.',
  },
  settings: AZURE_ML_SETTINGS,
  jobKinds: AZURE_ML_JOB_KINDS,
  isConfigured: isAzureMlConfigured,
  load: () => import('./provider.js'),
  async validateSpec(kind, spec) {
    const { parseAzureMlSpec } = await import('./spec.js');
    parseAzureMlSpec(kind, spec);
  },
});
