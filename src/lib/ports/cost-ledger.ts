import type { JobStatus } from '../core/job.js';

/** One finished job in the cost ledger: what /api/costs and budgets add up. Small and fixed-size. */
export interface LedgerRow {
  readonly jobId: string;
  /** When the job finished (ISO); the row lives under that UTC day. */
  readonly finishedAt: string;
  readonly status: JobStatus;
  readonly provider: string;
  readonly queue: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly currency: string;
  /** null when the price table had no price for the job's instances. */
  readonly cost: number | null;
  readonly estimated: number | null;
  readonly billedSec: number;
}

/**
 * The cost ledger port: one row per finished job, keyed by the job id (writing it again replaces
 * it, so a repeated completion never counts twice), found by the time it finished.
 */
export interface CostLedger {
  /** Writes (or replaces) the job's row. */
  record(row: LedgerRow): Promise<void>;
  /** Rows of jobs that finished in [from, to), in no particular order. */
  rows(from: Date, to: Date): Promise<LedgerRow[]>;
  ensure(): Promise<void>;
}
