import type { InvocationContext } from '@azure/functions';
import { deps, messageBody, queueFunction, type QueueSetting } from './define.js';

// Every queue's poison / dead-letter queue ends in the same handler: the job shows `failed` with the
// reason, whether the message died in a function or in a worker.

function deadLetterFunction(name: string, queueSetting: QueueSetting) {
  return queueFunction({
    name,
    queueSetting,
    deadLetter: true,
    handler: async (message: unknown, context: InvocationContext) => {
      const [{ handleDeadLetter }, d] = await Promise.all([import('../lib/app/handle-dead-letter.js'), deps()]);
      const meta = context.triggerMetadata ?? {};
      const reason = typeof meta.deadLetterReason === 'string' ? meta.deadLetterReason : undefined;
      const description = typeof meta.deadLetterErrorDescription === 'string' ? meta.deadLetterErrorDescription : undefined;
      const queue = d.config.env[queueSetting] ?? queueSetting;
      await handleDeadLetter(d, messageBody(message), queue, { ...(reason && { reason }), ...(description && { description }) });
    },
  });
}

export const deadLetterIntake = deadLetterFunction('deadLetterIntake', 'QUEUE_INTAKE');
export const deadLetterMl = deadLetterFunction('deadLetterMl', 'QUEUE_ML');
export const deadLetterBatch = deadLetterFunction('deadLetterBatch', 'QUEUE_BATCH');
export const deadLetterActor = deadLetterFunction('deadLetterActor', 'QUEUE_ACTOR');
export const deadLetterSpark = deadLetterFunction('deadLetterSpark', 'QUEUE_SPARK');
