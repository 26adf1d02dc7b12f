import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, type ResolveHost } from '../../src/lib/app/webhooks/url-guard.js';
import { SubscriptionCache, deliveriesFor, type Webhooks } from '../../src/lib/app/webhooks/notifier.js';
import { inCidrs, parseCidrList } from '../../src/lib/core/endpoint-allowlist.js';
import type { JobEvent, JobRecord } from '../../src/lib/core/job.js';
import { parseSubmission } from '../../src/lib/core/job.js';
import {
  newWebhookSecret,
  signWebhook,
  subscriptionMatches,
  webhookIdOf,
  type Subscription,
} from '../../src/lib/core/webhooks.js';
import { ValidationError } from '../../src/lib/errors.js';
import type { WebhookStore } from '../../src/lib/ports/webhook-store.js';
import { parseWebhookSettings } from '../../src/lib/webhook-settings.js';

/** DNS answered from a table: no real lookup, no connection anywhere. */
const dns =
  (table: Record<string, string[]>): ResolveHost =>
  async (host) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

async function refusal(promise: Promise<unknown>): Promise<{ field: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues[0]!;
}

describe('signWebhook', () => {
  it('produces a signature the standardwebhooks package verifies, and only with the right secret', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({
      type: 'job.succeeded',
      timestamp: '2026-12-04T10:00:00.000Z',
      data: { jobId: 'j-1' },
    });
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_abc',
      'webhook-timestamp': String(ts),
      'webhook-signature': signWebhook(secret, 'msg_abc', ts, body),
    };
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ type: 'job.succeeded' });
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });

  it('gives one webhook id per event and target, the same on every call', () => {
    const a = webhookIdOf('j-1', 3, { kind: 'subscription', id: 'sub_x' });
    expect(webhookIdOf('j-1', 3, { kind: 'subscription', id: 'sub_x' })).toBe(a);
    expect(webhookIdOf('j-1', 4, { kind: 'subscription', id: 'sub_x' })).not.toBe(a);
    expect(webhookIdOf('j-1', 3, { kind: 'job', id: 'j-1' })).not.toBe(a);
  });
});

describe('checkWebhookUrl', () => {
  const settings = parseWebhookSettings({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' });
  const resolver = dns({
    'hooks.example.com': ['93.184.216.34'],
    'internal.example.com': ['10.0.0.5'],
    'meta.example.com': ['169.254.169.254'],
    'cgnat.example.com': ['100.64.0.1'],
    'zero.example.com': ['0.0.0.0'],
    'mixed.example.com': ['93.184.216.34', '169.254.169.254'],
    'mapped.example.com': ['::ffff:169.254.169.254'],
    'loop6.example.com': ['::1'],
    'ula.example.com': ['fd00::1'],
  });

  it('accepts https to a public address and returns that address to connect to', async () => {
    const checked = await checkWebhookUrl('https://hooks.example.com/x?t=1', settings, 'url', resolver);
    expect(checked.address).toBe('93.184.216.34');
  });

  it('refuses http unless WEBHOOK_ALLOW_HTTP, and other schemes always', async () => {
    expect((await refusal(checkWebhookUrl('http://hooks.example.com/x', settings, 'url', resolver))).message).toMatch(
      /WEBHOOK_ALLOW_HTTP/,
    );
    const withHttp = parseWebhookSettings({ WEBHOOK_ALLOW_HTTP: 'true' });
    await expect(checkWebhookUrl('http://hooks.example.com/x', withHttp, 'url', resolver)).resolves.toBeDefined();
    expect((await refusal(checkWebhookUrl('file:///etc/passwd', withHttp, 'url', resolver))).field).toBe('url');
    expect((await refusal(checkWebhookUrl('not a url', withHttp, 'notify.url', resolver))).field).toBe('notify.url');
    expect(
      (await refusal(checkWebhookUrl('https://u:p@hooks.example.com/', withHttp, 'url', resolver))).message,
    ).toMatch(/user name/);
  });

  it('refuses private, link-local (metadata), CGNAT, unspecified, loopback and unique-local addresses after resolution', async () => {
    for (const host of ['internal', 'meta', 'cgnat', 'zero', 'mixed', 'mapped', 'loop6', 'ula']) {
      const issue = await refusal(checkWebhookUrl(`https://${host}.example.com/`, settings, 'url', resolver));
      expect(issue.field).toBe('url');
      expect(issue.message).toMatch(/resolves to/);
    }
    for (const literal of [
      'https://127.0.0.2/',
      'https://[::1]/',
      'https://169.254.169.254/latest/meta-data',
      'https://[::ffff:10.0.0.1]/',
    ]) {
      expect(
        (
          await refusal(
            checkWebhookUrl(
              literal,
              settings,
              'url',
              dns({
                '127.0.0.2': ['127.0.0.2'],
                '::1': ['::1'],
                '169.254.169.254': ['169.254.169.254'],
                '10.0.0.1': ['10.0.0.1'],
              }),
            ),
          )
        ).field,
      ).toBe('url');
    }
  });

  it('admits exactly the addresses WEBHOOK_ALLOWED_CIDRS lists', async () => {
    await expect(
      checkWebhookUrl('https://127.0.0.1:9/', settings, 'url', dns({ '127.0.0.1': ['127.0.0.1'] })),
    ).resolves.toMatchObject({ address: '127.0.0.1' });
    expect(inCidrs('127.0.0.2', settings.allowedCidrs)).toBe(false);
    expect(inCidrs('::ffff:127.0.0.1', settings.allowedCidrs)).toBe(true);
  });

  it('applies the host allow-list before resolving', async () => {
    const narrow = parseWebhookSettings({ WEBHOOK_HOST_ALLOWLIST: '*.example.com' });
    await expect(checkWebhookUrl('https://hooks.example.com/', narrow, 'url', resolver)).resolves.toBeDefined();
    let resolved = false;
    const spy: ResolveHost = async () => {
      resolved = true;
      return [{ address: '93.184.216.34', family: 4 }];
    };
    expect((await refusal(checkWebhookUrl('https://evil.test/', narrow, 'url', spy))).message).toMatch(
      /WEBHOOK_HOST_ALLOWLIST/,
    );
    expect(resolved).toBe(false);
  });
});

describe('parseWebhookSettings', () => {
  it('defaults to https only, any host, no extra ranges and a retry schedule longer than a day', () => {
    const s = parseWebhookSettings({});
    expect(s.allowHttp).toBe(false);
    expect(s.hostAllowlist).toBe('any');
    expect(s.allowedCidrs).toEqual([]);
    expect(s.retryScheduleSec.reduce((a, b) => a + b, 0)).toBeGreaterThan(24 * 3600);
  });

  it('names every bad setting', () => {
    expect(() =>
      parseWebhookSettings({
        WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/99',
        WEBHOOK_RETRY_SCHEDULE_SEC: '5,-1',
        WEBHOOK_ALLOW_HTTP: 'maybe',
      }),
    ).toThrow(/WEBHOOK_ALLOW_HTTP.*WEBHOOK_ALLOWED_CIDRS.*WEBHOOK_RETRY_SCHEDULE_SEC/);
    expect(parseCidrList('127.0.0.1/32, ::1/128').cidrs).toHaveLength(2);
  });
});

describe('matching transitions to targets', () => {
  const job = (
    labels: Record<string, string>,
    notify?: { url: string; events: Array<'succeeded' | 'failed'> },
  ): JobRecord => ({
    id: 'j-1',
    status: 'succeeded',
    source: 'api',
    spec: parseSubmission({ labels, ...(notify && { notify }) }),
    createdAt: '2026-12-04T10:00:00.000Z',
    updatedAt: '2026-12-04T10:00:01.000Z',
    attempts: 1,
    eventSeq: 6,
  });
  const event = (to: JobEvent['to'], type: JobEvent['type'] = 'transition'): JobEvent => ({
    seq: 5,
    at: '2026-12-04T10:00:01.000Z',
    type,
    from: 'running',
    to,
    reason: 'done',
  });
  const sub = (over: Partial<Subscription>): Subscription => ({
    id: 'sub_a',
    url: 'https://h/',
    events: ['succeeded'],
    createdAt: '',
    secret: newWebhookSecret(),
    ...over,
  });

  it('needs the event and every label of the subscription', () => {
    expect(subscriptionMatches(sub({ labels: { team: 'a' } }), job({ team: 'a', x: 'y' }), 'succeeded')).toBe(true);
    expect(subscriptionMatches(sub({ labels: { team: 'a' } }), job({ team: 'b' }), 'succeeded')).toBe(false);
    expect(subscriptionMatches(sub({}), job({}), 'failed')).toBe(false);
  });

  it('yields one message per matching target, none for notes, and reads the subscriptions once per cache period', async () => {
    let reads = 0;
    let now = 0;
    const subs = [sub({ id: 'sub_a' }), sub({ id: 'sub_b', labels: { team: 'other' } })];
    const store = {
      listSubscriptions: async () => {
        reads++;
        return subs;
      },
    } as unknown as WebhookStore;
    const webhooks = {
      settings: parseWebhookSettings({}),
      store,
      subscriptions: new SubscriptionCache(store, 1000, () => now),
    } as Webhooks;
    const j = job({ team: 'a' }, { url: 'https://h/', events: ['succeeded'] });
    const messages = await deliveriesFor(webhooks, j, event('succeeded'));
    expect(messages.map((m) => `${m.target.kind}:${m.target.id}`).sort()).toEqual(['job:j-1', 'subscription:sub_a']);
    expect(messages[0]!.payload.type).toBe('job.succeeded');
    expect(await deliveriesFor(webhooks, j, event('succeeded', 'note'))).toEqual([]);
    expect(await deliveriesFor(webhooks, j, event('failed'))).toEqual([]);
    expect(reads).toBe(1);
    now = 1000;
    await deliveriesFor(webhooks, j, event('succeeded'));
    expect(reads).toBe(2);
  });
});
