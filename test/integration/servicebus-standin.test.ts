import { ServiceBusAdministrationClient, ServiceBusClient, type ServiceBusReceiver } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { administrationEndpointPolicy } from '../../src/lib/adapters/servicebus-transport.js';
import { BATCH_MESSAGE_FORMAT, startServiceBusStandIn, type ServiceBusStandIn } from '../fakes/servicebus/index.js';

/**
 * The real `@azure/service-bus` client against the stand-in, through an emulator-style connection
 * string. Time is driven by hand (manual clock): locks expire when the test advances the clock.
 */
describe('Service Bus stand-in with the real SDK', () => {
  const LOCK_MS = 10_000;
  let sb: ServiceBusStandIn;
  let client: ServiceBusClient;
  const receivers: ServiceBusReceiver[] = [];
  let n = 0;

  /** A fresh queue per test, so tests never see each other's messages. */
  function queue(options: { maxDeliveryCount?: number; lockDurationMs?: number } = {}): string {
    const name = `q${++n}`;
    sb.createQueue(name, { lockDurationMs: LOCK_MS, ...options });
    return name;
  }

  function receiverFor(name: string, subQueue?: 'deadLetter'): ServiceBusReceiver {
    // Automatic renewal off: the stand-in must be the only thing deciding when a lock ends.
    const r = client.createReceiver(name, {
      maxAutoLockRenewalDurationInMs: 0,
      ...(subQueue ? { subQueueType: subQueue } : {}),
    });
    receivers.push(r);
    return r;
  }

  beforeAll(async () => {
    sb = await startServiceBusStandIn({ manualClock: true });
    client = new ServiceBusClient(sb.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5_000 } });
  });

  afterAll(async () => {
    await Promise.allSettled(receivers.map((r) => r.close()));
    await client?.close();
    await sb?.close();
  });

  it('sends, receives under a peek-lock and completes, with broker-stamped id, sequence number and times', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: { jobId: 'j1' }, contentType: 'application/json' });
    const r = receiverFor(q);

    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });

    expect(m?.body).toEqual({ jobId: 'j1' });
    expect(m?.deliveryCount).toBe(0);
    expect(m?.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(m?.sequenceNumber?.toNumber()).toBeGreaterThan(0);
    expect(m?.enqueuedTimeUtc?.getTime()).toBe(sb.clock!.now());
    expect(m?.lockedUntilUtc?.getTime()).toBe(sb.clock!.now() + LOCK_MS);
    expect(m?.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(sb.counts(q)).toMatchObject({ active: 1, locked: 1 });
    await r.completeMessage(m!);
    expect(sb.counts(q)).toMatchObject({ active: 0, locked: 0 });
  });

  it('authenticated the connection with SASL ANONYMOUS and every entity with a CBS SAS token', () => {
    expect(sb.amqp.record.saslMechanisms.every((s) => s === 'ANONYMOUS')).toBe(true);
    const tokens = sb.amqp.record.putTokens;
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) {
      expect(t.ok).toBe(true);
      expect(t.type).toBe('servicebus.windows.net:sastoken');
      expect(t.name).toMatch(new RegExp(`^sb://127\\.0\\.0\\.1:${sb.amqpPort}/q\\d+`));
    }
    const peekLock = sb.amqp.record.attaches.find((a) => a.role === 'receiver' && a.address === 'q1');
    // Peek-lock: sender settles nothing (0 = unsettled), receiver settles second (1).
    expect(peekLock).toMatchObject({ sndSettleMode: 0, rcvSettleMode: 1 });
  });

  it('refuses a client whose SAS key is wrong', async () => {
    const q = queue();
    const bad = new ServiceBusClient(
      sb.connectionString.replace(`SharedAccessKey=${sb.key}`, 'SharedAccessKey=wrong'),
      {
        retryOptions: { maxRetries: 0, timeoutInMs: 3_000 },
      },
    );
    try {
      await expect(bad.createSender(q).sendMessages({ body: { x: 1 } })).rejects.toThrow();
      expect(sb.amqp.record.putTokens.some((t) => !t.ok && /signature mismatch/.test(t.reason ?? ''))).toBe(true);
      expect(sb.counts(q).active).toBe(0);
    } finally {
      await bad.close();
    }
  });

  it('refuses links to a queue that does not exist', async () => {
    await expect(client.createSender('no-such-queue').sendMessages({ body: {} })).rejects.toMatchObject({
      code: 'MessagingEntityNotFound',
    });
  });

  it('redelivers an abandoned message with its delivery count increased', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: { jobId: 'a' } });
    const r = receiverFor(q);
    const [first] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await r.abandonMessage(first!);

    const [second] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });

    expect(second?.body).toEqual({ jobId: 'a' });
    expect(second?.deliveryCount).toBe(1);
    expect(second?.lockToken).not.toBe(first?.lockToken);
    await r.completeMessage(second!);
  });

  it('dead-letters with a reason and description that a dead-letter receiver reads', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: { jobId: 'd' } });
    const r = receiverFor(q);
    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await r.deadLetterMessage(m!, {
      deadLetterReason: 'SpecInvalid',
      deadLetterErrorDescription: 'rows must be a number',
    });
    expect(sb.counts(q)).toMatchObject({ active: 0, deadLetter: 1 });

    const [dead] = await receiverFor(q, 'deadLetter').receiveMessages(1, { maxWaitTimeInMs: 2_000 });

    expect(dead?.body).toEqual({ jobId: 'd' });
    expect(dead?.deadLetterReason).toBe('SpecInvalid');
    expect(dead?.deadLetterErrorDescription).toBe('rows must be a number');
  });

  it('redelivers a message whose lock expired, and refuses to settle it under the old lock', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: { jobId: 'crash' } });
    const r = receiverFor(q);
    const [first] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });

    sb.advance(LOCK_MS + 1);
    const [second] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });

    expect(second?.body).toEqual({ jobId: 'crash' });
    expect(second?.deliveryCount).toBe(1);
    await expect(r.completeMessage(first!)).rejects.toMatchObject({ code: 'MessageLockLost' });
    await r.completeMessage(second!);
    expect(sb.counts(q).active).toBe(0);
  });

  it('keeps a message locked past the lock duration while its lock is renewed', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: { jobId: 'long' } });
    const r = receiverFor(q);
    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });

    sb.advance(LOCK_MS * 0.8);
    const until = await r.renewMessageLock(m!);
    sb.advance(LOCK_MS * 0.8);

    expect(until.getTime()).toBe(sb.clock!.now() - LOCK_MS * 0.8 + LOCK_MS);
    const other = await receiverFor(q).receiveMessages(1, { maxWaitTimeInMs: 200 });
    expect(other).toHaveLength(0);
    await r.completeMessage(m!);
    expect(
      sb.amqp.record.management.some((x) => x.operation === 'com.microsoft:renew-lock' && x.statusCode === 200),
    ).toBe(true);
  });

  it('fails to renew a lock that has expired', async () => {
    const q = queue();
    await client.createSender(q).sendMessages({ body: { jobId: 'late' } });
    const r = receiverFor(q);
    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    sb.advance(LOCK_MS + 1);
    await expect(r.renewMessageLock(m!)).rejects.toMatchObject({ code: 'MessageLockLost' });
  });

  it('moves a message to the dead-letter queue with MaxDeliveryCountExceeded after maxDeliveryCount deliveries', async () => {
    const q = queue({ maxDeliveryCount: 2 });
    await client.createSender(q).sendMessages({ body: { jobId: 'poison' } });
    const r = receiverFor(q);
    const [a] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await r.abandonMessage(a!);
    const [b] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(b?.deliveryCount).toBe(1);
    // The second failure is by lock expiry: it counts the same as an abandon.
    sb.advance(LOCK_MS + 1);

    expect(sb.counts(q)).toMatchObject({ active: 0, deadLetter: 1 });
    const [dead] = await receiverFor(q, 'deadLetter').receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(dead?.body).toEqual({ jobId: 'poison' });
    expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
  });

  it('accepts a batch of many messages as batch transfers and delivers each once', async () => {
    const q = queue();
    const sender = client.createSender(q);
    const before = sb.amqp.record.transfers.length;
    let batch = await sender.createMessageBatch();
    let batches = 0;
    for (let i = 0; i < 500; i++) {
      const msg = { body: { i, pad: 'x'.repeat(1_000) } };
      if (!batch.tryAddMessage(msg)) {
        await sender.sendMessages(batch);
        batches++;
        batch = await sender.createMessageBatch();
        expect(batch.tryAddMessage(msg)).toBe(true);
      }
    }
    await sender.sendMessages(batch);
    batches++;

    const transfers = sb.amqp.record.transfers.slice(before);
    // 500 × ~1 KB does not fit the link's 256 KB max-message-size, so the SDK needed several batches.
    expect(batches).toBeGreaterThan(1);
    expect(transfers).toHaveLength(batches);
    expect(transfers.every((t) => t.format === BATCH_MESSAGE_FORMAT)).toBe(true);
    expect(transfers.reduce((s, t) => s + t.messages, 0)).toBe(500);
    expect(sb.counts(q).active).toBe(500);

    const r = receiverFor(q);
    const seen = new Set<number>();
    while (seen.size < 500) {
      const got = await r.receiveMessages(200, { maxWaitTimeInMs: 2_000 });
      if (got.length === 0) break;
      for (const m of got) {
        seen.add((m.body as { i: number }).i);
        await r.completeMessage(m);
      }
    }
    expect(seen.size).toBe(500);
    expect(sb.counts(q).active).toBe(0);
  });

  it('locks no more messages than the receiver granted credit for', async () => {
    const q = queue();
    await client.createSender(q).sendMessages(Array.from({ length: 10 }, (_, i) => ({ body: { i } })));
    const r = receiverFor(q);

    const [one] = await r.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    const three = await r.receiveMessages(3, { maxWaitTimeInMs: 2_000 });

    expect(one?.body).toEqual({ i: 0 });
    expect(three.map((m) => m.body)).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(sb.counts(q)).toMatchObject({ active: 10, locked: 4 });
  });

  it('answers a drain on an empty queue and keeps the link usable', async () => {
    const q = queue();
    const r = receiverFor(q);
    const drainsBefore = sb.amqp.record.drains;

    const none = await r.receiveMessages(5, { maxWaitTimeInMs: 100 });
    await client.createSender(q).sendMessages({ body: { late: true } });
    const [m] = await r.receiveMessages(5, { maxWaitTimeInMs: 2_000 });

    expect(none).toHaveLength(0);
    expect(sb.amqp.record.drains).toBeGreaterThan(drainsBefore);
    expect(m?.body).toEqual({ late: true });
    // An unanswered drain makes the SDK close the link and attach a new one for the next receive.
    expect(sb.amqp.record.attaches.filter((a) => a.role === 'receiver' && a.address === q)).toHaveLength(1);
    await r.completeMessage(m!);
  });

  it('removes messages on delivery in receiveAndDelete mode', async () => {
    const q = queue();
    await client.createSender(q).sendMessages([{ body: { d: 1 } }, { body: { d: 2 } }]);
    const r = client.createReceiver(q, { receiveMode: 'receiveAndDelete' });
    receivers.push(r);

    const got = await r.receiveMessages(2, { maxWaitTimeInMs: 2_000 });

    expect(got.map((m) => m.body)).toEqual([{ d: 1 }, { d: 2 }]);
    expect(got.every((m) => m.lockToken === undefined)).toBe(true);
    expect(sb.counts(q)).toMatchObject({ active: 0, locked: 0 });
  });

  it('peeks without locking', async () => {
    const q = queue();
    await client.createSender(q).sendMessages([{ body: { p: 1 } }, { body: { p: 2 } }]);
    const r = receiverFor(q);

    const peeked = await r.peekMessages(10);

    expect(peeked.map((m) => m.body)).toEqual([{ p: 1 }, { p: 2 }]);
    expect(sb.counts(q)).toMatchObject({ active: 2, locked: 0 });
  });

  describe('administration endpoint (ATOM)', () => {
    let admin: ServiceBusAdministrationClient;
    beforeAll(() => {
      admin = new ServiceBusAdministrationClient(sb.connectionString);
      admin.pipeline.addPolicy(administrationEndpointPolicy(sb.adminEndpoint), { phase: 'Sign' });
    });

    it('reports active (including locked), dead-letter and scheduled counts', async () => {
      const q = queue();
      const sender = client.createSender(q);
      await sender.sendMessages([{ body: { a: 1 } }, { body: { a: 2 } }, { body: { a: 3 } }]);
      await sender.sendMessages({
        body: { later: true },
        scheduledEnqueueTimeUtc: new Date(sb.clock!.now() + 3_600_000),
      });
      const r = receiverFor(q);
      const [one, two] = await r.receiveMessages(2, { maxWaitTimeInMs: 2_000 });
      await r.deadLetterMessage(one!, { deadLetterReason: 'x', deadLetterErrorDescription: 'y' });
      expect(two).toBeDefined(); // stays locked

      const props = await admin.getQueueRuntimeProperties(q);

      expect(props.name).toBe(q);
      expect(props.activeMessageCount).toBe(2);
      expect(props.deadLetterMessageCount).toBe(1);
      expect(props.scheduledMessageCount).toBe(1);
      const last = sb.admin.requests.at(-1)!;
      expect(last).toMatchObject({ method: 'GET', path: q, apiVersion: '2021-05', auth: 'sas', status: 200 });
    });

    it('creates queues with their lock duration and max delivery count, and reports a duplicate as already existing', async () => {
      const created = await admin.createQueue('made-by-admin', { lockDuration: 'PT30S', maxDeliveryCount: 4 });
      expect(created.lockDuration).toBe('PT30S');
      expect(created.maxDeliveryCount).toBe(4);
      expect(sb.broker.queue('made-by-admin')).toMatchObject({ lockDurationMs: 30_000, maxDeliveryCount: 4 });
      await expect(admin.createQueue('made-by-admin')).rejects.toMatchObject({
        code: 'MessageEntityAlreadyExistsError',
        statusCode: 409,
      });
      expect(await admin.queueExists('made-by-admin')).toBe(true);
      expect(await admin.queueExists('never-made')).toBe(false);
    });

    it('refuses a request signed with the wrong key', async () => {
      const bad = new ServiceBusAdministrationClient(
        sb.connectionString.replace(`SharedAccessKey=${sb.key}`, 'SharedAccessKey=wrong'),
      );
      bad.pipeline.addPolicy(administrationEndpointPolicy(sb.adminEndpoint), { phase: 'Sign' });
      await expect(bad.getQueueRuntimeProperties('q1')).rejects.toMatchObject({ statusCode: 401 });
    });
  });
});
