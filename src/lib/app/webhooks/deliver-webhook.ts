import type { LookupFunction } from 'node:net';
import { z } from 'zod';
import { JOB_STATUSES } from '../../core/job.js';
import { retryDelaySec, signWebhook, type DeliveryAttempt, type DeliveryOutcome } from '../../core/webhooks.js';
import type { Deps } from '../../deps.js';
import { ConfigurationError, ValidationError } from '../../errors.js';
import {
  DEAD_LETTER_DESCRIPTION_FIELD,
  DEAD_LETTER_REASON_FIELD,
  DeadLetterRequested,
  type MessageBody,
} from '../../ports/queue.js';
import type { DeliveryMessage, Webhooks } from './notifier.js';
import { checkWebhookUrl, type CheckedEndpoint } from './url-guard.js';

const MessageSchema = z.object({
  webhookId: z.string().regex(/^msg_[A-Za-z0-9_-]{1,64}$/),
  jobId: z.string().min(1).max(128),
  target: z.object({ kind: z.enum(['subscription', 'job']), id: z.string().min(1).max(128) }),
  attempt: z.number().int().min(1).max(100),
  payload: z.object({
    type: z.string().regex(new RegExp(`^job\\.(${JOB_STATUSES.join('|')})$`)),
    timestamp: z.string(),
    data: z.record(z.string(), z.unknown()),
  }),
});

/** Bytes of a receiver's answer read before the connection is dropped (the body is not used). */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface DeliveryResult {
  readonly outcome: DeliveryOutcome;
  readonly statusCode?: number;
  readonly error?: string;
}

/** The webhook machinery of a host; a host built without it cannot deliver. */
export function webhooksOf(deps: Deps): Webhooks {
  if (!deps.webhooks) throw new ConfigurationError('webhooks are not set up on this host');
  return deps.webhooks;
}

/**
 * Makes one delivery attempt of a message from the webhooks queue: looks up the target and its
 * secret, checks the URL again (settings or DNS may have changed since it was stored), POSTs the
 * signed body to the checked address with a timeout, and records the attempt. A failure schedules
 * the next attempt on the queue after the configured delay (queue visibility), until the schedule
 * runs out; then the delivery is dead-lettered. Receiver failures never throw (the message is
 * done), except that on Service Bus a dead-lettered message throws {@link DeadLetterRequested};
 * the app's own storage failing throws too, so the host redelivers.
 */
export async function handleWebhookMessage(deps: Deps, body: unknown): Promise<DeliveryResult> {
  const webhooks = webhooksOf(deps);
  const parsed = MessageSchema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    await deadLetter(deps, body, 'MalformedWebhookMessage', detail);
    return { outcome: 'dropped', error: detail };
  }
  const message = parsed.data as DeliveryMessage;
  const { settings, store } = webhooks;
  const target =
    message.target.kind === 'subscription'
      ? await store.getSubscription(message.target.id)
      : await store.getJobTarget(message.target.id);
  const started = deps.now();
  const record = (outcome: DeliveryOutcome, extra: Partial<DeliveryAttempt>, host: string) =>
    store.recordAttempt({
      webhookId: message.webhookId,
      jobId: message.jobId,
      ...(message.target.kind === 'subscription' && { subscriptionId: message.target.id }),
      eventType: message.payload.type,
      attempt: message.attempt,
      at: started.toISOString(),
      outcome,
      durationMs: 0,
      host,
      ...extra,
    });
  if (!target) {
    const error =
      message.target.kind === 'subscription' ? 'the subscription was deleted' : 'the job has no notify target';
    await record('dropped', { error }, '');
    return { outcome: 'dropped', error };
  }
  const host = safeHost(target.url);
  const finalAttempt = retryDelaySec(settings.retryScheduleSec, message.attempt) === undefined;
  if (finalAttempt && deps.queues.kind === 'servicebus') {
    // A redelivery of a final attempt already dead-lettered (the Functions host cannot dead-letter,
    // so the message keeps failing until Service Bus moves it): no second POST, no second record.
    const done = await store.deliveriesOfJob(message.jobId, 200);
    const dead = done.find(
      (a) => a.webhookId === message.webhookId && a.attempt === message.attempt && a.outcome === 'dead-lettered',
    );
    if (dead)
      throw new DeadLetterRequested(WEBHOOK_RETRIES_EXHAUSTED, describeAttempt(message.attempt, host, dead.error));
  }

  const t0 = performance.now();
  let result: { ok: boolean; statusCode?: number; error?: string };
  try {
    const checked = await checkWebhookUrl(target.url, settings, 'url', webhooks.resolve);
    const text = JSON.stringify(message.payload);
    const timestamp = Math.floor(deps.now().getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'cloud-job-orchestrator-webhooks/1',
      'webhook-id': message.webhookId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(target.secret, message.webhookId, timestamp, text),
    };
    const statusCode = await postPinned(checked, headers, text, settings.timeoutMs);
    result =
      statusCode >= 200 && statusCode < 300
        ? { ok: true, statusCode }
        : { ok: false, statusCode, error: `HTTP ${statusCode}` };
  } catch (error) {
    const text =
      error instanceof ValidationError
        ? `refused: ${error.issues.map((i) => i.message).join('; ')}`
        : describe(error, settings.timeoutMs);
    result = { ok: false, error: text.slice(0, 512) };
  }
  const durationMs = Math.round(performance.now() - t0);
  const extra = {
    durationMs,
    ...(result.statusCode !== undefined && { statusCode: result.statusCode }),
    ...(result.error && { error: result.error }),
  };

  if (result.ok) {
    await record('delivered', extra, host);
    return { outcome: 'delivered', ...extra };
  }
  const delay = retryDelaySec(settings.retryScheduleSec, message.attempt);
  if (delay === undefined) {
    await record('dead-lettered', extra, host);
    await deadLetter(deps, message, WEBHOOK_RETRIES_EXHAUSTED, describeAttempt(message.attempt, host, result.error));
    return { outcome: 'dead-lettered', ...extra };
  }
  const nextRetryAt = new Date(started.getTime() + delay * 1000).toISOString();
  await record('failed', { ...extra, nextRetryAt }, host);
  const next: DeliveryMessage = { ...message, attempt: message.attempt + 1 };
  await deps.queues.send(deps.config.webhookQueue, [next as unknown as MessageBody], { delaySec: delay });
  return { outcome: 'failed', ...extra };
}

const WEBHOOK_RETRIES_EXHAUSTED = 'WebhookRetriesExhausted';

const describeAttempt = (attempt: number, host: string, error: string | undefined) =>
  `attempt ${attempt} to ${host}: ${error ?? 'failed'}`;

/**
 * Parks a message in the webhooks queue's dead-letter queue with its reason. Storage: sent to the
 * poison queue (the message itself is then done). Service Bus, where nothing can send into a
 * dead-letter queue: thrown as {@link DeadLetterRequested}, which our consumers turn into a
 * dead-letter at once and the Functions host into failed deliveries until Service Bus's max
 * delivery count moves the message (a redelivered final attempt is not POSTed again, see above).
 */
async function deadLetter(deps: Deps, body: unknown, reason: string, description: string): Promise<void> {
  deps.log.warn('webhook delivery dead-lettered', { reason, description: description.slice(0, 512) });
  if (deps.queues.kind === 'servicebus') throw new DeadLetterRequested(reason, description.slice(0, 1024));
  const bag = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : { body };
  await deps.queues.send(deps.queues.deadLetterQueueOf(deps.config.webhookQueue), [
    { ...bag, [DEAD_LETTER_REASON_FIELD]: reason, [DEAD_LETTER_DESCRIPTION_FIELD]: description.slice(0, 1024) },
  ]);
}

/** The URL's host for records and logs: paths and queries may hold tokens and are never shown. */
function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

function describe(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; code?: string; message?: string } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return [e?.code, e?.message].filter(Boolean).join(': ') || 'delivery failed';
}

/**
 * One POST whose connection can only go to the checked address: DNS is answered from the check, and
 * TLS still verifies the host name. Redirects are not followed (a 3xx counts as a failure), so a
 * receiver cannot bounce the request somewhere the check did not see.
 */
async function postPinned(
  to: CheckedEndpoint,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<number> {
  const mod = to.url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const lookup: LookupFunction = (_host, opts, callback) => {
    if (opts.all) callback(null, [{ address: to.address, family: to.family }]);
    else callback(null, to.address, to.family);
  };
  const payload = Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = mod.request(
      to.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(payload.length) },
        lookup,
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
