import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow, type NotifyRequest } from '../../core/job.js';
import {
  newWebhookSecret,
  SubscriptionRequestSchema,
  type DeliveryAttempt,
  type Subscription,
} from '../../core/webhooks.js';
import type { Deps } from '../../deps.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { webhooksOf } from './deliver-webhook.js';
import { checkWebhookUrl } from './url-guard.js';

/** A subscription as the API shows it: never its secret. */
export type SubscriptionView = Omit<Subscription, 'secret'> & { readonly links: Record<string, string> };

export function subscriptionView(sub: Subscription): SubscriptionView {
  const { secret: _secret, ...rest } = sub;
  return {
    ...rest,
    links: { self: `/api/subscriptions/${sub.id}`, deliveries: `/api/subscriptions/${sub.id}/deliveries` },
  };
}

/** Most subscriptions a deployment holds: every transition is matched against all of them. */
export const MAX_SUBSCRIPTIONS = 200;

/**
 * `POST /api/subscriptions`: validates the body and the URL (scheme, host allow-list, resolved
 * addresses), stores the subscription and returns it with its signing secret — the only time the
 * secret is shown.
 */
export async function createSubscription(deps: Deps, body: unknown): Promise<SubscriptionView & { secret: string }> {
  const webhooks = webhooksOf(deps);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ field: '', message: 'the body must be a JSON object' }]);
  }
  const request = parseOrThrow(SubscriptionRequestSchema, body);
  await checkWebhookUrl(request.url, webhooks.settings, 'url', webhooks.resolve);
  const existing = await webhooks.store.listSubscriptions(MAX_SUBSCRIPTIONS + 1);
  if (existing.length >= MAX_SUBSCRIPTIONS) {
    throw new ValidationError([{ field: '', message: `at most ${MAX_SUBSCRIPTIONS} subscriptions; delete one first` }]);
  }
  const sub: Subscription = {
    id: `sub_${randomBytes(12).toString('base64url')}`,
    url: request.url,
    events: [...request.events],
    ...(request.labels && Object.keys(request.labels).length > 0 && { labels: request.labels }),
    ...(request.description !== undefined && { description: request.description }),
    createdAt: deps.now().toISOString(),
    secret: newWebhookSecret(),
  };
  await webhooks.store.createSubscription(sub);
  webhooks.subscriptions.invalidate();
  return { ...subscriptionView(sub), secret: sub.secret };
}

export async function listSubscriptions(deps: Deps): Promise<SubscriptionView[]> {
  return (await webhooksOf(deps).store.listSubscriptions()).map(subscriptionView);
}

export async function getSubscription(deps: Deps, id: string): Promise<SubscriptionView> {
  const sub = await webhooksOf(deps).store.getSubscription(id);
  if (!sub) throw new NotFoundError('Subscription', id);
  return subscriptionView(sub);
}

/** Deletes it; deliveries already queued for it are dropped (and recorded so) when they come up. */
export async function deleteSubscription(deps: Deps, id: string): Promise<void> {
  const webhooks = webhooksOf(deps);
  if (!(await webhooks.store.deleteSubscription(id))) throw new NotFoundError('Subscription', id);
  webhooks.subscriptions.invalidate();
}

export const DeliveriesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('Attempts to return, newest first (default 100)'),
});

export async function subscriptionDeliveries(deps: Deps, id: string, query: unknown): Promise<DeliveryAttempt[]> {
  const { limit } = parseOrThrow(DeliveriesQuerySchema, query);
  const webhooks = webhooksOf(deps);
  if (!(await webhooks.store.getSubscription(id))) {
    // A deleted subscription's record stays readable; only an id never seen is a 404.
    const attempts = await webhooks.store.deliveriesOfSubscription(id, limit ?? 100);
    if (attempts.length === 0) throw new NotFoundError('Subscription', id);
    return attempts;
  }
  return webhooks.store.deliveriesOfSubscription(id, limit ?? 100);
}

export async function jobDeliveries(deps: Deps, jobId: string, query: unknown): Promise<DeliveryAttempt[]> {
  const { limit } = parseOrThrow(DeliveriesQuerySchema, query);
  if (!(await deps.store.get(jobId))) throw new NotFoundError('Job', jobId);
  return webhooksOf(deps).store.deliveriesOfJob(jobId, limit ?? 100);
}

/** Checks a submission's `notify.url` before anything is stored (400 naming `notify.url`). */
export async function checkNotify(deps: Deps, notify: NotifyRequest): Promise<void> {
  const webhooks = webhooksOf(deps);
  await checkWebhookUrl(notify.url, webhooks.settings, 'notify.url', webhooks.resolve);
}

/**
 * Stores the job's notify target with a new secret, before the job exists (so its first transition
 * finds it). Returns the secret when this call created the target; a racing twin of the same
 * idempotent request finds it made and gets none (its reply replays the job).
 */
export async function registerJobNotify(deps: Deps, jobId: string, notify: NotifyRequest): Promise<string | undefined> {
  const secret = newWebhookSecret();
  const created = await webhooksOf(deps).store.createJobTarget({
    jobId,
    url: notify.url,
    events: [...notify.events],
    secret,
    createdAt: deps.now().toISOString(),
  });
  return created ? secret : undefined;
}
