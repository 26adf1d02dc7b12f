/**
 * Shared plumbing for talking to rate-limited services: Retry-After parsing, exponential back-off,
 * a token-bucket limiter and bounded concurrency. Every provider paces and retries through this one
 * module, so "honour Retry-After" and "stay under the documented quota" mean the same everywhere.
 *
 * Time is injectable (`now`, `sleep`) so tests and benches can run the limiter on a fake clock.
 */

/** Resolves after `ms` milliseconds (immediately for 0 or less). */
export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/**
 * Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds; undefined when
 * absent or unreadable. Negative values and dates in the past mean "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Math.max(0, Math.round(Number(text) * 1000));
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential back-off for attempt `attempt` (0-based): base · 2^attempt, capped. No jitter unless asked. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  options: { capMs?: number; jitter?: () => number } = {},
): number {
  const raw = baseMs * 2 ** Math.max(0, attempt);
  const capped = Math.min(raw, options.capMs ?? Number.POSITIVE_INFINITY);
  // "Full jitter" when a random source is given: spreads retries of many clients that failed together.
  return options.jitter ? Math.round(capped * options.jitter()) : capped;
}

export interface TokenBucketOptions {
  /** Tokens added per second (the sustained request rate). Must be > 0. */
  readonly ratePerSec: number;
  /** Bucket size: how many requests may go at once after a quiet spell. At least 1. */
  readonly burst: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Client-side token bucket, the same model the big clouds document for their read quotas (ARM:
 * refill per second into a bucket; SageMaker and Batch: per-API request rates). `take()` waits for a
 * token; `pause(ms)` empties the bucket until a server-sent Retry-After has passed, so every caller
 * sharing the bucket honours it, not only the one that got the 429.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private blockedUntil = 0;
  private readonly now: () => number;
  private readonly sleepFn: (ms: number) => Promise<void>;
  readonly ratePerSec: number;
  readonly burst: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSec > 0) || !Number.isFinite(options.ratePerSec))
      throw new RangeError(`ratePerSec must be a positive number, got ${options.ratePerSec}`);
    this.ratePerSec = options.ratePerSec;
    this.burst = Math.max(1, Math.floor(options.burst));
    this.now = options.now ?? Date.now;
    this.sleepFn = options.sleep ?? sleep;
    this.tokens = this.burst;
    this.last = this.now();
  }

  private refill(at: number): void {
    if (at > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((at - this.last) / 1000) * this.ratePerSec);
      this.last = at;
    }
  }

  /** Milliseconds until a token would be free (0: one is free now). Takes nothing. */
  waitMs(): number {
    const at = this.now();
    this.refill(at);
    const blocked = Math.max(0, this.blockedUntil - at);
    const deficit = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000);
    return Math.max(blocked, deficit);
  }

  /** Takes a token if one is free now. */
  tryTake(): boolean {
    if (this.waitMs() > 0) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Waits for a token and takes it. With `maxWaitMs`, gives up (returns false, takes nothing) when
   * the wait would be longer: a poll cycle then carries its remaining reads to the next cycle.
   */
  async take(maxWaitMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    for (;;) {
      const wait = this.waitMs();
      if (wait === 0) {
        this.tokens -= 1;
        return true;
      }
      if (wait > maxWaitMs) return false;
      await this.sleepFn(wait);
    }
  }

  /** The service said "retry after `ms`": no token is handed out before then, and the bucket restarts empty. */
  pause(ms: number): void {
    const at = this.now();
    this.refill(at);
    this.blockedUntil = Math.max(this.blockedUntil, at + Math.max(0, ms));
    this.tokens = 0;
    this.last = Math.max(this.last, this.blockedUntil);
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(0, Math.min(Math.max(1, Math.floor(limit)), items.length)) }, worker),
  );
  return out;
}

export interface RetryOptions {
  /** Attempts in all, the first included (1: no retry). */
  readonly attempts: number;
  /**
   * The wait before the next attempt after `error` on 0-based `attempt` (a server's Retry-After, or
   * {@link backoffDelay}); undefined when the error is not worth another attempt.
   */
  readonly delayMs: (error: unknown, attempt: number) => number | undefined;
  /** A wait longer than this ends the retries: the caller's caller honours it instead. */
  readonly maxWaitMs?: number;
  /** Runs before every attempt (a rate limiter's `take`). */
  readonly beforeAttempt?: () => Promise<unknown>;
  readonly sleep?: (ms: number) => Promise<void>;
  /** What is thrown when the retries end: the last error as the caller should see it. Default: the error itself. */
  readonly giveUp?: (error: unknown, attempt: number) => unknown;
}

/**
 * Runs `op` until it succeeds or the policy gives up: an error is retried after `delayMs` while it
 * is retriable, attempts are left, and the wait fits `maxWaitMs`. The one retry loop of the code base.
 */
export async function withRetries<T>(op: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const pause = options.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    await options.beforeAttempt?.();
    try {
      return await op(attempt);
    } catch (error) {
      const wait = attempt + 1 < options.attempts ? options.delayMs(error, attempt) : undefined;
      if (wait === undefined || wait > (options.maxWaitMs ?? Number.POSITIVE_INFINITY)) {
        throw options.giveUp ? options.giveUp(error, attempt) : error;
      }
      await pause(wait);
    }
  }
}
