import type { Deps } from '../deps.js';
import { DEAD_LETTER_DESCRIPTION_FIELD, DEAD_LETTER_REASON_FIELD, type MessageBody } from '../ports/queue.js';
import { isTerminal } from '../core/job.js';
import { note } from '../core/state-machine.js';
import { NotFoundError } from '../errors.js';
import { failedUpdate } from './fail-job.js';
import { MAX_DELIVERIES_REASON } from './process-message.js';
import { instruments } from '../telemetry/metrics.js';

/**
 * Handler of every poison / dead-letter queue: a message that could not be processed leaves its job
 * `failed` with the reason, whichever stage (classify, dispatch, worker) gave up on it.
 * `platformReason` is what the platform says (Service Bus DeadLetterReason); Storage's poison queue
 * says nothing, so the reason is then "max dequeue count exceeded" unless we dead-lettered on purpose.
 */
export async function handleDeadLetter(
  deps: Deps,
  body: MessageBody,
  sourceQueue: string,
  platformReason?: { reason?: string; description?: string },
): Promise<void> {
  const jobId = typeof body.jobId === 'string' ? body.jobId : undefined;
  const reason = str(body[DEAD_LETTER_REASON_FIELD]) ?? platformReason?.reason ?? MAX_DELIVERIES_REASON;
  const description =
    str(body[DEAD_LETTER_DESCRIPTION_FIELD]) ??
    platformReason?.description ??
    `the message failed on every delivery from ${sourceQueue}`;
  instruments().deadLetters.add(1, { queue: sourceQueue, reason });
  if (!jobId) {
    deps.log.error('dead-lettered message without a job id', { queue: sourceQueue, reason });
    return;
  }
  // A dead-lettered *copy* of the message of a job that is running right now (a duplicate send, or
  // the run's own message after a lost lock, put back each time it met the live lease) says nothing
  // about the run: record it and let the run finish. A crashed run's lease expires, so crash loops
  // still end here as failures. Deciding inside the update keeps the lease check and the failure on
  // the same read.
  const error = { code: 'DEAD_LETTERED', message: `${reason}: ${description}`, category: sourceQueue };
  try {
    await deps.store.update(jobId, (c) =>
      c.lease && Date.parse(c.lease.until) > deps.now().getTime() && !isTerminal(c.status)
        ? note(
            c,
            `a copy of this job's message was dead-lettered from ${sourceQueue} (${reason}); the run under ${c.lease.owner} is alive and continues`,
            { at: deps.now() },
          )
        : failedUpdate(c, error, `dead-lettered from ${sourceQueue}: ${reason}: ${description}`, deps.now()),
    );
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    deps.log.warn('dead-lettered message for unknown job', { jobId, queue: sourceQueue });
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
