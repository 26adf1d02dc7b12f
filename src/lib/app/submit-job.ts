import { createHash } from 'node:crypto';
import { classifyJob, WORKER_PROVIDER } from '../core/classifier.js';
import { newJobId } from '../core/ids.js';
import type { BudgetBreach } from '../core/costs.js';
import { parseSubmission, type JobRecord, type JobSource, type JobSpec, type RoutingDecision } from '../core/job.js';
import { creationEvent, note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { IdempotencyKeyReusedError, JobExistsError, ValidationError, type FieldIssue } from '../errors.js';
import { refuseCommandKind } from './essedum/execute-spec.js';
import { currentTraceCarrier, inSpan, tagJob } from '../telemetry/trace.js';
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
  /** The signing secret of the job's `notify` webhook: in this reply only, never again. */
  readonly notifySecret?: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Accepts a job: validates it, classifies it (a pure decision on the spec, the configuration and
 * the submission time), records it already `queued` with its decision — history `submitted` →
 * `queued` exactly as the intake queue's classifier writes it — in one write, and sends it straight
 * to its class queue. That saves the intake hop (a send, a receive, a delete, a read and a write)
 * per job; the intake queue and its classifier remain for `submitted` jobs (older versions,
 * reconciler re-sends). If sending fails after the record exists, the reconciler re-sends it.
 */
export async function submitJob(deps: Deps, request: SubmitRequest): Promise<SubmitResult> {
  const spec = request.spec ?? parseSubmission(request.body, request.mode);
  // Only /execute may create a job that runs a command (the kind is the server's, never a body's).
  refuseCommandKind(request.source, spec);
  // Validate the target now so a typo is a 400, not a failed job later.
  const decision = classifyJob(spec, deps.config.classifier);
  if (!decision) {
    const known = [...Object.values(deps.config.classifier.queues), ...deps.config.classifier.providers];
    throw new ValidationError([
      { field: 'target', message: `unknown target '${spec.target}'; use one of ${known.join(', ')}` },
    ]);
  }
  // A job routed to a cloud ML provider must carry a kind and a spec that provider accepts, or it
  // would be accepted now and fail at dispatch. Batch task options (its environment above all) are
  // checked whenever a spec goes to Batch.
  if (decision.provider !== WORKER_PROVIDER) {
    const { requiredJobKinds, validateProviderSpec } = await import('../providers/registry.js');
    const kinds = await requiredJobKinds(decision.provider);
    if (kinds && spec.kind === undefined) {
      throw new ValidationError([
        {
          field: 'kind',
          message:
            `this job is routed to ${decision.queue}, which provider ${decision.provider} runs, and ${decision.provider} runs only jobs ` +
            `that name a kind (${kinds.join(', ')}) with its spec; send kind and spec, or a target whose provider runs plain jobs`,
        },
      ]);
    }
    const batchWithSpec = decision.provider === 'azure-batch' && spec.spec !== undefined;
    if (kinds || spec.kind !== undefined || batchWithSpec)
      await (deps.providers.validateSpec?.bind(deps.providers) ?? validateProviderSpec)(
        decision.provider,
        spec.kind,
        spec.spec,
      );
  }

  if (spec.fallback?.length) await checkFallback(spec, decision);

  if (spec.notify) {
    const { checkNotify } = await import('./webhooks/subscriptions.js');
    await checkNotify(deps, spec.notify);
  }

  // Cost estimates per candidate target, and the budgets covering the job's labels: a `refuse`
  // budget it would overrun answers 402 here; a `wait` one holds it before classification.
  let estimate: (d: RoutingDecision) => RoutingDecision = (d) => d;
  let hold: BudgetBreach | undefined;
  const costs = deps.costs;
  if (costs) {
    const { withCostEstimates } = await import('./costs/costs.js');
    const { checkBudgets, budgetRefusal } = await import('./costs/budgets.js');
    estimate = (d) => withCostEstimates(d, spec, deps.config, costs.settings);
    const verdict = await checkBudgets(costs, spec, estimate(decision).costEstimates?.chosen ?? null, deps.now());
    if (verdict.kind === 'refuse') throw budgetRefusal(verdict.breach, costs.settings.priceTable.currency);
    if (verdict.kind === 'wait') hold = verdict.breach;
  }

  const key = request.idempotencyKey?.trim();
  if (key && !IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError([{ field: 'Idempotency-Key', message: 'must be 1-255 visible ASCII characters' }]);
  }
  const now = deps.now();
  let id = newJobId(now.getTime());
  let createdAt = now.toISOString();
  if (key) {
    const hash = createHash('sha256')
      .update(`${request.source}\n${JSON.stringify(spec)}`)
      .digest('hex');
    const claim = await deps.store.claimIdempotencyKey(`${request.source}:${key}`, {
      jobId: id,
      requestHash: hash,
      jobCreatedAt: createdAt,
    });
    if (!claim.created) {
      if (claim.requestHash !== hash) throw new IdempotencyKeyReusedError(key);
      tagJob(claim.jobId);
      const existing = await deps.store.get(claim.jobId);
      if (existing) return { job: existing, replayed: true };
      // The request that claimed the key is creating the job right now, or died before it could.
      // Build the very same record (same id and time) and create it too: exactly one create
      // commits, and whoever loses replays the winner's job.
      id = claim.jobId;
      createdAt = claim.jobCreatedAt ?? createdAt;
    }
  }

  tagJob(id);
  const { traceparent, tracestate } = currentTraceCarrier();
  const submitted: JobRecord = {
    id,
    status: 'submitted',
    source: request.source,
    spec,
    createdAt,
    updatedAt: createdAt,
    attempts: 0,
    eventSeq: 1,
    ...(key && { idempotencyKey: key }),
    ...(traceparent && { trace: { traceparent, ...(tracestate && { tracestate }) } }),
  };
  let notifySecret: string | undefined;
  if (spec.notify) {
    const { registerJobNotify } = await import('./webhooks/subscriptions.js');
    notifySecret = await registerJobNotify(deps, id, spec.notify);
  }
  // Decided at the job's own creation time, so a request that rebuilds the record of a racing twin
  // (same key, same id and time) builds the very same decision.
  const at = new Date(createdAt);
  if (hold && costs) {
    // Held by a `wait` budget: recorded `submitted` with a note, and checked again on the intake
    // queue every BUDGET_RECHECK_SEC until the budget has room (classify-job.ts).
    const { holdReason } = await import('./costs/budgets.js');
    const currency = costs.settings.priceTable.currency;
    const held = note(submitted, holdReason(hold, currency), {
      at,
      patch: {
        budgetHold: {
          budget: hold.budget.name,
          since: createdAt,
          checkedAt: createdAt,
          checks: 1,
          spent: hold.spent,
          limit: hold.budget.limit,
          estimate: hold.estimate,
        },
      },
      detail: { budget: hold.budget.name, spent: hold.spent, limit: hold.budget.limit, estimate: hold.estimate },
    });
    const created = await createOrReplay(deps, held.job, [held.event], key, request.source);
    if (created.replayed) return created;
    await deps.queues.send(deps.config.queues.intake, [jobMessage(id, request.secrets)], {
      delaySec: costs.settings.budgetRecheckSec,
    });
    return { job: held.job, replayed: false, ...(notifySecret && { notifySecret }) };
  }
  // The classify step happens here now (a pure decision): its span sits under the submission's.
  const { routed, classified } = await inSpan('classify', { jobId: id }, async (span) => {
    const routed = estimate(classifyJob(spec, deps.config.classifier, at) ?? decision);
    span.setAttributes({ 'job.queue': routed.queue, 'job.provider': routed.provider, 'job.rule': routed.rule });
    const classified = transition(submitted, 'queued', `classified: ${routed.explanation}`, {
      at,
      patch: { decision: routed, queue: routed.queue, provider: routed.provider },
      detail: { rule: routed.rule, cost: routed.cost, queue: routed.queue, provider: routed.provider },
    });
    return { routed, classified };
  });
  const job = classified.job;
  const created = await createOrReplay(deps, job, [classified.event], key, request.source);
  if (created.replayed) return created;
  try {
    await deps.queues.send(routed.queue, [jobMessage(id, request.secrets)]);
  } catch (error) {
    // The job is recorded; the reconciler re-sends submitted jobs. Secrets cannot be re-sent, so
    // for a job that carries them the send failure is the caller's to retry.
    if (request.secrets) throw error;
    deps.log.warn('class-queue send failed; reconciler will retry', {
      jobId: id,
      queue: routed.queue,
      error: String(error),
    });
  }
  return { job, replayed: false, ...(notifySecret && { notifySecret }) };
}

/**
 * `fallback` names providers the job may fail over to when its provider refuses for capacity. Each
 * must be a provider (not a queue), other than the one the job is routed to, and able to run this
 * very job (its kinds and spec), or the failover would only move the failure.
 */
async function checkFallback(spec: JobSpec, decision: RoutingDecision): Promise<void> {
  const fallback = spec.fallback ?? [];
  if (decision.provider === WORKER_PROVIDER) {
    throw new ValidationError([
      {
        field: 'fallback',
        message: `this job goes to ${decision.queue}, run by the workers; fallback applies only to jobs dispatched to a provider`,
      },
    ]);
  }
  const { knownProviders, requiredJobKinds, validateProviderSpec } = await import('../providers/registry.js');
  const known = knownProviders();
  const issues: FieldIssue[] = [];
  for (const [i, name] of fallback.entries()) {
    const field = `fallback.${i}`;
    if (!known.includes(name)) {
      issues.push({ field, message: `unknown provider '${name}'; use one of ${known.join(', ')}` });
      continue;
    }
    if (name === decision.provider) {
      issues.push({ field, message: `'${name}' is the provider this job is routed to; list only other providers` });
      continue;
    }
    const kinds = await requiredJobKinds(name);
    if (kinds && spec.kind === undefined) {
      issues.push({ field, message: `${name} runs only jobs that name a kind (${kinds.join(', ')})` });
      continue;
    }
    if (kinds || spec.kind !== undefined) {
      try {
        await validateProviderSpec(name, spec.kind, spec.spec);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.push({ field, message: `${name} cannot run this job: ${error.message}`.slice(0, 240) });
      }
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
}

/**
 * Creates the job (its first event is `submitted via …`, then `later`). Only a request with a key
 * can meet its id already created (by a racing twin of itself): that one replays the winner's job.
 */
async function createOrReplay(
  deps: Deps,
  job: JobRecord,
  later: Parameters<Deps['store']['create']>[2],
  key: string | undefined,
  source: JobSource,
): Promise<{ job: JobRecord; replayed: boolean }> {
  const first = creationEvent({ ...job, status: 'submitted' }, `submitted via ${source}`);
  try {
    await deps.store.create(job, first, later);
    return { job, replayed: false };
  } catch (error) {
    if (!key || !(error instanceof JobExistsError)) throw error;
    const winner = await deps.store.get(job.id);
    if (!winner) throw error;
    return { job: winner, replayed: true };
  }
}
