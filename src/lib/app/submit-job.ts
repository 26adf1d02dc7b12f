import { createHash } from 'node:crypto';
import { classifyJob, WORKER_PROVIDER } from '../core/classifier.js';
import { newJobId } from '../core/ids.js';
import { parseSubmission, type JobRecord, type JobSource, type JobSpec } from '../core/job.js';
import { creationEvent } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { IdempotencyKeyReusedError, ValidationError } from '../errors.js';
import { refuseCommandKind } from './essedum/execute-spec.js';
import { jobMessage } from './messages.js';

export interface SubmitRequest {
  readonly body: unknown;
  readonly mode: 'strict' | 'lenient';
  readonly source: JobSource;
  readonly idempotencyKey?: string | null;
  /** Secrets for the first dispatch (Essedum credentials); never stored on the job. */
  readonly secrets?: Record<string, string>;
  /** Already-validated spec (callers that translate another API's body build it themselves). */
  readonly spec?: JobSpec;
}

export interface SubmitResult {
  readonly job: JobRecord;
  /** True when an earlier request with the same Idempotency-Key created the job. */
  readonly replayed: boolean;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Accepts a job: validates it, records it as `submitted` and hands it to the classifier queue.
 * If sending fails after the record exists, the reconciler re-sends it, so nothing is lost.
 */
export async function submitJob(deps: Deps, request: SubmitRequest): Promise<SubmitResult> {
  const spec = request.spec ?? parseSubmission(request.body, request.mode);
  // Only /execute may create a job that runs a command (the kind is the server's, never a body's).
  refuseCommandKind(request.source, spec);
  // Validate the target now so a typo is a 400, not a failed job later.
  const decision = classifyJob(spec, deps.config.classifier);
  if (!decision) {
    const known = [...Object.values(deps.config.classifier.queues), ...deps.config.classifier.providers];
    throw new ValidationError([{ field: 'target', message: `unknown target '${spec.target}'; use one of ${known.join(', ')}` }]);
  }
  // A job aimed at a cloud ML provider must carry a spec that provider accepts.
  // Batch task options (its environment above all) are checked whenever a spec goes to Batch.
  const batchWithSpec = decision.provider === 'azure-batch' && spec.spec !== undefined;
  if (decision.provider !== WORKER_PROVIDER && (spec.kind !== undefined || spec.target === decision.provider || batchWithSpec)) {
    const { validateProviderSpec } = await import('../providers/registry.js');
    await validateProviderSpec(decision.provider, spec.kind, spec.spec);
  }

  let id = newJobId(deps.now().getTime());
  const key = request.idempotencyKey?.trim();
  if (key) {
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new ValidationError([{ field: 'Idempotency-Key', message: 'must be 1-255 visible ASCII characters' }]);
    }
    const hash = createHash('sha256').update(`${request.source}\n${JSON.stringify(spec)}`).digest('hex');
    const claim = await deps.store.claimIdempotencyKey(`${request.source}:${key}`, id, hash);
    if (!claim.created) {
      if (claim.requestHash !== hash) throw new IdempotencyKeyReusedError(key);
      const existing = await deps.store.get(claim.jobId);
      if (existing) return { job: existing, replayed: true };
      // The first request died between claiming the key and creating the job: finish its work.
      id = claim.jobId;
    }
  }

  const now = deps.now().toISOString();
  const job: JobRecord = {
    id,
    status: 'submitted',
    source: request.source,
    spec,
    createdAt: now,
    updatedAt: now,
    attempts: 0,
    eventSeq: 1,
    ...(key && { idempotencyKey: key }),
  };
  await deps.store.create(job, creationEvent(job, `submitted via ${request.source}`));
  try {
    await deps.queues.send(deps.config.queues.intake, [jobMessage(id, request.secrets)]);
  } catch (error) {
    // The job is recorded; the reconciler re-sends submitted jobs. Secrets cannot be re-sent, so
    // for a job that carries them the send failure is the caller's to retry.
    if (request.secrets) throw error;
    deps.log.warn('intake send failed; reconciler will retry', { jobId: id, error: String(error) });
  }
  return { job, replayed: false };
}
