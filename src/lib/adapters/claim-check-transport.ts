import { randomUUID } from 'node:crypto';
import type { BlobStore } from '../ports/blob-store.js';
import {
  CLAIM_CHECK_FIELD,
  type MessageBody,
  type QueueDepth,
  type QueueTransport,
  type ReceiveOptions,
  type ReceivedMessage,
  type SendOptions,
} from '../ports/queue.js';

/**
 * Wraps any transport: bodies larger than the threshold are stored as a blob and the message
 * carries only `{ "$claimCheck": "<container>/<name>" }`. Receivers see the original body; the blob
 * is deleted when the message completes. Functions triggers, which get bodies from the host rather
 * than through `receive`, resolve them with {@link resolveClaimCheck} at the function edge.
 */
export class ClaimCheckTransport implements QueueTransport {
  constructor(
    private readonly inner: QueueTransport,
    private readonly blobs: BlobStore,
    private readonly container: string,
    private readonly thresholdBytes: number,
  ) {}

  get kind(): QueueTransport['kind'] {
    return this.inner.kind;
  }

  async send(queue: string, messages: readonly MessageBody[], options?: SendOptions): Promise<void> {
    const out = await Promise.all(
      messages.map(async (m) => {
        const json = JSON.stringify(m);
        if (Buffer.byteLength(json, 'utf8') <= this.thresholdBytes) return m;
        const name = `claims/${queue}/${randomUUID()}.json`;
        await this.blobs.put(this.container, name, json);
        return { [CLAIM_CHECK_FIELD]: `${this.container}/${name}` };
      }),
    );
    await this.inner.send(queue, out, options);
  }

  async receive(queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const received = await this.inner.receive(queue, options);
    return Promise.all(
      received.map(async (msg) => {
        const ref = claimRef(msg.body);
        if (!ref) return msg;
        const body = await resolveClaimCheck(msg.body, this.blobs);
        return {
          ...bind(msg),
          body,
          complete: async () => {
            await msg.complete();
            await this.blobs.delete(ref.container, ref.name).catch(() => undefined);
          },
        };
      }),
    );
  }

  depth(queue: string): Promise<QueueDepth> {
    return this.inner.depth(queue);
  }
  deadLetterQueueOf(queue: string): string {
    return this.inner.deadLetterQueueOf(queue);
  }
  ensure(queues: readonly string[]): Promise<void> {
    return this.inner.ensure(queues);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function bind(msg: ReceivedMessage): ReceivedMessage {
  return {
    id: msg.id,
    body: msg.body,
    deliveryCount: msg.deliveryCount,
    ...(msg.enqueuedAt && { enqueuedAt: msg.enqueuedAt }),
    complete: () => msg.complete(),
    abandon: (d) => msg.abandon(d),
    deadLetter: (r, d) => msg.deadLetter(r, d),
    renewLock: () => msg.renewLock(),
  };
}

function claimRef(body: MessageBody): { container: string; name: string } | undefined {
  const ref = body[CLAIM_CHECK_FIELD];
  if (typeof ref !== 'string') return undefined;
  const slash = ref.indexOf('/');
  return { container: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

/** Returns the original body of a claim-checked message (other bodies pass through unchanged). */
export async function resolveClaimCheck(body: MessageBody, blobs: BlobStore): Promise<MessageBody> {
  const ref = claimRef(body);
  if (!ref) return body;
  const content = await blobs.get(ref.container, ref.name);
  if (!content) throw new Error(`claim-checked payload ${ref.container}/${ref.name} is missing`);
  // Keep reason fields a dead-lettering transport added beside the reference.
  const { [CLAIM_CHECK_FIELD]: _ref, ...rest } = body;
  return { ...(JSON.parse(content.toString('utf8')) as MessageBody), ...rest };
}
