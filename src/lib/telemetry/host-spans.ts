import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { SpanStatusCode } from '@opentelemetry/api';
import { contextFromCarrier, inMessageSpan, inSpan, SpanKind } from './trace.js';
import { startTelemetry } from './setup.js';

/**
 * Spans at the edges of the function host: one per HTTP request, queue message and timer tick.
 * `define.ts` loads this module on first invocation (the entry module stays free of it).
 */

/** Starts telemetry for a Functions host from its app settings (a no-op after the first call). */
export async function ensureTelemetry(): Promise<void> {
  await startTelemetry(process.env, { role: 'api' });
}

/**
 * The server span of an HTTP function. Its parent: the Functions host's invocation span where the
 * host passes one (telemetryMode OpenTelemetry; that span already continues the caller's header),
 * else the caller's own `traceparent` header (the local runner), else none.
 */
export async function traceHttp(
  name: string,
  route: string,
  request: HttpRequest,
  invocation: Pick<InvocationContext, 'traceContext'> | undefined,
  handle: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  await ensureTelemetry();
  const host = invocation?.traceContext;
  const parent = host?.traceParent
    ? contextFromCarrier({ traceparent: host.traceParent, tracestate: host.traceState })
    : contextFromCarrier({
        traceparent: request.headers.get('traceparent') ?? undefined,
        tracestate: request.headers.get('tracestate') ?? undefined,
      });
  return inSpan(
    `${request.method} /api/${route}`,
    {
      kind: SpanKind.SERVER,
      parent,
      attributes: {
        'http.request.method': request.method,
        'http.route': `/api/${route}`,
        'faas.name': name,
        'faas.trigger': 'http',
      },
    },
    async (span) => {
      const response = await handle();
      const status = response.status ?? 200;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      return response;
    },
  );
}

/**
 * The consumer span of a queue function, child of the trace context the message carries (the
 * job's trace), with `job.id` from the message.
 */
export async function traceQueueMessage(
  name: string,
  queueSetting: string,
  body: Readonly<Record<string, unknown>> | undefined,
  handle: () => Promise<void>,
): Promise<void> {
  await ensureTelemetry();
  // The host knows the queue by its setting (the name is resolved from app settings at binding time).
  await inMessageSpan(
    name,
    undefined,
    body,
    { 'faas.name': name, 'faas.trigger': 'pubsub', 'cjo.queue_setting': queueSetting },
    handle,
  );
}

/** The span of a timer tick: under the host's invocation span where there is one, else a root (a tick serves no one job). */
export async function traceTimer(
  name: string,
  invocation: Pick<InvocationContext, 'traceContext'> | undefined,
  handle: () => Promise<void>,
): Promise<void> {
  await ensureTelemetry();
  const host = invocation?.traceContext;
  const parent = contextFromCarrier(
    host?.traceParent ? { traceparent: host.traceParent, tracestate: host.traceState } : undefined,
  );
  await inSpan(
    name,
    { kind: SpanKind.INTERNAL, parent, attributes: { 'faas.name': name, 'faas.trigger': 'timer' } },
    handle,
  );
}
