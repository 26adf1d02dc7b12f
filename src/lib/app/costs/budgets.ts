import { budgetCovers, overBudget, periodStart, type Budget, type BudgetBreach } from '../../core/costs.js';
import type { JobSpec } from '../../core/job.js';
import { BudgetExceededError } from '../../errors.js';
import type { Costs } from './costs.js';

/** What the budgets say about a submission: fits, or which budget it would overrun and that budget's mode. */
export type BudgetVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'refuse' | 'wait'; readonly breach: BudgetBreach };

/**
 * Checks a job against every budget covering its labels: spend of finished jobs this period (from
 * the ledger, through the per-process cache) plus this job's estimate against the limit. A `refuse`
 * budget that would be overrun wins over a `wait` one (the caller cannot wait its way past a
 * refusal). Jobs already running are not counted until they finish: a burst of submissions can
 * overrun a budget by what that burst costs.
 */
export async function checkBudgets(
  costs: Costs,
  spec: Pick<JobSpec, 'labels'>,
  estimate: number | null,
  now: Date,
): Promise<BudgetVerdict> {
  const covering = costs.settings.budgets.filter((b) => budgetCovers(b, spec.labels ?? {}));
  if (covering.length === 0) return { kind: 'ok' };
  const breaches: { budget: Budget; breach: BudgetBreach }[] = [];
  for (const budget of covering) {
    const spent = await costs.spend.spent(budget, now);
    if (overBudget(budget, spent, estimate)) {
      breaches.push({
        budget,
        breach: { budget, spent, estimate: estimate ?? 0, periodStart: periodStart(budget.period, now).toISOString() },
      });
    }
  }
  const refusal = breaches.find((b) => b.budget.mode === 'refuse');
  if (refusal) return { kind: 'refuse', breach: refusal.breach };
  const wait = breaches[0];
  return wait ? { kind: 'wait', breach: wait.breach } : { kind: 'ok' };
}

/** The 402 problem of a refused submission. */
export function budgetRefusal(breach: BudgetBreach, currency: string): BudgetExceededError {
  const { budget } = breach;
  return new BudgetExceededError(
    budget.name,
    budget.label,
    budget.limit,
    breach.spent,
    breach.estimate,
    currency,
    budget.period,
    breach.periodStart,
  );
}

/** One line for a held job's history. */
export function holdReason(breach: BudgetBreach, currency: string): string {
  const { budget } = breach;
  return `waiting for budget '${budget.name}' (${budget.label}): ${currency} ${breach.spent} of ${budget.limit} spent this ${budget.period}, estimate ${currency} ${breach.estimate}`;
}
