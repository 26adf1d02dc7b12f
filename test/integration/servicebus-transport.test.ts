import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { AzureBlobStore } from '../../src/lib/adapters/azure-blob-store.js';
import {
  isServiceBusConfigured,
  parseServiceBusSettings,
  SERVICEBUS_SETTINGS,
} from '../../src/lib/adapters/servicebus-settings.js';
import {
  INVALID_BODY_FIELD,
  INVALID_BODY_REASON,
  ServiceBusTransport,
} from '../../src/lib/adapters/servicebus-transport.js';
import { DEAD_LETTER_REASON_FIELD } from '../../src/lib/ports/queue.js';
import { loadConfig } from '../../src/lib/config.js';
import { ConfigurationError, PayloadTooLargeError } from '../../src/lib/errors.js';
import { describeQueueTransportContract, receiveUntil, uniqueName } from '../contract/queue-transport.contract.js';
import { BATCH_MESSAGE_FORMAT, startServiceBusStandIn, type ServiceBusStandIn } from '../fakes/servicebus/index.js';

describeQueueTransportContract('Service Bus on the wire-level stand-in', async () => {
  const standIn = await startServiceBusStandIn();
  const config = loadConfig({
    JobsStorage: inject('storageConnectionString'),
    QUEUE_TRANSPORT: 'servicebus',
    ServiceBus: standIn.connectionString,
    ServiceBus__administrationEndpoint: standIn.adminEndpoint,
  });
  // Queues are created by `ensure` through the administration client, with a short lock so the
  // lock-expiry and renewal cases run quickly.
  const transport = await ServiceBusTransport.create(config, { lockDurationSec: 2, maxDeliveryCount: 10 });
  const blobs = await AzureBlobStore.create(config);
  const blobContainer = uniqueName('claims');
  await blobs.ensure([blobContainer]);
  return {
    transport,
    blobs,
    blobContainer,
    lockSec: 2,
    newQueue: () => uniqueName('contract'),
    close: async () => {
      await transport.close();
      await standIn.close();
    },
  };
});

describe('ServiceBusTransport beyond the contract', () => {
  let sb: ServiceBusStandIn;
  let transport: ServiceBusTransport;
  const baseEnv = (s: ServiceBusStandIn) => ({
    QUEUE_TRANSPORT: 'servicebus',
    ServiceBus: s.connectionString,
    ServiceBus__administrationEndpoint: s.adminEndpoint,
    WORKER_LOCK_SEC: '30',
    QUEUE_MAX_DELIVERIES: '4',
  });

  beforeAll(async () => {
    sb = await startServiceBusStandIn();
    transport = await ServiceBusTransport.create(loadConfig(baseEnv(sb)));
  });
  afterAll(async () => {
    await transport?.close();
    await sb?.close();
  });

  it('starts a least-privilege worker (no Manage right) on a queue the infrastructure declared', async () => {
    // In Azure the worker identity holds only Data Receiver on its queue, so creating queues is refused
    // (401); Bicep declares them. ensure must not stop such a worker from starting, nor create anything.
    const limited = await startServiceBusStandIn({ listenSendKeys: { ListenSend: 'listen-send-key' } });
    const root = await ServiceBusTransport.create(loadConfig(baseEnv(limited)));
    const worker = await ServiceBusTransport.create(
      loadConfig({
        ...baseEnv(limited),
        ServiceBus: limited.connectionString.replace(
          /SharedAccessKeyName=[^;]+;SharedAccessKey=[^;]+/,
          'SharedAccessKeyName=ListenSend;SharedAccessKey=listen-send-key',
        ),
      }),
    );
    try {
      limited.createQueue('provisioned');
      await worker.ensure(['provisioned', 'never-declared']);
      const puts = limited.admin.requests.filter((r) => r.method === 'PUT').map((r) => `${r.path}:${r.status}`);
      expect(puts.sort()).toEqual(['never-declared:401', 'provisioned:401']);
      expect(
        limited.broker.queue('never-declared'),
        'a refused create must not be reported as created',
      ).toBeUndefined();
      await root.send('provisioned', [{ jobId: 'least-privilege' }]);
      const [m] = await receiveUntil(worker, 'provisioned', 1, 30);
      expect(m!.body).toEqual({ jobId: 'least-privilege' });
      await m!.complete();
      // A credential the service rejects outright is still an error, not a missing right.
      const forged = await ServiceBusTransport.create(
        loadConfig({
          ...baseEnv(limited),
          ServiceBus: limited.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=not-the-key'),
        }),
      );
      await expect(forged.ensure(['provisioned'])).rejects.toThrow(/InvalidSignature/);
      await forged.close();
    } finally {
      await worker.close();
      await root.close();
      await limited.close();
    }
  });

  it('creates missing queues with WORKER_LOCK_SEC and QUEUE_MAX_DELIVERIES, and tolerates existing ones', async () => {
    sb.createQueue('existing', { lockDurationMs: 5_000, maxDeliveryCount: 9 });

    await transport.ensure(['fresh', 'existing', 'fresh/$deadletterqueue']);

    expect(sb.broker.queue('fresh')).toMatchObject({ lockDurationMs: 30_000, maxDeliveryCount: 4 });
    // An existing queue is left as it was (Bicep owns its properties).
    expect(sb.broker.queue('existing')).toMatchObject({ lockDurationMs: 5_000, maxDeliveryCount: 9 });
    const puts = sb.admin.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => `${r.path}:${r.status}`).sort()).toEqual(['existing:409', 'fresh:201']);
  });

  it('splits a send into as many batch transfers as the link size allows', async () => {
    sb.createQueue('big-batches');
    const before = sb.amqp.record.transfers.length;
    const bodies = Array.from({ length: 100 }, (_, i) => ({ i, pad: 'y'.repeat(10_000) }));

    await transport.send('big-batches', bodies);

    const transfers = sb.amqp.record.transfers.slice(before);
    expect(transfers.length).toBeGreaterThanOrEqual(4); // 100 × 10 KB over 256 KB transfers
    expect(transfers.every((t) => t.format === BATCH_MESSAGE_FORMAT)).toBe(true);
    expect(transfers.reduce((s, t) => s + t.messages, 0)).toBe(100);
    expect(sb.counts('big-batches').active).toBe(100);
  });

  it('refuses a single message larger than Service Bus accepts (the claim-check wrapper is for those)', async () => {
    sb.createQueue('too-big');
    const fine = Array.from({ length: 40 }, (_, i) => ({ i, pad: 'f'.repeat(10_000) }));

    await expect(transport.send('too-big', [...fine, { data: 'z'.repeat(300_000) }])).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );

    // Nothing was sent, not even the batches packed before the oversized message.
    expect(sb.counts('too-big').active).toBe(0);
  });

  it('serialises concurrent receives on one queue instead of failing', async () => {
    sb.createQueue('concurrent');
    await transport.send('concurrent', [{ n: 1 }, { n: 2 }, { n: 3 }]);

    const results = await Promise.all(
      [1, 2, 3].map(() => transport.receive('concurrent', { maxMessages: 1, lockSec: 30, waitSec: 1 })),
    );

    const got = results.flat();
    expect(got.map((m) => m.body.n).sort()).toEqual([1, 2, 3]);
    await Promise.all(got.map((m) => m.complete()));
  });

  it('abandon with a delay shorter than the lock hides the message until the delay is over', async () => {
    sb.createQueue('delayed', { lockDurationMs: 30_000 });
    await transport.send('delayed', [{ jobId: 'later' }]);
    const [m] = await receiveUntil(transport, 'delayed', 1, 30);

    await m!.abandon(1);
    const immediately = await transport.receive('delayed', { maxMessages: 1, lockSec: 30, waitSec: 0.2 });
    const [back] = await receiveUntil(transport, 'delayed', 1, 30, 10_000);

    expect(immediately).toHaveLength(0);
    expect(back?.body.jobId).toBe('later');
    expect(back?.deliveryCount).toBe(2);
    await back!.complete();
  });

  it('abandon with a delay longer than the lock leaves the message to come back when the lock expires', async () => {
    sb.createQueue('long-delay', { lockDurationMs: 30_000 });
    await transport.send('long-delay', [{ jobId: 'much-later' }]);
    const [m] = await receiveUntil(transport, 'long-delay', 1, 30);

    await m!.abandon(600);
    expect(sb.counts('long-delay')).toMatchObject({ active: 1, locked: 1 });
    sb.expireLocks('long-delay');
    const [back] = await receiveUntil(transport, 'long-delay', 1, 30);

    expect(back?.deliveryCount).toBe(2);
    await back!.complete();
  });

  it('reports a lost lock when completing after the lock expired', async () => {
    sb.createQueue('lost', { lockDurationMs: 30_000 });
    await transport.send('lost', [{ jobId: 'slow' }]);
    const [m] = await receiveUntil(transport, 'lost', 1, 30);
    sb.expireLocks('lost');
    await expect(m!.complete()).rejects.toMatchObject({ code: 'MessageLockLost' });
  });

  it('dead-letters a body that is not a JSON object at once, and hands it over as text from the dead-letter queue', async () => {
    sb.createQueue('odd-bodies');
    const raw = new ServiceBusClient(sb.connectionString);
    try {
      await raw
        .createSender('odd-bodies')
        .sendMessages([{ body: 'not json {' }, { body: [1, 2] }, { body: { ok: true } }]);
    } finally {
      await raw.close();
    }

    const got = await receiveUntil(transport, 'odd-bodies', 1, 30);
    const dead = await receiveUntil(transport, transport.deadLetterQueueOf('odd-bodies'), 2, 30);

    expect(got.map((m) => m.body)).toEqual([{ ok: true }]);
    expect(dead.map((m) => m.body[INVALID_BODY_FIELD])).toEqual(['not json {', '[1,2]']);
    expect(dead.every((m) => m.body[DEAD_LETTER_REASON_FIELD] === INVALID_BODY_REASON)).toBe(true);
    await Promise.all([...got, ...dead].map((m) => m.complete()));
  });

  it('reads depth of a queue through its dead-letter name too', async () => {
    sb.createQueue('depths');
    await transport.send('depths', [{ a: 1 }, { a: 2 }]);
    const [m] = await receiveUntil(transport, 'depths', 1, 30);
    await m!.deadLetter('Why', 'because');

    expect(await transport.depth('depths')).toEqual({ active: 1, deadLetter: 1, scheduled: 0 });
    expect(await transport.depth(transport.deadLetterQueueOf('depths'))).toEqual({
      active: 1,
      deadLetter: 1,
      scheduled: 0,
    });
  });

  it('keeps one receiver link per queue and closes every link and the connection on close()', async () => {
    const own = await startServiceBusStandIn({ queues: { a: {}, b: {} } });
    const t = await ServiceBusTransport.create(loadConfig(baseEnv(own)));
    for (let i = 0; i < 3; i++) {
      await t.receive('a', { maxMessages: 1, lockSec: 30, waitSec: 0.05 });
      await t.receive('b', { maxMessages: 1, lockSec: 30, waitSec: 0.05 });
    }
    expect(own.amqp.openReceivers).toBe(2);
    expect(
      own.amqp.record.attaches.filter((a) => a.role === 'receiver' && (a.address === 'a' || a.address === 'b')),
    ).toHaveLength(2);

    await t.close();
    await vi.waitFor(() => expect(own.amqp.openConnections).toBe(0));
    expect(own.amqp.openReceivers).toBe(0);
    await own.close();
  });

  it('uses a token credential and bearer auth for administration with the identity-based settings', async () => {
    const own = await startServiceBusStandIn({ queues: { ident: {} }, acceptIdentityTokens: true });
    const credential = {
      getToken: async () => ({ token: 'fake-entra-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const t = await ServiceBusTransport.create(
      loadConfig({
        QUEUE_TRANSPORT: 'servicebus',
        ServiceBus__fullyQualifiedNamespace: `sb://127.0.0.1:${own.amqpPort}/`,
        ServiceBus__administrationEndpoint: own.adminEndpoint,
      }),
      { credential },
    );
    try {
      expect(await t.depth('ident')).toEqual({ active: 0, deadLetter: 0, scheduled: 0 });
      expect(own.admin.requests.at(-1)).toMatchObject({ auth: 'bearer', status: 200, path: 'ident' });
    } finally {
      await t.close();
      await own.close();
    }
  });
});

describe('parseServiceBusSettings', () => {
  it('accepts an emulator connection string and normalises the admin endpoint', () => {
    const s = parseServiceBusSettings({
      ServiceBus:
        'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
      ServiceBus__administrationEndpoint: 'http://127.0.0.1:5300/',
    });
    expect(s.connectionString).toContain('UseDevelopmentEmulator=true');
    expect(s.administrationEndpoint).toBe('http://127.0.0.1:5300');
  });

  it('takes the bare host out of an sb:// namespace', () => {
    expect(
      parseServiceBusSettings({ ServiceBus__fullyQualifiedNamespace: 'sb://jobs-ns.servicebus.windows.net/' })
        .fullyQualifiedNamespace,
    ).toBe('jobs-ns.servicebus.windows.net');
  });

  it('names the missing and the malformed settings', () => {
    expect(() => parseServiceBusSettings({})).toThrow(
      /ServiceBus \(connection string\) or ServiceBus__fullyQualifiedNamespace/,
    );
    expect(() => parseServiceBusSettings({ ServiceBus: 'not a connection string' })).toThrow(ConfigurationError);
    expect(() =>
      parseServiceBusSettings({
        ServiceBus__fullyQualifiedNamespace: 'ns',
        ServiceBus__administrationEndpoint: 'ftp://x',
      }),
    ).toThrow(/http or https/);
  });

  it('is configured by either connection style', () => {
    expect(isServiceBusConfigured({ ServiceBus: 'Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b' })).toBe(
      true,
    );
    expect(isServiceBusConfigured({ ServiceBus__fullyQualifiedNamespace: 'x.servicebus.windows.net' })).toBe(true);
    expect(isServiceBusConfigured({ ServiceBus: '  ' })).toBe(false);
  });

  it('lists its settings for the catalogue with the connection string marked secret', () => {
    expect(SERVICEBUS_SETTINGS.map((s) => s.name)).toEqual([
      'ServiceBus',
      'ServiceBus__fullyQualifiedNamespace',
      'ServiceBus__administrationEndpoint',
    ]);
    expect(SERVICEBUS_SETTINGS.find((s) => s.name === 'ServiceBus')?.secret).toBe(true);
  });
});

describe('ServiceBusTransport with an identity-based connection (AMQPS + CBS jwt)', () => {
  it('puts an Entra token for each entity on $cbs and moves messages', async () => {
    const sb = await startServiceBusStandIn({ queues: { 'ident-q': {} }, acceptIdentityTokens: true, tls: true });
    const scopes: string[] = [];
    const credential = {
      getToken: async (scope: string | string[]) => {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return { token: 'entra-token-for-tests', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    // Only for this test: the stand-in's certificate is self-signed, and the SDK takes no CA option.
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const t = await ServiceBusTransport.create(
      loadConfig({
        QUEUE_TRANSPORT: 'servicebus',
        ServiceBus__fullyQualifiedNamespace: sb.fullyQualifiedNamespace,
        ServiceBus__administrationEndpoint: sb.adminEndpoint,
      }),
      { credential },
    );
    try {
      await t.send('ident-q', [{ jobId: 'via-identity' }]);
      const [m] = await receiveUntil(t, 'ident-q', 1, 30);
      await m!.complete();

      expect(m?.body).toEqual({ jobId: 'via-identity' });
      expect(scopes).toContain('https://servicebus.azure.net//.default');
      const tokens = sb.amqp.record.putTokens;
      expect(tokens.length).toBeGreaterThanOrEqual(2);
      expect(tokens.every((x) => x.ok && x.type === 'jwt' && x.token === 'entra-token-for-tests')).toBe(true);
      expect(tokens.map((x) => x.name)).toContain(`sb://${sb.fullyQualifiedNamespace}/ident-q`);
    } finally {
      await t.close();
      await sb.close();
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });
});
