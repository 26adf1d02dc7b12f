/** A JSON message body. Small by design: job ids and routing facts, never the job's data. */
export type MessageBody = Readonly<Record<string, unknown>>;

export interface QueueDepth {
  /** Messages waiting (Service Bus: active, including locked ones; Storage: approximate count). */
  readonly active: number;
  /** Messages that gave up: Storage `<queue>-poison`, Service Bus `<queue>/$deadletterqueue`. */
  readonly deadLetter: number;
  /** Scheduled for later delivery (Service Bus only; 0 on Storage). */
  readonly scheduled: number;
}

/** A message received under a lock (Service Bus peek-lock, Storage visibility timeout). */
export interface ReceivedMessage {
  readonly id: string;
  readonly body: MessageBody;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly enqueuedAt?: Date;
  /** Removes the message for good. */
  complete(): Promise<void>;
  /** Releases the lock so the message is delivered again (after `delaySec`, where supported). */
  abandon(delaySec?: number): Promise<void>;
  /** Moves the message to the dead-letter/poison queue with a reason. */
  deadLetter(reason: string, description: string): Promise<void>;
  /** Extends the lock by the receive lock duration. */
  renewLock(): Promise<void>;
}

export interface SendOptions {
  /**
   * Seconds before the messages become visible (Storage: visibility timeout, at most 7 days;
   * Service Bus: scheduled enqueue time). Scheduled redelivery: webhook retries use it.
   */
  readonly delaySec?: number;
}

export interface ReceiveOptions {
  readonly maxMessages: number;
  /** How long the message stays invisible/locked before it is redelivered. */
  readonly lockSec: number;
  /** Wait up to this long for a first message (transports that support long polling). */
  readonly waitSec?: number;
}

/**
 * The queue port. Storage Queues and Service Bus both implement it; the same contract suite runs
 * against both. Ordering is not promised (neither Storage Queues nor competing consumers keep it).
 */
export interface QueueTransport {
  readonly kind: 'storage' | 'servicebus';
  send(queue: string, messages: readonly MessageBody[], options?: SendOptions): Promise<void>;
  receive(queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]>;
  depth(queue: string): Promise<QueueDepth>;
  /** Name under which dead-lettered messages of `queue` can be received. */
  deadLetterQueueOf(queue: string): string;
  /** Creates the queues (and their poison/dead-letter queues) where the transport needs it. */
  ensure(queues: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Marker field of a claim-checked message: the real body lives in Blob Storage. */
export const CLAIM_CHECK_FIELD = '$claimCheck';
/** Marker fields a transport adds when it dead-letters on purpose (Storage has no native reason). */
export const DEAD_LETTER_REASON_FIELD = '$deadLetterReason';
export const DEAD_LETTER_DESCRIPTION_FIELD = '$deadLetterDescription';

/**
 * Thrown by a queue handler to park its message in the dead-letter queue at once, with a reason of
 * its own. Where the consumer is ours (local runner, workers) it dead-letters immediately; under the
 * Azure Functions host, which cannot dead-letter from a trigger, it is a failed delivery like any
 * other, so the handler must throw it again on every redelivery (without repeating side effects)
 * until the broker's max delivery count moves the message to the dead-letter queue.
 */
export class DeadLetterRequested extends Error {
  constructor(
    readonly reason: string,
    readonly description: string,
  ) {
    super(`${reason}: ${description}`);
    this.name = 'DeadLetterRequested';
  }
}
