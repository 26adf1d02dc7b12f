import { randomUUID } from 'node:crypto';
import { PayloadTooLargeError } from '../../src/lib/errors.js';
import {
  DEAD_LETTER_DESCRIPTION_FIELD,
  DEAD_LETTER_REASON_FIELD,
  type MessageBody,
  type QueueDepth,
  type QueueTransport,
  type ReceiveOptions,
  type ReceivedMessage,
  type SendOptions,
} from '../../src/lib/ports/queue.js';

/** Options of {@link InMemoryQueueTransport}. */
export interface InMemoryQueueOptions {
  /** Whose semantics to follow where the two platforms differ (dead-letter names, depth, lock expiry). Default storage. */
  readonly kind?: 'storage' | 'servicebus';
  /** The clock, in ms since the epoch. Default `Date.now`; use-case tests inject one they move by hand. */
  readonly now?: () => number;
  /** Largest encoded message accepted (Storage: 64 KiB of base64; Service Bus standard: 256 KiB). */
  readonly maxMessageBytes?: number;
}

/** Storage refuses a visibility timeout beyond seven days. */
const MAX_STORAGE_DELAY_SEC = 7 * 24 * 3600;
/** Largest receive each platform serves in one call (Storage 32; our Service Bus adapter asks for at most 256). */
const MAX_RECEIVE = { storage: 32, servicebus: 256 } as const;
const DEFAULT_MAX_BYTES = { storage: 64 * 1024, servicebus: 256 * 1024 } as const;
const SERVICE_BUS_DEAD_LETTER_SUFFIX = '/$deadletterqueue';

/** Settling or renewing a message whose lock is gone (Storage: stale pop receipt; Service Bus: MessageLockLost). */
export class MessageLockLostError extends Error {
  readonly code = 'MessageLockLost';
  constructor(queue: string, id: string) {
    super(`the lock on message ${id} of ${queue} was lost (it expired or the message was settled)`);
  }
}

interface StoredMessage {
  readonly id: string;
  /** The body as JSON text: callers never share objects with the queue. */
  readonly json: string;
  readonly enqueuedAt: number;
  /** Not receivable before this time (a delayed send, an abandon with delay, or a lock). */
  visibleAt: number;
  /** Deliveries so far. */
  deliveries: number;
  /** The current lock holder's token; a receive hands out a new one (Storage's pop receipt). */
  lockToken?: string;
  /** True until first visible, for a message sent with a delay (Service Bus' scheduled count). */
  scheduled: boolean;
}

/**
 * A QueueTransport held in memory that passes the same contract suite as Storage Queues and
 * Service Bus (test/unit/in-memory-queue.test.ts), for use-case tests that want a real queue's
 * rules without a storage round trip. Follows the port:
 * - a receive locks each message it returns for `lockSec` (the visibility timeout) and counts a
 *   delivery; an unsettled message comes back once the lock expires, with its count increased;
 * - `complete`, `abandon`, `deadLetter` and `renewLock` work only for the current lock holder: once
 *   another receive took the message (or it was settled), they fail with {@link MessageLockLostError};
 *   on Service Bus also once the lock expired (Storage honours a pop receipt until the next receive);
 * - `send` with `delaySec` and `abandon(delaySec)` hold the message back; Storage's 7-day cap applies;
 * - dead-lettering moves the body with the reason and description inside it to
 *   `deadLetterQueueOf(queue)`, which is received like any queue;
 * - bodies are stored as JSON: what cannot be serialised or is larger than the platform's message
 *   size is refused before anything is sent.
 * Time comes from `now`, so a test moves locks and delays on without waiting.
 */
export class InMemoryQueueTransport implements QueueTransport {
  readonly kind: 'storage' | 'servicebus';
  private readonly queues = new Map<string, Map<string, StoredMessage>>();
  private readonly now: () => number;
  private readonly maxBytes: number;
  /** Every body ever sent, by queue, in order; for assertions on what a use case sent. */
  readonly sent: Array<{ queue: string; body: MessageBody; delaySec: number }> = [];

  constructor(options: InMemoryQueueOptions = {}) {
    this.kind = options.kind ?? 'storage';
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_BYTES[this.kind];
  }

  deadLetterQueueOf(queue: string): string {
    return this.kind === 'storage' ? `${queue}-poison` : `${queue}${SERVICE_BUS_DEAD_LETTER_SUFFIX}`;
  }

  async ensure(queues: readonly string[]): Promise<void> {
    for (const q of queues) {
      this.queue(q);
      this.queue(this.deadLetterQueueOf(q));
    }
  }

  async send(queue: string, messages: readonly MessageBody[], options?: SendOptions): Promise<void> {
    const delaySec = Math.max(0, options?.delaySec ?? 0);
    if (this.kind === 'storage' && delaySec > MAX_STORAGE_DELAY_SEC)
      throw new RangeError(`a Storage queue cannot hold a message back longer than ${MAX_STORAGE_DELAY_SEC} s`);
    // Encode everything first: one message that cannot be sent refuses the whole call.
    const encoded = messages.map((m) => {
      const json = JSON.stringify(m);
      if (this.encodedSize(json) > this.maxBytes) throw new PayloadTooLargeError(this.maxBytes);
      return json;
    });
    await Promise.resolve();
    const at = this.now();
    const target = this.queue(queue);
    for (const json of encoded) {
      const id = randomUUID();
      target.set(id, {
        id,
        json,
        enqueuedAt: at,
        visibleAt: at + delaySec * 1000,
        deliveries: 0,
        scheduled: delaySec > 0,
      });
      this.sent.push({ queue, body: JSON.parse(json) as MessageBody, delaySec });
    }
  }

  async receive(queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    await Promise.resolve();
    const at = this.now();
    const want = Math.max(1, Math.min(MAX_RECEIVE[this.kind], Math.floor(options.maxMessages)));
    const out: ReceivedMessage[] = [];
    for (const m of this.queue(queue).values()) {
      if (out.length >= want) break;
      if (m.visibleAt > at) continue;
      m.scheduled = false;
      m.deliveries++;
      m.lockToken = randomUUID();
      m.visibleAt = at + options.lockSec * 1000;
      out.push(this.handOut(queue, m, m.lockToken, options.lockSec));
    }
    return out;
  }

  async depth(queue: string): Promise<QueueDepth> {
    await Promise.resolve();
    const all = [...this.queue(queue).values()];
    const deadLetter = this.queues.get(this.deadLetterQueueOf(queue))?.size ?? 0;
    const at = this.now();
    // Storage's approximate count holds every message, invisible ones too; Service Bus keeps
    // scheduled messages apart from the active (visible or locked) ones.
    if (this.kind === 'storage') return { active: all.length, deadLetter, scheduled: 0 };
    const scheduled = all.filter((m) => m.scheduled && m.visibleAt > at).length;
    return { active: all.length - scheduled, deadLetter, scheduled };
  }

  async close(): Promise<void> {}

  /** Messages in `queue` (visible, locked or delayed), for assertions. */
  peek(queue: string): MessageBody[] {
    return [...(this.queues.get(queue)?.values() ?? [])].map((m) => JSON.parse(m.json) as MessageBody);
  }

  private handOut(queue: string, m: StoredMessage, token: string, lockSec: number): ReceivedMessage {
    const held = (): StoredMessage => {
      const current = this.queues.get(queue)?.get(m.id);
      const expired = this.kind === 'servicebus' && current !== undefined && current.visibleAt <= this.now();
      if (!current || current.lockToken !== token || expired) throw new MessageLockLostError(queue, m.id);
      return current;
    };
    const body = JSON.parse(m.json) as MessageBody;
    return {
      id: m.id,
      body,
      deliveryCount: m.deliveries,
      enqueuedAt: new Date(m.enqueuedAt),
      complete: async () => {
        await Promise.resolve();
        held();
        this.queue(queue).delete(m.id);
      },
      abandon: async (delaySec = 0) => {
        await Promise.resolve();
        const current = held();
        current.lockToken = undefined;
        current.visibleAt = this.now() + Math.max(0, delaySec) * 1000;
      },
      deadLetter: async (reason: string, description: string) => {
        held();
        await this.send(this.deadLetterQueueOf(queue), [
          { ...body, [DEAD_LETTER_REASON_FIELD]: reason, [DEAD_LETTER_DESCRIPTION_FIELD]: description },
        ]);
        // The send yielded: the lock may have gone meanwhile, as between the adapter's two calls.
        held();
        this.queue(queue).delete(m.id);
      },
      renewLock: async () => {
        await Promise.resolve();
        held().visibleAt = this.now() + lockSec * 1000;
      },
    };
  }

  private encodedSize(json: string): number {
    const bytes = Buffer.byteLength(json, 'utf8');
    return this.kind === 'storage' ? Math.ceil(bytes / 3) * 4 : bytes;
  }

  private queue(name: string): Map<string, StoredMessage> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Map();
      this.queues.set(name, q);
    }
    return q;
  }
}
