import type { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { Config } from '../config.js';
import {
  DEAD_LETTER_DESCRIPTION_FIELD,
  DEAD_LETTER_REASON_FIELD,
  type MessageBody,
  type QueueDepth,
  type QueueTransport,
  type ReceiveOptions,
  type ReceivedMessage,
  type SendOptions,
} from '../ports/queue.js';
import { azureCredential } from './azure-credential.js';

/** Storage's own cap on one receive call. */
const MAX_RECEIVE = 32;

/**
 * Azure Storage Queues (Azurite locally). Messages are base64-encoded JSON, the encoding the
 * Functions host's queue trigger expects by default (host.json `messageEncoding: base64`).
 * Dead-lettering moves the message to `<queue>-poison`, where the host puts messages that exceeded
 * `maxDequeueCount`, so one poison handler serves both.
 */
export class StorageQueueTransport implements QueueTransport {
  readonly kind = 'storage' as const;
  private readonly clients = new Map<string, QueueClient>();

  private constructor(private readonly service: QueueServiceClient) {}

  static async create(config: Config): Promise<StorageQueueTransport> {
    const { QueueServiceClient } = await import('@azure/storage-queue');
    const { connectionString, queueServiceUri } = config.storage;
    if (connectionString) return new StorageQueueTransport(QueueServiceClient.fromConnectionString(connectionString));
    if (!queueServiceUri) throw new Error('JobsStorage or JobsStorage__queueServiceUri is required');
    return new StorageQueueTransport(new QueueServiceClient(queueServiceUri, await azureCredential(config)));
  }

  private client(queue: string): QueueClient {
    let c = this.clients.get(queue);
    if (!c) {
      c = this.service.getQueueClient(queue);
      this.clients.set(queue, c);
    }
    return c;
  }

  deadLetterQueueOf(queue: string): string {
    return `${queue}-poison`;
  }

  async send(queue: string, messages: readonly MessageBody[], options?: SendOptions): Promise<void> {
    const client = this.client(queue);
    const delay = Math.max(0, Math.round(options?.delaySec ?? 0));
    // Storage Queues have no batch send; parallel sends are the batch.
    await Promise.all(
      messages.map((m) => client.sendMessage(encode(m), delay > 0 ? { visibilityTimeout: delay } : {})),
    );
  }

  async receive(queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const client = this.client(queue);
    const want = Math.max(1, Math.min(MAX_RECEIVE, options.maxMessages));
    const reply = await client.receiveMessages({ numberOfMessages: want, visibilityTimeout: options.lockSec });
    return reply.receivedMessageItems.map((item) => {
      let popReceipt = item.popReceipt;
      const body = decode(item.messageText);
      return {
        id: item.messageId,
        body,
        deliveryCount: item.dequeueCount,
        enqueuedAt: item.insertedOn,
        complete: async () => {
          await client.deleteMessage(item.messageId, popReceipt);
        },
        abandon: async (delaySec = 0) => {
          await client.updateMessage(item.messageId, popReceipt, undefined, Math.max(0, Math.round(delaySec)));
        },
        deadLetter: async (reason: string, description: string) => {
          await this.client(this.deadLetterQueueOf(queue)).sendMessage(
            encode({ ...body, [DEAD_LETTER_REASON_FIELD]: reason, [DEAD_LETTER_DESCRIPTION_FIELD]: description }),
          );
          await client.deleteMessage(item.messageId, popReceipt);
        },
        renewLock: async () => {
          // Each update hands out a new pop receipt; the old one is dead from now on.
          const r = await client.updateMessage(item.messageId, popReceipt, undefined, options.lockSec);
          if (r.popReceipt) popReceipt = r.popReceipt;
        },
      } satisfies ReceivedMessage;
    });
  }

  async depth(queue: string): Promise<QueueDepth> {
    const [main, poison] = await Promise.all([
      this.client(queue).getProperties(),
      this.client(this.deadLetterQueueOf(queue))
        .getProperties()
        .catch((e: unknown) => {
          if ((e as { statusCode?: number }).statusCode === 404) return { approximateMessagesCount: 0 };
          throw e;
        }),
    ]);
    return {
      active: main.approximateMessagesCount ?? 0,
      deadLetter: poison.approximateMessagesCount ?? 0,
      scheduled: 0,
    };
  }

  async ensure(queues: readonly string[]): Promise<void> {
    await Promise.all(
      queues.flatMap((q) => [
        this.client(q).createIfNotExists(),
        this.client(this.deadLetterQueueOf(q)).createIfNotExists(),
      ]),
    );
  }

  async close(): Promise<void> {
    this.clients.clear();
  }
}

function encode(body: MessageBody): string {
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
}

/** Accepts base64 JSON (what we and the host write) and plain JSON (what a person may paste in). */
export function decode(text: string): MessageBody {
  const trimmed = text.trim();
  const raw = trimmed.startsWith('{') ? trimmed : Buffer.from(trimmed, 'base64').toString('utf8');
  const parsed: unknown = JSON.parse(raw);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('queue message is not a JSON object');
  return parsed as MessageBody;
}
