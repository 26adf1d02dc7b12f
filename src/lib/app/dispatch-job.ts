import { note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { ProviderCapacityError } from '../errors.js';
import type { MessageBody } from '../ports/queue.js';
import { parseEssedumSettings } from '../essedum-settings.js';
import { admit, capacityControl, type CapacityControl } from './capacity/admission.js';
import { failOver, isStaleWaitCopy, waitForCapacity } from './capacity/failover.js';
import { commandRunRefusal, isCommandKind } from './essedum/execute-spec.js';
import { failJob, settleOrRetry } from './fail-job.js';
import { parseJobMessage, type JobMessage } from './messages.js';

/**
 * The ml-jobs / batch-jobs handler: starts the job at its provider. Provider submission is
 * idempotent (names derive from the job id), so a redelivered message re-attaches to the job the
 * first delivery started instead of starting a second one.
 *
 * Capacity: a job over its provider's cap (CAPACITY_LIMITS) waits in its queue — its message is
 * re-sent with a delay and this one completed, so waiting spends no delivery attempt — and is never
 * failed for it. A provider that refuses for capacity moves the job along its failover chain in this
 * same delivery (see capacity/failover.ts).
 */
export async function handleDispatchMessage(deps: Deps, raw: MessageBody): Promise<void> {
  const message = parseJobMessage(raw);
  await settleOrRetry(deps, message.jobId, 'dispatch', async () => {
    const ctl = capacityControl(deps);
    // One move per target of the chain at most, plus the first try.
    for (let hop = 0; hop < 16; hop++) {
      if ((await dispatchOnce(deps, ctl, message)) !== 'again') return;
    }
    throw new Error(`job ${message.jobId} failed over more times than any chain allows`);
  });
}

async function dispatchOnce(deps: Deps, ctl: CapacityControl, message: JobMessage): Promise<'done' | 'again'> {
  const job = await deps.store.get(message.jobId);
  if (!job) {
    deps.log.warn('dispatch message for unknown job dropped', { jobId: message.jobId });
    return 'done';
  }
  // Anything past `queued` was dispatched by an earlier delivery (or cancelled meanwhile).
  if (job.status !== 'queued') return 'done';
  if (isStaleWaitCopy(job, message, deps.now())) {
    deps.log.info('dispatch message dropped: a later copy holds the capacity wait', { jobId: job.id });
    return 'done';
  }
  // The /execute gate, again at dispatch: a command job goes to a provider only while /execute is
  // on and only if the record came from that route.
  if (isCommandKind(job.spec.kind)) {
    const refusal = commandRunRefusal(job.source, parseEssedumSettings(deps.config.env).executeEnabled);
    if (refusal) {
      await failJob(deps, job.id, refusal, `not dispatched: ${refusal.message}`);
      return 'done';
    }
  }
  const providerName = job.provider ?? job.decision?.provider;
  if (!providerName) throw new Error(`job ${job.id} has no provider`);
  const provider = await deps.providers.get(providerName);

  const admission = await admit(ctl, providerName, job, deps.now());
  if (!admission.admitted) {
    await waitForCapacity(deps, ctl, job, message, {
      reason: admission.reason,
      provider: providerName,
      detail: admission.detail,
      delaySec: admission.retryAfterSec,
    });
    return 'done';
  }

  // Only a `queued` job is dispatched, and each dispatch from `queued` is one attempt: the run is
  // named for the attempt it will be (a redelivery of this message finds the same name).
  const attempt = job.attempts + 1;
  let outcome: Awaited<ReturnType<typeof provider.submit>>;
  try {
    outcome = await provider.submit({ ...job, attempts: attempt }, message.secrets);
  } catch (error) {
    if (!(error instanceof ProviderCapacityError)) throw error;
    return (await failOver(deps, ctl, job, message, providerName, error)) === 'moved' ? 'again' : 'done';
  }
  const after = await deps.store.update(job.id, (current) => {
    if (current.status !== 'queued' || current.attempts !== job.attempts) return { job: current, unchanged: true };
    const reason = outcome.attached
      ? `re-attached to the existing ${providerName} job (redelivered dispatch)`
      : `submitted to ${providerName}`;
    const dispatched = transition(current, 'dispatched', reason, {
      at: deps.now(),
      // Counted on re-attach too: the first delivery started this attempt but never recorded it.
      patch: { provider: providerName, providerRef: outcome.ref, attempts: attempt },
      detail: { ref: outcome.ref, attached: outcome.attached, attempt },
    });
    if (outcome.status !== 'running') return dispatched;
    // Already running at the provider: both steps of the history in one write.
    const running = transition(dispatched.job, 'running', `${providerName} reports the job running`, {
      at: deps.now(),
    });
    return { ...running, earlier: [dispatched.event] };
  });
  if (after.status === 'cancelled') {
    // A cancel landed while we were submitting: stop what we just started so billing stops too.
    await provider.cancel({ ...after, attempts: attempt, providerRef: outcome.ref });
    await deps.store.update(job.id, (current) =>
      note(current, `stopped the ${providerName} job started by a dispatch that raced the cancel`, {
        at: deps.now(),
        detail: { ref: outcome.ref },
      }),
    );
  }
  return 'done';
}
