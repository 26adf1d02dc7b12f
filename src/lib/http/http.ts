import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { JobRecord, JobSummary } from '../core/job.js';
import {
  MalformedJsonError,
  OrchestratorError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  type ErrorCode,
} from '../errors.js';

/** HTTP status of every error code. A `Record` over the closed union: a new code must be mapped. */
const STATUS_OF: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  ILLEGAL_TRANSITION: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  FEATURE_DISABLED: 403,
  CONCURRENCY_CONFLICT: 503,
  PROVIDER_THROTTLED: 503,
  PROVIDER_UNAVAILABLE: 503,
  PROVIDER_REJECTED: 502,
  PROVIDER_NOT_CONFIGURED: 501,
  CONFIGURATION_INVALID: 500,
  INTERNAL: 500,
};

const TITLES: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'Invalid request',
  MALFORMED_JSON: 'Malformed JSON',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  NOT_FOUND: 'Not found',
  ILLEGAL_TRANSITION: 'Conflict with the job state',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
};

/** RFC 9457 problem document. Unknown errors become a generic 500 that names no internals. */
export function problemResponse(error: unknown, instance: string, context?: InvocationContext): HttpResponseInit {
  const known = error instanceof OrchestratorError ? error : undefined;
  const code: ErrorCode = known?.code ?? 'INTERNAL';
  const status = STATUS_OF[code];
  if (!known || status >= 500) context?.error?.(`request failed: ${code}`, error instanceof Error ? error.stack : String(error));
  const body: Record<string, unknown> = {
    type: `/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code] ?? (status >= 500 ? 'Server error' : 'Request failed'),
    status,
    detail: known && status < 500 ? known.message : status === 500 ? 'An unexpected error occurred; it has been logged.' : known?.message,
    instance,
    code,
  };
  if (known && 'issues' in known) body.errors = (known as { issues: unknown }).issues;
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  const retryAfterMs = (known as { retryAfterMs?: number } | undefined)?.retryAfterMs;
  if (status === 503) headers['retry-after'] = String(Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000)));
  return { status, body: JSON.stringify(body), headers };
}

/** Reads a JSON body, enforcing content type (415), size (413) and syntax (400). */
export async function readJsonBody(request: HttpRequest, maxBytes: number): Promise<unknown> {
  const type = request.headers.get('content-type');
  const mediaType = type?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json' && !mediaType?.endsWith('+json')) throw new UnsupportedMediaTypeError(type);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw new MalformedJsonError('the body is empty');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MalformedJsonError(error instanceof Error ? error.message : 'parse error');
  }
}

/** Wraps a handler so every error becomes a problem reply and no stack trace leaves the process. */
export function withProblems(
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      return problemResponse(error, new URL(request.url).pathname, context);
    }
  };
}

/** The job as the API shows it: everything a user needs to see where it went and why. */
export function jobView(job: JobRecord): Record<string, unknown> {
  const { eventSeq: _seq, idempotencyKey: _key, lease, ...rest } = job;
  return { ...rest, ...(lease && { runner: lease.owner }), links: jobLinks(job.id) };
}

/** A job as a list shows it by default: no `data`, `spec` body or decision. */
export function jobSummaryView(job: JobSummary): Record<string, unknown> {
  const { errorCode, source: _source, ...rest } = job;
  return { ...rest, ...(errorCode && { error: { code: errorCode } }), links: jobLinks(job.id) };
}

function jobLinks(id: string): Record<string, string> {
  const base = `/api/jobs/${id}`;
  return { self: base, events: `${base}/events`, result: `${base}/result`, logs: `${base}/logs`, cancel: `${base}/cancel` };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers };
}
