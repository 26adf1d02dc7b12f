import { describe, expect, it } from 'vitest';
import { backoffDelay, mapLimit, parseRetryAfter, TokenBucket, withRetries } from '../../src/lib/retry.js';

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and ignores what it cannot read', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(' 0.5 ')).toBe(500);
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', Date.parse('2026-11-23T10:00:00Z'))).toBe(30_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', Date.parse('2026-11-23T10:00:00Z'))).toBe(0);
    expect(parseRetryAfter('-3')).toBe(0);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('doubles from the base, respects the cap and applies jitter when given', () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, 100))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(10, 100, { capMs: 5000 })).toBe(5000);
    expect(backoffDelay(2, 100, { jitter: () => 0.5 })).toBe(200);
  });
});

describe('TokenBucket', () => {
  function clock() {
    let t = 1_000_000;
    const slept: number[] = [];
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    const sleep = async (ms: number) => {
      slept.push(ms);
      advance(ms);
    };
    return { now: () => t, sleep, slept, advance };
  }

  it('lets a burst through, then paces to the rate', async () => {
    const c = clock();
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 3, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 3; i++) expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    const start = c.now();
    for (let i = 0; i < 10; i++) await bucket.take();
    // 10 more tokens at 10/s: one second on the fake clock.
    expect(c.now() - start).toBe(1000);
  });

  it('gives up instead of waiting longer than maxWaitMs', async () => {
    const c = clock();
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 1, now: c.now, sleep: c.sleep });
    expect(await bucket.take()).toBe(true);
    expect(await bucket.take(500)).toBe(false);
    expect(c.slept).toEqual([]);
  });

  it('hands out nothing until a paused Retry-After has passed', async () => {
    const c = clock();
    const bucket = new TokenBucket({ ratePerSec: 100, burst: 100, now: c.now, sleep: c.sleep });
    bucket.pause(2000);
    expect(bucket.tryTake()).toBe(false);
    const start = c.now();
    await bucket.take();
    expect(c.now() - start).toBeGreaterThanOrEqual(2000);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket({ ratePerSec: 0, burst: 1 })).toThrow(RangeError);
  });
});

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});

describe('withRetries', () => {
  const failing = (errors: unknown[], value = 'ok') => {
    let calls = 0;
    return Object.assign(
      async () => {
        const e = errors[calls++];
        if (e !== undefined) throw e;
        return value;
      },
      { calls: () => calls },
    );
  };

  it('retries a retriable error after its delay, and returns the first success', async () => {
    const slept: number[] = [];
    const op = failing([new Error('503'), new Error('503')]);
    const result = await withRetries(op, {
      attempts: 5,
      delayMs: (_e, attempt) => backoffDelay(attempt, 10),
      sleep: async (ms) => void slept.push(ms),
    });
    expect(result).toBe('ok');
    expect(op.calls()).toBe(3);
    expect(slept).toEqual([10, 20]);
  });

  it('stops after the last attempt and throws what giveUp makes of the last error', async () => {
    const op = failing([new Error('a'), new Error('b'), new Error('c')]);
    const seen: Array<[string, number]> = [];
    await expect(
      withRetries(op, {
        attempts: 2,
        delayMs: () => 0,
        sleep: async () => undefined,
        giveUp: (e, attempt) => {
          seen.push([(e as Error).message, attempt]);
          return new Error(`gave up on ${(e as Error).message}`);
        },
      }),
    ).rejects.toThrow('gave up on b');
    expect(op.calls()).toBe(2);
    expect(seen).toEqual([['b', 1]]);
  });

  it('does not retry an error the policy calls final, nor one whose wait exceeds maxWaitMs', async () => {
    const final = failing([new Error('400')]);
    await expect(withRetries(final, { attempts: 5, delayMs: () => undefined })).rejects.toThrow('400');
    expect(final.calls()).toBe(1);

    const slept: number[] = [];
    const long = failing([new Error('429')]);
    await expect(
      withRetries(long, {
        attempts: 5,
        maxWaitMs: 1000,
        delayMs: () => 60_000,
        sleep: async (ms) => void slept.push(ms),
      }),
    ).rejects.toThrow('429');
    expect(long.calls()).toBe(1);
    expect(slept).toEqual([]);
  });

  it('runs beforeAttempt before every attempt (a limiter takes a token per request)', async () => {
    let taken = 0;
    const op = failing([new Error('x')]);
    await withRetries(op, {
      attempts: 3,
      delayMs: () => 0,
      sleep: async () => undefined,
      beforeAttempt: async () => void taken++,
    });
    expect(taken).toBe(2);
  });
});
