import type { Config } from '../../config.js';
import type { CostSettings } from '../../cost-settings.js';
import {
  actualCost,
  budgetCovers,
  estimateCosts,
  periodStart,
  roundMoney,
  type Budget,
  type CostEstimates,
  type JobCost,
} from '../../core/costs.js';
import type { JobRecord, JobSpec, RoutingDecision } from '../../core/job.js';
import type { CostLedger, LedgerRow } from '../../ports/cost-ledger.js';

/** What the cost use cases need, built once per host (see createDeps). */
export interface Costs {
  readonly settings: CostSettings;
  readonly ledger: CostLedger;
  readonly spend: BudgetSpendCache;
}

/** The decision with its cost estimate per candidate target. */
export function withCostEstimates(
  decision: RoutingDecision,
  spec: JobSpec,
  config: Config,
  settings: CostSettings,
): RoutingDecision {
  const costEstimates: CostEstimates = estimateCosts(
    settings.priceTable,
    decision,
    spec,
    config.classifier,
    settings.defaultSizes,
  );
  return { ...decision, costEstimates };
}

/** The actual cost of a job that has just finished. */
export function costOfFinished(job: JobRecord, config: Config, settings: CostSettings): JobCost {
  return actualCost(settings.priceTable, job, config.classifier.queues, settings.defaultSizes);
}

/**
 * Each budget's spend in its current period, as this process last read it from the ledger. A
 * budget check must not read a month of ledger rows per submission: the sum is re-read at most
 * once per BUDGET_CACHE_SEC (concurrent callers share one read), and at once after a job covered
 * by the budget finishes in this process.
 */
export class BudgetSpendCache {
  private readonly cached = new Map<string, { at: number; period: string; spent: Promise<number> }>();

  constructor(
    private readonly ledger: CostLedger,
    private readonly ttlMs: number,
  ) {}

  /** Spend of finished jobs carrying the budget's label since its period began. */
  spent(budget: Budget, now: Date): Promise<number> {
    const start = periodStart(budget.period, now);
    const period = start.toISOString();
    const hit = this.cached.get(budget.name);
    if (hit && hit.period === period && now.getTime() - hit.at < this.ttlMs) return hit.spent;
    const spent = this.ledger
      .rows(start, new Date(now.getTime() + 1))
      .then((rows) =>
        roundMoney(rows.filter((r) => budgetCovers(budget, r.labels)).reduce((sum, r) => sum + (r.cost ?? 0), 0)),
      );
    this.cached.set(budget.name, { at: now.getTime(), period, spent });
    // A failed read is not remembered: the next check reads again.
    spent.catch(() => {
      if (this.cached.get(budget.name)?.spent === spent) this.cached.delete(budget.name);
    });
    return spent;
  }

  /**
   * A job that finished in this process: the budgets it counts against are read again at their next
   * check (the ledger row is already written), rather than patched here, so a sum whose read was in
   * flight while the row was written never counts the job twice.
   */
  add(budgets: readonly Budget[], row: LedgerRow): void {
    if (row.cost === null || row.cost === 0) return;
    for (const budget of budgets) if (budgetCovers(budget, row.labels)) this.cached.delete(budget.name);
  }

  invalidate(): void {
    this.cached.clear();
  }
}
