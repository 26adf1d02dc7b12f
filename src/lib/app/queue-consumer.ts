import { PollBackoff, sleepingWait, type IdleWait } from '../core/poll-backoff.js';
import type { QueueTransport, ReceivedMessage } from '../ports/queue.js';

export interface QueueConsumerOptions {
  readonly queue: string;
  /** Messages asked for in one receive (host.json `batchSize`). */
  readonly batchSize: number;
  /** A new receive happens only while at most this many messages are in hand (host.json `newBatchThreshold`). */
  readonly newBatchThreshold: number;
  /** Hard cap on messages in hand; a receive never asks for more than the room left. */
  readonly maxInFlight: number;
  /** Lock / visibility timeout asked for on receive. */
  readonly lockSec: number;
  /** Longest idle wait between receives on an empty queue. */
  readonly maxPollMs: number;
  /** How to wait when the queue was empty; the local runner's ends early when it sends to the queue. */
  readonly idleWait?: IdleWait;
  /** Told about a failed receive (the consumer waits a second and tries again) or a handler that threw. */
  readonly onError?: (stage: 'receive' | 'handle', error: unknown) => void;
}

/** Pause after a failed receive, so a storage outage is not hammered. */
const RECEIVE_FAILURE_PAUSE_MS = 1000;

/**
 * One queue consumer for every in-process host (the container worker and the local runner's queue
 * triggers): receives in batches like the Functions host's queue listener, backs off while the
 * queue is empty (doubling up to `maxPollMs`, reset by a message, cut short by `idleWait`), and
 * hands each message to the handler. The handler settles the message; the consumer only counts it.
 */
export class QueueConsumer {
  private running = false;
  private loop?: Promise<void>;
  private stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queues: QueueTransport,
    private readonly options: QueueConsumerOptions,
    private readonly handler: (message: ReceivedMessage) => Promise<void>,
  ) {}

  /** Messages whose handler has not returned yet. */
  get busy(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /**
   * Stops receiving; messages received after the stop began are handed straight back. Resolves
   * when the loop has ended; handlers still running keep running (see {@link drain}).
   */
  async stopReceiving(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
  }

  /** Resolves when every handler started so far has returned. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async run(): Promise<void> {
    const { queue, batchSize, newBatchThreshold, maxInFlight, lockSec, maxPollMs } = this.options;
    const backoff = new PollBackoff(50, maxPollMs);
    const idleWait = this.options.idleWait ?? sleepingWait;
    const stopped = new Promise<void>((resolve) =>
      this.stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    while (this.running) {
      const room = maxInFlight - this.inFlight.size;
      if (this.inFlight.size > newBatchThreshold || room <= 0) {
        // Full: wait for a handler to return (or for the stop), not on a timer.
        await Promise.race([...this.inFlight, stopped]);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await this.queues.receive(queue, { maxMessages: Math.min(batchSize, room), lockSec, waitSec: 1 });
      } catch (error) {
        this.options.onError?.('receive', error);
        await sleepingWait(queue, RECEIVE_FAILURE_PAUSE_MS, this.stopping.signal);
        continue;
      }
      if (!this.running) {
        // The stop began while we were receiving: hand these straight back.
        await Promise.all(messages.map((m) => m.abandon().catch(() => undefined)));
        break;
      }
      for (const message of messages) this.dispatch(message);
      if (messages.length === 0) await idleWait(queue, backoff.empty(), this.stopping.signal);
      else backoff.reset();
    }
  }

  private dispatch(message: ReceivedMessage): void {
    const handled: Promise<void> = Promise.resolve()
      .then(() => this.handler(message))
      .catch((error: unknown) => this.options.onError?.('handle', error))
      .finally(() => this.inFlight.delete(handled));
    this.inFlight.add(handled);
  }
}
