import { describe, expect, it } from 'vitest';
import { newJobId } from '../../src/lib/core/ids.js';
import type { CapacityStore } from '../../src/lib/ports/capacity-store.js';

/**
 * The rules every CapacityStore keeps (the Table adapter and the in-memory double): a cap is never
 * exceeded however many callers race, a job holds at most one slot, tokens refill with time.
 * `make` returns a store on fresh state.
 */
export function capacityStoreContract(name: string, make: () => Promise<CapacityStore>): void {
  const at = new Date('2026-12-04T12:00:00.000Z');
  const later = (sec: number) => new Date(at.getTime() + sec * 1000);

  describe(`CapacityStore contract: ${name}`, () => {
    it('grants exactly `limit` of many concurrent acquires, and one job holds one slot however often it asks', async () => {
      const store = await make();
      const jobs = Array.from({ length: 12 }, () => newJobId());
      const grants = await Promise.all(jobs.map((j) => store.acquireSlot('sagemaker', j, 4, at)));
      expect(grants.filter((g) => g.granted)).toHaveLength(4);
      const holders = await store.slots('sagemaker');
      expect(holders).toHaveLength(4);
      expect(new Set(holders.map((h) => h.slot)).size).toBe(4);
      const holder = holders[0]!.jobId;
      // A redelivered dispatch of a holder keeps its place; one more job is still refused.
      expect(await store.acquireSlot('sagemaker', holder, 4, at)).toMatchObject({ granted: true, inUse: 4 });
      const outsider = jobs.find((j) => !holders.some((h) => h.jobId === j))!;
      expect(await store.acquireSlot('sagemaker', outsider, 4, at)).toMatchObject({ granted: false, inUse: 4 });
      // Release frees the place for someone else; releasing twice is harmless.
      expect(await store.releaseSlot('sagemaker', holder)).toBe(true);
      expect(await store.releaseSlot('sagemaker', holder)).toBe(false);
      expect(await store.acquireSlot('sagemaker', outsider, 4, at)).toMatchObject({ granted: true, inUse: 4 });
      // Scopes are independent.
      expect(await store.slots('vertex')).toEqual([]);
    });

    it('counts rows above a lowered limit until they are released', async () => {
      const store = await make();
      for (let i = 0; i < 3; i++) await store.acquireSlot('azure-batch', newJobId(), 3, at);
      expect(await store.acquireSlot('azure-batch', newJobId(), 2, at)).toMatchObject({ granted: false, inUse: 3 });
    });

    it('hands out a minute of tokens at once, then one per 60/perMinute seconds, also to racing callers', async () => {
      const store = await make();
      const burst = await Promise.all(Array.from({ length: 8 }, () => store.takeToken('vertex', 6, at)));
      expect(burst.filter((t) => t.granted)).toHaveLength(6);
      expect(burst.find((t) => !t.granted)?.retryAfterMs).toBe(10_000);
      expect(await store.peekTokens('vertex', 6, later(5))).toBeCloseTo(0.5, 5);
      expect(await store.takeToken('vertex', 6, later(5))).toMatchObject({ granted: false, retryAfterMs: 5_000 });
      expect(await store.takeToken('vertex', 6, later(10))).toMatchObject({ granted: true });
      // Never more than a minute's worth, however long it sat.
      expect(await store.peekTokens('vertex', 6, later(3600))).toBe(6);
    });

    it('keeps waiting jobs once each, oldest first, and the last refusal', async () => {
      const store = await make();
      const [a, b] = [newJobId(), newJobId()];
      await store.markWaiting('azure-ml', b, later(5));
      await store.markWaiting('azure-ml', a, at);
      await store.markWaiting('azure-ml', b, later(9));
      expect(await store.waiting('azure-ml')).toEqual([
        { jobId: a, since: at.toISOString() },
        { jobId: b, since: later(5).toISOString() },
      ]);
      await store.clearWaiting('azure-ml', a);
      await store.clearWaiting('azure-ml', a);
      expect((await store.waiting('azure-ml')).map((w) => w.jobId)).toEqual([b]);

      expect(await store.lastRefusal('azure-ml')).toBeUndefined();
      const refusal = { at: at.toISOString(), jobId: a, code: 'QuotaExceeded', message: 'vCPUs' };
      await store.recordRefusal('azure-ml', refusal);
      await store.recordRefusal('azure-ml', { ...refusal, code: 'AllocationFailed' });
      expect(await store.lastRefusal('azure-ml')).toMatchObject({ code: 'AllocationFailed', jobId: a });
    });
  });
}
