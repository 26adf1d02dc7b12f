/**
 * Admission state shared by every Function App instance: who holds a place under each provider's
 * concurrency cap, each rate cap's token bucket, which jobs wait, and the last capacity refusal.
 *
 * Why slots and not a counter: a counter kept on transitions drifts whenever a process dies
 * between the job's write and the counter's (they cannot share a transaction: the job lives in its
 * shard's partition). A slot is a row per running job under the cap, taken by an insert that fails
 * when the row exists, at one of `limit` fixed row keys: the cap can never be exceeded, however many
 * instances race, "in use" is a single-partition read of at most `limit` small rows, and a slot
 * whose job is gone or no longer active is visible and swept (the reconciler) instead of leaking.
 */
export interface CapacityStore {
  /**
   * Takes a slot of `scope` for `jobId` if fewer than `limit` are held. Idempotent per job: a job
   * that holds one already (a redelivered dispatch) keeps it and is granted.
   */
  acquireSlot(scope: string, jobId: string, limit: number, at: Date): Promise<SlotGrant>;
  /** Gives the job's slot back; false when it held none. */
  releaseSlot(scope: string, jobId: string): Promise<boolean>;
  /** Holders of `scope`'s slots (at most `limit` rows). */
  slots(scope: string): Promise<SlotHolder[]>;
  /**
   * Takes one creation token from `scope`'s bucket (`perMinute` tokens a minute, as many at most
   * in the bucket), or says how long until the next one.
   */
  takeToken(scope: string, perMinute: number, at: Date): Promise<TokenGrant>;
  /** Tokens left now, without taking one. */
  peekTokens(scope: string, perMinute: number, at: Date): Promise<number>;
  /** Records that the job waits for `scope`'s capacity (idempotent). */
  markWaiting(scope: string, jobId: string, at: Date): Promise<void>;
  clearWaiting(scope: string, jobId: string): Promise<void>;
  /** Jobs recorded waiting for `scope`, oldest first, at most `limit`. */
  waiting(scope: string, limit?: number): Promise<WaitingJob[]>;
  /** Remembers `scope`'s latest capacity refusal (shown by GET /api/providers). */
  recordRefusal(scope: string, refusal: RefusalRecord): Promise<void>;
  lastRefusal(scope: string): Promise<RefusalRecord | undefined>;
  ensure(): Promise<void>;
}

export interface SlotGrant {
  readonly granted: boolean;
  /** Slots held after the call (including this job's when granted). */
  readonly inUse: number;
}

export interface SlotHolder {
  readonly jobId: string;
  readonly slot: number;
  readonly since: string;
}

export interface TokenGrant {
  readonly granted: boolean;
  /** When not granted: ms until a token is there. */
  readonly retryAfterMs: number;
}

export interface WaitingJob {
  readonly jobId: string;
  readonly since: string;
}

export interface RefusalRecord {
  readonly at: string;
  readonly jobId: string;
  readonly code: string;
  readonly message: string;
  /** Until when a job this provider refused waits before its next round (its first back-off). */
  readonly backingOffUntil?: string;
}
