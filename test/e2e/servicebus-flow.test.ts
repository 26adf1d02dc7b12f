import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceBusStandIn, type ServiceBusStandIn } from '../fakes/servicebus/index.js';
import { startTestRunner, TERMINAL, waitFor, type TestRunner } from '../support/runner.js';

type Job = { id: string; status: string; queue: string; error?: { message: string } };

/** The whole system on Service Bus: what `npm start` does when a Service Bus connection is configured. */
describe('end to end on Service Bus (wire-level stand-in)', () => {
  let sb: ServiceBusStandIn;
  let r: TestRunner;
  beforeAll(async () => {
    sb = await startServiceBusStandIn();
    r = await startTestRunner({
      QUEUE_TRANSPORT: 'servicebus',
      ServiceBus: sb.connectionString,
      ServiceBus__administrationEndpoint: sb.adminEndpoint,
      QUEUE_MAX_DELIVERIES: '3',
    });
  });
  afterAll(async () => {
    await r?.stop();
    await sb?.close();
  });
  const job = async (id: string) => (await (await r.api(`/api/jobs/${id}`)).json()) as Job;

  it('runs the README examples to succeeded through Service Bus queues', async () => {
    expect(r.deps.queues.kind).toBe('servicebus');
    const bodies = [
      { latency_sensitive: true, rows: 100, estimated_runtime_sec: 1 },
      { rows: 50_000_000, estimated_runtime_sec: 300, priority: 'high' },
      { rows: 5_000_000, estimated_runtime_sec: 10 },
    ];
    const ids = await Promise.all(
      bodies.map(async (b) => ((await (await r.post('/api/submit-job', b)).json()) as { job_id: string }).job_id),
    );
    const done = await waitFor(
      () => Promise.all(ids.map(job)),
      (js) => js.every((j) => TERMINAL.includes(j.status)),
      90_000,
      'jobs to finish',
    );
    expect(done.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(done.map((j) => j.queue)).toEqual([
      r.deps.config.queues.actor,
      r.deps.config.queues.spark,
      r.deps.config.queues.ml,
    ]);
    // The broker really carried them: every queue was created on it and is empty now.
    for (const q of Object.values(r.deps.config.queues)) expect(sb.counts(q).active).toBe(0);
  });

  it('shows dead-letter counts in the detailed queue status, as the broker counts them', async () => {
    // A second runner with only the HTTP functions, so nothing consumes the dead-letter queue.
    const { FUNCTIONS } = await import('../../src/functions/all.js');
    const http = await startTestRunner(
      {
        QUEUE_TRANSPORT: 'servicebus',
        ServiceBus: sb.connectionString,
        ServiceBus__administrationEndpoint: sb.adminEndpoint,
      },
      { workers: false, functions: FUNCTIONS.filter((f) => f.kind === 'http') },
    );
    try {
      const q = http.deps.config.queues.batch;
      await http.deps.queues.send(q, [{ jobId: 'j-a' }, { jobId: 'j-b' }, { jobId: 'j-c' }]);
      const [msg] = await http.deps.queues.receive(q, { maxMessages: 1, lockSec: 30, waitSec: 5 });
      await msg!.deadLetter('SpecInvalid', 'test');
      const detail = (await (await http.api('/api/queues/status?detail=true')).json()) as Record<
        string,
        { active: number; deadLetter: number; scheduled: number }
      >;
      expect(detail[q]).toEqual({ active: 2, deadLetter: 1, scheduled: 0 });
      expect(sb.counts(q)).toMatchObject({ deadLetter: 1 });
      const flat = (await (await http.api('/api/queues/status')).json()) as Record<string, number>;
      expect(flat[q]).toBe(2);
    } finally {
      await http.stop();
    }
  });
});
