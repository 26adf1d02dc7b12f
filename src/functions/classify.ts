import { handleIntakeMessage } from '../lib/app/classify-job.js';
import { deps, messageBody, queueFunction } from './define.js';

/** jobqueue → classify → class queue. */
export const classify = queueFunction({
  name: 'classify',
  queueSetting: 'QUEUE_INTAKE',
  handler: async (message) => handleIntakeMessage(await deps(), messageBody(message)),
});
