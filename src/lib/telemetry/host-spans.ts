import type { HttpRequest, HttpResponseInit } from '@azure/functions';
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

/** The server span of an HTTP function, continuing a caller's `traceparent` header if it sent one. */
export async function traceHttp(
  name: string,
  route: string,
  request: HttpRequest,
  handle: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  await ensureTelemetry();
  const parent = contextFromCarrier({ traceparent: request.headers.get('traceparent') ?? undefined, tracestate: request.headers.get('tracestate') ?? undefined });
  return inSpan(
    `${request.method} /api/${route}`,
    { kind: SpanKind.SERVER, parent, attributes: { 'http.request.method': request.method, 'http.route': `/api/${route}`, 'faas.name': name, 'faas.trigger': 'http' } },
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
export async function traceQueueMessage(name: string, queueSetting: string, body: Readonly<Record<string, unknown>> | undefined, handle: () => Promise<void>): Promise<void> {
  await ensureTelemetry();
  await inMessageSpan(name, queueSetting, body, { 'faas.name': name, 'faas.trigger': 'pubsub' }, handle);
}

/** The span of a timer tick (a root: a tick serves no one job). */
export async function traceTimer(name: string, handle: () => Promise<void>): Promise<void> {
  await ensureTelemetry();
  await inSpan(name, { kind: SpanKind.INTERNAL, parent: contextFromCarrier(undefined), attributes: { 'faas.name': name, 'faas.trigger': 'timer' } }, handle);
}
