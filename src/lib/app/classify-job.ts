import { classifyJob } from '../core/classifier.js';
import { note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { ValidationError } from '../errors.js';
import type { MessageBody } from '../ports/queue.js';
import { settleOrRetry } from './fail-job.js';
import { jobMessage, parseJobMessage, type JobMessage } from './messages.js';

/**
 * The intake queue's handler: decides where the job runs, stores the decision, and enqueues it on
 * the class queue. Safe to run twice: a redelivered message for an already-queued job only re-sends
 * the class-queue message (downstream handlers are idempotent).
 */
export async function handleIntakeMessage(deps: Deps, raw: MessageBody): Promise<void> {
  const message = parseJobMessage(raw);
  await settleOrRetry(deps, message.jobId, 'classification', () => classify(deps, message));
}

async function classify(deps: Deps, message: JobMessage): Promise<void> {
  const job = await deps.store.get(message.jobId);
  if (!job) {
    deps.log.warn('intake message for unknown job dropped', { jobId: message.jobId });
    return;
  }
  if (job.status !== 'submitted' && !(job.status === 'queued' && job.queue)) return;

  let queued = job;
  if (job.status === 'submitted') {
    const classified = classifyJob(job.spec, deps.config.classifier, deps.now());
    if (!classified) throw new ValidationError([{ field: 'target', message: `unknown target '${job.spec.target}'` }]);
    let decision = classified;
    const costs = deps.costs;
    let released: string | undefined;
    if (costs) {
      const { withCostEstimates } = await import('./costs/costs.js');
      decision = withCostEstimates(classified, job.spec, deps.config, costs.settings);
      // A job a `wait` budget holds is checked again; it stays held (and is looked at again after
      // BUDGET_RECHECK_SEC) until the budget has room for it.
      if (job.budgetHold) {
        const { checkBudgets } = await import('./costs/budgets.js');
        const verdict = await checkBudgets(costs, job.spec, decision.costEstimates?.chosen ?? null, deps.now());
        if (verdict.kind !== 'ok') {
          const at = deps.now().toISOString();
          const still = await deps.store.update(job.id, (current) =>
            current.status === 'submitted' && current.budgetHold
              ? {
                  // Not history, but it is progress: updatedAt moves so the reconciler never takes
                  // a held job for one whose message was lost.
                  job: {
                    ...current,
                    updatedAt: at,
                    budgetHold: {
                      ...current.budgetHold,
                      checkedAt: at,
                      checks: current.budgetHold.checks + 1,
                      spent: verdict.breach.spent,
                      estimate: verdict.breach.estimate,
                    },
                  },
                  quiet: true as const,
                }
              : { job: current, unchanged: true as const },
          );
          if (still.status === 'submitted' && still.budgetHold)
            await deps.queues.send(deps.config.queues.intake, [jobMessage(job.id, message.secrets)], {
              delaySec: costs.settings.budgetRecheckSec,
            });
          return;
        }
        released = `budget '${job.budgetHold.budget}' has room now; released after ${job.budgetHold.checks} check(s)`;
      }
    }
    const at = deps.now();
    queued = await deps.store.update(job.id, (current) => {
      if (current.status !== 'submitted') return { job: current, unchanged: true };
      const base = released ? note(current, released, { at, patch: { budgetHold: undefined } }) : undefined;
      const next = transition(base?.job ?? current, 'queued', `classified: ${decision.explanation}`, {
        at,
        patch: { decision, queue: decision.queue, provider: decision.provider },
        detail: { rule: decision.rule, cost: decision.cost, queue: decision.queue, provider: decision.provider },
      });
      return base ? { ...next, earlier: [base.event] } : next;
    });
    if (queued.status !== 'queued') return;
  }
  await deps.queues.send(queued.queue!, [jobMessage(queued.id, message.secrets)]);
}
