import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner, TERMINAL, waitFor, type TestRunner } from '../support/runner.js';
import { startTestTelemetry, type TestTelemetry } from '../support/telemetry.js';

type Job = { id: string; status: string; queue: string; provider: string };

/** Spans of one job's trace: the trace of the span that carries its job.id first. */
function traceOf(spans: readonly ReadableSpan[], jobId: string): ReadableSpan[] {
  const tagged = spans.filter((s) => s.attributes['job.id'] === jobId);
  const traceIds = new Set(tagged.map((s) => s.spanContext().traceId));
  expect([...traceIds], `spans of ${jobId} in more than one trace`).toHaveLength(1);
  const [traceId] = traceIds;
  return spans.filter((s) => s.spanContext().traceId === traceId);
}

describe('one trace per job through the local runner', () => {
  let t: TestTelemetry;
  let r: TestRunner;
  const job = async (id: string) => (await (await r.api(`/api/jobs/${id}`)).json()) as Job;
  const finished = (id: string) =>
    waitFor(
      () => job(id),
      (j) => TERMINAL.includes(j.status),
      60_000,
      `job ${id} to finish`,
    );

  beforeAll(async () => {
    // Before the runner: its own start-up call then finds telemetry running and keeps this exporter.
    t = await startTestTelemetry();
    r = await startTestRunner();
  });
  afterAll(async () => {
    await r?.stop();
    await t?.stop();
  });

  it('traces a provider job from submit to succeeded as one trace whose every span names the job', async () => {
    const res = await r.post('/api/jobs', { rows: 100, estimated_runtime_sec: 2 });
    expect(res.status).toBe(202);
    const created = (await res.json()) as Job;
    const done = await finished(created.id);
    expect(done).toMatchObject({ status: 'succeeded', queue: r.deps.config.queues.batch, provider: 'local' });

    const spans = traceOf(await t.finished(), created.id);
    const names = spans.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining(['POST /api/jobs', 'classify', 'dispatchBatch', 'provider.submit', 'poll.apply']),
    );
    for (const s of spans) expect(s.attributes['job.id'], `span ${s.name}`).toBe(created.id);

    // The HTTP span is the root; classification happens inside it (at submission), and the hops
    // hang below it through the messages' traceparent.
    const root = spans.find((s) => s.name === 'POST /api/jobs')!;
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.attributes['http.response.status_code']).toBe(202);
    const classify = spans.find((s) => s.name === 'classify')!;
    expect(classify.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(classify.attributes).toMatchObject({ 'job.queue': r.deps.config.queues.batch, 'job.provider': 'local' });
    const dispatch = spans.find((s) => s.name === 'dispatchBatch')!;
    expect(dispatch.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    const submit = spans.find((s) => s.name === 'provider.submit')!;
    expect(submit.parentSpanContext?.spanId).toBe(dispatch.spanContext().spanId);
    expect(submit.attributes).toMatchObject({
      'provider.name': 'local',
      'provider.operation': 'submit',
      'provider.outcome': 'ok',
      'provider.throttled': false,
    });

    // The poll that saw it succeed: in the job's trace, linked to the cycle (its own trace).
    const applied = spans.filter((s) => s.name === 'poll.apply' && s.attributes['provider.status'] === 'succeeded');
    expect(applied).toHaveLength(1);
    const cycleLink = applied[0]!.links[0]!.context;
    const cycle = (await t.finished()).find((s) => s.spanContext().spanId === cycleLink.spanId)!;
    expect(cycle.name).toBe('poll.cycle');
    expect(cycle.spanContext().traceId).not.toBe(root.spanContext().traceId);
    expect(cycle.attributes['provider.name']).toBe('local');

    // Metrics: the transitions it made, its time queued, its run time at the provider.
    expect(await t.counter('cjo.job.transitions', { to: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(await t.counter('cjo.job.transitions', { from: 'queued', to: 'dispatched' })).toBeGreaterThanOrEqual(1);
    expect(
      (await t.histogram('cjo.job.queued.duration', { queue: r.deps.config.queues.batch })).count,
    ).toBeGreaterThanOrEqual(1);
    expect(
      (await t.histogram('cjo.job.run.duration', { provider: 'local', outcome: 'succeeded' })).count,
    ).toBeGreaterThanOrEqual(1);
    expect(
      await t.counter('cjo.provider.calls', { provider: 'local', operation: 'submit', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect((await t.histogram('cjo.poll.provider_calls', { provider: 'local' })).sum).toBeGreaterThanOrEqual(1);
  });

  it('traces a worker job from submit through the worker run as one trace', async () => {
    const res = await r.post('/api/submit-job', { latency_sensitive: true, rows: 100, estimated_runtime_sec: 1 });
    const { job_id: id } = (await res.json()) as { job_id: string };
    expect((await finished(id)).status).toBe('succeeded');

    const spans = traceOf(await t.finished(), id);
    const root = spans.find((s) => s.name === 'POST /api/submit-job')!;
    const run = spans.find((s) => s.name === 'worker.run')!;
    expect(run.attributes).toMatchObject({
      'job.id': id,
      'worker.mode': 'actor',
      'messaging.destination.name': r.deps.config.queues.actor,
    });
    expect(spans.find((s) => s.name === 'classify')!.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(run.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    for (const s of spans) expect(s.attributes['job.id'], `span ${s.name}`).toBe(id);
    expect((await t.histogram('cjo.job.dispatched.duration', { provider: 'worker' })).count).toBeGreaterThanOrEqual(1);
  });

  it('continues a caller-sent traceparent: the job joins the caller trace', async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await r.post(
      '/api/jobs',
      { latency_sensitive: true, rows: 10, estimated_runtime_sec: 1 },
      { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` },
    );
    const created = (await res.json()) as Job;
    await finished(created.id);
    const spans = traceOf(await t.finished(), created.id);
    expect(spans[0]!.spanContext().traceId).toBe(callerTrace);
    expect(spans.find((s) => s.name === 'POST /api/jobs')!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('counts a message that failed every delivery as a dead letter of its queue', async () => {
    const intake = r.deps.config.queues.intake;
    await r.deps.queues.send(intake, [{ notAJob: true }]);
    await waitFor(
      () => t.counter('cjo.dead_letters', { queue: intake, reason: 'MaxDeliveryCountExceeded' }),
      (n) => n === 1,
      45_000,
      'the dead letter to be counted',
    );
  });
});
