import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleWebhookMessage } from '../../src/lib/app/webhooks/deliver-webhook.js';
import type { DeliveryMessage } from '../../src/lib/app/webhooks/notifier.js';
import { newWebhookSecret, webhookIdOf } from '../../src/lib/core/webhooks.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

/** A webhook receiver on a loopback address: records every request and every accepted socket. */
interface Receiver {
  readonly url: string;
  readonly requests: Array<{ path: string; headers: Record<string, string>; body: string }>;
  /** Connections accepted, whatever happened on them. */
  sockets: number;
  /** What the next requests are answered with, in order; then 204. */
  answers: number[];
  close(): Promise<void>;
}

async function startReceiver(host = '127.0.0.1'): Promise<Receiver> {
  const receiver: Receiver = { url: '', requests: [], sockets: 0, answers: [], close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests.push({
        path: req.url ?? '',
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.statusCode = receiver.answers.shift() ?? 204;
      res.end();
    });
  });
  server.on('connection', (_s: Socket) => {
    receiver.sockets++;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

type Delivery = {
  webhookId: string;
  attempt: number;
  outcome: string;
  statusCode?: number;
  error?: string;
  nextRetryAt?: string;
  subscriptionId?: string;
  eventType: string;
};

describe('webhooks (Standard Webhooks) on the local stack', () => {
  let r: TestRunner;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    r = await startTestRunner({
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      // Short delays so a test sees retries; attempts in all = 3.
      WEBHOOK_RETRY_SCHEDULE_SEC: '1,1',
      WEBHOOK_TIMEOUT_SEC: '5',
    });
  });
  afterAll(async () => {
    await r?.stop();
    await receiver?.close();
  });

  const submit = async (body: Record<string, unknown>) => {
    const res = await r.post('/api/jobs', { latency_sensitive: true, rows: 10, estimated_runtime_sec: 1, ...body });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string; notifySecret?: string };
  };
  const deliveriesOfJob = async (id: string) =>
    ((await (await r.api(`/api/jobs/${id}/deliveries`)).json()) as { deliveries: Delivery[] }).deliveries;
  const requestsFor = (jobId: string, path: string) =>
    receiver.requests.filter(
      (q) => q.path === path && (JSON.parse(q.body) as { data: { jobId: string } }).data.jobId === jobId,
    );

  it('delivers a subscription signed so the standardwebhooks package verifies it, filtered by label and event', async () => {
    const created = await r.post('/api/subscriptions', {
      url: `${receiver.url}/subs`,
      events: ['running', 'succeeded'],
      labels: { team: 'hooks' },
    });
    expect(created.status).toBe(201);
    const sub = (await created.json()) as { id: string; secret: string; url: string };
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(created.headers.get('location')).toBe(`/api/subscriptions/${sub.id}`);

    // The secret is shown once: never in a read or a list.
    const read = await (await r.api(`/api/subscriptions/${sub.id}`)).json();
    expect(read).not.toHaveProperty('secret');
    const list = (await (await r.api('/api/subscriptions')).json()) as {
      subscriptions: Array<Record<string, unknown>>;
    };
    expect(list.subscriptions.map((s) => s.id)).toContain(sub.id);
    expect(JSON.stringify(list)).not.toContain(sub.secret);

    const watched = await submit({ labels: { team: 'hooks' } });
    const other = await submit({ labels: { team: 'elsewhere' } });
    await waitFor(
      async () => requestsFor(watched.id, '/subs').length,
      (n) => n >= 2,
      30_000,
      'running and succeeded deliveries',
    );
    const got = requestsFor(watched.id, '/subs');
    const verifier = new Webhook(sub.secret);
    const types = got.map((q) => (verifier.verify(q.body, q.headers) as { type: string }).type).sort();
    expect(types).toEqual(['job.running', 'job.succeeded']);
    // A wrong secret does not verify.
    expect(() => new Webhook(newWebhookSecret()).verify(got[0]!.body, got[0]!.headers)).toThrow();
    // The other job's labels do not match: nothing for it, not even later.
    await waitFor(
      async () => (await (await r.api(`/api/jobs/${other.id}`)).json()) as { status: string },
      (j) => j.status === 'succeeded',
    );
    expect(requestsFor(other.id, '/subs')).toHaveLength(0);

    const byJob = await waitFor(
      () => deliveriesOfJob(watched.id),
      (d) => d.filter((x) => x.outcome === 'delivered').length >= 2,
    );
    expect(byJob.every((d) => d.subscriptionId === sub.id && d.statusCode === 204 && d.attempt === 1)).toBe(true);
    const bySub = (await (await r.api(`/api/subscriptions/${sub.id}/deliveries`)).json()) as { deliveries: Delivery[] };
    expect(bySub.deliveries.map((d) => d.eventType).sort()).toEqual(
      expect.arrayContaining(['job.running', 'job.succeeded']),
    );

    expect((await r.api(`/api/subscriptions/${sub.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await r.api(`/api/subscriptions/${sub.id}`)).status).toBe(404);
  });

  it("signs a job's own notify with the secret shown in the submission's reply", async () => {
    const job = await submit({ notify: { url: `${receiver.url}/job`, events: ['succeeded'] } });
    expect(job.notifySecret).toMatch(/^whsec_/);
    await waitFor(
      async () => requestsFor(job.id, '/job').length,
      (n) => n >= 1,
    );
    const [only] = requestsFor(job.id, '/job');
    const event = new Webhook(job.notifySecret!).verify(only!.body, only!.headers) as {
      type: string;
      data: { status: string };
    };
    expect(event.type).toBe('job.succeeded');
    expect(event.data.status).toBe('succeeded');
    // The job record shows where it notifies, never the secret.
    const record = await (await r.api(`/api/jobs/${job.id}`)).text();
    expect(record).toContain('/job');
    expect(record).not.toContain(job.notifySecret!);
  });

  it('retries after 500s with the same webhook-id and records every attempt', async () => {
    receiver.answers.push(500, 500);
    const job = await submit({ notify: { url: `${receiver.url}/retry`, events: ['submitted'] } });
    await waitFor(
      async () => requestsFor(job.id, '/retry').length,
      (n) => n >= 3,
      30_000,
      'three attempts',
    );
    const ids = new Set(requestsFor(job.id, '/retry').map((q) => q.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const attempts = await waitFor(
      () => deliveriesOfJob(job.id),
      (d) => d.some((x) => x.outcome === 'delivered'),
    );
    const byAttempt = [...attempts].sort((a, b) => a.attempt - b.attempt);
    expect(byAttempt.map((a) => [a.attempt, a.outcome, a.statusCode])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'delivered', 204],
    ]);
    expect(byAttempt[0]!.nextRetryAt).toBeDefined();
  });

  it('dead-letters a delivery after the last retry fails', async () => {
    receiver.answers.push(500, 503, 500);
    const job = await submit({ notify: { url: `${receiver.url}/dead`, events: ['submitted'] } });
    const attempts = await waitFor(
      () => deliveriesOfJob(job.id),
      (d) => d.some((x) => x.outcome === 'dead-lettered'),
      30_000,
      'dead letter',
    );
    expect(attempts.map((a) => a.attempt).sort()).toEqual([1, 2, 3]);
    expect(attempts.find((a) => a.attempt === 3)).toMatchObject({ outcome: 'dead-lettered', statusCode: 500 });
    expect(requestsFor(job.id, '/dead')).toHaveLength(3);
    // The message is parked in the webhooks queue's poison queue with its reason.
    const poison = r.deps.queues.deadLetterQueueOf(r.deps.config.webhookQueue);
    const parked = await waitFor(
      () => r.deps.queues.receive(poison, { maxMessages: 32, lockSec: 1 }),
      (m) => m.some((x) => x.body.jobId === job.id),
    );
    expect(parked.find((x) => x.body.jobId === job.id)!.body.$deadLetterReason).toBe('WebhookRetriesExhausted');
  });

  describe('refused addresses (allowed CIDRs: 127.0.0.1/32 only)', () => {
    let trap: Receiver;
    beforeAll(async () => {
      trap = await startReceiver('127.0.0.2');
    });
    afterAll(async () => trap?.close());

    it('refuses a subscription or notify URL on 127.0.0.2 or [::1] with a 400 naming the field, and never connects', async () => {
      const port = new URL(trap.url).port;
      for (const url of [`${trap.url}/x`, `http://[::1]:${port}/x`, `http://[::ffff:127.0.0.2]:${port}/x`]) {
        const res = await r.post('/api/subscriptions', { url, events: ['succeeded'] });
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(JSON.stringify(await res.json())).toContain('"url"');
      }
      const job = await r.post('/api/jobs', { notify: { url: `${trap.url}/x`, events: ['succeeded'] } });
      expect(job.status).toBe(400);
      expect(JSON.stringify(await job.json())).toContain('notify.url');
      expect(trap.sockets).toBe(0);
    });

    it('checks again at delivery: a name that re-resolves to 127.0.0.2 is not connected to', async () => {
      const store = r.deps.webhooks!.store;
      const port = new URL(trap.url).port;
      const jobId = 'j-rebind-test';
      await store.createJobTarget({
        jobId,
        url: `http://rebind.test:${port}/hook`,
        events: ['succeeded'],
        secret: newWebhookSecret(),
        createdAt: new Date().toISOString(),
      });
      const deps = {
        ...r.deps,
        webhooks: { ...r.deps.webhooks!, resolve: async () => [{ address: '127.0.0.2', family: 4 }] },
      };
      const target = { kind: 'job', id: jobId } as const;
      const message: DeliveryMessage = {
        webhookId: webhookIdOf(jobId, 3, target),
        jobId,
        target,
        attempt: 3,
        payload: { type: 'job.succeeded', timestamp: new Date().toISOString(), data: { jobId } },
      };
      const result = await handleWebhookMessage(deps, message);
      expect(result.outcome).toBe('dead-lettered');
      expect(result.error).toMatch(/refused.*127\.0\.0\.2/);
      expect(trap.sockets).toBe(0);
    });
  });

  it('issues one notify secret when twin requests with one Idempotency-Key race', async () => {
    const body = { latency_sensitive: true, notify: { url: `${receiver.url}/twin`, events: ['succeeded'] } };
    const replies = await Promise.all(
      [1, 2, 3].map(() => r.post('/api/jobs', body, { 'idempotency-key': 'webhook-twins' })),
    );
    const docs = (await Promise.all(replies.map((x) => x.json()))) as Array<{ id: string; notifySecret?: string }>;
    expect(new Set(docs.map((d) => d.id)).size).toBe(1);
    const secrets = docs.map((d) => d.notifySecret).filter(Boolean);
    expect(secrets).toHaveLength(1);
    await waitFor(
      async () => requestsFor(docs[0]!.id, '/twin').length,
      (n) => n >= 1,
    );
    const [delivered] = requestsFor(docs[0]!.id, '/twin');
    expect(() => new Webhook(secrets[0]!).verify(delivered!.body, delivered!.headers)).not.toThrow();
  });

  it('parks an unprocessable webhook message in the poison queue instead of retrying it', async () => {
    const result = await handleWebhookMessage(r.deps, { webhookId: 'nope', jobId: 'j-x', attempt: 'one' });
    expect(result.outcome).toBe('dropped');
    const poison = r.deps.queues.deadLetterQueueOf(r.deps.config.webhookQueue);
    const parked = await waitFor(
      () => r.deps.queues.receive(poison, { maxMessages: 32, lockSec: 1 }),
      (m) => m.some((x) => x.body.jobId === 'j-x'),
    );
    expect(parked.find((x) => x.body.jobId === 'j-x')!.body.$deadLetterReason).toBe('MalformedWebhookMessage');
  });

  it('lets a job finish while its receiver hangs, then records the timeout', async () => {
    const held: ServerResponse[] = [];
    const hang = createServer((_req, res) => held.push(res));
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/hang`;
    try {
      const job = await submit({ notify: { url, events: ['submitted', 'running'] } });
      // The job reaches its end while the receiver still holds the first delivery unanswered.
      await waitFor(
        async () => (await (await r.api(`/api/jobs/${job.id}`)).json()) as { status: string },
        (j) => j.status === 'succeeded',
      );
      expect(held.length).toBeGreaterThanOrEqual(1);
      expect(held.every((res) => !res.writableEnded)).toBe(true);
      const attempts = await waitFor(
        () => deliveriesOfJob(job.id),
        (d) => d.some((x) => x.outcome === 'failed'),
        30_000,
        'a timed-out attempt',
      );
      expect(attempts.find((x) => x.outcome === 'failed')!.error).toMatch(/no answer within 5000 ms/);
    } finally {
      hang.closeAllConnections();
      await new Promise((resolve) => hang.close(resolve));
    }
  });

  it('answers 400 naming the field for malformed subscriptions', async () => {
    const cases: Array<[unknown, string]> = [
      [{ url: 'ftp://127.0.0.1/x', events: ['succeeded'] }, 'url'],
      [{ url: `${receiver.url}/x`, events: ['finished'] }, 'events.0'],
      [{ url: `${receiver.url}/x`, events: [] }, 'events'],
      [{ url: `${receiver.url}/x`, events: ['succeeded'], extra: 1 }, 'extra'],
      [{ url: 'x'.repeat(5000), events: ['succeeded'] }, 'url'],
    ];
    for (const [body, field] of cases) {
      const res = await r.post('/api/subscriptions', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const problem = (await res.json()) as { errors?: Array<{ field: string }> };
      expect(problem.errors?.map((e) => e.field)).toContain(field);
    }
    expect((await r.api('/api/subscriptions/sub_nope')).status).toBe(404);
    expect((await r.api('/api/subscriptions/sub_nope', { method: 'DELETE' })).status).toBe(404);
    expect((await r.api('/api/jobs/j-nope/deliveries')).status).toBe(404);
  });
});
