import { isTerminal, type JobError, type JobRecord } from '../core/job.js';
import { transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError, isRetriable, OrchestratorError, ProviderRejectedError } from '../errors.js';

/** Error details safe to store and show: a code and a message, never a stack. */
export function toJobError(error: unknown, fallbackCode = 'INTERNAL'): JobError {
  if (error instanceof ProviderRejectedError) return { code: error.providerCode, message: error.message, category: 'provider' };
  if (error instanceof OrchestratorError) return { code: error.code, message: error.message };
  return { code: fallbackCode, message: describeError(error) };
}

/** Moves a job to `failed` unless it already ended. Returns the record as it stands afterwards. */
export async function failJob(deps: Deps, jobId: string, error: JobError, reason: string): Promise<JobRecord | undefined> {
  const job = await deps.store.get(jobId);
  if (!job) return undefined;
  return deps.store.update(jobId, (current) =>
    isTerminal(current.status)
      ? { job: current, unchanged: true }
      : transition(current, 'failed', reason, { at: deps.now(), patch: { error }, detail: { code: error.code } }),
  );
}

/**
 * Runs a queue handler body with the platform's retry contract: retriable errors (throttling,
 * outages, lost races) and unknown infrastructure errors are rethrown so the message is redelivered;
 * errors that will never heal fail the job with the reason and let the message be consumed.
 */
export async function settleOrRetry(deps: Deps, jobId: string, stage: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (isRetriable(error) || !(error instanceof OrchestratorError)) throw error;
    const jobError = toJobError(error);
    deps.log.warn(`${stage} failed for good`, { jobId, code: jobError.code, message: jobError.message });
    await failJob(deps, jobId, jobError, `${stage} failed: ${jobError.message}`);
  }
}
