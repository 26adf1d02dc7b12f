import { isTerminal, type JobRecord, type JobStatus } from '../core/job.js';

/** One finished job in the cost ledger: what /api/costs and budgets add up. Small and fixed-size. */
export interface LedgerRow {
  readonly jobId: string;
  /** When the job finished (ISO); the row is found under that UTC day. */
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
 * The cost ledger as its readers see it. The rows are written by the job store itself, in the
 * write that finishes a job with its cost (see {@link JobStore.ledgerRows}), so reading is all
 * this port does.
 */
export interface CostLedger {
  /** Rows of jobs that finished in [from, to), in no particular order. */
  rows(from: Date, to: Date): Promise<LedgerRow[]>;
}

/**
 * The ledger row of a job, when it has one: a job in a terminal state whose record carries its
 * cost. A store writes it with the write that moves the job into that state.
 */
export function ledgerRowOf(job: JobRecord): LedgerRow | undefined {
  const cost = job.cost;
  if (!cost || !isTerminal(job.status)) return undefined;
  return {
    jobId: job.id,
    finishedAt: job.finishedAt ?? job.updatedAt,
    status: job.status,
    provider: job.provider ?? job.decision?.provider ?? 'unknown',
    queue: job.queue ?? job.decision?.queue ?? 'unknown',
    labels: job.spec.labels ?? {},
    currency: cost.currency,
    cost: cost.actual,
    estimated: cost.estimated,
    billedSec: cost.billedSec,
  };
}
