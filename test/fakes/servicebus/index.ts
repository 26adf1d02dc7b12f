import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusAdminServer } from './admin-server.js';
import { ServiceBusAmqpServer } from './amqp-server.js';
import { Broker, type BrokerClock, type QueueCounts, type QueueOptions } from './broker.js';

export { BATCH_MESSAGE_FORMAT, dotnetGuidBytes, type AmqpRecord } from './amqp-server.js';
export type { AdminRequestRecord } from './admin-server.js';
export type { QueueCounts, QueueOptions } from './broker.js';

/** A clock the test moves by hand; locks expire only when the test says time has passed. */
export class ManualClock implements BrokerClock {
  private t = Date.now();
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface ServiceBusStandInOptions {
  /** Queues to create up front. */
  readonly queues?: Readonly<Record<string, QueueOptions>>;
  /** Key name and key of the namespace's shared access policy. */
  readonly keyName?: string;
  readonly key?: string;
  /** Accept identity (jwt / bearer) tokens without checking them. */
  readonly acceptIdentityTokens?: boolean;
  /**
   * Extra shared access policy without the Manage right (Listen and Send only), key name → key: its
   * tokens work for messaging but every administration call answers 401, as for an identity that holds
   * only Azure Service Bus Data Receiver/Sender.
   */
  readonly listenSendKeys?: Readonly<Record<string, string>>;
  /** Drive time by hand (lock expiry happens on `advance`); the default is the real clock. */
  readonly manualClock?: boolean;
  /** How often the real-clock broker expires locks. */
  readonly sweepIntervalMs?: number;
  /**
   * Serve AMQPS with a throw-away self-signed certificate, for identity-based clients (the SDK uses
   * plain TCP only with UseDevelopmentEmulator=true). The client must be told to trust it.
   */
  readonly tls?: boolean;
}

/** A running stand-in: an AMQP endpoint plus an HTTP administration endpoint over one broker. */
export interface ServiceBusStandIn {
  /** Emulator-style connection string (`UseDevelopmentEmulator=true`, plain AMQP on the stand-in's port). */
  readonly connectionString: string;
  /** Base URL of the HTTP administration stand-in (the SDK builds https URLs; rewrite them here). */
  readonly adminEndpoint: string;
  readonly amqpPort: number;
  /** `127.0.0.1:<port>`, the namespace for identity-based clients (meaningful with `tls: true`). */
  readonly fullyQualifiedNamespace: string;
  readonly keyName: string;
  readonly key: string;
  readonly broker: Broker;
  readonly amqp: ServiceBusAmqpServer;
  readonly admin: ServiceBusAdminServer;
  /** Present with `manualClock: true`. */
  readonly clock?: ManualClock;
  createQueue(name: string, options?: QueueOptions): void;
  counts(name: string): QueueCounts;
  /** Moves the manual clock and expires what became due. */
  advance(ms: number): void;
  /** Expires every current lock (of one queue or all), as if its lock duration had passed. */
  expireLocks(queue?: string): number;
  close(): Promise<void>;
}

/** Starts the Service Bus stand-in on free loopback ports. */
export async function startServiceBusStandIn(options: ServiceBusStandInOptions = {}): Promise<ServiceBusStandIn> {
  const keyName = options.keyName ?? 'RootManageSharedAccessKey';
  // The emulator's well-known development key; not a secret.
  const key = options.key ?? 'SAS_KEY_VALUE';
  const clock = options.manualClock ? new ManualClock() : undefined;
  const broker = new Broker(clock ?? { now: () => Date.now() });
  for (const [name, q] of Object.entries(options.queues ?? {})) broker.createQueue(name, q);
  const keys = { ...(options.listenSendKeys ?? {}), [keyName]: key };
  const amqp = new ServiceBusAmqpServer(broker, {
    keys,
    acceptJwt: options.acceptIdentityTokens ?? false,
    ...(options.tls ? { tls: selfSignedCertificate('127.0.0.1') } : {}),
  });
  const amqpPort = await amqp.listen();
  const namespaceHost = '127.0.0.1';
  // The SDK's administration client derives https://<host>:<port>/ from the connection string's endpoint.
  const admin = new ServiceBusAdminServer(broker, {
    keys,
    withoutManage: new Set(Object.keys(options.listenSendKeys ?? {})),
    acceptBearer: options.acceptIdentityTokens ?? false,
    namespaceHost: `${namespaceHost}:${amqpPort}`,
  });
  const adminPort = await admin.listen();
  const sweeper = clock ? undefined : setInterval(() => broker.sweep(), options.sweepIntervalMs ?? 20);
  sweeper?.unref();

  return {
    connectionString: `Endpoint=sb://${namespaceHost}:${amqpPort};SharedAccessKeyName=${keyName};SharedAccessKey=${key};UseDevelopmentEmulator=true;`,
    adminEndpoint: `http://127.0.0.1:${adminPort}`,
    amqpPort,
    fullyQualifiedNamespace: `${namespaceHost}:${amqpPort}`,
    keyName,
    key,
    broker,
    amqp,
    admin,
    ...(clock ? { clock } : {}),
    createQueue(name, q) {
      broker.createQueue(name, q);
    },
    counts(name) {
      const c = broker.counts(name);
      if (!c) throw new Error(`no queue '${name}' in the stand-in`);
      return c;
    },
    advance(ms) {
      if (!clock) throw new Error('advance() needs manualClock: true');
      clock.advance(ms);
      broker.sweep();
    },
    expireLocks(queue) {
      return broker.expireLocks(queue);
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      await amqp.close();
      await admin.close();
    },
  };
}

/** A fresh self-signed certificate for `host` (openssl is on the build machines; test-only). */
function selfSignedCertificate(host: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-standin-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${host}`,
        '-addext',
        `subjectAltName=IP:${host}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
