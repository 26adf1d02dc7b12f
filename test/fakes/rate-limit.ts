/**
 * Server-side request quotas for the wire fakes, modelled on what the clouds document: a token
 * bucket refilled `perSec` per second up to `burst` (ARM's read quota per principal; SageMaker,
 * Vertex and Batch throttle per API/account in the same spirit). Time is injectable so a test can
 * run a whole mass-completion on a fake clock shared with the client's limiter.
 */
export interface RateLimit {
  readonly perSec: number;
  readonly burst: number;
}

export class QuotaBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSec: number,
    private readonly burst: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = clock();
  }

  static of(limit: RateLimit | undefined, clock?: () => number): QuotaBucket | undefined {
    return limit ? new QuotaBucket(limit.perSec, limit.burst, clock) : undefined;
  }

  /** Takes a token; when none is left, the milliseconds until one will be. */
  take(): { ok: true; remaining: number } | { ok: false; retryAfterMs: number } {
    const now = this.clock();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSec);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens) };
    }
    return { ok: false, retryAfterMs: ((1 - this.tokens) / this.perSec) * 1000 };
  }
}

/** A clock that moves only when someone sleeps on it: rate-limited runs finish at CPU speed. */
export class FakeClock {
  private t: number;
  constructor(start = Date.now()) {
    this.t = start;
  }
  readonly now = (): number => this.t;
  readonly sleep = async (ms: number): Promise<void> => {
    if (ms > 0) this.t += ms;
    // Let other work interleave, as a real timer would.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  advance(ms: number): void {
    if (ms > 0) this.t += ms;
  }
}
