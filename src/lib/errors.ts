import type { PollReport } from './ports/provider.js';

/**
 * The one catalogue of errors. Every error carries a stable `code`, so code that receives an error
 * from another process (a queue message, a child process) can compare by code, not only by class.
 *
 * Retry semantics are decided here, not at the call sites:
 * - `retriable` errors are thrown out of queue handlers so the platform redelivers the message;
 * - everything else is final: the job is failed with the reason and the message is consumed.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'JSON_LIMIT_EXCEEDED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'ILLEGAL_TRANSITION'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'CONCURRENCY_CONFLICT'
  | 'CONFIGURATION_INVALID'
  | 'PROVIDER_NOT_CONFIGURED'
  | 'NOT_SUPPORTED'
  | 'PROVIDER_THROTTLED'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_REJECTED'
  | 'PROVIDER_CAPACITY'
  | 'NO_CAPACITY'
  | 'FEATURE_DISABLED'
  | 'BUDGET_EXCEEDED'
  | 'INTERNAL';

/** Field-level problem, reported to HTTP clients as `errors[]` in the problem document. */
export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `labels.team` or `rows`. */
  readonly field: string;
  readonly message: string;
}

export class OrchestratorError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options?.retriable ?? false;
  }
}

export class ValidationError extends OrchestratorError {
  readonly issues: readonly FieldIssue[];
  constructor(issues: readonly FieldIssue[], message?: string) {
    super('VALIDATION_FAILED', message ?? describeIssues(issues));
    this.issues = issues;
  }
}

export class MalformedJsonError extends OrchestratorError {
  constructor(detail: string) {
    super('MALFORMED_JSON', `The request body is not valid JSON: ${detail}`);
  }
}

/** The body is valid size-wise but nests too deep or holds too many items (MAX_JSON_DEPTH / MAX_JSON_ITEMS). */
export class JsonLimitError extends OrchestratorError {
  constructor(
    readonly setting: 'MAX_JSON_DEPTH' | 'MAX_JSON_ITEMS',
    readonly limit: number,
  ) {
    super(
      'JSON_LIMIT_EXCEEDED',
      setting === 'MAX_JSON_DEPTH'
        ? `The JSON body nests arrays and objects deeper than ${limit} levels (MAX_JSON_DEPTH).`
        : `The JSON body holds more than ${limit} object keys and array items (MAX_JSON_ITEMS).`,
    );
  }
}

export class PayloadTooLargeError extends OrchestratorError {
  constructor(readonly limitBytes: number) {
    super('PAYLOAD_TOO_LARGE', `The request body is larger than ${limitBytes} bytes.`);
  }
}

export class UnsupportedMediaTypeError extends OrchestratorError {
  constructor(received: string | null) {
    super('UNSUPPORTED_MEDIA_TYPE', `Expected Content-Type application/json, got ${received ?? 'none'}.`);
  }
}

export class UnauthorizedError extends OrchestratorError {
  constructor(message = 'A valid function key is required (x-functions-key header or code query parameter).') {
    super('UNAUTHORIZED', message);
  }
}

export class NotFoundError extends OrchestratorError {
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super('NOT_FOUND', `${resource} '${id}' does not exist.`);
  }
}

export class IllegalTransitionError extends OrchestratorError {
  constructor(
    readonly from: string,
    readonly to: string,
    readonly jobId?: string,
  ) {
    super('ILLEGAL_TRANSITION', `A job in state '${from}' cannot move to '${to}'.`);
  }
}

export class IdempotencyKeyReusedError extends OrchestratorError {
  constructor(key: string) {
    super('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key '${key}' was already used with a different request body.`);
  }
}

/** An optimistic-concurrency write lost more races than we retry; retriable by the caller. */
export class ConcurrencyError extends OrchestratorError {
  constructor(message: string, cause?: unknown) {
    super('CONCURRENCY_CONFLICT', message, { cause, retriable: true });
  }
}

/**
 * A job with this id already exists. Only a create that raced another create for the same
 * Idempotency-Key sees it (ids are otherwise unique); that caller replays the existing job.
 */
export class JobExistsError extends ConcurrencyError {
  constructor(
    readonly jobId: string,
    cause?: unknown,
  ) {
    super(`Job '${jobId}' already exists`, cause);
  }
}

export class ConfigurationError extends OrchestratorError {
  constructor(message: string) {
    super('CONFIGURATION_INVALID', message);
  }
}

export class ProviderNotConfiguredError extends OrchestratorError {
  constructor(provider: string) {
    super('PROVIDER_NOT_CONFIGURED', `Provider '${provider}' is not configured in this deployment.`);
  }
}

/** The provider serving a request has no such operation (e.g. no endpoint invocation, no asset translation). */
export class NotSupportedError extends OrchestratorError {
  constructor(message: string) {
    super('NOT_SUPPORTED', message);
  }
}

/** The provider asked us to slow down. Never a job failure; `retryAfterMs` is honoured. */
export class ProviderThrottledError extends OrchestratorError {
  constructor(
    readonly provider: string,
    readonly retryAfterMs: number,
    cause?: unknown,
  ) {
    super('PROVIDER_THROTTLED', `${provider} throttled the request; retry after ${retryAfterMs} ms.`, {
      cause,
      retriable: true,
    });
  }
}

/**
 * A poll cycle the provider had to cut short (a 429, or its client-side read budget ran out): it
 * still hands back what it learned (`reports`) and names the jobs it did not get to (`unread`), so
 * the poller applies the one and reads the other first next cycle. Throttling slows polling; it
 * never throws away a cycle's work.
 */
export class PollThrottledError extends ProviderThrottledError {
  constructor(
    provider: string,
    retryAfterMs: number,
    readonly reports: readonly PollReport[],
    readonly unread: readonly string[],
    cause?: unknown,
  ) {
    super(provider, retryAfterMs, cause);
    this.message = `${provider} throttled the poll after ${reports.length} report(s); ${unread.length} job(s) carried to the next cycle, retry after ${retryAfterMs} ms.`;
  }
}

/** The provider could not be reached or answered 5xx. Never, by itself, a job failure. */
export class ProviderUnavailableError extends OrchestratorError {
  constructor(
    readonly provider: string,
    message: string,
    cause?: unknown,
    readonly retryAfterMs?: number,
  ) {
    super('PROVIDER_UNAVAILABLE', `${provider} is unavailable: ${message}`, { cause, retriable: true });
  }
}

/** The provider refused the job for good (bad spec, quota refusal that will not heal, …). */
export class ProviderRejectedError extends OrchestratorError {
  constructor(
    readonly provider: string,
    readonly providerCode: string,
    message: string,
    cause?: unknown,
  ) {
    super('PROVIDER_REJECTED', `${provider} rejected the job (${providerCode}): ${message}`, { cause });
  }
}

/**
 * The provider refused to start the job for capacity or quota (SageMaker `ResourceLimitExceeded`,
 * Vertex `RESOURCE_EXHAUSTED` on a training quota or a stockout, Azure quota and allocation
 * failures, Batch core/pool/job quotas). Thrown from `submit()`; the dispatch use case moves the
 * job to its next target rather than failing it. `lasting`: the refusal will not heal by waiting
 * (a quota of 0, an instance type not enabled), so retrying the same target later is pointless.
 * Retriable, so a caller that does not handle it redelivers rather than fails the job.
 */
export class ProviderCapacityError extends OrchestratorError {
  readonly lasting: boolean;
  readonly retryAfterMs?: number;
  constructor(
    readonly provider: string,
    readonly providerCode: string,
    message: string,
    options: { cause?: unknown; lasting?: boolean; retryAfterMs?: number } = {},
  ) {
    super('PROVIDER_CAPACITY', `${provider} has no capacity for the job (${providerCode}): ${message}`, {
      cause: options.cause,
      retriable: true,
    });
    this.lasting = options.lasting ?? false;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** One capacity refusal, as a `NO_CAPACITY` failure names it. */
export interface CapacityRefusal {
  readonly at: string;
  readonly provider: string;
  readonly code: string;
  readonly message: string;
}

/** Every target of a job's chain refused for capacity, on every retry the schedule allowed. */
export class NoCapacityError extends OrchestratorError {
  constructor(readonly refusals: readonly CapacityRefusal[]) {
    super('NO_CAPACITY', describeRefusals(refusals));
  }
}

/** `no capacity after N refusals: sagemaker ResourceLimitExceeded ×3 (…); vertex RESOURCE_EXHAUSTED (…)`. */
export function describeRefusals(refusals: readonly CapacityRefusal[]): string {
  const groups = new Map<string, { count: number; message: string }>();
  for (const r of refusals) {
    const key = `${r.provider} ${r.code}`;
    const g = groups.get(key);
    if (g) {
      g.count++;
      g.message = r.message;
    } else groups.set(key, { count: 1, message: r.message });
  }
  const parts = [...groups].map(
    ([key, g]) => `${key}${g.count > 1 ? ` ×${g.count}` : ''} (${g.message.slice(0, 160)})`,
  );
  return `No capacity after ${refusals.length} refusal(s): ${parts.join('; ')}`;
}

export class FeatureDisabledError extends OrchestratorError {
  constructor(message: string) {
    super('FEATURE_DISABLED', message);
  }
}

/**
 * A submission whose estimated cost would take a `refuse` budget past its limit for the period
 * (BUDGETS). Answered 402 with the budget's name, limit, spend and the job's estimate.
 */
export class BudgetExceededError extends OrchestratorError {
  constructor(
    readonly budget: string,
    readonly label: string,
    readonly limit: number,
    readonly spent: number,
    readonly estimate: number,
    readonly currency: string,
    readonly period: string,
    readonly periodStart: string,
  ) {
    super(
      'BUDGET_EXCEEDED',
      `Budget '${budget}' (${label}) has ${currency} ${spent} of ${limit} spent this ${period}; this job's estimate of ${currency} ${estimate} would exceed it.`,
    );
  }

  /** Extension members of the problem document. */
  get problemExtensions(): Record<string, unknown> {
    return {
      budget: this.budget,
      label: this.label,
      limit: this.limit,
      spent: this.spent,
      estimate: this.estimate,
      currency: this.currency,
      period: this.period,
      periodStart: this.periodStart,
    };
  }
}

/** True when the error (possibly from another process) should be retried by redelivery. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof OrchestratorError) return error.retriable;
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === 'PROVIDER_THROTTLED' ||
    code === 'PROVIDER_UNAVAILABLE' ||
    code === 'PROVIDER_CAPACITY' ||
    code === 'CONCURRENCY_CONFLICT'
  );
}

export function hasCode(error: unknown, code: ErrorCode): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}

/** A short, safe message for any thrown value: never a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

function describeIssues(issues: readonly FieldIssue[]): string {
  if (issues.length === 0) return 'The request is invalid.';
  return issues.map((i) => `${i.field || '(body)'}: ${i.message}`).join('; ');
}
