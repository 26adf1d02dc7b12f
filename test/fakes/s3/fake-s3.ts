import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signV4 } from '../../../src/lib/app/essedum/s3.js';

/**
 * A MinIO / S3 stand-in for GetObject, path-style (`GET /<bucket>/<key>`), as S3 documents it:
 * SigV4 header auth (`AWS4-HMAC-SHA256 Credential=<key>/<day>/<region>/s3/aws4_request,
 * SignedHeaders=…, Signature=…`), `x-amz-content-sha256` required, a request time more than 15
 * minutes off refused (RequestTimeTooSkewed), and XML errors `<Error><Code>…</Code>` with
 * NoSuchKey / NoSuchBucket (404), InvalidAccessKeyId / SignatureDoesNotMatch / AccessDenied (403).
 * The signature is recomputed from the request with the secret of the presented access key.
 */
export interface FakeS3Request {
  readonly method: string;
  readonly path: string;
  readonly accessKey?: string;
  readonly outcome: string;
}

export class FakeS3 {
  readonly requests: FakeS3Request[] = [];
  private readonly objects = new Map<string, Buffer>();
  private server?: Server;
  url = '';

  constructor(
    private readonly keys: Record<string, string>,
    private readonly region = 'us-east-1',
  ) {}

  put(bucket: string, key: string, content: string | Buffer): void {
    this.objects.set(`${bucket}/${key}`, Buffer.isBuffer(content) ? content : Buffer.from(content));
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    record: Omit<FakeS3Request, 'outcome'>,
  ): void {
    this.requests.push({ ...record, outcome: code });
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const base = { method: req.method ?? 'GET', path: url.pathname };
    const auth = req.headers.authorization ?? '';
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!m) return this.error(res, 403, 'AccessDenied', 'missing or malformed SigV4 Authorization', base);
    const [, accessKey, day, region, signedHeaders, signature] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const record = { ...base, accessKey };
    const secret = this.keys[accessKey];
    if (!secret)
      return this.error(
        res,
        403,
        'InvalidAccessKeyId',
        'The AWS access key Id you provided does not exist in our records.',
        record,
      );
    const stamp = String(req.headers['x-amz-date'] ?? '');
    const payload = req.headers['x-amz-content-sha256'];
    if (!stamp || !payload)
      return this.error(res, 400, 'InvalidRequest', 'x-amz-date and x-amz-content-sha256 are required', record);
    const t = Date.parse(
      `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
    );
    if (!Number.isFinite(t) || Math.abs(Date.now() - t) > 15 * 60_000)
      return this.error(
        res,
        403,
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
        record,
      );
    if (region !== this.region || !stamp.startsWith(day))
      return this.error(res, 403, 'SignatureDoesNotMatch', 'wrong scope', record);
    const extra: Record<string, string> = {};
    for (const h of signedHeaders.split(';')) {
      if (h === 'host' || h === 'x-amz-date' || h === 'x-amz-content-sha256') continue;
      extra[h] = String(req.headers[h] ?? '');
    }
    const expected =
      signV4({
        method: base.method,
        url: new URL(`http://${req.headers.host}${req.url}`),
        headers: extra,
        region,
        accessKey,
        secretKey: secret,
        date: new Date(t),
        payloadHash: String(payload),
      }).authorization ?? '';
    if (!expected.endsWith(`Signature=${signature}`) || !expected.includes(`SignedHeaders=${signedHeaders},`)) {
      return this.error(
        res,
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
        record,
      );
    }
    if (base.method !== 'GET') return this.error(res, 405, 'MethodNotAllowed', 'only GetObject here', record);
    const [bucket, ...rest] = decodeURIComponent(url.pathname).replace(/^\//, '').split('/');
    const key = rest.join('/');
    if (![...this.objects.keys()].some((k) => k.startsWith(`${bucket}/`)))
      return this.error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', record);
    const body = this.objects.get(`${bucket}/${key}`);
    if (!body) return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.', record);
    this.requests.push({ ...record, outcome: 'OK' });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    res.end(body);
  }
}
