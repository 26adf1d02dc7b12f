import type { JobEvent, JobRecord } from '../../core/job.js';
import {
  subscriptionMatches,
  webhookIdOf,
  webhookPayload,
  type Subscription,
  type WebhookTarget,
} from '../../core/webhooks.js';
import type { Logger } from '../../deps.js';
import { eventsOf, ForwardingJobStore, type JobStore, type JobUpdate } from '../../ports/job-store.js';
import type { MessageBody, QueueTransport } from '../../ports/queue.js';
import type { WebhookStore } from '../../ports/webhook-store.js';
import type { WebhookSettings } from '../../webhook-settings.js';
import type { ResolveHost } from './url-guard.js';

/** What the webhook use cases need, built once per host (see createDeps). */
export interface Webhooks {
  readonly settings: WebhookSettings;
  readonly store: WebhookStore;
  readonly subscriptions: SubscriptionCache;
  /** DNS for URL checks (tests pass a fake resolver); default: the system resolver. */
  readonly resolve?: ResolveHost;
}

/** A delivery message on the webhooks queue: one event for one target, one attempt. */
export interface DeliveryMessage {
  readonly webhookId: string;
  readonly jobId: string;
  readonly target: WebhookTarget;
  readonly attempt: number;
  readonly payload: ReturnType<typeof webhookPayload>;
}

/**
 * The subscriptions, as this process last read them. Deciding whether a transition needs a delivery
 * must not cost a table read per transition; the list is re-read at most once per
 * WEBHOOK_SUBSCRIPTION_CACHE_SEC (concurrent callers share one read) and at once after this process
 * creates or deletes a subscription.
 */
export class SubscriptionCache {
  private cached: { at: number; subs: Promise<Subscription[]> } | undefined;

  constructor(
    private readonly store: WebhookStore,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  list(): Promise<Subscription[]> {
    const now = this.clock();
    if (!this.cached || now - this.cached.at >= this.ttlMs) {
      const subs = this.store.listSubscriptions();
      this.cached = { at: now, subs };
      // A failed read is not remembered: the next transition tries again.
      subs.catch(() => {
        if (this.cached?.subs === subs) this.cached = undefined;
      });
    }
    return this.cached.subs;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

/** The delivery messages a committed event calls for: one per matching subscription, one for the job's notify. */
export async function deliveriesFor(webhooks: Webhooks, job: JobRecord, event: JobEvent): Promise<DeliveryMessage[]> {
  if (event.type !== 'transition') return [];
  const targets: WebhookTarget[] = [];
  if (job.spec.notify?.events.includes(event.to)) targets.push({ kind: 'job', id: job.id });
  for (const sub of await webhooks.subscriptions.list()) {
    if (subscriptionMatches(sub, job, event.to)) targets.push({ kind: 'subscription', id: sub.id });
  }
  if (targets.length === 0) return [];
  const payload = webhookPayload(job, event);
  return targets.map((target) => ({
    webhookId: webhookIdOf(job.id, event.seq, target),
    jobId: job.id,
    target,
    attempt: 1,
    payload,
  }));
}

/**
 * The job store, plus: after a transition commits, its deliveries go to the webhooks queue in one
 * send — only when a subscription or the job's notify wants it, so a job nobody watches pays
 * nothing but a cached list lookup. A failure here is logged and never fails the job's write
 * (the transition is already committed); the receiver is only ever reached from the queue, so a
 * slow or failing receiver never delays a job.
 */
export class NotifyingJobStore extends ForwardingJobStore {
  constructor(
    inner: JobStore,
    private readonly webhooks: Webhooks,
    private readonly queues: QueueTransport,
    private readonly queue: string,
    private readonly log: Logger,
  ) {
    super(inner);
  }

  /** The same store sending through another transport (the local runner's waking one). */
  withQueues(queues: QueueTransport): NotifyingJobStore {
    return new NotifyingJobStore(this.inner, this.webhooks, queues, this.queue, this.log);
  }

  override async create(job: JobRecord, firstEvent: JobEvent, later: readonly JobEvent[] = []): Promise<void> {
    await this.inner.create(job, firstEvent, later);
    for (const event of [firstEvent, ...later]) await this.notify(job, event);
  }

  override async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    // The mutator may run more than once; the last run is the one that committed.
    let last: JobUpdate | undefined;
    const after = await this.inner.update(id, (current) => (last = mutate(current)));
    // A write may carry several steps (claimed and running at once): each is announced, in order.
    for (const event of last ? eventsOf(last) : []) await this.notify(after, event);
    return after;
  }

  private async notify(job: JobRecord, event: JobEvent): Promise<void> {
    try {
      const messages = await deliveriesFor(this.webhooks, job, event);
      if (messages.length > 0) await this.queues.send(this.queue, messages as unknown as MessageBody[]);
    } catch (error) {
      this.log.error('webhook enqueue failed; the job is unaffected', {
        jobId: job.id,
        seq: event.seq,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
