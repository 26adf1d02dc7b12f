import type { IdleWait } from '../lib/core/poll-backoff.js';
import type {
  MessageBody,
  QueueDepth,
  QueueTransport,
  ReceiveOptions,
  ReceivedMessage,
  SendOptions,
} from '../lib/ports/queue.js';

/**
 * A queue transport for one process that hosts both producers and consumers (the local runner):
 * a send wakes the consumers of that queue waiting out their idle back-off, so idle polling can be
 * slow (cheap) without making the next job wait for it. Messages from other processes are still
 * found by the next poll.
 */
export class WakingTransport implements QueueTransport {
  private readonly waiting = new Map<string, Set<() => void>>();
  /**
   * Queues sent to while none of their consumers was waiting (each was receiving or busy). A
   * consumer whose receive was already in flight may have missed that message, and the wake with
   * it; its next idle wait then ends at once (one extra receive at most) instead of sleeping out a
   * back-off of up to the maximum poll interval with a job waiting.
   */
  private readonly missed = new Set<string>();

  constructor(private readonly inner: QueueTransport) {}

  get kind(): QueueTransport['kind'] {
    return this.inner.kind;
  }

  async send(queue: string, messages: readonly MessageBody[], options?: SendOptions): Promise<void> {
    await this.inner.send(queue, messages, options);
    const wake = () => {
      const wakers = this.waiting.get(queue);
      if (wakers?.size) for (const w of [...wakers]) w();
      else this.missed.add(queue);
    };
    // A delayed message wakes its consumers when it becomes visible, not now.
    const delayMs = (options?.delaySec ?? 0) * 1000;
    if (delayMs > 0) setTimeout(wake, delayMs).unref();
    else wake();
  }

  /** An {@link IdleWait} that ends early when this transport sends to the queue. */
  readonly idleWait: IdleWait = (queue, ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || this.missed.delete(queue)) return resolve();
      let set = this.waiting.get(queue);
      if (!set) {
        set = new Set();
        this.waiting.set(queue, set);
      }
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });

  receive(queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    return this.inner.receive(queue, options);
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
