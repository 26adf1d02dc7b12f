import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type {
  ServiceBusAdministrationClient,
  ServiceBusClient,
  ServiceBusClientOptions,
  ServiceBusMessage,
  ServiceBusMessageBatch,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSender,
} from '@azure/service-bus';
import type { Config } from '../config.js';
import { PayloadTooLargeError } from '../errors.js';
import {
  DEAD_LETTER_DESCRIPTION_FIELD,
  DEAD_LETTER_REASON_FIELD,
  type MessageBody,
  type QueueDepth,
  type QueueTransport,
  type ReceiveOptions,
  type ReceivedMessage,
  type SendOptions,
} from '../ports/queue.js';
import { azureCredential } from './azure-credential.js';
import { parseServiceBusSettings, type ServiceBusSettings } from './servicebus-settings.js';

const DEAD_LETTER_SUFFIX = '/$deadletterqueue';
/** Dead-letter reason for messages whose body is not a JSON object. */
export const INVALID_BODY_REASON = 'InvalidMessageBody';
/** Field carrying the text of an undecodable body received from a dead-letter queue. */
export const INVALID_BODY_FIELD = '$invalidBody';
/** Largest receive we ask for at once; more only lengthens the time messages sit locked unprocessed. */
const MAX_RECEIVE = 256;
/** Service Bus caps DeadLetterReason / DeadLetterErrorDescription (application properties) at 4096 chars. */
const MAX_DEAD_LETTER_TEXT = 4096;
/** How long a receive keeps collecting after its first message (see receiveQuickly). */
const TOP_UP_WAIT_MS = 50;
/** A delayed abandon must land safely before the lock runs out, or it fails with MessageLockLost. */
const ABANDON_LOCK_MARGIN_MS = 2_000;

export interface ServiceBusTransportOptions {
  /** Settings to use instead of parsing `config.env`. */
  readonly settings?: ServiceBusSettings;
  /** Overrides `ServiceBus__administrationEndpoint` (tests point it at the HTTP stand-in). */
  readonly administrationEndpoint?: string;
  /** Credential for identity-based access; defaults to the shared DefaultAzureCredential. */
  readonly credential?: TokenCredential;
  /** Lock duration of queues created by `ensure` (default WORKER_LOCK_SEC; Service Bus allows 5 s–5 min). */
  readonly lockDurationSec?: number;
  /** Max delivery count of queues created by `ensure` (default QUEUE_MAX_DELIVERIES). */
  readonly maxDeliveryCount?: number;
  /** Passed to the ServiceBusClient (retry options in tests). */
  readonly clientOptions?: ServiceBusClientOptions;
}

/**
 * Azure Service Bus queues (the emulator or a wire-level stand-in locally). Bodies are JSON
 * (`contentType: application/json`), what a Functions Service Bus trigger binds to an object.
 *
 * Service Bus semantics behind the port:
 * - the lock duration is a property of the queue, not of a receive: `ReceiveOptions.lockSec` is
 *   honoured only through `ensure`, which creates queues with that duration;
 * - the SDK's `deliveryCount` is 0 on the first delivery (it is the AMQP header value); the port's
 *   is 1-based, so we add one;
 * - the SDK's automatic lock renewal is switched off: the worker renews explicitly, and a consumer
 *   that stops renewing must lose its lock after the queue's lock duration;
 * - Service Bus cannot delay an abandon; `abandon(delaySec)` keeps the lock and abandons after the
 *   delay, or — when the delay outlasts the lock — lets the lock expire, which redelivers with the
 *   same delivery-count increment.
 */
export class ServiceBusTransport implements QueueTransport {
  readonly kind = 'servicebus' as const;
  private readonly senders = new Map<string, ServiceBusSender>();
  private readonly receivers = new Map<string, ServiceBusReceiver>();
  /** The SDK refuses concurrent receiveMessages on one receiver; receives per queue are queued here. */
  private readonly receiveTails = new Map<string, Promise<unknown>>();
  private readonly delayedAbandons = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly client: ServiceBusClient,
    private readonly admin: ServiceBusAdministrationClient,
    private readonly queueDefaults: { readonly lockDurationSec: number; readonly maxDeliveryCount: number },
  ) {}

  /** Builds the transport from the `ServiceBus*` settings; the SDK is loaded only here (cold start). */
  static async create(config: Config, options: ServiceBusTransportOptions = {}): Promise<ServiceBusTransport> {
    const settings = options.settings ?? parseServiceBusSettings(config.env);
    const sb = await import('@azure/service-bus');
    let client: ServiceBusClient;
    let admin: ServiceBusAdministrationClient;
    if (settings.connectionString) {
      client = new sb.ServiceBusClient(settings.connectionString, options.clientOptions ?? {});
      admin = new sb.ServiceBusAdministrationClient(settings.connectionString);
    } else if (settings.fullyQualifiedNamespace) {
      const credential = options.credential ?? (await azureCredential(config));
      client = new sb.ServiceBusClient(settings.fullyQualifiedNamespace, credential, options.clientOptions ?? {});
      admin = new sb.ServiceBusAdministrationClient(settings.fullyQualifiedNamespace, credential);
    } else {
      throw new Error('ServiceBus or ServiceBus__fullyQualifiedNamespace is required');
    }
    const adminEndpoint = options.administrationEndpoint ?? settings.administrationEndpoint;
    // In the Sign phase, i.e. after the SAS/bearer policy signed the https URL it expects.
    if (adminEndpoint) admin.pipeline.addPolicy(administrationEndpointPolicy(adminEndpoint), { phase: 'Sign' });
    return new ServiceBusTransport(client, admin, {
      lockDurationSec: options.lockDurationSec ?? config.worker.lockSec,
      maxDeliveryCount: options.maxDeliveryCount ?? config.maxDeliveries,
    });
  }

  deadLetterQueueOf(queue: string): string {
    return `${baseQueue(queue)}${DEAD_LETTER_SUFFIX}`;
  }

  async send(queue: string, messages: readonly MessageBody[], options?: SendOptions): Promise<void> {
    if (messages.length === 0) return;
    const delayMs = Math.max(0, (options?.delaySec ?? 0) * 1000);
    const scheduled = delayMs > 0 ? new Date(Date.now() + delayMs) : undefined;
    const sender = this.sender(queue);
    // All batches are packed before the first is sent, so a message that cannot fit refuses the
    // whole call instead of leaving it half sent.
    const batches: ServiceBusMessageBatch[] = [await sender.createMessageBatch()];
    for (const body of messages) {
      const message: ServiceBusMessage = {
        body,
        contentType: 'application/json',
        ...(scheduled && { scheduledEnqueueTimeUtc: scheduled }),
      };
      let batch = batches[batches.length - 1]!;
      if (batch.tryAddMessage(message)) continue;
      if (batch.count > 0) {
        batch = await sender.createMessageBatch();
        batches.push(batch);
        if (batch.tryAddMessage(message)) continue;
      }
      // Too large even alone: the claim-check wrapper should have moved it to Blob Storage.
      throw new PayloadTooLargeError(batch.maxSizeInBytes);
    }
    for (const batch of batches) if (batch.count > 0) await sender.sendMessages(batch);
  }

  async receive(queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const receiver = this.receiver(queue);
    const maxMessageCount = Math.max(1, Math.min(MAX_RECEIVE, Math.floor(options.maxMessages)));
    const maxWaitTimeInMs = Math.max(1, Math.round((options.waitSec ?? 1) * 1000));
    const previous = this.receiveTails.get(queue) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => receiveQuickly(receiver, maxMessageCount, maxWaitTimeInMs));
    this.receiveTails.set(queue, run);
    try {
      const messages = await run;
      const out: ReceivedMessage[] = [];
      for (const m of messages) {
        const received = await this.toReceivedOrSetAside(receiver, m, isDeadLetterQueue(queue));
        if (received) out.push(received);
      }
      return out;
    } finally {
      if (this.receiveTails.get(queue) === run) this.receiveTails.delete(queue);
    }
  }

  async depth(queue: string): Promise<QueueDepth> {
    const props = await this.admin.getQueueRuntimeProperties(baseQueue(queue));
    return {
      // Locked messages are part of the active count, as KEDA's scaler sees them.
      active: props.activeMessageCount,
      deadLetter: props.deadLetterMessageCount,
      scheduled: props.scheduledMessageCount,
    };
  }

  async ensure(queues: readonly string[]): Promise<void> {
    const names = [...new Set(queues.map(baseQueue))];
    await Promise.all(
      names.map(async (name) => {
        try {
          await this.admin.createQueue(name, {
            lockDuration: `PT${this.queueDefaults.lockDurationSec}S`,
            maxDeliveryCount: this.queueDefaults.maxDeliveryCount,
          });
        } catch (error) {
          // Create-and-tolerate-conflict is one call per queue where exists-then-create is two.
          const e = error as { code?: string; statusCode?: number };
          if (e.code === 'MessageEntityAlreadyExistsError' || e.statusCode === 409) return;
          // Least privilege: in Azure a worker holds only Data Receiver on its queue, which carries no
          // Manage claim, and the queues are declared by infra/bicep. A refusal for a missing claim
          // means "not yours to create"; a missing queue then shows at receive (entity not found).
          if (isMissingManageClaim(error)) return;
          throw error;
        }
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Delayed abandons left pending come back when their locks expire.
    for (const t of this.delayedAbandons) clearTimeout(t);
    this.delayedAbandons.clear();
    const links = [...this.receivers.values(), ...this.senders.values()];
    this.receivers.clear();
    this.senders.clear();
    await Promise.allSettled(links.map((l) => l.close()));
    await this.client.close();
  }

  private sender(queue: string): ServiceBusSender {
    const name = baseQueue(queue);
    let s = this.senders.get(name);
    if (!s) {
      s = this.client.createSender(name);
      this.senders.set(name, s);
    }
    return s;
  }

  /** One receiver per queue name: opening an AMQP link (and its CBS claim) per receive is slow. */
  private receiver(queue: string): ServiceBusReceiver {
    let r = this.receivers.get(queue);
    if (!r) {
      const deadLetter = isDeadLetterQueue(queue);
      r = this.client.createReceiver(baseQueue(queue), {
        receiveMode: 'peekLock',
        maxAutoLockRenewalDurationInMs: 0,
        ...(deadLetter ? { subQueueType: 'deadLetter' as const } : {}),
      });
      this.receivers.set(queue, r);
    }
    return r;
  }

  /**
   * A body that is not a JSON object can never be handled; redelivering it would only burn
   * deliveries. From a queue it is dead-lettered at once with the reason; from a dead-letter queue
   * (where it cannot go further) it is handed over as `{ [INVALID_BODY_FIELD]: text }` so the
   * dead-letter handler can record and complete it.
   */
  private async toReceivedOrSetAside(
    receiver: ServiceBusReceiver,
    m: ServiceBusReceivedMessage,
    fromDeadLetter: boolean,
  ): Promise<ReceivedMessage | undefined> {
    let body: MessageBody;
    try {
      body = decodeBody(m.body);
    } catch (error) {
      if (fromDeadLetter) return this.toReceived(receiver, m, { [INVALID_BODY_FIELD]: rawText(m.body) });
      await receiver.deadLetterMessage(m, {
        deadLetterReason: INVALID_BODY_REASON,
        deadLetterErrorDescription: (error instanceof Error ? error.message : String(error)).slice(
          0,
          MAX_DEAD_LETTER_TEXT,
        ),
      });
      return undefined;
    }
    return this.toReceived(receiver, m, body);
  }

  private toReceived(
    receiver: ServiceBusReceiver,
    m: ServiceBusReceivedMessage,
    decoded: MessageBody,
  ): ReceivedMessage {
    let body = decoded;
    if (m.deadLetterReason !== undefined || m.deadLetterErrorDescription !== undefined) {
      // Service Bus keeps the reason beside the body; the port promises it inside.
      body = {
        ...body,
        [DEAD_LETTER_REASON_FIELD]: m.deadLetterReason ?? '',
        [DEAD_LETTER_DESCRIPTION_FIELD]: m.deadLetterErrorDescription ?? '',
      };
    }
    return {
      id: m.messageId !== undefined ? String(m.messageId) : String(m.sequenceNumber ?? ''),
      body,
      deliveryCount: m.deliveryCount === undefined ? 1 : m.deliveryCount + 1,
      ...(m.enqueuedTimeUtc ? { enqueuedAt: m.enqueuedTimeUtc } : {}),
      complete: async () => {
        await receiver.completeMessage(m);
      },
      abandon: async (delaySec = 0) => {
        const delayMs = Math.round(delaySec * 1000);
        if (delayMs <= 0) return receiver.abandonMessage(m);
        const lockLeftMs = (m.lockedUntilUtc?.getTime() ?? 0) - Date.now() - ABANDON_LOCK_MARGIN_MS;
        if (delayMs >= lockLeftMs) return;
        const timer = setTimeout(() => {
          this.delayedAbandons.delete(timer);
          // A failure here means the lock is gone already, and the message is back in the queue anyway.
          receiver.abandonMessage(m).catch(() => undefined);
        }, delayMs);
        timer.unref();
        this.delayedAbandons.add(timer);
      },
      deadLetter: async (reason: string, description: string) => {
        await receiver.deadLetterMessage(m, {
          deadLetterReason: reason.slice(0, MAX_DEAD_LETTER_TEXT),
          deadLetterErrorDescription: description.slice(0, MAX_DEAD_LETTER_TEXT),
        });
      },
      renewLock: async () => {
        await receiver.renewMessageLock(m);
      },
    };
  }
}

/**
 * In peek-lock mode the SDK keeps collecting for up to a second after the first message arrives
 * when fewer than `max` are there — a second of latency on every pick-up from a quiet queue. Asking
 * for one message (which returns as soon as it arrives) and then topping up with a short wait bounds
 * that to {@link TOP_UP_WAIT_MS}.
 */
async function receiveQuickly(
  receiver: ServiceBusReceiver,
  max: number,
  maxWaitTimeInMs: number,
): Promise<ServiceBusReceivedMessage[]> {
  const first = await receiver.receiveMessages(1, { maxWaitTimeInMs });
  if (first.length === 0 || max === 1) return first;
  try {
    return [...first, ...(await receiver.receiveMessages(max - 1, { maxWaitTimeInMs: TOP_UP_WAIT_MS }))];
  } catch {
    // The first message is locked to us already; hand it over rather than let its lock run out.
    return first;
  }
}

/** 401/403 because the caller's rights lack Manage (not because its credential is invalid). */
function isMissingManageClaim(error: unknown): boolean {
  const e = error as { statusCode?: number; message?: unknown };
  if (e.statusCode !== 401 && e.statusCode !== 403) return false;
  return /\bclaims?\b/i.test(typeof e.message === 'string' ? e.message : String(e.message ?? ''));
}

function isDeadLetterQueue(queue: string): boolean {
  return queue.toLowerCase().endsWith(DEAD_LETTER_SUFFIX);
}

function baseQueue(queue: string): string {
  return isDeadLetterQueue(queue) ? queue.slice(0, -DEAD_LETTER_SUFFIX.length) : queue;
}

/**
 * The SDK decodes a data section holding JSON into an object; other senders (the portal, another
 * SDK) may deliver a string or bytes. Anything that is not a JSON object is rejected.
 */
export function decodeBody(raw: unknown): MessageBody {
  let value: unknown = raw;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) value = Buffer.from(value).toString('utf8');
  if (typeof value === 'string') value = JSON.parse(value);
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new Error('Service Bus message body is not a JSON object');
  return value as MessageBody;
}

function rawText(raw: unknown): string {
  const text =
    Buffer.isBuffer(raw) || raw instanceof Uint8Array
      ? Buffer.from(raw).toString('utf8')
      : typeof raw === 'string'
        ? raw
        : (JSON.stringify(raw) ?? String(raw));
  return text.slice(0, 10_000);
}

/**
 * Sends administration requests to `endpoint` instead of `https://<namespace>/`. The SDK builds
 * the https URL from the namespace and signs it; this runs after signing and only swaps the origin,
 * so a local HTTP stand-in or emulator can answer. Production leaves the setting unset.
 */
export function administrationEndpointPolicy(endpoint: string): PipelinePolicy {
  const target = new URL(endpoint);
  const basePath = target.pathname.replace(/\/+$/, '');
  return {
    name: 'serviceBusAdministrationEndpoint',
    sendRequest(request, next) {
      const url = new URL(request.url);
      url.protocol = target.protocol;
      url.host = target.host;
      url.pathname = `${basePath}${url.pathname}`;
      request.url = url.toString();
      if (target.protocol === 'http:') request.allowInsecureConnection = true;
      return next(request);
    },
  };
}
