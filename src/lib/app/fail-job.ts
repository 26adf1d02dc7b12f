import { isTerminal, type JobError, type JobRecord } from '../core/job.js';
import { transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError, isRetriable, NotFoundError, OrchestratorError, ProviderRejectedError } from '../errors.js';
import type { JobUpdate } from '../ports/job-store.js';

/** Error details safe to store and show: a code and a message, never a stack. */
export function toJobError(error: unknown, fallbackCode = 'INTERNAL'): JobError {
  if (error instanceof ProviderRejectedError)
    return { code: error.providerCode, message: error.message, category: 'provider' };
  if (error instanceof OrchestratorError) return { code: error.code, message: error.message };
  return { code: fallbackCode, message: describeError(error) };
}

/** The update that fails a job, or leaves it alone if it already ended. */
export function failedUpdate(current: JobRecord, error: JobError, reason: string, at: Date): JobUpdate {
  return isTerminal(current.status)
    ? { job: current, unchanged: true }
    : transition(current, 'failed', reason, { at, patch: { error }, detail: { code: error.code } });
}

/** Moves a job to `failed` unless it already ended. `undefined` when there is no such job. */
export async function failJob(
  deps: Deps,
  jobId: string,
  error: JobError,
  reason: string,
): Promise<JobRecord | undefined> {
  try {
    return await deps.store.update(jobId, (current) => failedUpdate(current, error, reason, deps.now()));
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/**
 * Runs a queue handler body with the platform's retry contract: retriable errors (throttling,
 * outages, lost races) and unknown infrastructure errors are rethrown so the message is redelivered;
 * errors that will never heal fail the job with the reason and let the message be consumed.
 */
export async function settleOrRetry(
  deps: Deps,
  jobId: string,
  stage: string,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (isRetriable(error) || !(error instanceof OrchestratorError)) throw error;
    const jobError = toJobError(error);
    deps.log.warn(`${stage} failed for good`, { jobId, code: jobError.code, message: jobError.message });
    await failJob(deps, jobId, jobError, `${stage} failed: ${jobError.message}`);
  }
}
