/** What a held lease does on each renewal: `lost` when someone else owns it now. */
export type RenewalResult = 'held' | 'lost';

export interface HeldLease {
  /** Extends the lease. A throw is a failed renewal, not a lost lease: the next tick tries again. */
  renew(): Promise<RenewalResult | undefined>;
  /** Called once when `renew` reports the lease lost; the lease is then dropped. */
  onLost?(): void;
}

/**
 * The one owner of lease renewal in a process, after BullMQ's LockManager: a single timer renews
 * every lease held (message locks, job leases), a renewal never overlaps the previous one of the
 * same lease, and a lease found lost is dropped and reported. Work code only holds and releases.
 * The timer runs only while something is held, so an idle host keeps no timer alive.
 */
export class LeaseKeeper {
  private readonly held = new Map<symbol, { lease: HeldLease; renewing?: Promise<void> }>();
  private timer?: NodeJS.Timeout;

  constructor(
    /** Time between renewals of every held lease. */
    readonly intervalMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Number of leases held. */
  get size(): number {
    return this.held.size;
  }

  /** Starts renewing `lease` on the next tick; the returned function stops (idempotent). */
  hold(lease: HeldLease): () => void {
    const key = Symbol('lease');
    this.held.set(key, { lease });
    this.timer ??= setInterval(() => this.tick(), this.intervalMs);
    return () => {
      this.held.delete(key);
      if (this.held.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    for (const [key, entry] of this.held) {
      if (entry.renewing) continue;
      entry.renewing = entry.lease
        .renew()
        .then(
          (result) => {
            if (result === 'lost' && this.held.delete(key)) entry.lease.onLost?.();
          },
          (error: unknown) => this.onError(error),
        )
        .finally(() => {
          entry.renewing = undefined;
          if (this.held.size === 0 && this.timer) {
            clearInterval(this.timer);
            this.timer = undefined;
          }
        });
    }
  }
}
