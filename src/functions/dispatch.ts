import { deps, queueFunction, queueMessageBody } from './define.js';

// One function body, registered on both dispatch queues: the provider comes from the job's decision.

/** ml-jobs → the ML provider. */
export const dispatchMl = queueFunction({
  name: 'dispatchMl',
  queueSetting: 'QUEUE_ML',
  handler: async (message) => {
    const [{ handleDispatchMessage }, d] = await Promise.all([import('../lib/app/dispatch-job.js'), deps()]);
    await handleDispatchMessage(d, await queueMessageBody(message, d.blobs));
  },
});

/** batch-jobs → the batch provider. */
export const dispatchBatch = queueFunction({
  name: 'dispatchBatch',
  queueSetting: 'QUEUE_BATCH',
  handler: async (message) => {
    const [{ handleDispatchMessage }, d] = await Promise.all([import('../lib/app/dispatch-job.js'), deps()]);
    await handleDispatchMessage(d, await queueMessageBody(message, d.blobs));
  },
});
