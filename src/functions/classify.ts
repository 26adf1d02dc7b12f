import { deps, queueFunction, queueMessageBody } from './define.js';

/** jobqueue → classify → class queue. */
export const classify = queueFunction({
  name: 'classify',
  queueSetting: 'QUEUE_INTAKE',
  handler: async (message) => {
    const [{ handleIntakeMessage }, d] = await Promise.all([import('../lib/app/classify-job.js'), deps()]);
    await handleIntakeMessage(d, await queueMessageBody(message, d.blobs));
  },
});
