import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { basename, isAbsolute } from 'node:path';
import type { JobRecord, JobSummary, ProviderRef } from '../core/job.js';
import {
  JsonLimitError,
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
  JSON_LIMIT_EXCEEDED: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  ILLEGAL_TRANSITION: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  FEATURE_DISABLED: 403,
  BUDGET_EXCEEDED: 402,
  CONCURRENCY_CONFLICT: 503,
  PROVIDER_THROTTLED: 503,
  PROVIDER_UNAVAILABLE: 503,
  PROVIDER_REJECTED: 502,
  PROVIDER_CAPACITY: 503,
  NO_CAPACITY: 503,
  PROVIDER_NOT_CONFIGURED: 501,
  NOT_SUPPORTED: 501,
  CONFIGURATION_INVALID: 500,
  INTERNAL: 500,
};

const TITLES: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'Invalid request',
  MALFORMED_JSON: 'Malformed JSON',
  JSON_LIMIT_EXCEEDED: 'JSON too deep or too large',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  NOT_FOUND: 'Not found',
  ILLEGAL_TRANSITION: 'Conflict with the job state',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
  BUDGET_EXCEEDED: 'Budget exceeded',
  NOT_SUPPORTED: 'Not supported by this provider',
};

/** Field issues listed in one problem document; the rest are only counted (`errorsOmitted`). */
export const MAX_LISTED_ISSUES = 20;
/** Longest echoed string (field path, message, instance) in a problem document. */
export const MAX_ECHOED_CHARS = 240;
const MAX_DETAIL_CHARS = 2000;

/** Shortens a string a client sent (or a message built from one) so a reply never outgrows its request. */
export function clip(text: string, max = MAX_ECHOED_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * RFC 9457 problem document. Unknown errors become a generic 500 that names no internals. Bounded:
 * at most {@link MAX_LISTED_ISSUES} field issues and every echoed string clipped, so a huge invalid
 * body cannot make a huger reply.
 */
export function problemResponse(error: unknown, instance: string, context?: InvocationContext): HttpResponseInit {
  const known = error instanceof OrchestratorError ? error : undefined;
  const code: ErrorCode = known?.code ?? 'INTERNAL';
  const status = STATUS_OF[code];
  if (!known || status >= 500)
    context?.error?.(`request failed: ${code}`, error instanceof Error ? error.stack : String(error));
  const detail =
    known && status < 500
      ? known.message
      : status === 500
        ? 'An unexpected error occurred; it has been logged.'
        : known?.message;
  const body: Record<string, unknown> = {
    type: `/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code] ?? (status >= 500 ? 'Server error' : 'Request failed'),
    status,
    detail: detail === undefined ? undefined : clip(detail, MAX_DETAIL_CHARS),
    instance: clip(instance),
    code,
  };
  // Extension members an error defines for its problem type (a budget's name and figures); never for 5xx.
  const extensions =
    status < 500 ? (known as { problemExtensions?: unknown } | undefined)?.problemExtensions : undefined;
  if (extensions && typeof extensions === 'object') {
    for (const [k, v] of Object.entries(extensions)) if (!(k in body)) body[k] = v;
  }
  const issues = known && 'issues' in known ? (known as { issues: unknown }).issues : undefined;
  if (Array.isArray(issues)) {
    body.errors = issues.slice(0, MAX_LISTED_ISSUES).map((i: { field?: unknown; message?: unknown }) => ({
      field: clip(String(i?.field ?? '')),
      message: clip(String(i?.message ?? '')),
    }));
    if (issues.length > MAX_LISTED_ISSUES) body.errorsOmitted = issues.length - MAX_LISTED_ISSUES;
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  const retryAfterMs = (known as { retryAfterMs?: number } | undefined)?.retryAfterMs;
  if (status === 503) headers['retry-after'] = String(Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000)));
  return { status, body: JSON.stringify(body), headers };
}

/** The limits a JSON request body is held to (MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_JSON_ITEMS). */
export interface BodyLimits {
  readonly maxBodyBytes: number;
  readonly maxJsonDepth: number;
  readonly maxJsonItems: number;
}

/**
 * Reads a JSON body, enforcing content type (415), size (413), syntax (400) and shape (400: depth and
 * item count). The size is checked while reading, so a chunked body is never buffered past the limit
 * and never parsed truncated; the shape is checked on the text, without recursion, before anything
 * downstream (validation, serialisation, storage) walks the value.
 */
export async function readJsonBody(request: HttpRequest, limits: BodyLimits): Promise<unknown> {
  const type = request.headers.get('content-type');
  const mediaType = type?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json' && !mediaType?.endsWith('+json'))
    throw new UnsupportedMediaTypeError(type === null ? null : clip(type, 100));
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limits.maxBodyBytes) throw new PayloadTooLargeError(limits.maxBodyBytes);
  const bytes = await readBounded(request, limits.maxBodyBytes);
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw new MalformedJsonError('the body is empty');
  checkJsonShape(text, limits.maxJsonDepth, limits.maxJsonItems);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MalformedJsonError(clip(error instanceof Error ? error.message : 'parse error'));
  }
}

/** Reads the body stream until it ends or passes `maxBytes` (then 413 without reading the rest). */
async function readBounded(request: HttpRequest, maxBytes: number): Promise<Buffer> {
  const stream = request.body;
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Iterative scan of JSON text: throws {@link JsonLimitError} when arrays/objects nest deeper than
 * `maxDepth` or the body holds more than `maxItems` object keys plus array items. Text that is not
 * JSON is left for JSON.parse to reject; the scan only needs brackets, commas and colons outside strings.
 */
export function checkJsonShape(text: string, maxDepth: number, maxItems: number): void {
  // kinds[d] is true when the container open at depth d is an array.
  const kinds = new Uint8Array(maxDepth + 2);
  let depth = 0;
  let items = 0;
  let arrayJustOpened = false;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (arrayJustOpened) {
      arrayJustOpened = false;
      // The first element of a non-empty array.
      if (c !== CLOSE_ARRAY) items++;
    }
    switch (c) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_ARRAY:
      case OPEN_OBJECT:
        depth++;
        if (depth > maxDepth) throw new JsonLimitError('MAX_JSON_DEPTH', maxDepth);
        kinds[depth] = c === OPEN_ARRAY ? 1 : 0;
        arrayJustOpened = c === OPEN_ARRAY;
        break;
      case CLOSE_ARRAY:
      case CLOSE_OBJECT:
        if (depth > 0) depth--;
        break;
      case COMMA:
        if (depth > 0 && kinds[depth] === 1) items++;
        break;
      case COLON:
        items++;
        break;
      default:
        break;
    }
    if (items > maxItems) throw new JsonLimitError('MAX_JSON_ITEMS', maxItems);
  }
}

/** The path of a request URL for `instance`, or `/` when the URL does not parse. */
export function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '/';
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
      return problemResponse(error, pathOf(request.url), context);
    }
  };
}

/** The job as the API shows it: everything a user needs to see where it went and why. */
export function jobView(job: JobRecord): Record<string, unknown> {
  const { eventSeq: _seq, idempotencyKey: _key, lease, trace: _trace, ...rest } = job;
  return {
    ...rest,
    ...(job.providerRef && job.provider === 'local' && { providerRef: localRef(job.providerRef) }),
    ...(lease && { runner: lease.owner }),
    // The wait's token only matches queue messages to it; it means nothing to a caller.
    ...(job.waitingForCapacity && { waitingForCapacity: { ...job.waitingForCapacity, token: undefined } }),
    links: jobLinks(job.id),
  };
}

/** A job as a list shows it by default: no `data`, `spec` body or decision. */
export function jobSummaryView(job: JobSummary): Record<string, unknown> {
  const { errorCode, source: _source, ...rest } = job;
  return { ...rest, ...(errorCode && { error: { code: errorCode } }), links: jobLinks(job.id) };
}

function jobLinks(id: string): Record<string, string> {
  const base = `/api/jobs/${id}`;
  return {
    self: base,
    events: `${base}/events`,
    result: `${base}/result`,
    logs: `${base}/logs`,
    cancel: `${base}/cancel`,
  };
}

/**
 * The local provider's handle as clients see it: its run folder cut to the last segment, so no reply
 * reveals the server's directory layout.
 */
function localRef(ref: ProviderRef): ProviderRef {
  return Object.fromEntries(
    Object.entries(ref).map(([k, v]) => [k, typeof v === 'string' && isAbsolute(v) ? basename(v) : v]),
  );
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers };
}
