import type { SettingInfo } from './config.js';
import { parseCidrList, parseEndpointAllowlist, type AllowedCidr, type AllowEntry } from './core/endpoint-allowlist.js';
import { ConfigurationError } from './errors.js';

/**
 * Settings of webhook notifications (per-job `notify` and subscriptions). Read by the Function App
 * and by the workers, since a transition a worker commits enqueues its deliveries too.
 */
export const WEBHOOK_SETTINGS = [
  {
    name: 'WEBHOOK_ALLOW_HTTP',
    scope: ['app', 'worker'],
    default: 'false',
    description: 'Allows plain http:// webhook URLs (local development). Off: only https:// URLs are accepted.',
  },
  {
    name: 'WEBHOOK_HOST_ALLOWLIST',
    scope: ['app', 'worker'],
    default: '*',
    description:
      'Hosts webhook URLs may name: host[:port], *.domain[:port], IPv4[:port] or [IPv6][:port], comma-separated; `*` (the default) admits any host. Whatever the host, every address it resolves to must be public unless WEBHOOK_ALLOWED_CIDRS admits it.',
  },
  {
    name: 'WEBHOOK_ALLOWED_CIDRS',
    scope: ['app', 'worker'],
    default: '',
    description:
      'Non-public address ranges webhooks may still be delivered to, comma-separated CIDRs (e.g. 127.0.0.1/32 for a receiver on this machine). Empty: loopback, private, link-local (metadata), CGNAT and unspecified addresses are all refused after DNS resolution.',
  },
  {
    name: 'WEBHOOK_RETRY_SCHEDULE_SEC',
    scope: ['app'],
    default: '5,300,1800,7200,18000,36000,36000',
    description:
      'Delays (seconds) before each retry of a failed webhook delivery, comma-separated; after the last one fails the delivery is dead-lettered. The default retries over about 27 hours.',
  },
  {
    name: 'WEBHOOK_TIMEOUT_SEC',
    scope: ['app'],
    default: '10',
    description: 'How long one webhook delivery may take (connect, send, answer) before it counts as failed.',
  },
  {
    name: 'WEBHOOK_SUBSCRIPTIONS_TABLE',
    scope: ['app', 'worker'],
    default: 'webhooksubs',
    description: 'Table of webhook subscriptions and per-job notify targets, with their signing secrets.',
  },
  {
    name: 'WEBHOOK_DELIVERIES_TABLE',
    scope: ['app'],
    default: 'webhookdeliveries',
    description: 'Table recording every webhook delivery attempt, by job and by subscription.',
  },
  {
    name: 'WEBHOOK_SUBSCRIPTION_CACHE_SEC',
    scope: ['app', 'worker'],
    default: '30',
    description:
      'How long a process reuses its list of subscriptions when deciding whether a job transition needs a delivery (a subscription created in another process is seen within this time).',
  },
] as const satisfies readonly SettingInfo[];

export interface WebhookSettings {
  readonly allowHttp: boolean;
  /** `'any'` when the allow-list is `*`. */
  readonly hostAllowlist: 'any' | readonly AllowEntry[];
  readonly allowedCidrs: readonly AllowedCidr[];
  /** Delay before retry n (n = 1…length); attempts in all = length + 1. */
  readonly retryScheduleSec: readonly number[];
  readonly timeoutMs: number;
  readonly subscriptionsTable: string;
  readonly deliveriesTable: string;
  readonly subscriptionCacheMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;
type Name = (typeof WEBHOOK_SETTINGS)[number]['name'];

const read = (env: Env, name: Name): string => {
  const v = env[name]?.trim();
  if (v !== undefined && v !== '') return v;
  return (WEBHOOK_SETTINGS.find((s) => s.name === name) as SettingInfo | undefined)?.default ?? '';
};

const TABLE = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
/** Storage Queues hide a message at most 7 days. */
const MAX_DELAY_SEC = 7 * 24 * 3600 - 60;

/** Parses the webhook settings; throws {@link ConfigurationError} naming each bad one. */
export function parseWebhookSettings(env: Env): WebhookSettings {
  const issues: string[] = [];
  const httpRaw = read(env, 'WEBHOOK_ALLOW_HTTP').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(httpRaw))
    issues.push(`WEBHOOK_ALLOW_HTTP must be true or false, got '${httpRaw}'`);
  const hostsRaw = read(env, 'WEBHOOK_HOST_ALLOWLIST');
  let hostAllowlist: WebhookSettings['hostAllowlist'] = 'any';
  if (hostsRaw !== '*') {
    const parsed = parseEndpointAllowlist(hostsRaw);
    issues.push(...parsed.problems.map((p) => `WEBHOOK_HOST_ALLOWLIST: ${p}`));
    hostAllowlist = parsed.entries;
  }
  const cidrs = parseCidrList(read(env, 'WEBHOOK_ALLOWED_CIDRS'));
  issues.push(...cidrs.problems.map((p) => `WEBHOOK_ALLOWED_CIDRS: ${p}`));
  const schedule = read(env, 'WEBHOOK_RETRY_SCHEDULE_SEC')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  if (schedule.length > 50 || schedule.some((n) => !Number.isFinite(n) || n < 0 || n > MAX_DELAY_SEC)) {
    issues.push(`WEBHOOK_RETRY_SCHEDULE_SEC must list at most 50 delays, each 0…${MAX_DELAY_SEC} seconds`);
  }
  const timeoutSec = Number(read(env, 'WEBHOOK_TIMEOUT_SEC'));
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0 || timeoutSec > 300)
    issues.push('WEBHOOK_TIMEOUT_SEC must be a number of seconds in (0, 300]');
  const cacheSec = Number(read(env, 'WEBHOOK_SUBSCRIPTION_CACHE_SEC'));
  if (!Number.isFinite(cacheSec) || cacheSec < 0 || cacheSec > 3600)
    issues.push('WEBHOOK_SUBSCRIPTION_CACHE_SEC must be 0…3600');
  const subscriptionsTable = read(env, 'WEBHOOK_SUBSCRIPTIONS_TABLE');
  const deliveriesTable = read(env, 'WEBHOOK_DELIVERIES_TABLE');
  for (const [name, value] of [
    ['WEBHOOK_SUBSCRIPTIONS_TABLE', subscriptionsTable],
    ['WEBHOOK_DELIVERIES_TABLE', deliveriesTable],
  ] as const) {
    if (!TABLE.test(value))
      issues.push(`${name} '${value}' is not a table name (3-63 letters or digits, starting with a letter)`);
  }
  if (issues.length > 0) throw new ConfigurationError(`Webhook settings: ${issues.join('; ')}`);
  return Object.freeze({
    allowHttp: httpRaw === 'true' || httpRaw === '1',
    hostAllowlist,
    allowedCidrs: cidrs.cidrs,
    retryScheduleSec: Object.freeze(schedule),
    timeoutMs: Math.round(timeoutSec * 1000),
    subscriptionsTable,
    deliveriesTable,
    subscriptionCacheMs: Math.round(cacheSec * 1000),
  });
}
