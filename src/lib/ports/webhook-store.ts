import type { DeliveryAttempt, JobNotifyTarget, Subscription } from '../core/webhooks.js';

/**
 * Webhook subscriptions, per-job notify targets (both with their signing secrets) and the record of
 * every delivery attempt. Secrets are read only to sign a delivery.
 */
export interface WebhookStore {
  createSubscription(sub: Subscription): Promise<void>;
  /** `undefined` when no such subscription (including ids that are not well-formed). */
  getSubscription(id: string): Promise<Subscription | undefined>;
  /** Every subscription, oldest first (at most `limit`). */
  listSubscriptions(limit?: number): Promise<Subscription[]>;
  /** True when it existed. */
  deleteSubscription(id: string): Promise<boolean>;
  /** Stores the notify target of one job unless it has one; true when this call stored it. */
  createJobTarget(target: JobNotifyTarget): Promise<boolean>;
  getJobTarget(jobId: string): Promise<JobNotifyTarget | undefined>;
  /** Records one attempt under its job and, for a subscription's, under the subscription too. */
  recordAttempt(attempt: DeliveryAttempt): Promise<void>;
  /** Attempts newest first. */
  deliveriesOfJob(jobId: string, limit: number): Promise<DeliveryAttempt[]>;
  deliveriesOfSubscription(id: string, limit: number): Promise<DeliveryAttempt[]>;
  /** Creates the tables if needed. */
  ensure(): Promise<void>;
}
