import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleWebhookMessage } from '../../src/lib/app/webhooks/deliver-webhook.js';
import { DeadLetterRequested } from '../../src/lib/ports/queue.js';
import { startServiceBusStandIn, type ServiceBusStandIn } from '../fakes/servicebus/index.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

type Delivery = { webhookId: string; attempt: number; outcome: string; statusCode?: number; eventType: string };

/**
 * Webhook dead letters on Service Bus, where nothing can send into a dead-letter queue: the last
 * failed attempt must still end in the webhooks queue's real dead-letter queue, with its reason,
 * and a redelivery of that attempt (as the Functions host makes) must not POST again.
 */
describe('webhook dead letters on Service Bus (wire-level stand-in)', () => {
  let sb: ServiceBusStandIn;
  let r: TestRunner;
  let server: Server;
  let url = '';
  const posts: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts.push(req.url ?? '');
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sb = await startServiceBusStandIn();
    r = await startTestRunner({
      QUEUE_TRANSPORT: 'servicebus',
      ServiceBus: sb.connectionString,
      ServiceBus__administrationEndpoint: sb.adminEndpoint,
      QUEUE_MAX_DELIVERIES: '3',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      // Two attempts in all, one second apart.
      WEBHOOK_RETRY_SCHEDULE_SEC: '1',
      WEBHOOK_TIMEOUT_SEC: '5',
    });
  });
  afterAll(async () => {
    await r?.stop();
    await sb?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('moves an exhausted delivery to the dead-letter queue with its reason, and never POSTs it again', async () => {
    expect(r.deps.queues.kind).toBe('servicebus');
    const res = await r.post('/api/jobs', {
      latency_sensitive: true,
      rows: 10,
      estimated_runtime_sec: 1,
      notify: { url: `${url}/hook`, events: ['submitted'] },
    });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string };
    const deliveries = async () =>
      ((await (await r.api(`/api/jobs/${job.id}/deliveries`)).json()) as { deliveries: Delivery[] }).deliveries;
    const attempts = await waitFor(
      deliveries,
      (d) => d.some((x) => x.outcome === 'dead-lettered'),
      30_000,
      'dead letter',
    );
    expect(attempts.map((a) => [a.attempt, a.outcome]).sort()).toEqual([
      [1, 'failed'],
      [2, 'dead-lettered'],
    ]);

    const queue = r.deps.config.webhookQueue;
    await waitFor(
      async () => sb.counts(queue),
      (c) => c.deadLetter === 1,
      15_000,
      'the message in the dead-letter queue',
    );
    expect(sb.counts(queue).active).toBe(0);
    const [parked] = await r.deps.queues.receive(r.deps.queues.deadLetterQueueOf(queue), {
      maxMessages: 1,
      lockSec: 30,
      waitSec: 5,
    });
    expect(parked).toBeDefined();
    expect(parked!.body).toMatchObject({ jobId: job.id, attempt: 2, $deadLetterReason: 'WebhookRetriesExhausted' });
    expect(String(parked!.body.$deadLetterDescription)).toContain('HTTP 500');
    expect(posts).toHaveLength(2);

    // The Functions host cannot dead-letter from a trigger: it redelivers the failing message until
    // Service Bus's max delivery count moves it. Each redelivery throws again without a POST.
    const { $deadLetterReason: _r, $deadLetterDescription: _d, ...message } = parked!.body;
    await expect(handleWebhookMessage(r.deps, message)).rejects.toBeInstanceOf(DeadLetterRequested);
    await expect(handleWebhookMessage(r.deps, message)).rejects.toThrow(/WebhookRetriesExhausted/);
    expect(posts).toHaveLength(2);
    const after = await deliveries();
    expect(after).toHaveLength(2);
    await parked!.complete();
  });

  it('dead-letters an unprocessable webhook message instead of retrying it', async () => {
    const queue = r.deps.config.webhookQueue;
    const before = sb.counts(queue).deadLetter;
    await r.deps.queues.send(queue, [{ jobId: 'j-x', attempt: 'first' }]);
    await waitFor(
      async () => sb.counts(queue),
      (c) => c.deadLetter === before + 1,
      15_000,
      'the malformed message in the dead-letter queue',
    );
    const parked = await r.deps.queues.receive(r.deps.queues.deadLetterQueueOf(queue), {
      maxMessages: 8,
      lockSec: 30,
      waitSec: 5,
    });
    const mine = parked.find((m) => m.body.jobId === 'j-x');
    expect(mine?.body.$deadLetterReason).toBe('MalformedWebhookMessage');
    expect(String(mine?.body.$deadLetterDescription)).toContain('attempt');
  });
});
