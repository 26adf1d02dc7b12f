import type { Config } from '../../config.js';
import { isTerminal, type JobRecord } from '../../core/job.js';
import { ledgerRowOf } from '../../ports/cost-ledger.js';
import { ForwardingJobStore, type JobStore, type JobUpdate } from '../../ports/job-store.js';
import { costOfFinished, type Costs } from './costs.js';

/**
 * The job store, plus: the write that finishes a job carries its actual cost (`job.cost`), whichever
 * use case or worker commits it (poll, worker, cancel, timeout, dead letter). The store commits the
 * job's cost-ledger row in that same write (see {@link JobStore.ledgerRows}), so a finished job never
 * lacks its cost nor its row, and the row costs no request of its own. After the write commits, the
 * budgets the job counts against are read afresh at their next check.
 */
export class CostingJobStore extends ForwardingJobStore {
  constructor(
    inner: JobStore,
    private readonly costs: Costs,
    private readonly config: Config,
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
    const row = finished ? ledgerRowOf(after) : undefined;
    if (row) this.costs.spend.add(this.costs.settings.budgets, row);
    return after;
  }
}
