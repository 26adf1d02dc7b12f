import { classifyJob } from '../core/classifier.js';
import { transition } from '../core/state-machine.js';
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
    const decision = classifyJob(job.spec, deps.config.classifier, deps.now());
    if (!decision) throw new ValidationError([{ field: 'target', message: `unknown target '${job.spec.target}'` }]);
    queued = await deps.store.update(job.id, (current) =>
      current.status === 'submitted'
        ? transition(current, 'queued', `classified: ${decision.explanation}`, {
            at: deps.now(),
            patch: { decision, queue: decision.queue, provider: decision.provider },
            detail: { rule: decision.rule, cost: decision.cost, queue: decision.queue, provider: decision.provider },
          })
        : { job: current, unchanged: true },
    );
    if (queued.status !== 'queued') return;
  }
  await deps.queues.send(queued.queue!, [jobMessage(queued.id, message.secrets)]);
}
