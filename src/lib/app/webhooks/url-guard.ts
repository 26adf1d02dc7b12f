import { inCidrs, isPublicAddress, matchAllowEntry, normaliseHost } from '../../core/endpoint-allowlist.js';
import { ValidationError } from '../../errors.js';
import type { WebhookSettings } from '../../webhook-settings.js';
import { resolveAll, type CheckedEndpoint, type ResolveHost } from '../essedum/endpoint-guard.js';

export type { CheckedEndpoint, ResolveHost };

/**
 * Checks a webhook URL before it is stored and again before every delivery:
 * 1. `https` only (`http` too when WEBHOOK_ALLOW_HTTP), no user name or password in it;
 * 2. the host matches WEBHOOK_HOST_ALLOWLIST (`*`: any host);
 * 3. every address the host resolves to is public unicast, or inside WEBHOOK_ALLOWED_CIDRS —
 *    so loopback, private, link-local (cloud metadata), CGNAT and unspecified addresses are refused
 *    unless an operator lists them.
 * The delivery connects to the returned address only, never resolving the name again, so DNS that
 * changes its answer between check and connection cannot redirect it. Throws a
 * {@link ValidationError} naming `field`.
 */
export async function checkWebhookUrl(
  raw: string,
  settings: WebhookSettings,
  field: string,
  resolve: ResolveHost = resolveAll,
): Promise<CheckedEndpoint> {
  const refuse = (message: string): never => {
    throw new ValidationError([{ field, message }]);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('not an absolute URL');
  }
  const schemes = settings.allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    refuse(
      `scheme '${url.protocol.replace(/:$/, '')}' is not allowed; use ${settings.allowHttp ? 'https or http' : 'https (http needs WEBHOOK_ALLOW_HTTP)'}`,
    );
  }
  if (url.username || url.password) refuse('must not carry a user name or password');
  const host = normaliseHost(url.hostname);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (settings.hostAllowlist !== 'any' && !matchAllowEntry(settings.hostAllowlist, host, port)) {
    refuse(`'${host}:${port}' is not in WEBHOOK_HOST_ALLOWLIST`);
  }
  let addresses: ReadonlyArray<{ address: string; family: number }> = [];
  try {
    addresses = await resolve(host);
  } catch {
    refuse(`'${host}' does not resolve`);
  }
  if (addresses.length === 0) refuse(`'${host}' does not resolve`);
  // Every address must pass: a name answering with a public and a metadata address is refused.
  const denied = addresses.find((a) => !isPublicAddress(a.address) && !inCidrs(a.address, settings.allowedCidrs));
  if (denied) {
    refuse(
      `'${host}' resolves to ${denied.address}, a loopback, private, link-local or reserved address that WEBHOOK_ALLOWED_CIDRS does not admit`,
    );
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
