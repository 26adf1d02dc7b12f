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
    default: '0 * * * * *',
    description: 'NCRONTAB schedule of the SageMaker poller.',
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
