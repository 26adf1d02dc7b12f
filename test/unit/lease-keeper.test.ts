import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseKeeper } from '../../src/lib/app/lease-keeper.js';

describe('LeaseKeeper', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews every held lease on one timer and stops renewing a released one', async () => {
    vi.useFakeTimers();
    const keeper = new LeaseKeeper(100);
    const renewed = { a: 0, b: 0 };
    const releaseA = keeper.hold({ renew: async () => void renewed.a++ });
    keeper.hold({ renew: async () => void renewed.b++ });

    await vi.advanceTimersByTimeAsync(300);
    expect(renewed).toEqual({ a: 3, b: 3 });
    expect(vi.getTimerCount()).toBe(1);

    releaseA();
    releaseA(); // idempotent
    await vi.advanceTimersByTimeAsync(200);
    expect(renewed).toEqual({ a: 3, b: 5 });
    expect(keeper.size).toBe(1);
  });

  it('keeps no timer while nothing is held', async () => {
    vi.useFakeTimers();
    const keeper = new LeaseKeeper(100);
    expect(vi.getTimerCount()).toBe(0);
    const release = keeper.hold({ renew: async () => undefined });
    expect(vi.getTimerCount()).toBe(1);
    release();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never overlaps two renewals of the same lease', async () => {
    vi.useFakeTimers();
    const keeper = new LeaseKeeper(100);
    let running = 0;
    let most = 0;
    let calls = 0;
    keeper.hold({
      renew: async () => {
        calls++;
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 350)); // slower than three ticks
        running--;
        return 'held';
      },
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(most).toBe(1);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(3);
  });

  it('drops a lease reported lost and tells its holder once', async () => {
    vi.useFakeTimers();
    const keeper = new LeaseKeeper(100);
    let renewals = 0;
    const lost = vi.fn();
    keeper.hold({ renew: async () => (++renewals >= 2 ? 'lost' : 'held'), onLost: lost });
    await vi.advanceTimersByTimeAsync(500);
    expect(renewals).toBe(2);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(keeper.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('treats a failed renewal as transient: reports it and tries again on the next tick', async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const keeper = new LeaseKeeper(100, (e) => errors.push(e));
    let renewals = 0;
    const lost = vi.fn();
    keeper.hold({
      renew: async () => {
        if (++renewals === 1) throw new Error('store unavailable');
        return 'held';
      },
      onLost: lost,
    });
    await vi.advanceTimersByTimeAsync(300);
    expect(renewals).toBe(3);
    expect(errors).toHaveLength(1);
    expect(lost).not.toHaveBeenCalled();
    expect(keeper.size).toBe(1);
  });
});
