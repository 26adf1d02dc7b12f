import { lookup as dnsLookup } from 'node:dns/promises';
import { addressAllowed, matchAllowEntry, normaliseHost, type AllowEntry } from '../../core/endpoint-allowlist.js';
import { ValidationError } from '../../errors.js';

/** The endpoint as a URL; a scheme-less endpoint is taken as https. */
export function endpointUrl(endpoint: string): URL {
  const e = endpoint.trim();
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `https://${e}`);
}

/** Field named when an endpoint is refused (the /execute body's). */
export const ENDPOINT_FIELD = 'credentials.endpoint';

/** An endpoint that passed both rules, with the one address a connection may go to. */
export interface CheckedEndpoint {
  readonly url: URL;
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host to all its addresses (DNS, or the literal itself). */
export type ResolveHost = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

/** The system resolver: every address of a name (or the literal itself). */
export const resolveAll: ResolveHost = (host) => dnsLookup(host, { all: true, verbatim: true });

function refuse(message: string): never {
  throw new ValidationError([{ field: ENDPOINT_FIELD, message }]);
}

/**
 * Checks a caller's storage endpoint against the allow-list and its resolved addresses
 * (see src/lib/core/endpoint-allowlist.ts). Every address the name resolves to must be admitted, so
 * a name that answers with a public and a metadata address is refused outright. Callers connect to
 * the returned address only (never resolve the name again), so DNS that changes its answer between
 * the check and the connection cannot redirect the request. Throws a {@link ValidationError} naming
 * `credentials.endpoint`.
 */
export async function checkStorageEndpoint(
  endpoint: string,
  allowlist: readonly AllowEntry[],
  resolve: ResolveHost = resolveAll,
): Promise<CheckedEndpoint> {
  let url: URL;
  try {
    url = endpointUrl(endpoint);
  } catch {
    refuse('not a URL or host[:port]');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse(`scheme '${url.protocol}' is not http or https`);
  if (url.username || url.password) refuse('must not carry a user name or password');
  const host = normaliseHost(url.hostname);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const entry = matchAllowEntry(allowlist, host, port);
  if (!entry) {
    refuse(
      `'${host}:${port}' is not in ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST${allowlist.length === 0 ? ' (empty: no storage endpoint is allowed)' : ''}`,
    );
  }
  let addresses: ReadonlyArray<{ address: string; family: number }>;
  try {
    addresses = await resolve(host);
  } catch {
    refuse(`'${host}' does not resolve`);
  }
  if (addresses.length === 0) refuse(`'${host}' does not resolve`);
  const denied = addresses.find((a) => !addressAllowed(entry, a.address));
  if (denied)
    refuse(
      `'${host}' resolves to ${denied.address}, an address the allow-list does not admit (loopback, private, link-local or reserved)`,
    );
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
