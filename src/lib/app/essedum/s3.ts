import { createHash, createHmac } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import type { AllowEntry } from '../../core/endpoint-allowlist.js';
import { checkStorageEndpoint, endpointUrl, type CheckedEndpoint, type ResolveHost } from './endpoint-guard.js';

export { endpointUrl };

/**
 * Just enough S3 for /execute input artifacts: a SigV4-signed GetObject against an S3-compatible
 * endpoint (MinIO or AWS S3). No SDK: the worker image stays small and this is the only call.
 */

export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/** RFC 3986 encoding as SigV4 wants it (unreserved: A-Z a-z 0-9 - _ . ~). */
export function uriEncode(s: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface SignInput {
  readonly method: string;
  readonly url: URL;
  /** Headers to sign besides host, x-amz-date and x-amz-content-sha256 (names any case). */
  readonly headers?: Record<string, string>;
  readonly region: string;
  readonly service?: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly date: Date;
  readonly payloadHash?: string;
}

/** `yyyyMMddTHHmmssZ`. */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * Signs a request with AWS Signature Version 4 (S3 flavour: the path is encoded once, the payload
 * hash travels in x-amz-content-sha256). Returns every header to send, Authorization included.
 */
export function signV4(input: SignInput): Record<string, string> {
  const service = input.service ?? 's3';
  const stamp = amzDate(input.date);
  const day = stamp.slice(0, 8);
  const payloadHash = input.payloadHash ?? EMPTY_SHA256;
  const headers: Record<string, string> = {
    host: input.url.host,
    'x-amz-date': stamp,
    'x-amz-content-sha256': payloadHash,
  };
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const query = [...input.url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  // url.pathname is already percent-encoded by URL; decode it and encode the SigV4 way.
  const path = uriEncode(decodeURIComponent(input.url.pathname || '/'), true);
  const canonicalRequest = [input.method.toUpperCase(), path, query, canonicalHeaders, signedHeaders, payloadHash].join(
    '\n',
  );
  const scope = `${day}/${input.region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.secretKey}`, day), input.region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

export interface S3Location {
  /** `https://host[:port]`; a bare `host:port` means https. */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Signing region; default: from an `s3.<region>.amazonaws.com` host, else us-east-1 (MinIO's). */
  readonly region?: string;
}

export function regionOf(url: URL): string {
  return /^s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1] ?? 'us-east-1';
}

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly s3Code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export interface GetObjectOptions {
  /** ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST, parsed: the endpoint is checked before any connection. */
  readonly allowlist: readonly AllowEntry[];
  /** DNS for the check (tests); default: the system resolver. */
  readonly resolve?: ResolveHost;
  readonly now?: Date;
  readonly timeoutMs?: number;
}

/**
 * GetObject, path-style (`/<bucket>/<key>`: what MinIO serves and what any S3 endpoint accepts).
 * The endpoint is checked against the allow-list first and the connection goes to the checked
 * address only (TLS still verifies the host name). Throws {@link S3Error} with S3's error code for
 * a non-2xx answer, a ValidationError naming `credentials.endpoint` for a refused endpoint.
 */
export async function getObject(
  loc: S3Location,
  bucket: string,
  key: string,
  options: GetObjectOptions,
): Promise<Buffer> {
  const checked = await checkStorageEndpoint(loc.endpoint, options.allowlist, options.resolve);
  const base = checked.url;
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = new URL(
    `${base.protocol}//${base.host}${prefix}/${uriEncode(bucket)}/${uriEncode(key.replace(/^\/+/, ''), true)}`,
  );
  const headers = signV4({
    method: 'GET',
    url,
    region: loc.region ?? regionOf(base),
    accessKey: loc.accessKey,
    secretKey: loc.secretKey,
    date: options.now ?? new Date(),
  });
  const res = await pinnedGet(url, headers, checked, options.timeoutMs ?? 120_000);
  if (res.status < 200 || res.status > 299) {
    const text = res.body.toString('utf8');
    const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${res.status}`;
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? res.statusText;
    throw new S3Error(res.status, code, `GetObject s3://${bucket}/${key} failed: ${code}: ${message}`);
  }
  return res.body;
}

/** One GET whose connection can only go to the checked address: DNS is answered from the check. */
async function pinnedGet(
  url: URL,
  headers: Record<string, string>,
  to: CheckedEndpoint,
  timeoutMs: number,
): Promise<{ status: number; statusText: string; body: Buffer }> {
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const lookup: LookupFunction = (_host, opts, callback) => {
    if (opts.all) callback(null, [{ address: to.address, family: to.family }]);
    else callback(null, to.address, to.family);
  };
  return new Promise((resolvePromise, reject) => {
    const req = mod.request(url, { method: 'GET', headers, lookup, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
