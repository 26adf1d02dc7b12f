import { takeToken, tokensAt, type BucketState } from '../../src/lib/core/capacity.js';
import type {
  CapacityStore,
  RefusalRecord,
  SlotGrant,
  SlotHolder,
  TokenGrant,
  WaitingJob,
} from '../../src/lib/ports/capacity-store.js';

/**
 * A CapacityStore held in memory that passes the same contract suite as the Table adapter
 * (test/contract/capacity-store.contract.ts), for use-case tests. Each call yields once, so
 * concurrent callers interleave as they would against a real store.
 */
export class InMemoryCapacityStore implements CapacityStore {
  private readonly slotRows = new Map<string, Map<number, SlotHolder>>();
  private readonly buckets = new Map<string, BucketState>();
  private readonly waits = new Map<string, Map<string, WaitingJob>>();
  private readonly refusals = new Map<string, RefusalRecord>();

  async acquireSlot(scope: string, jobId: string, limit: number, at: Date): Promise<SlotGrant> {
    await Promise.resolve();
    const rows = this.rows(scope);
    const held = [...rows.values()];
    if (held.some((h) => h.jobId === jobId)) return { granted: true, inUse: rows.size };
    for (let slot = 0; slot < limit; slot++) {
      if (!rows.has(slot)) {
        rows.set(slot, { jobId, slot, since: at.toISOString() });
        return { granted: true, inUse: rows.size };
      }
    }
    return { granted: false, inUse: rows.size };
  }

  async releaseSlot(scope: string, jobId: string): Promise<boolean> {
    await Promise.resolve();
    const rows = this.rows(scope);
    for (const [slot, h] of rows) {
      if (h.jobId === jobId) {
        rows.delete(slot);
        return true;
      }
    }
    return false;
  }

  async slots(scope: string): Promise<SlotHolder[]> {
    await Promise.resolve();
    return [...this.rows(scope).values()].sort((a, b) => a.slot - b.slot);
  }

  async takeToken(scope: string, perMinute: number, at: Date): Promise<TokenGrant> {
    await Promise.resolve();
    const r = takeToken(this.buckets.get(scope), perMinute, at.getTime());
    this.buckets.set(scope, r.state);
    return { granted: r.granted, retryAfterMs: r.retryAfterMs };
  }

  async peekTokens(scope: string, perMinute: number, at: Date): Promise<number> {
    await Promise.resolve();
    return tokensAt(this.buckets.get(scope), perMinute, at.getTime());
  }

  async markWaiting(scope: string, jobId: string, at: Date): Promise<void> {
    await Promise.resolve();
    const w = this.waitsOf(scope);
    if (!w.has(jobId)) w.set(jobId, { jobId, since: at.toISOString() });
  }

  async clearWaiting(scope: string, jobId: string): Promise<void> {
    await Promise.resolve();
    this.waitsOf(scope).delete(jobId);
  }

  async waiting(scope: string, limit = 1000): Promise<WaitingJob[]> {
    await Promise.resolve();
    return [...this.waitsOf(scope).values()].sort((a, b) => a.since.localeCompare(b.since)).slice(0, limit);
  }

  async recordRefusal(scope: string, refusal: RefusalRecord): Promise<void> {
    await Promise.resolve();
    this.refusals.set(scope, refusal);
  }

  async lastRefusal(scope: string): Promise<RefusalRecord | undefined> {
    await Promise.resolve();
    return this.refusals.get(scope);
  }

  async ensure(): Promise<void> {}

  private rows(scope: string): Map<number, SlotHolder> {
    const m = this.slotRows.get(scope) ?? new Map<number, SlotHolder>();
    this.slotRows.set(scope, m);
    return m;
  }

  private waitsOf(scope: string): Map<string, WaitingJob> {
    const m = this.waits.get(scope) ?? new Map<string, WaitingJob>();
    this.waits.set(scope, m);
    return m;
  }
}
