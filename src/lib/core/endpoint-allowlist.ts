import ipaddr from 'ipaddr.js';

/**
 * The storage endpoints an /execute job may name in `credentials.endpoint` (its S3/MinIO input
 * artifacts are fetched from there by the orchestrator's own workers, so an unchecked endpoint is a
 * server-side request forgery). Two rules, both needed:
 * 1. the host (and port, when the entry names one) matches an entry of ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST;
 * 2. every address the host resolves to is a public unicast address, with two exceptions an
 *    operator opts into by listing one host exactly: an IP entry (`10.1.2.3:9000`, `[::1]:9000`)
 *    admits that very address, and a host-name entry (`minio.corp:9000`) admits private-network
 *    addresses (RFC 1918, unique-local) — never loopback, link-local (cloud metadata) or unspecified
 *    ones, whatever its DNS says. A wildcard entry (`*.example.com`) admits public addresses only.
 * Pure: DNS resolution happens in the caller (src/lib/app/essedum/endpoint-guard.ts).
 */
export interface AllowEntry {
  /** Lower-case host name, or an IP address in canonical form. */
  readonly host: string;
  /** `*.example.com`: any host strictly below `example.com`. */
  readonly wildcard: boolean;
  /** When set, only this port matches; otherwise any. */
  readonly port?: number;
}

/** Parses `host[:port]` entries separated by commas or whitespace; returns the entries and the problems. */
export function parseEndpointAllowlist(raw: string): { entries: AllowEntry[]; problems: string[] } {
  const entries: AllowEntry[] = [];
  const problems: string[] = [];
  for (const item of raw.split(/[\s,]+/).filter(Boolean)) {
    const entry = parseEntry(item);
    if (entry) entries.push(entry);
    else problems.push(`'${item}' is not host[:port], *.domain[:port], an IPv4 address or [IPv6][:port]`);
  }
  return { entries, problems };
}

const HOST_LABELS = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function parseEntry(item: string): AllowEntry | undefined {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(item.trim().toLowerCase());
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  let host = m[1]!;
  let wildcard = false;
  if (host.startsWith('[')) {
    const inner = host.slice(1, -1);
    if (!ipaddr.IPv6.isValid(inner)) return undefined;
    host = canonicalAddress(inner);
  } else if (ipaddr.IPv4.isValidFourPartDecimal(host)) {
    host = canonicalAddress(host);
  } else {
    if (host.startsWith('*.')) {
      wildcard = true;
      host = host.slice(2);
    }
    if (!HOST_LABELS.test(host)) return undefined;
  }
  return { host, wildcard, ...(port !== undefined && { port }) };
}

/** One spelling per address (IPv4-mapped IPv6 as IPv4), so `::ffff:127.0.0.1` is not a way around. */
export function canonicalAddress(address: string): string {
  const parsed = ipaddr.process(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  return parsed.kind() === 'ipv6' ? (parsed as ipaddr.IPv6).toRFC5952String() : parsed.toString();
}

/** The entry that admits `host:port`, preferring an exact one (it also admits non-public addresses). */
export function matchAllowEntry(entries: readonly AllowEntry[], host: string, port: number): AllowEntry | undefined {
  const h = normaliseHost(host);
  const portOk = (e: AllowEntry) => e.port === undefined || e.port === port;
  return (
    entries.find((e) => !e.wildcard && e.host === h && portOk(e)) ??
    entries.find((e) => e.wildcard && h.endsWith(`.${e.host}`) && portOk(e))
  );
}

/** A URL's hostname as an entry would spell it (IP literals canonical, names lower-case). */
export function normaliseHost(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return ipaddr.isValid(bare) && (ipaddr.IPv6.isValid(bare) || ipaddr.IPv4.isValidFourPartDecimal(bare))
    ? canonicalAddress(bare)
    : bare.replace(/\.$/, '');
}

/**
 * Public unicast only: not loopback, private (RFC 1918, unique-local), link-local (169.254/16, where
 * cloud metadata lives, fe80::/10), carrier-grade NAT (100.64/10, Alibaba's metadata), unspecified,
 * multicast, broadcast, reserved, nor IPv6 forms that embed an IPv4 address (6to4, Teredo, NAT64).
 */
export function isPublicAddress(address: string): boolean {
  try {
    return ipaddr.process(address.replace(/%.*$/, '')).range() === 'unicast';
  } catch {
    return false;
  }
}

/** Whether `entry` lets a connection go to the resolved `address` (see the module comment). */
export function addressAllowed(entry: AllowEntry, address: string): boolean {
  if (isPublicAddress(address)) return true;
  if (entry.wildcard) return false;
  let canonical: string;
  let range: string;
  try {
    canonical = canonicalAddress(address);
    range = ipaddr.process(canonical).range();
  } catch {
    return false;
  }
  if (ipaddr.isValid(entry.host)) return entry.host === canonical;
  return range === 'private' || range === 'uniqueLocal';
}

/** An address range an operator admits on purpose (e.g. `127.0.0.1/32` so tests reach a local receiver). */
export interface AllowedCidr {
  /** As written in the setting, for messages. */
  readonly text: string;
  readonly range: [ipaddr.IPv4 | ipaddr.IPv6, number];
}

/** Parses CIDRs (`a.b.c.d/n`, `v6::/n`) separated by commas or whitespace; returns the ranges and the problems. */
export function parseCidrList(raw: string): { cidrs: AllowedCidr[]; problems: string[] } {
  const cidrs: AllowedCidr[] = [];
  const problems: string[] = [];
  for (const item of raw.split(/[\s,]+/).filter(Boolean)) {
    try {
      cidrs.push({ text: item, range: ipaddr.parseCIDR(item) });
    } catch {
      problems.push(`'${item}' is not a CIDR (address/prefix-length)`);
    }
  }
  return { cidrs, problems };
}

/** Whether `address` (IPv4-mapped IPv6 taken as IPv4) lies in one of the ranges. */
export function inCidrs(address: string, cidrs: readonly AllowedCidr[]): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return false;
  }
  return cidrs.some((c) => c.range[0].kind() === parsed.kind() && parsed.match(c.range as [typeof parsed, number]));
}
