import { deps, queueFunction, queueMessageBody } from './define.js';

/** webhooks queue → one delivery attempt (retries come back on the same queue, delayed). */
export const deliverWebhook = queueFunction({
  name: 'deliverWebhook',
  queueSetting: 'QUEUE_WEBHOOKS',
  handler: async (message) => {
    const [{ handleWebhookMessage }, d] = await Promise.all([import('../lib/app/webhooks/deliver-webhook.js'), deps()]);
    await handleWebhookMessage(d, await queueMessageBody(message, d.blobs));
  },
});
