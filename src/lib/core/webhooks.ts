import { createHash, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { JOB_STATUSES, NotifySchema, type JobEvent, type JobRecord, type JobStatus } from './job.js';

export { NotifySchema };

/**
 * Webhook notifications as the Standard Webhooks specification defines them
 * (https://www.standardwebhooks.com): a JSON body `{type, timestamp, data}` and the headers
 * `webhook-id` (the same on every retry of one message), `webhook-timestamp` (seconds) and
 * `webhook-signature` (`v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the
 * base64-decoded part of a `whsec_` secret). Pure: no I/O.
 */

/** Event types a subscriber can ask for: one per job state, `job.<state>`. */
export const WEBHOOK_EVENTS = JOB_STATUSES;
export type WebhookEvent = JobStatus;

/** The `type` of a delivery's body for a job entering `status`. */
export const eventTypeOf = (status: JobStatus): string => `job.${status}`;

const { url, events } = NotifySchema.shape;

/** The body of `POST /api/subscriptions`. */
export const SubscriptionRequestSchema = z.strictObject({
  url,
  events,
  /** Only jobs carrying every one of these labels (same value) are delivered. */
  labels: z
    .record(z.string().min(1).max(63), z.string().max(128))
    .refine((l) => Object.keys(l).length <= 16, 'at most 16 labels')
    .optional(),
  description: z.string().max(256).optional(),
});
export type SubscriptionRequest = z.infer<typeof SubscriptionRequestSchema>;

/** Who a delivery goes to: a subscription, or the job's own `notify`. */
export type WebhookTarget =
  | { readonly kind: 'subscription'; readonly id: string }
  | { readonly kind: 'job'; readonly id: string };

/** A subscription as stored (the secret never leaves the store except in the 201 of its creation). */
export interface Subscription {
  readonly id: string;
  readonly url: string;
  readonly events: readonly WebhookEvent[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly description?: string;
  readonly createdAt: string;
  readonly secret: string;
}

/** A per-job notify target as stored: the job's `notify` plus its secret. */
export interface JobNotifyTarget {
  readonly jobId: string;
  readonly url: string;
  readonly events: readonly WebhookEvent[];
  readonly secret: string;
  readonly createdAt: string;
}

/** How one attempt ended. `dead-lettered`: it failed and no retry is left. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'dead-lettered' | 'dropped';

/** One delivery attempt, as `GET …/deliveries` shows it. */
export interface DeliveryAttempt {
  readonly webhookId: string;
  readonly jobId: string;
  readonly subscriptionId?: string;
  readonly eventType: string;
  readonly attempt: number;
  readonly at: string;
  readonly outcome: DeliveryOutcome;
  readonly statusCode?: number;
  readonly error?: string;
  readonly durationMs: number;
  readonly nextRetryAt?: string;
  /** The host the attempt was for (never the path or query, which may carry tokens). */
  readonly host: string;
}

/** A new signing secret in the spec's format: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The `webhook-signature` header value for one message. */
export function signWebhook(secret: string, webhookId: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const mac = createHmac('sha256', key).update(`${webhookId}.${timestampSec}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** A stable message id: the same for every attempt of one event to one target, different otherwise. */
export function webhookIdOf(jobId: string, seq: number, target: WebhookTarget): string {
  const digest = createHash('sha256')
    .update(`${jobId}\n${seq}\n${target.kind}:${target.id}`)
    .digest('base64url')
    .slice(0, 26);
  return `msg_${digest}`;
}

/** Whether a subscription wants this job's move into `status`: the event and every label match. */
export function subscriptionMatches(
  sub: Pick<Subscription, 'events' | 'labels'>,
  job: JobRecord,
  status: JobStatus,
): boolean {
  if (!sub.events.includes(status)) return false;
  const labels = job.spec.labels ?? {};
  return Object.entries(sub.labels ?? {}).every(([k, v]) => labels[k] === v);
}

/** The body every delivery of a job event carries (`data` is small and fixed-shape: no job `data`). */
export function webhookPayload(
  job: JobRecord,
  event: JobEvent,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  return {
    type: eventTypeOf(event.to),
    timestamp: event.at,
    data: {
      jobId: job.id,
      status: event.to,
      from: event.from,
      reason: event.reason,
      seq: event.seq,
      ...(job.queue && { queue: job.queue }),
      ...(job.provider && { provider: job.provider }),
      ...(Object.keys(job.spec.labels ?? {}).length > 0 && { labels: job.spec.labels }),
      ...(job.error && { error: { code: job.error.code, message: job.error.message } }),
      ...(job.result?.location && { result: `/api/jobs/${job.id}/result` }),
      links: { job: `/api/jobs/${job.id}`, events: `/api/jobs/${job.id}/events` },
    },
  };
}

/** When retry `attempt + 1` is due after attempt `attempt` failed; undefined when none is left. */
export function retryDelaySec(schedule: readonly number[], attempt: number): number | undefined {
  return schedule[attempt - 1];
}
