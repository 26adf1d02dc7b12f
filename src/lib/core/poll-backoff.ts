/**
 * Idle back-off of a queue consumer, after the Functions host's queue listener: each empty receive
 * doubles the wait (from `minMs` up to `maxMs`, the host's maxPollingInterval); a receive that
 * finds work resets it, so a busy queue is polled back to back and an idle one costs 1/maxMs.
 */
export class PollBackoff {
  private next: number;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
  ) {
    this.next = Math.min(minMs, maxMs);
  }

  /** The wait before the next receive after an empty one; grows the following wait. */
  empty(): number {
    const wait = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return wait;
  }

  /** Work was found: poll again without waiting, and restart the back-off from `minMs`. */
  reset(): void {
    this.next = Math.min(this.minMs, this.maxMs);
  }
}

/**
 * Waits between polls: `ms` at most, less when something says the queue has work or `signal`
 * aborts (a consumer stopping). Never rejects.
 */
export type IdleWait = (queue: string, ms: number, signal?: AbortSignal) => Promise<void>;

/** An {@link IdleWait} that only sleeps (a consumer with no in-process producers). */
export const sleepingWait: IdleWait = (_queue, ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
