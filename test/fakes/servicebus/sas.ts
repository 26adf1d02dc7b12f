import { createHmac, timingSafeEqual } from 'node:crypto';

/** A parsed `SharedAccessSignature sr=…&sig=…&se=…&skn=…` token. */
export interface SasToken {
  readonly resource: string;
  readonly signature: string;
  readonly expiry: number;
  readonly keyName: string;
}

export type SasCheck = { ok: true; token: SasToken } | { ok: false; reason: string };

/**
 * Validates a Service Bus SAS token the way the service does: the signature is HMAC-SHA256 over
 * `<url-encoded resource>\n<expiry>` keyed with the shared access key (the key string itself, not
 * its base64 decoding), the key name must match and the expiry must lie in the future.
 */
export function checkSasToken(raw: string, keys: Readonly<Record<string, string>>, nowMs: number): SasCheck {
  const prefix = 'SharedAccessSignature ';
  if (!raw.startsWith(prefix)) return { ok: false, reason: 'not a SharedAccessSignature token' };
  const fields = new Map<string, string>();
  for (const part of raw.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return { ok: false, reason: 'token lacks sr, sig, se or skn' };
  const keyName = decodeURIComponent(skn);
  const key = keys[keyName];
  if (key === undefined) return { ok: false, reason: `unknown key name '${keyName}'` };
  const expected = createHmac('sha256', key).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'signature mismatch' };
  const expiry = Number(se);
  if (!Number.isFinite(expiry) || expiry * 1000 <= nowMs) return { ok: false, reason: 'token expired' };
  return { ok: true, token: { resource: decodeURIComponent(sr), signature: sig, expiry, keyName } };
}
