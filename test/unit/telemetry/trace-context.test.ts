import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jobMessage, parseJobMessage } from '../../../src/lib/app/messages.js';
import { contextFromCarrier, inMessageSpan, inSpan, withJob } from '../../../src/lib/telemetry/trace.js';
import { startTestTelemetry, type TestTelemetry } from '../../support/telemetry.js';

describe('trace context through a queue message', () => {
  let t: TestTelemetry;
  beforeAll(async () => {
    t = await startTestTelemetry();
  });
  afterAll(async () => t?.stop());
  beforeEach(() => t.spans.reset());

  it('puts the active span in a W3C traceparent that the consumer continues as its parent', async () => {
    let sent!: Record<string, unknown>;
    await inSpan('producer', { jobId: 'j-1' }, async () => {
      sent = JSON.parse(JSON.stringify(jobMessage('j-1'))) as Record<string, unknown>;
    });
    expect(sent.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // The consumer side: the message as a transport hands it back, parsed with the real schema.
    const message = parseJobMessage(sent);
    await inMessageSpan('consumer', 'q', message, {}, async () => undefined);

    const spans = await t.finished();
    const producer = spans.find((s) => s.name === 'producer')!;
    const consumer = spans.find((s) => s.name === 'consumer')!;
    expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(consumer.attributes['job.id']).toBe('j-1');
    expect(consumer.attributes['messaging.destination.name']).toBe('q');
  });

  it('uses the trace stored on the job when a sweep outside the job re-sends its message', async () => {
    const stored = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    let msg!: ReturnType<typeof jobMessage>;
    await inSpan('reconcile pass', {}, async () => {
      msg = jobMessage({ id: 'j-2', trace: stored });
    });
    expect(msg.traceparent).toBe(stored.traceparent);
    // Inside the job's own context the live span wins over the stored one.
    let inside!: ReturnType<typeof jobMessage>;
    await inSpan('dispatch', { jobId: 'j-2' }, async () => {
      inside = withJob('j-2', () => jobMessage({ id: 'j-2', trace: stored }));
    });
    expect(inside.traceparent).not.toBe(stored.traceparent);
    expect(inside.traceparent?.slice(3, 35)).toBe(
      (await t.finished()).find((s) => s.name === 'dispatch')!.spanContext().traceId,
    );
  });

  it('accepts a message with a malformed or missing traceparent and starts a new trace for it', async () => {
    const bad = parseJobMessage({ jobId: 'j-3', traceparent: 'not-a-trace' });
    expect(bad.jobId).toBe('j-3');
    await inMessageSpan('consumer-bad', 'q', bad, {}, async () => undefined);
    await inMessageSpan('consumer-none', 'q', { jobId: 'j-3' }, {}, async () => undefined);
    const spans = await t.finished();
    for (const name of ['consumer-bad', 'consumer-none']) {
      const s = spans.find((x) => x.name === name)!;
      expect(s.parentSpanContext).toBeUndefined();
      expect(s.attributes['job.id']).toBe('j-3');
    }
    expect(contextFromCarrier({ traceparent: 42 })).toBeDefined();
  });

  it('refuses an oversized traceparent as a validation error naming the field', () => {
    expect(() => parseJobMessage({ jobId: 'j-4', traceparent: 'x'.repeat(300) })).toThrow(/traceparent/);
  });

  it('records a thrown error on the span and rethrows it', async () => {
    await expect(inSpan('boom', { jobId: 'j-5' }, async () => Promise.reject(new Error('disk full')))).rejects.toThrow(
      'disk full',
    );
    const span = (await t.finished()).find((s) => s.name === 'boom')!;
    expect(span.status.code).toBe(2); // ERROR
    expect(span.events.some((e) => e.name === 'exception')).toBe(true);
  });
});
