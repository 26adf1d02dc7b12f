import { describeError } from '../errors.js';
import { DeadLetterRequested, type ReceivedMessage } from '../ports/queue.js';

export type MessageOutcome = 'completed' | 'abandoned' | 'dead-lettered';

/** Dead-letter reason used when a message failed on every allowed delivery. */
export const MAX_DELIVERIES_REASON = 'MaxDeliveryCountExceeded';

/**
 * The delivery policy shared by the local runner's queue triggers and the workers, and the same one
 * the platforms apply: success completes; failure abandons for redelivery until the message has been
 * delivered `maxDeliveries` times, then dead-letters it with the error as the description.
 * Handlers settle non-retriable failures themselves (they fail the job and return), so anything
 * thrown here is worth another delivery.
 */
export async function processMessage(
  message: ReceivedMessage,
  handler: (body: ReceivedMessage['body'], message: ReceivedMessage) => Promise<void>,
  options: { maxDeliveries: number; retryDelaySec?: number },
): Promise<MessageOutcome> {
  try {
    await handler(message.body, message);
    await message.complete();
    return 'completed';
  } catch (error) {
    if (error instanceof DeadLetterRequested) {
      await message.deadLetter(error.reason, error.description.slice(0, 1024));
      return 'dead-lettered';
    }
    const description = describeError(error).slice(0, 1024);
    if (message.deliveryCount >= options.maxDeliveries) {
      await message.deadLetter(MAX_DELIVERIES_REASON, description);
      return 'dead-lettered';
    }
    await message.abandon(options.retryDelaySec ?? 0);
    return 'abandoned';
  }
}
