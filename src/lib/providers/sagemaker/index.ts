/**
 * The Amazon SageMaker provider. Nothing heavy is imported here: the AWS SDK loads with
 * `provider.ts` (through `client.ts`) on first use, the spec schema (zod) when a job is checked.
 */
import { defineProvider } from '../provider-context.js';
import { isSageMakerConfigured, SAGEMAKER_ALL_KINDS, SAGEMAKER_SETTINGS } from './catalog.js';

export const descriptor = defineProvider({
  name: 'sagemaker',
  pollFunction: 'pollSageMaker',
  pollSchedule: {
    name: 'POLL_SAGEMAKER_SCHEDULE',
    scope: ['app'],
    default: '*/30 * * * * *',
    description:
      'NCRONTAB schedule of the SageMaker poller. Every 30 s: a cycle is one ListTrainingJobs page per 100 running jobs (plus a Describe per job that changed), far inside the List* rate; a cancel is confirmed within one cycle plus the Describe pacing.',
  },
  settings: SAGEMAKER_SETTINGS,
  jobKinds: SAGEMAKER_ALL_KINDS,
  isConfigured: isSageMakerConfigured,
  load: () => import('./provider.js'),
  async validateSpec(kind, spec) {
    const { validateSageMakerAnySpec } = await import('./spec.js');
    validateSageMakerAnySpec(kind, spec, { kind: 'kind', spec: 'spec' });
  },
});
