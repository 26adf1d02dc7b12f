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

/** Share of requests answered with a throttle or a 5xx, and share whose reply never comes in time. */
export interface FaultRates {
  /** Throttling or 5xx, half each. */
  readonly error: number;
  /** No reply within the client's timeout; a create is still carried out (the reply is what is lost). */
  readonly timeout: number;
  /** PRNG seed, so a failing run can be repeated exactly. */
  readonly seed?: number;
}

export type FaultDraw = 'ok' | 'throttle' | 'server-error' | 'timeout';

/** Draws the fault of each request from a seeded PRNG (mulberry32) and counts what it drew. */
export class FaultPlan {
  private state: number;
  readonly drawn: Record<FaultDraw, number> = { ok: 0, throttle: 0, 'server-error': 0, timeout: 0 };

  constructor(private readonly rates: FaultRates) {
    this.state = (rates.seed ?? 0x5eed) >>> 0;
  }

  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  next(): FaultDraw {
    const r = this.random();
    const draw: FaultDraw =
      r < this.rates.error / 2
        ? 'throttle'
        : r < this.rates.error
          ? 'server-error'
          : r < this.rates.error + this.rates.timeout
            ? 'timeout'
            : 'ok';
    this.drawn[draw]++;
    return draw;
  }
}
