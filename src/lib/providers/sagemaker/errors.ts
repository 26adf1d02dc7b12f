import {
  ProviderCapacityError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
} from '../../errors.js';
import { parseRetryAfter } from '../../retry.js';

/** Provider name used in errors and reports. */
export const PROVIDER = 'sagemaker';

/** The fields of an AWS SDK v3 service error we read. Only some SageMaker errors have classes: `name` is the code. */
interface AwsErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $response?: { readonly headers?: Readonly<Record<string, string | undefined>> };
  readonly $retryable?: { readonly throttling?: boolean };
}

const THROTTLE_CODES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);
const TRANSIENT_CODES = new Set([
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServerError',
  'InternalServerException',
  'ConflictException',
]);
/**
 * The account's credentials were refused. Not the job's fault and it heals when the deployment's
 * credentials are fixed or refreshed (an expired session token), so it never fails a job by itself.
 */
const AUTH_CODES = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'TimeoutError',
  'RequestTimeout',
  'AbortError',
]);

export function errorCode(error: unknown): string {
  const e = error as AwsErrorLike | null;
  return e?.name ?? e?.code ?? 'Error';
}

export function errorMessage(error: unknown): string {
  const m = (error as AwsErrorLike | null)?.message;
  return typeof m === 'string' && m ? m : String(error);
}

function statusOf(error: unknown): number | undefined {
  return (error as AwsErrorLike | null)?.$metadata?.httpStatusCode;
}

/** Retry-After in ms, when the response carried one (seconds or an HTTP date). */
function retryAfterMs(error: unknown): number | undefined {
  return parseRetryAfter((error as AwsErrorLike | null)?.$response?.headers?.['retry-after']);
}

export function isThrottle(error: unknown): boolean {
  const e = error as AwsErrorLike | null;
  return THROTTLE_CODES.has(errorCode(error)) || statusOf(error) === 429 || e?.$retryable?.throttling === true;
}

/** 5xx, transient service errors and network failures: heal with time. */
export function isTransient(error: unknown): boolean {
  const e = error as AwsErrorLike | null;
  const status = statusOf(error);
  return (
    TRANSIENT_CODES.has(errorCode(error)) ||
    NETWORK_CODES.has(errorCode(error)) ||
    (typeof e?.code === 'string' && NETWORK_CODES.has(e.code)) ||
    (status !== undefined && status >= 500) ||
    (e?.$fault === 'server' && !isThrottle(error))
  );
}

/** The training-job Describe quirk: an unknown name is a ValidationException, not ResourceNotFound. */
export function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  if (code === 'ResourceNotFound' || code === 'ResourceNotFoundException') return true;
  return code === 'ValidationException' && /not found|could not find|does not exist/i.test(errorMessage(error));
}

/** A create that found the name taken: our own earlier attempt, to re-attach to. */
export function isNameTaken(error: unknown): boolean {
  const code = errorCode(error);
  if (code === 'ResourceInUse') return true;
  return code === 'ValidationException' && /already exists|must be unique/i.test(errorMessage(error));
}

/**
 * Errors that heal with time become {@link ProviderThrottledError} / {@link ProviderUnavailableError};
 * `undefined` otherwise (the caller decides what a client error means where it happened).
 */
export function transientError(
  error: unknown,
  defaultBackoffMs: number,
): ProviderThrottledError | ProviderUnavailableError | undefined {
  if (isThrottle(error)) return new ProviderThrottledError(PROVIDER, retryAfterMs(error) ?? defaultBackoffMs, error);
  if (AUTH_CODES.has(errorCode(error))) {
    return new ProviderUnavailableError(
      PROVIDER,
      `credentials rejected (${errorCode(error)}): ${errorMessage(error)}`,
      error,
    );
  }
  if (isTransient(error)) {
    return new ProviderUnavailableError(
      PROVIDER,
      `${errorCode(error)}: ${errorMessage(error)}`,
      error,
      retryAfterMs(error),
    );
  }
  return undefined;
}

/**
 * Codes with which a Create call is refused for capacity or quota. `ResourceLimitExceeded` is the
 * documented one (too many concurrent jobs, or no quota for the instance type); the
 * `CapacityError` / `InsufficientCapacity…` names are the ones SageMaker uses for "no instances of
 * that type right now" (they also appear in a failed job's FailureReason).
 */
export const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'ResourceLimitExceeded',
  'CapacityError',
  'InsufficientCapacityError',
  'InsufficientCapacityException',
  'InsufficientInstanceCapacity',
]);

/** A limit of 0: the instance type is not enabled for the account; waiting will not help. */
const ZERO_LIMIT = /\bis 0\b|limit of 0\b|value of 0\b/i;

/**
 * Maps a failed Create call. A capacity or quota refusal becomes {@link ProviderCapacityError}, so
 * dispatch moves the job to its next target (a limit of 0 is `lasting`: it never heals by waiting);
 * anything else the service refused rejects the job.
 */
export function createError(error: unknown, defaultBackoffMs: number): Error {
  const transient = transientError(error, defaultBackoffMs);
  if (transient) return transient;
  const code = errorCode(error);
  const message = errorMessage(error);
  if (CAPACITY_CODES.has(code)) {
    return new ProviderCapacityError(PROVIDER, code, message, {
      cause: error,
      lasting: ZERO_LIMIT.test(message),
      retryAfterMs: Math.max(defaultBackoffMs, 60_000),
    });
  }
  return new ProviderRejectedError(PROVIDER, code, message, error);
}
