import type { Server } from 'node:net';
import rhea from 'rhea';
import type { Broker, Entity, MessageLock, Settlement } from './broker.js';
import { checkSasToken } from './sas.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- rhea's typings are loose; the wire objects stay `any` here. */
type Link = any;
type Connection = any;
type Delivery = any;

/** Service Bus batches: one transfer whose body holds one data section per encoded message. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;
const SAS_TOKEN_TYPE = 'servicebus.windows.net:sastoken';
const JWT_TOKEN_TYPE = 'jwt';
/** Standard tier limit; the SDK sizes its batches from the max-message-size of the sender link's attach. */
const MAX_MESSAGE_SIZE = 262_144;

/** What the stand-in saw on the wire, for tests that check how the SDK talks. */
export interface AmqpRecord {
  readonly saslMechanisms: string[];
  readonly putTokens: Array<{ name: string; type: string; ok: boolean; reason?: string; token?: string }>;
  readonly attaches: Array<{
    role: 'sender' | 'receiver';
    address: string;
    sndSettleMode?: number;
    rcvSettleMode?: number;
    refused?: string;
  }>;
  readonly management: Array<{ entity: string; operation: string; statusCode: number }>;
  readonly transfers: Array<{ address: string; format: number; messages: number }>;
  readonly settlements: Array<{ kind: Settlement['kind'] | 'released'; ok: boolean; via: 'link' | 'management' }>;
  readonly drains: number;
}

export interface AmqpServerOptions {
  readonly port?: number;
  readonly host?: string;
  /** Key names → keys accepted in SAS tokens. */
  readonly keys: Readonly<Record<string, string>>;
  /** Accept CBS tokens of type `jwt` (identity-based clients); the token text is only recorded. */
  readonly acceptJwt?: boolean;
  /** Listen with TLS (AMQPS), as the real service does for every non-emulator client. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

interface ConnState {
  /** Entity paths (lower case, '' = namespace) → claim expiry (ms). */
  readonly claims: Map<string, number>;
  /** Reply routes: receiver link name or target address → the server-side sender link. */
  readonly replyLinks: Map<string, Link>;
}

/**
 * An AMQP 1.0 endpoint speaking the subset of Service Bus that `@azure/service-bus` 7.9 uses against
 * the development emulator: plain TCP, SASL ANONYMOUS, CBS `put-token`, queue sender/receiver
 * links (also `<queue>/$deadletterqueue`), peek-lock deliveries settled by dispositions, drain,
 * batches and the `$management` request/response operations (renew-lock, peek, update-disposition).
 */
export class ServiceBusAmqpServer {
  readonly record: AmqpRecord = {
    saslMechanisms: [],
    putTokens: [],
    attaches: [],
    management: [],
    transfers: [],
    settlements: [],
    drains: 0,
  };
  private readonly container: any;
  private server: Server | undefined;
  private readonly consumers = new Map<Entity, Set<Link>>();
  private readonly connStates = new WeakMap<Connection, ConnState>();
  private readonly connections = new Set<Connection>();
  /** Outstanding deliveries of peek-locked messages → their locks. */
  private readonly deliveryLocks = new WeakMap<Delivery, MessageLock>();

  constructor(
    readonly broker: Broker,
    private readonly options: AmqpServerOptions,
  ) {
    this.container = rhea.create_container({ id: 'servicebus-standin' });
    // The emulator (and so the SDK with UseDevelopmentEmulator=true) authenticates the connection with
    // SASL ANONYMOUS and the entities through CBS; a client that skips SASL is refused.
    this.container.sasl_server_mechanisms.enable_anonymous();
    broker.onAvailable = (entity) => this.pumpEntity(entity);
    this.wire();
  }

  /** Client connections currently open (a closed client leaves none behind). */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Queue receiver links currently attached. */
  get openReceivers(): number {
    let n = 0;
    for (const links of this.consumers.values()) n += links.size;
    return n;
  }

  async listen(): Promise<number> {
    this.server = this.container.listen({
      port: this.options.port ?? 0,
      host: this.options.host ?? '127.0.0.1',
      ...(this.options.tls ? { transport: 'tls', key: this.options.tls.key, cert: this.options.tls.cert } : {}),
      require_sasl: true,
      // Sender links must tell abandon (modified) from release; rhea would fold one into the other.
      treat_modified_as_released: false,
      // Settlement is done by the broker logic below, never implicitly.
      autoaccept: false,
      idle_time_out: 0,
    }) as Server;
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    for (const c of this.connections) {
      try {
        c.close();
        c.socket?.destroy?.();
      } catch {
        /* already gone */
      }
    }
    this.connections.clear();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private state(connection: Connection): ConnState {
    let s = this.connStates.get(connection);
    if (!s) {
      s = { claims: new Map(), replyLinks: new Map() };
      this.connStates.set(connection, s);
    }
    return s;
  }

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: any) => {
      this.connections.add(ctx.connection);
      const mech = ctx.connection.sasl_transport?.mechanism ? 'ANONYMOUS' : 'none';
      this.record.saslMechanisms.push(mech);
      this.state(ctx.connection);
    });
    const forget = (ctx: any) => {
      this.connections.delete(ctx.connection);
      for (const links of this.consumers.values()) {
        for (const l of links) if (l.connection === ctx.connection) links.delete(l);
      }
    };
    c.on('connection_close', forget);
    c.on('disconnected', forget);
    c.on('error', () => {
      /* link errors of closed clients; nothing to do */
    });

    c.on('receiver_open', (ctx: any) => this.onClientSender(ctx.receiver, ctx.connection));
    c.on('sender_open', (ctx: any) => this.onClientReceiver(ctx.sender, ctx.connection));
    c.on('message', (ctx: any) => this.onMessage(ctx));

    const pump = (ctx: any) => this.pumpLink(ctx.sender);
    c.on('sendable', pump);
    c.on('sender_flow', (ctx: any) => {
      // One echo per drain request: a stale echo arriving after the client's next flow would zero
      // the credit it just granted.
      ctx.sender.drainRequested = Boolean(ctx.sender._draining);
      if (ctx.sender.drainRequested) (this.record as { drains: number }).drains++;
      this.pumpLink(ctx.sender);
    });
    c.on('sender_close', (ctx: any) => this.dropConsumer(ctx.sender));

    c.on('accepted', (ctx: any) => this.onDisposition(ctx.delivery, { kind: 'complete' }));
    c.on('modified', (ctx: any) => {
      const state = ctx.delivery.remote_state ?? {};
      const annotations = state.message_annotations as Record<string, unknown> | undefined;
      this.onDisposition(
        ctx.delivery,
        state.undeliverable_here
          ? { kind: 'defer', ...(annotations ? { annotations } : {}) }
          : { kind: 'abandon', ...(annotations ? { annotations } : {}) },
      );
    });
    c.on('rejected', (ctx: any) => {
      const error = ctx.delivery.remote_state?.error ?? {};
      if (error.condition === 'com.microsoft:dead-letter') {
        const info = (error.info ?? {}) as Record<string, unknown>;
        const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = info;
        this.onDisposition(ctx.delivery, {
          kind: 'deadLetter',
          ...(DeadLetterReason !== undefined ? { reason: String(DeadLetterReason) } : {}),
          ...(DeadLetterErrorDescription !== undefined ? { description: String(DeadLetterErrorDescription) } : {}),
          properties: rest,
        });
      } else {
        // A plain AMQP reject (no Service Bus condition) is treated as an abandon.
        this.onDisposition(ctx.delivery, { kind: 'abandon' });
      }
    });
    c.on('released', (ctx: any) => this.onDisposition(ctx.delivery, { kind: 'abandon' }));
  }

  // ---- authorization (CBS) ----

  private isAuthorized(connection: Connection, address: string): boolean {
    const now = this.broker.clock.now();
    const target = address.toLowerCase();
    for (const [path, expiry] of this.state(connection).claims) {
      if (expiry <= now) continue;
      if (path === '' || target === path || target.startsWith(`${path}/`)) return true;
    }
    return false;
  }

  private handlePutToken(msg: any, connection: Connection): { code: number; description: string } {
    const props = (msg.application_properties ?? {}) as Record<string, unknown>;
    const name = String(props.name ?? '');
    const type = String(props.type ?? '');
    const fail = (code: number, reason: string) => {
      this.record.putTokens.push({ name, type, ok: false, reason });
      return { code, description: reason };
    };
    if (props.operation !== 'put-token') return fail(400, `unsupported CBS operation '${String(props.operation)}'`);
    const m = /^(?:sb|amqps?):\/\/[^/]+\/?(.*)$/i.exec(name);
    if (!m) return fail(400, `token name must be an sb:// URL of the entity, got '${name}'`);
    const path = m[1]!.replace(/\/+$/, '').toLowerCase();
    const token = typeof msg.body === 'string' ? msg.body : Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : '';
    let expiry: number;
    if (type === SAS_TOKEN_TYPE) {
      const check = checkSasToken(token, this.options.keys, this.broker.clock.now());
      if (!check.ok) return fail(401, `InvalidSignature: ${check.reason}`);
      if (check.token.resource.replace(/\/+$/, '').toLowerCase() !== name.replace(/\/+$/, '').toLowerCase()) {
        return fail(401, `InvalidAudience: token is for '${check.token.resource}', not '${name}'`);
      }
      expiry = check.token.expiry * 1000;
    } else if (type === JWT_TOKEN_TYPE && this.options.acceptJwt) {
      if (!token) return fail(401, 'empty jwt');
      expiry = this.broker.clock.now() + 3_600_000;
    } else {
      return fail(400, `unsupported token type '${type}'`);
    }
    this.state(connection).claims.set(path, expiry);
    // Identity tokens are recorded so a test can check which token was presented; SAS ones are not.
    this.record.putTokens.push({ name, type, ok: true, ...(type === JWT_TOKEN_TYPE ? { token } : {}) });
    return { code: 202, description: 'Accepted' };
  }

  // ---- links ----

  /** The client opened a sender: we receive on $cbs, $management or a queue. */
  private onClientSender(link: Link, connection: Connection): void {
    const address: string = link.remote.attach?.target?.address ?? '';
    link.local.attach.target = link.remote.attach.target;
    link.local.attach.source = link.remote.attach.source;
    link.local.attach.snd_settle_mode = link.remote.attach.snd_settle_mode;
    link.local.attach.rcv_settle_mode = 0;
    const refuse = (condition: string, description: string) => {
      this.record.attaches.push({ role: 'sender', address, refused: condition });
      link.close({ condition, description });
    };
    if (address === '$cbs') {
      this.record.attaches.push({ role: 'sender', address });
      link.add_credit(100);
      return;
    }
    const entityPath = address.replace(/\/\$management$/i, '');
    const entity = this.broker.entity(entityPath);
    if (!entity || entity.isDeadLetter !== /\/\$deadletterqueue/i.test(entityPath)) {
      return refuse('amqp:not-found', `The messaging entity '${entityPath}' could not be found.`);
    }
    if (!this.isAuthorized(connection, address))
      return refuse('amqp:unauthorized-access', `Unauthorized access to '${address}'. Put a token on $cbs first.`);
    if (entity.isDeadLetter && !/\$management$/i.test(address)) {
      return refuse('amqp:not-allowed', 'Messages cannot be sent to a dead-letter queue.');
    }
    link.local.attach.max_message_size = MAX_MESSAGE_SIZE;
    this.record.attaches.push({
      role: 'sender',
      address,
      sndSettleMode: link.remote.attach.snd_settle_mode,
      rcvSettleMode: link.remote.attach.rcv_settle_mode,
    });
    link.add_credit(1000);
  }

  /** The client opened a receiver: we send from a queue, or replies on $cbs / $management. */
  private onClientReceiver(link: Link, connection: Connection): void {
    const address: string = link.remote.attach?.source?.address ?? '';
    link.local.attach.source = link.remote.attach.source;
    link.local.attach.target = link.remote.attach.target;
    link.local.attach.snd_settle_mode = link.remote.attach.snd_settle_mode;
    link.local.attach.rcv_settle_mode = link.remote.attach.rcv_settle_mode;
    const st = this.state(connection);
    if (address === '$cbs' || /\/\$management$/i.test(address)) {
      if (address !== '$cbs') {
        const entityPath = address.replace(/\/\$management$/i, '');
        if (!this.broker.entity(entityPath)) {
          this.record.attaches.push({ role: 'receiver', address, refused: 'amqp:not-found' });
          link.close({
            condition: 'amqp:not-found',
            description: `The messaging entity '${entityPath}' could not be found.`,
          });
          return;
        }
      }
      st.replyLinks.set(link.name, link);
      const replyAddress = link.remote.attach?.target?.address;
      if (replyAddress) st.replyLinks.set(replyAddress, link);
      this.record.attaches.push({ role: 'receiver', address });
      return;
    }
    const entity = this.broker.entity(address);
    if (!entity) {
      this.record.attaches.push({ role: 'receiver', address, refused: 'amqp:not-found' });
      link.close({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
      return;
    }
    if (!this.isAuthorized(connection, address)) {
      this.record.attaches.push({ role: 'receiver', address, refused: 'amqp:unauthorized-access' });
      link.close({ condition: 'amqp:unauthorized-access', description: `Unauthorized access to '${address}'.` });
      return;
    }
    this.record.attaches.push({
      role: 'receiver',
      address,
      sndSettleMode: link.remote.attach.snd_settle_mode,
      rcvSettleMode: link.remote.attach.rcv_settle_mode,
    });
    this.registerConsumer(link, entity);
  }

  private dropConsumer(link: Link): void {
    if (link.entity) this.consumers.get(link.entity)?.delete(link);
  }

  private registerConsumer(link: Link, entity: Entity): void {
    link.entity = entity;
    // rhea echoes a drain only while credit is left; a client whose last credit was used by a
    // transfer in flight still waits for the echo (and closes the link when it does not come).
    link._get_drain = function (this: Link): boolean {
      if (this._draining && this._drained) {
        this.delivery_count += this.credit;
        this.credit = 0;
        return true;
      }
      return false;
    };
    let set = this.consumers.get(entity);
    if (!set) {
      set = new Set();
      this.consumers.set(entity, set);
    }
    set.add(link);
  }

  private pumpEntity(entity: Entity): void {
    for (const link of this.consumers.get(entity) ?? []) this.pumpLink(link);
  }

  /** Sends visible messages while the link has credit; answers a drain once nothing is left to send. */
  private pumpLink(link: Link): void {
    const entity: Entity | undefined = link?.entity;
    if (!entity || !link.is_open()) return;
    const receiveAndDelete = link.remote.attach?.snd_settle_mode === 1;
    // rhea counts credit down only when a transfer leaves, not when it is queued: without this
    // budget one credit would lock (and queue) every message in the entity.
    let budget = link.credit - unsentDeliveries(link);
    while (budget > 0 && link.session.outgoing.available() > 0) {
      const lock = this.broker.lockNext(entity);
      if (!lock) break;
      budget--;
      const m = lock.message;
      const body = {
        ...m.amqp,
        message_id: m.messageId,
        delivery_count: m.deliveryCount,
        application_properties: m.applicationProperties,
        message_annotations: {
          ...m.messageAnnotations,
          'x-opt-sequence-number': rhea.types.wrap_long(m.sequenceNumber),
          'x-opt-enqueued-time': m.enqueuedTime,
          'x-opt-locked-until': new Date(lock.lockedUntil),
        },
      };
      this.broker.delivered(lock);
      const delivery = link.send(body, dotnetGuidBytes(lock.token));
      if (receiveAndDelete) {
        this.broker.settle(lock, { kind: 'complete' });
      } else {
        this.deliveryLocks.set(delivery, lock);
      }
    }
    if (link.drainRequested) {
      link.drainRequested = false;
      link.set_drained(true);
    }
  }

  private onDisposition(delivery: Delivery, settlement: Settlement): void {
    const lock = this.deliveryLocks.get(delivery);
    if (!lock) return;
    this.deliveryLocks.delete(delivery);
    const result = this.broker.settle(lock, settlement);
    this.record.settlements.push({ kind: settlement.kind, ok: result.ok, via: 'link' });
    // Peek-lock links settle in mode "second": the client waits for our settled disposition, an
    // error state (lock lost) makes its settle call fail.
    const outcomes = rhea.message as unknown as {
      accepted(): { described(): unknown };
      rejected(f: unknown): { described(): unknown };
    };
    const state = result.ok
      ? outcomes.accepted().described()
      : outcomes.rejected({ error: { condition: result.condition, description: result.description } }).described();
    delivery.update(true, state);
    // The client settles its side on seeing ours and sends nothing more; forget the delivery.
    delivery.remote_settled = true;
  }

  // ---- incoming messages: CBS, management, queue sends ----

  private onMessage(ctx: any): void {
    const link: Link = ctx.receiver;
    const connection: Connection = ctx.connection;
    const address: string = link.remote.attach?.target?.address ?? '';
    const delivery: Delivery = ctx.delivery;
    if (address === '$cbs') {
      const msg = ctx.message;
      const result = this.handlePutToken(msg, connection);
      delivery.accept();
      this.reply(connection, msg, { 'status-code': result.code, 'status-description': result.description });
      return;
    }
    if (/\/\$management$/i.test(address)) {
      delivery.accept();
      this.handleManagement(address.replace(/\/\$management$/i, ''), ctx.message, connection);
      return;
    }
    const entity = this.broker.entity(address);
    if (!entity || !this.isAuthorized(connection, address)) {
      delivery.reject({
        condition: entity ? 'amqp:unauthorized-access' : 'amqp:not-found',
        description: `cannot send to '${address}'`,
      });
      return;
    }
    const messages = ctx.format === BATCH_MESSAGE_FORMAT ? unpackBatch(ctx.message as Buffer) : [ctx.message];
    this.record.transfers.push({ address, format: ctx.format ?? 0, messages: messages.length });
    for (const m of messages) this.broker.enqueue(entity, m);
    delivery.accept();
  }

  private reply(connection: Connection, request: any, appProps: Record<string, unknown>, body?: unknown): void {
    const link = this.state(connection).replyLinks.get(String(request.reply_to ?? ''));
    if (!link?.is_open()) return;
    link.send({
      correlation_id: request.message_id,
      to: request.reply_to,
      application_properties: appProps,
      ...(body !== undefined ? { body } : {}),
    });
  }

  private handleManagement(entityPath: string, request: any, connection: Connection): void {
    const operation = String(request.application_properties?.operation ?? '');
    const entity = this.broker.entity(entityPath);
    const respond = (statusCode: number, statusDescription: string, body?: unknown, errorCondition?: string) => {
      this.record.management.push({ entity: entityPath, operation, statusCode });
      this.reply(
        connection,
        request,
        { statusCode, statusDescription, ...(errorCondition ? { errorCondition } : {}) },
        body,
      );
    };
    if (!entity)
      return respond(404, `The messaging entity '${entityPath}' could not be found.`, undefined, 'amqp:not-found');
    if (!this.isAuthorized(connection, `${entityPath}/$management`))
      return respond(401, 'Unauthorized', undefined, 'amqp:unauthorized-access');
    const body = (request.body ?? {}) as Record<string, unknown>;
    const tokens = toArray(body['lock-tokens']).map(uuidToString);
    switch (operation) {
      case 'com.microsoft:renew-lock': {
        const expirations: Date[] = [];
        for (const t of tokens) {
          const until = this.broker.renew(t);
          if (until === undefined) {
            return respond(
              410,
              `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. Reference:${t}`,
              undefined,
              'com.microsoft:message-lock-lost',
            );
          }
          expirations.push(new Date(until));
        }
        return respond(200, 'OK', { expirations });
      }
      case 'com.microsoft:update-disposition': {
        const status = String(body['disposition-status'] ?? '');
        const settlement: Settlement | undefined =
          status === 'completed'
            ? { kind: 'complete' }
            : status === 'abandoned'
              ? { kind: 'abandon' }
              : status === 'defered'
                ? { kind: 'defer' }
                : status === 'suspended'
                  ? {
                      kind: 'deadLetter',
                      ...(body['deadletter-reason'] !== undefined ? { reason: String(body['deadletter-reason']) } : {}),
                      ...(body['deadletter-description'] !== undefined
                        ? { description: String(body['deadletter-description']) }
                        : {}),
                    }
                  : undefined;
        if (!settlement) return respond(400, `unknown disposition-status '${status}'`, undefined, 'amqp:invalid-field');
        for (const t of tokens) {
          const lock = this.broker.findLock(t);
          if (!lock) {
            this.record.settlements.push({ kind: settlement.kind, ok: false, via: 'management' });
            return respond(
              410,
              `The lock supplied is invalid. Reference:${t}`,
              undefined,
              'com.microsoft:message-lock-lost',
            );
          }
          this.broker.settle(lock, settlement);
          this.record.settlements.push({ kind: settlement.kind, ok: true, via: 'management' });
        }
        return respond(200, 'OK', {});
      }
      case 'com.microsoft:peek-message': {
        const from = toNumber(body['from-sequence-number']) ?? 1;
        const count = toNumber(body['message-count']) ?? 1;
        const found = this.broker.peek(entity, from, count);
        if (found.length === 0) return respond(204, 'No Content');
        const messages = found.map((m) => ({
          message: rhea.message.encode({
            ...m.amqp,
            message_id: m.messageId,
            delivery_count: m.deliveryCount,
            application_properties: m.applicationProperties,
            message_annotations: {
              ...m.messageAnnotations,
              'x-opt-sequence-number': rhea.types.wrap_long(m.sequenceNumber),
              'x-opt-enqueued-time': m.enqueuedTime,
            },
          }),
        }));
        return respond(200, 'OK', { messages });
      }
      default:
        return respond(
          501,
          `The operation '${operation}' is not supported by the stand-in.`,
          undefined,
          'amqp:not-implemented',
        );
    }
  }
}

/** Deliveries queued on the session for `link` whose transfer has not gone out yet. */
function unsentDeliveries(link: Link): number {
  const outgoing = link.session.outgoing;
  let n = 0;
  for (let id = outgoing.next_pending_delivery; id < outgoing.next_delivery_id; id++) {
    if (outgoing.deliveries.by_id(id)?.link === link) n++;
  }
  return n;
}

/** Lock tokens travel as delivery tags in .NET GUID byte order (first three groups little-endian). */
export function dotnetGuidBytes(uuid: string): Buffer {
  const b = Buffer.from(uuid.replace(/-/g, ''), 'hex');
  return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8)]);
}

function uuidToString(v: unknown): string {
  const b = Buffer.isBuffer(v)
    ? v
    : Buffer.isBuffer((v as { value?: unknown })?.value)
      ? (v as { value: Buffer }).value
      : undefined;
  if (!b) return String(v);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function toArray(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v && Array.isArray((v as { value?: unknown }).value)) return (v as { value: unknown[] }).value;
  return v === undefined ? [] : [v];
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v)) return Number(v.readBigInt64BE(0));
  if (v && typeof v === 'object' && 'value' in v) return toNumber((v as { value: unknown }).value);
  return undefined;
}

/** Unpacks a batch transfer: an envelope whose data sections each hold one encoded message. */
function unpackBatch(payload: Buffer): Array<Record<string, unknown>> {
  const envelope = rhea.message.decode(payload) as { body?: { content?: unknown; multiple?: boolean } };
  const content = envelope.body?.content;
  const parts = envelope.body?.multiple ? (content as Buffer[]) : content ? [content as Buffer] : [];
  return parts.map((p) => rhea.message.decode(p) as Record<string, unknown>);
}
