import {
  OrchestratorError,
  ProviderCapacityError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  describeError,
} from '../../errors.js';
import { RPC_CODE_NAMES } from './status.js';
import { parseRetryAfter } from '../../retry.js';

export const PROVIDER = 'vertex';

/** Google's documented HTTP status for each canonical code (google/rpc/code.proto). */
const HTTP_TO_RPC: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
  'UND_ERR_SOCKET',
  'ABORT_ERR',
]);

/** What a client error is, whichever transport produced it. */
export interface VertexErrorInfo {
  /** Canonical code name (`RESOURCE_EXHAUSTED`, `NOT_FOUND`, …), a network error code, or `UNCLASSIFIED`. */
  readonly status: string;
  readonly message: string;
  /** Server retry hint (Retry-After header or google.rpc.RetryInfo), when there was one. */
  readonly retryAfterMs?: number;
}

function retryAfterFromHeaders(headers: unknown): number | undefined {
  if (!headers) return undefined;
  const raw =
    typeof (headers as { get?: unknown }).get === 'function'
      ? (headers as { get(n: string): string | null }).get('retry-after')
      : ((headers as Record<string, string | undefined>)['retry-after'] ??
        (headers as Record<string, string | undefined>)['Retry-After']);
  return parseRetryAfter(raw);
}

function retryInfoDelay(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const delay = (d as { retryDelay?: { seconds?: unknown; nanos?: unknown } | string } | null)?.retryDelay;
    if (typeof delay === 'string' && /^\d+(\.\d+)?s$/.test(delay)) return Math.round(parseFloat(delay) * 1000);
    if (delay && typeof delay === 'object') {
      return Math.round(Number(delay.seconds ?? 0) * 1000 + Number(delay.nanos ?? 0) / 1e6);
    }
  }
  return undefined;
}

/**
 * Reads an error of the Vertex client. Over gRPC `code` is the canonical number (8, 14, …); over
 * the REST fallback (google-gax 5) it is the HTTP status (429, 503, …) and the canonical name is
 * only inside the JSON body, which arrives as the message.
 */
export function inspectVertexError(error: unknown): VertexErrorInfo {
  const e = (error ?? {}) as {
    code?: unknown;
    status?: unknown;
    message?: unknown;
    details?: unknown;
    statusDetails?: unknown;
    response?: { status?: unknown; headers?: unknown; data?: unknown };
    cause?: { code?: unknown };
  };
  let status: string | undefined;
  let message = describeError(error);
  let details: unknown = e.statusDetails;

  // REST: the body is `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":…,"details":[…]}}`.
  const bodyText = typeof e.message === 'string' && e.message.startsWith('{') ? e.message : undefined;
  if (bodyText) {
    try {
      const body = JSON.parse(bodyText) as { error?: { status?: unknown; message?: unknown; details?: unknown } };
      if (typeof body.error?.status === 'string') status = body.error.status;
      if (typeof body.error?.message === 'string') message = body.error.message;
      details ??= body.error?.details;
    } catch {
      // Not JSON after all: keep the raw message.
    }
  }
  const httpStatus = typeof e.response?.status === 'number' ? e.response.status : undefined;
  if (status === undefined) {
    if (httpStatus !== undefined)
      status = HTTP_TO_RPC[httpStatus] ?? (httpStatus >= 500 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT');
    else if (typeof e.code === 'number' && e.code >= 0 && e.code < RPC_CODE_NAMES.length)
      status = RPC_CODE_NAMES[e.code];
    else if (typeof e.code === 'number' && HTTP_TO_RPC[e.code]) status = HTTP_TO_RPC[e.code];
    else if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) status = e.code;
    else if (typeof e.cause?.code === 'string' && NETWORK_CODES.has(e.cause.code)) status = e.cause.code;
    else if (typeof e.code === 'string' && (RPC_CODE_NAMES as readonly string[]).includes(e.code)) status = e.code;
    else if (/fetch failed|socket hang up|network/i.test(message)) status = 'ECONNRESET';
  }
  const retryAfterMs = retryAfterFromHeaders(e.response?.headers) ?? retryInfoDelay(details ?? e.details);
  // UNCLASSIFIED: no code at all, e.g. a bug in our own code; never retried inline.
  return { status: status ?? 'UNCLASSIFIED', message, ...(retryAfterMs !== undefined && { retryAfterMs }) };
}

/** Heals with time: back off and try again later, never fail the job for it. */
export function isTransient(info: VertexErrorInfo): boolean {
  return (
    info.status === 'RESOURCE_EXHAUSTED' ||
    info.status === 'UNAVAILABLE' ||
    info.status === 'DEADLINE_EXCEEDED' ||
    info.status === 'INTERNAL' ||
    info.status === 'ABORTED' ||
    info.status === 'UNKNOWN' ||
    NETWORK_CODES.has(info.status)
  );
}

/**
 * Translates a client error into the orchestrator's typed errors:
 * RESOURCE_EXHAUSTED → {@link ProviderThrottledError}; UNAVAILABLE, timeouts, INTERNAL, network
 * failures and credential problems (a deployment fix, not the job's fault) → {@link ProviderUnavailableError};
 * everything else → {@link ProviderRejectedError} with the canonical code.
 */
export function toOrchestratorError(error: unknown, defaultBackoffMs: number): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const info = inspectVertexError(error);
  if (info.status === 'RESOURCE_EXHAUSTED') {
    return new ProviderThrottledError(PROVIDER, info.retryAfterMs ?? defaultBackoffMs, error);
  }
  if (isTransient(info)) {
    return new ProviderUnavailableError(PROVIDER, `${info.status}: ${info.message}`, error, info.retryAfterMs);
  }
  // Not recognisably Vertex's answer: do not fail the job on it; redelivery limits still apply.
  if (info.status === 'UNCLASSIFIED') {
    return new ProviderUnavailableError(PROVIDER, `unexpected error: ${info.message}`, error);
  }
  if (info.status === 'UNAUTHENTICATED' || info.status === 'PERMISSION_DENIED') {
    return new ProviderUnavailableError(
      PROVIDER,
      `${info.status} (check VERTEX_CREDENTIALS_JSON / IAM): ${info.message}`,
      error,
    );
  }
  return new ProviderRejectedError(PROVIDER, info.status, info.message, error);
}

/**
 * RESOURCE_EXHAUSTED on a create means one of two things. The request-rate quota ("Resource
 * management (CRUD) requests", "… requests per minute") is throttling: back off and retry the same
 * call. A resource quota (custom_model_training_* CPUs/GPUs, concurrent jobs) or a stockout
 * ("resources are insufficient", ZONE_RESOURCE_POOL_EXHAUSTED) is a capacity refusal: the job should
 * go elsewhere or wait. A quota whose limit is 0 is lasting.
 */
const RATE_QUOTA = /requests per minute|\(CRUD\) requests|request rate|requests per (second|100 seconds)/i;
const CAPACITY_HINT =
  /quota|insufficient|stockout|resource_pool_exhausted|resources? (are |is )?(not )?available|out of capacity|exceed/i;

/** The error of a failed create: a capacity refusal where Vertex said so, else {@link toOrchestratorError}. */
export function createErrorOf(error: unknown, defaultBackoffMs: number): OrchestratorError {
  if (error instanceof OrchestratorError) return error;
  const info = inspectVertexError(error);
  if (info.status === 'RESOURCE_EXHAUSTED' && !RATE_QUOTA.test(info.message) && CAPACITY_HINT.test(info.message)) {
    return new ProviderCapacityError(PROVIDER, 'RESOURCE_EXHAUSTED', info.message, {
      cause: error,
      lasting: /\blimit(:| of| is)? 0\b|quota (is|of) 0\b/i.test(info.message),
      ...(info.retryAfterMs !== undefined && { retryAfterMs: info.retryAfterMs }),
    });
  }
  return toOrchestratorError(error, defaultBackoffMs);
}
