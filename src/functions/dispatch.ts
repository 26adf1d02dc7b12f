import { handleDispatchMessage } from '../lib/app/dispatch-job.js';
import { deps, messageBody, queueFunction } from './define.js';

// One function body, registered on both dispatch queues: the provider comes from the job's decision.

/** ml-jobs → the ML provider. */
export const dispatchMl = queueFunction({
  name: 'dispatchMl',
  queueSetting: 'QUEUE_ML',
  handler: async (message) => handleDispatchMessage(await deps(), messageBody(message)),
});

/** batch-jobs → the batch provider. */
export const dispatchBatch = queueFunction({
  name: 'dispatchBatch',
  queueSetting: 'QUEUE_BATCH',
  handler: async (message) => handleDispatchMessage(await deps(), messageBody(message)),
});
