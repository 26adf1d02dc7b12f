import type { Config } from '../../config.js';
import { isTerminal, type JobRecord } from '../../core/job.js';
import type { Logger } from '../../deps.js';
import { describeError } from '../../errors.js';
import { ForwardingJobStore, type JobStore, type JobUpdate } from '../../ports/job-store.js';
import { backoffDelay, withRetries } from '../../retry.js';
import { costOfFinished, ledgerRowOf, type Costs } from './costs.js';

/**
 * The job store, plus: the write that finishes a job carries its actual cost (`job.cost`), whichever
 * use case or worker commits it (poll, worker, cancel, timeout, dead letter), and after it commits
 * the job's row goes to the cost ledger. The cost rides in the same write as the terminal state, so
 * a finished job never lacks it; the ledger row is a second write, retried a few times and then
 * logged (the record keeps the cost; an upsert keyed by the job id never counts a job twice).
 */
export class CostingJobStore extends ForwardingJobStore {
  constructor(
    inner: JobStore,
    private readonly costs: Costs,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    super(inner);
  }

  override async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    let finished = false;
    const after = await this.inner.update(id, (current) => {
      const update = mutate(current);
      // Only the write that moves the job into a terminal state prices it (the mutator may run again).
      finished = Boolean(update.event && !isTerminal(current.status) && isTerminal(update.job.status));
      if (!finished) return update;
      const cost = costOfFinished(update.job, this.config, this.costs.settings);
      return { ...update, job: { ...update.job, cost } } as JobUpdate;
    });
    if (finished && after.cost) await this.recordLedgerRow(after);
    return after;
  }

  private async recordLedgerRow(job: JobRecord): Promise<void> {
    const row = ledgerRowOf(job, job.cost!);
    try {
      await withRetries(() => this.costs.ledger.record(row), {
        attempts: 3,
        delayMs: (_error, attempt) => backoffDelay(attempt, 200, { capMs: 2_000 }),
      });
      this.costs.spend.add(this.costs.settings.budgets, row);
    } catch (error) {
      this.log.error('cost ledger write failed; the job record keeps its cost', {
        jobId: job.id,
        error: describeError(error),
      });
    }
  }
}
