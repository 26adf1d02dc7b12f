import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';

/**
 * Tracing helpers over `@opentelemetry/api` only (light; no SDK). Without a registered SDK every
 * call is a no-op, so use cases can be traced unconditionally. One job is one trace: the submit
 * span's context travels in every queue message (`traceparent`) and on the job record, and every
 * span started inside a job's context carries `job.id`.
 */

export const TRACER_NAME = 'cloud-job-orchestrator';
/** Attribute every span and log line of a job carries. */
export const JOB_ID = 'job.id';

const JOB_ID_KEY = createContextKey('cjo.job.id');

export { SpanKind };

/** The W3C trace-context fields a carrier (queue message, job record) may hold. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** The job id of the active context, if some caller entered a job with {@link withJob}. */
export function currentJobId(): string | undefined {
  const value = context.active().getValue(JOB_ID_KEY);
  return typeof value === 'string' ? value : undefined;
}

/** The context `ctx` with `jobId` as its job: spans started under it carry `job.id`, log lines too. */
export function contextWithJob(jobId: string, ctx: Context = context.active()): Context {
  return ctx.setValue(JOB_ID_KEY, jobId);
}

/**
 * Runs `fn` as work of job `jobId`: the active span gets `job.id`, and so does every span and log
 * line inside. Used where a handler learns the job id only after its span started.
 */
export function withJob<T>(jobId: string, fn: () => T): T {
  trace.getActiveSpan()?.setAttribute(JOB_ID, jobId);
  return context.with(contextWithJob(jobId), fn);
}

/** Marks the active span as work of job `jobId` (for handlers that learn the id part-way). */
export function tagJob(jobId: string): void {
  trace.getActiveSpan()?.setAttribute(JOB_ID, jobId);
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** Parent context; default the active one. */
  readonly parent?: Context;
  readonly links?: Link[];
  /** Job this span is about (sets `job.id` and makes it the job of everything inside). */
  readonly jobId?: string;
}

/**
 * Runs `fn` in a new active span that ends when `fn` settles. A thrown error is recorded on the
 * span (status ERROR) and rethrown. `job.id` is set from `options.jobId` or the active job.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  let parent = options.parent ?? context.active();
  const jobId = options.jobId ?? (parent.getValue(JOB_ID_KEY) as string | undefined);
  if (jobId) parent = contextWithJob(jobId, parent);
  const attributes: Attributes = { ...options.attributes, ...(jobId && { [JOB_ID]: jobId }) };
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes, ...(options.links && { links: options.links }) },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    markError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs `fn` in a span of job `job`'s own trace (from the context stored on the record at submit),
 * linked to the active span: for work a sweep (poll cycle, reconciler) does for many jobs, so each
 * job stays one trace while the sweep stays findable from it.
 */
export function inJobTrace<T>(
  name: string,
  job: { readonly id: string; readonly trace?: TraceCarrier },
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  const sweep = trace.getActiveSpan()?.spanContext();
  const links = sweep && trace.isSpanContextValid(sweep) ? [{ context: sweep }] : undefined;
  const parent = job.trace?.traceparent ? contextFromCarrier(job.trace as Record<string, unknown>) : context.active();
  return inSpan(name, { parent, jobId: job.id, attributes, ...(links && { links }) }, fn);
}

/**
 * Runs `fn` as the consumer span of one queue message: child of the trace context the message
 * carries (the job's trace), with `job.id` from the message body.
 */
export function inMessageSpan<T>(
  name: string,
  queue: string | undefined,
  body: Readonly<Record<string, unknown>> | undefined,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  const jobId = typeof body?.jobId === 'string' ? body.jobId : undefined;
  return inSpan(
    name,
    {
      kind: SpanKind.CONSUMER,
      parent: contextFromCarrier(body),
      ...(jobId && { jobId }),
      attributes: { ...(queue && { 'messaging.destination.name': queue }), ...attributes },
    },
    fn,
  );
}

/** Records `error` on `span` and sets its status to ERROR. */
export function markError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The active context as W3C fields (empty when no propagator is registered or no span is active). */
export function currentTraceCarrier(ctx: Context = context.active()): TraceCarrier {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const out: TraceCarrier = {};
  if (typeof carrier.traceparent === 'string') out.traceparent = carrier.traceparent;
  if (typeof carrier.tracestate === 'string') out.tracestate = carrier.tracestate;
  return out;
}

/** The context a carrier (message body, job record, HTTP headers) names; the root context when it names none. */
export function contextFromCarrier(carrier: Readonly<Record<string, unknown>> | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  const fields: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate'] as const)
    if (typeof carrier[key] === 'string') fields[key] = carrier[key] as string;
  return fields.traceparent ? propagation.extract(ROOT_CONTEXT, fields) : ROOT_CONTEXT;
}

/** A link to the span a carrier names, for work that serves many jobs (a poll cycle) or follows another trace. */
export function linkFromCarrier(carrier: Readonly<Record<string, unknown>> | undefined): Link | undefined {
  const spanContext = trace.getSpanContext(contextFromCarrier(carrier));
  return spanContext && trace.isSpanContextValid(spanContext) ? { context: spanContext } : undefined;
}

/** Trace and span id of the active span (for log lines), when there is a valid one. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : undefined;
}
