import { randomUUID } from 'node:crypto';

/**
 * The in-memory state of the Service Bus stand-in: queues, their dead-letter sub-queues, peek-locks
 * and delivery counts. Both wire fronts (AMQP and the ATOM administration endpoint) share one broker.
 *
 * Semantics follow the documented Service Bus behaviour, not what our adapter happens to need:
 * - a peek-locked message stays invisible until its lock expires or it is settled;
 * - abandon and lock expiry both count a delivery; once a message has been delivered
 *   `maxDeliveryCount` times, the next abandon/expiry moves it to `<queue>/$deadletterqueue`
 *   with reason `MaxDeliveryCountExceeded`;
 * - the header delivery-count carries the number of *previous* deliveries (0 on the first one);
 * - the broker stamps a message id when the sender set none, a sequence number and an enqueued time;
 * - locks survive the link that took them (settling later through `$management` works until expiry).
 */

/** A clock the tests can drive; the real one reads `Date.now()`. */
export interface BrokerClock {
  now(): number;
}

export interface QueueOptions {
  /** Peek-lock duration; Service Bus default PT1M. */
  readonly lockDurationMs?: number;
  /** Deliveries before dead-lettering; Service Bus default 10. */
  readonly maxDeliveryCount?: number;
}

/** The parts of an AMQP message the broker keeps; annotations are re-stamped on every delivery. */
export interface StoredMessage {
  readonly sequenceNumber: number;
  readonly messageId: string;
  readonly enqueuedTime: Date;
  /** Deliveries so far (the next delivery's header delivery-count). */
  deliveryCount: number;
  /** Bare message sections as rhea decoded them (properties, application_properties, body, …). */
  readonly amqp: Record<string, unknown>;
  applicationProperties: Record<string, unknown>;
  messageAnnotations: Record<string, unknown>;
  /** Scheduled enqueue time (ms); the message stays invisible until then. */
  scheduledFor?: number;
  state: 'active' | 'deferred' | 'scheduled';
}

export interface MessageLock {
  /** Lock token, standard (RFC 4122) string form. */
  readonly token: string;
  readonly entity: Entity;
  readonly message: StoredMessage;
  lockedUntil: number;
}

export type SettleResult = { ok: true } | { ok: false; condition: string; description: string };

/** A queue or a dead-letter sub-queue. */
export class Entity {
  /** Visible messages in sequence order. */
  readonly available: StoredMessage[] = [];
  readonly locks = new Map<string, MessageLock>();
  readonly scheduled: StoredMessage[] = [];
  readonly deferred = new Map<number, StoredMessage>();
  readonly createdAt = new Date();
  updatedAt = new Date();
  accessedAt = new Date();

  constructor(
    readonly path: string,
    readonly queue: QueueState,
    readonly isDeadLetter: boolean,
  ) {}

  get lockDurationMs(): number {
    return this.queue.lockDurationMs;
  }

  /** Messages counted as active by the service: visible plus locked (deferred are counted apart). */
  get activeCount(): number {
    return this.available.length + this.locks.size;
  }

  insertAvailable(message: StoredMessage): void {
    message.state = 'active';
    let i = this.available.length;
    while (i > 0 && this.available[i - 1]!.sequenceNumber > message.sequenceNumber) i--;
    this.available.splice(i, 0, message);
  }
}

export class QueueState {
  readonly main: Entity;
  readonly deadLetter: Entity;
  lockDurationMs: number;
  maxDeliveryCount: number;

  constructor(
    readonly name: string,
    options: QueueOptions,
  ) {
    this.lockDurationMs = options.lockDurationMs ?? 60_000;
    this.maxDeliveryCount = options.maxDeliveryCount ?? 10;
    this.main = new Entity(name, this, false);
    this.deadLetter = new Entity(`${name}/$deadletterqueue`, this, true);
  }
}

export interface QueueCounts {
  readonly active: number;
  readonly locked: number;
  readonly deadLetter: number;
  readonly scheduled: number;
  readonly deferred: number;
}

/** Outcome of a settlement request, as the client sends it. */
export type Settlement =
  | { kind: 'complete' }
  | { kind: 'abandon'; annotations?: Record<string, unknown> }
  | { kind: 'defer'; annotations?: Record<string, unknown> }
  | { kind: 'deadLetter'; reason?: string; description?: string; properties?: Record<string, unknown> };

export class Broker {
  readonly queues = new Map<string, QueueState>();
  private nextSequence = 1;
  /** Called when an entity may have become deliverable (new message, expired lock, abandon). */
  onAvailable: (entity: Entity) => void = () => {};

  constructor(readonly clock: BrokerClock) {}

  createQueue(name: string, options: QueueOptions = {}): { created: boolean; queue: QueueState } {
    const key = name.toLowerCase();
    const existing = this.queues.get(key);
    if (existing) return { created: false, queue: existing };
    const queue = new QueueState(name, options);
    this.queues.set(key, queue);
    return { created: true, queue };
  }

  deleteQueue(name: string): boolean {
    return this.queues.delete(name.toLowerCase());
  }

  queue(name: string): QueueState | undefined {
    return this.queues.get(name.toLowerCase());
  }

  /** Resolves `queue` or `queue/$deadletterqueue` (case-insensitive, as Service Bus entity names are). */
  entity(path: string): Entity | undefined {
    const m = /^(.+?)\/\$deadletterqueue$/i.exec(path);
    if (m) return this.queue(m[1]!)?.deadLetter;
    return this.queue(path)?.main;
  }

  enqueue(entity: Entity, amqp: Record<string, unknown>): StoredMessage {
    const properties = (amqp.properties as Record<string, unknown> | undefined) ?? {};
    const annotations = { ...((amqp.message_annotations as Record<string, unknown> | undefined) ?? {}) };
    const scheduledRaw = annotations['x-opt-scheduled-enqueue-time'];
    const scheduledFor =
      scheduledRaw instanceof Date
        ? scheduledRaw.getTime()
        : typeof scheduledRaw === 'number'
          ? scheduledRaw
          : undefined;
    const now = this.clock.now();
    const message: StoredMessage = {
      sequenceNumber: this.nextSequence++,
      // Service Bus assigns a message id when the sender set none (the JS SDK never sets one).
      messageId:
        typeof amqp.message_id === 'string' || typeof amqp.message_id === 'number'
          ? String(amqp.message_id)
          : ((properties.message_id as string | undefined) ?? randomUUID().replace(/-/g, '')),
      enqueuedTime: new Date(scheduledFor && scheduledFor > now ? scheduledFor : now),
      deliveryCount: 0,
      amqp,
      applicationProperties: { ...((amqp.application_properties as Record<string, unknown> | undefined) ?? {}) },
      messageAnnotations: annotations,
      state: 'active',
      ...(scheduledFor !== undefined && scheduledFor > now ? { scheduledFor } : {}),
    };
    entity.accessedAt = new Date(now);
    if (message.scheduledFor !== undefined) {
      message.state = 'scheduled';
      entity.scheduled.push(message);
    } else {
      entity.insertAvailable(message);
      this.onAvailable(entity);
    }
    return message;
  }

  /** Takes the next visible message under a new lock, or undefined when none is visible. */
  lockNext(entity: Entity): MessageLock | undefined {
    const message = entity.available.shift();
    if (!message) return undefined;
    const lock: MessageLock = {
      token: randomUUID(),
      entity,
      message,
      lockedUntil: this.clock.now() + entity.lockDurationMs,
    };
    entity.locks.set(lock.token, lock);
    entity.accessedAt = new Date(this.clock.now());
    return lock;
  }

  /** Marks a lock's delivery as made: the stored delivery count advances after the transfer is built. */
  delivered(lock: MessageLock): void {
    lock.message.deliveryCount++;
  }

  findLock(token: string): MessageLock | undefined {
    const t = token.toLowerCase();
    for (const q of this.queues.values()) {
      const lock = q.main.locks.get(t) ?? q.deadLetter.locks.get(t);
      if (lock) return this.isExpired(lock) ? undefined : lock;
    }
    return undefined;
  }

  isExpired(lock: MessageLock): boolean {
    return lock.lockedUntil <= this.clock.now() || lock.entity.locks.get(lock.token) !== lock;
  }

  renew(token: string): number | undefined {
    const lock = this.findLock(token);
    if (!lock) return undefined;
    lock.lockedUntil = this.clock.now() + lock.entity.lockDurationMs;
    return lock.lockedUntil;
  }

  settle(lock: MessageLock, settlement: Settlement): SettleResult {
    if (this.isExpired(lock)) {
      this.sweep();
      return {
        ok: false,
        condition: 'com.microsoft:message-lock-lost',
        description: `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. Reference:${lock.token}`,
      };
    }
    const { entity, message } = lock;
    entity.locks.delete(lock.token);
    switch (settlement.kind) {
      case 'complete':
        return { ok: true };
      case 'abandon':
        Object.assign(message.applicationProperties, settlement.annotations ?? {});
        this.release(entity, message);
        return { ok: true };
      case 'defer':
        Object.assign(message.applicationProperties, settlement.annotations ?? {});
        message.state = 'deferred';
        entity.deferred.set(message.sequenceNumber, message);
        return { ok: true };
      case 'deadLetter':
        if (entity.isDeadLetter) {
          // A dead-lettered message cannot be dead-lettered again; Service Bus keeps it in the DLQ.
          this.release(entity, message);
          return { ok: true };
        }
        Object.assign(message.applicationProperties, settlement.properties ?? {});
        this.moveToDeadLetter(entity.queue, message, settlement.reason, settlement.description);
        return { ok: true };
      default: {
        const never: never = settlement;
        throw new Error(`unknown settlement ${JSON.stringify(never)}`);
      }
    }
  }

  /** Expires due locks and releases due scheduled messages; called by a timer and by the tests' clock. */
  sweep(): void {
    const now = this.clock.now();
    for (const q of this.queues.values()) {
      for (const entity of [q.main, q.deadLetter]) {
        let changed = false;
        for (const lock of [...entity.locks.values()]) {
          if (lock.lockedUntil <= now) {
            entity.locks.delete(lock.token);
            this.release(entity, lock.message, false);
            changed = true;
          }
        }
        for (let i = entity.scheduled.length - 1; i >= 0; i--) {
          const m = entity.scheduled[i]!;
          if ((m.scheduledFor ?? 0) <= now) {
            entity.scheduled.splice(i, 1);
            delete m.scheduledFor;
            entity.insertAvailable(m);
            changed = true;
          }
        }
        if (changed || entity.available.length > 0) this.onAvailable(entity);
      }
    }
  }

  /** Forces every current lock on `queue` (or on all queues) to expire now, as if the lock duration passed. */
  expireLocks(queue?: string): number {
    let n = 0;
    for (const q of this.queues.values()) {
      if (queue && q.name.toLowerCase() !== queue.toLowerCase()) continue;
      for (const entity of [q.main, q.deadLetter]) {
        for (const lock of entity.locks.values()) {
          lock.lockedUntil = this.clock.now();
          n++;
        }
      }
    }
    this.sweep();
    return n;
  }

  counts(name: string): QueueCounts | undefined {
    const q = this.queue(name);
    if (!q) return undefined;
    return {
      active: q.main.activeCount,
      locked: q.main.locks.size,
      deadLetter: q.deadLetter.activeCount,
      scheduled: q.main.scheduled.length,
      deferred: q.main.deferred.size,
    };
  }

  /** Messages from `fromSequence` on, without locking (peek). */
  peek(entity: Entity, fromSequence: number, count: number): StoredMessage[] {
    const all = [
      ...entity.available,
      ...[...entity.locks.values()].map((l) => l.message),
      ...entity.deferred.values(),
      ...entity.scheduled,
    ]
      .filter((m) => m.sequenceNumber >= fromSequence)
      .sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    return all.slice(0, count);
  }

  private release(entity: Entity, message: StoredMessage, notify = true): void {
    if (!entity.isDeadLetter && message.deliveryCount >= entity.queue.maxDeliveryCount) {
      this.moveToDeadLetter(
        entity.queue,
        message,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${entity.queue.maxDeliveryCount} delivery attempts.`,
      );
      return;
    }
    entity.insertAvailable(message);
    if (notify) this.onAvailable(entity);
  }

  private moveToDeadLetter(queue: QueueState, message: StoredMessage, reason?: string, description?: string): void {
    // Service Bus records the reason in the message's application properties, where receivers read it.
    if (reason !== undefined) message.applicationProperties.DeadLetterReason = reason;
    if (description !== undefined) message.applicationProperties.DeadLetterErrorDescription = description;
    queue.deadLetter.insertAvailable(message);
    this.onAvailable(queue.deadLetter);
  }
}
