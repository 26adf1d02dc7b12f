import type { InvocationContext } from '@azure/functions';
import { deps, messageBody, queueFunction, queueMessageBody, type QueueSetting } from './define.js';

// Every queue's poison / dead-letter queue ends in the same handler: the job shows `failed` with the
// reason, whether the message died in a function or in a worker.

function deadLetterFunction(name: string, queueSetting: QueueSetting) {
  return queueFunction({
    name,
    queueSetting,
    deadLetter: true,
    handler: async (message: unknown, context: InvocationContext) => {
      const [{ handleDeadLetter }, d] = await Promise.all([import('../lib/app/handle-dead-letter.js'), deps()]);
      const { reason, description } = deadLetterReasonOf(context.triggerMetadata ?? {});
      const { queueNameFor } = await import('../lib/config.js');
      const queue = queueNameFor(d.config, queueSetting);
      // A claim check whose payload is gone still names no job; the handler reports it as it stands.
      const body = await queueMessageBody(message, d.blobs).catch(() => messageBody(message));
      await handleDeadLetter(d, body, queue, { ...(reason && { reason }), ...(description && { description }) });
    },
  });
}

/**
 * Service Bus puts the dead-letter reason in the message's application properties
 * (`DeadLetterReason`, `DeadLetterErrorDescription`); the host exposes them in trigger metadata.
 * Storage poison messages carry none (the reason then travels in the body, or defaults).
 */
export function deadLetterReasonOf(meta: Record<string, unknown>): { reason?: string; description?: string } {
  const bags = [meta, meta.applicationProperties, meta.userProperties].filter(
    (b): b is Record<string, unknown> => !!b && typeof b === 'object',
  );
  const pick = (...names: string[]) => {
    for (const bag of bags) for (const n of names) if (typeof bag[n] === 'string' && bag[n]) return bag[n] as string;
    return undefined;
  };
  const reason = pick('deadLetterReason', 'DeadLetterReason');
  const description = pick('deadLetterErrorDescription', 'DeadLetterErrorDescription');
  return { ...(reason && { reason }), ...(description && { description }) };
}

export const deadLetterIntake = deadLetterFunction('deadLetterIntake', 'QUEUE_INTAKE');
export const deadLetterMl = deadLetterFunction('deadLetterMl', 'QUEUE_ML');
export const deadLetterBatch = deadLetterFunction('deadLetterBatch', 'QUEUE_BATCH');
export const deadLetterActor = deadLetterFunction('deadLetterActor', 'QUEUE_ACTOR');
export const deadLetterSpark = deadLetterFunction('deadLetterSpark', 'QUEUE_SPARK');
