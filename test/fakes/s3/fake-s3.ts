import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signV4 } from '../../../src/lib/app/essedum/s3.js';

/**
 * A MinIO / S3 stand-in, path-style (`/<bucket>/<key>`), for GetObject, PutObject, CopyObject
 * (`x-amz-copy-source`, tagging directive COPY/REPLACE), HeadObject (404 without a body),
 * DeleteObject (204, also for a missing key) and ListObjectsV2 (`?list-type=2`, prefix, max-keys,
 * opaque continuation token; XML), with object tags from `x-amz-tagging`, as S3 documents them:
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

/** One stored object: its bytes, content type and tags. */
export interface FakeS3Object {
  readonly body: Buffer;
  readonly contentType: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly etag: string;
  readonly lastModified: Date;
}

export class FakeS3 {
  readonly requests: FakeS3Request[] = [];
  private readonly objects = new Map<string, FakeS3Object>();
  private readonly buckets = new Set<string>();
  private server?: Server;
  url = '';

  constructor(
    private readonly keys: Record<string, string>,
    private readonly region = 'us-east-1',
  ) {}

  put(bucket: string, key: string, content: string | Buffer, tags: Record<string, string> = {}): void {
    this.buckets.add(bucket);
    this.store(
      bucket,
      key,
      Buffer.isBuffer(content) ? content : Buffer.from(content),
      'application/octet-stream',
      tags,
    );
  }

  /** Creates an empty bucket (PutObject into an unknown bucket answers NoSuchBucket). */
  createBucket(bucket: string): void {
    this.buckets.add(bucket);
  }

  /** The object at bucket/key, as stored. */
  object(bucket: string, key: string): FakeS3Object | undefined {
    return this.objects.get(`${bucket}/${key}`);
  }

  /** Keys in a bucket (under a prefix), sorted. */
  keysIn(bucket: string, prefix = ''): string[] {
    return [...this.objects.keys()]
      .filter((k) => k.startsWith(`${bucket}/${prefix}`))
      .map((k) => k.slice(bucket.length + 1))
      .sort();
  }

  private store(
    bucket: string,
    key: string,
    body: Buffer,
    contentType: string,
    tags: Record<string, string>,
  ): FakeS3Object {
    const o: FakeS3Object = {
      body,
      contentType,
      tags,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified: new Date(),
    };
    this.objects.set(`${bucket}/${key}`, o);
    return o;
  }

  private hasBucket(bucket: string): boolean {
    return this.buckets.has(bucket) || [...this.objects.keys()].some((k) => k.startsWith(`${bucket}/`));
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
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
    // HEAD answers carry no body: the status alone says what went wrong.
    if (record.method === 'HEAD') return void res.end();
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  }

  private handle(req: IncomingMessage, res: ServerResponse, bytes: Buffer): void {
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
    const hash = String(payload);
    if (hash !== 'UNSIGNED-PAYLOAD' && hash !== createHash('sha256').update(bytes).digest('hex'))
      return this.error(
        res,
        400,
        'XAmzContentSHA256Mismatch',
        'The provided x-amz-content-sha256 header does not match what was computed.',
        record,
      );
    const [bucket = '', ...rest] = decodeURIComponent(url.pathname).replace(/^\//, '').split('/');
    const key = rest.join('/');
    if (!bucket) return this.error(res, 405, 'MethodNotAllowed', 'ListBuckets is not served here', record);
    if (!this.hasBucket(bucket))
      return this.error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', record);
    if (!key) {
      if (base.method === 'GET' && url.searchParams.get('list-type') === '2')
        return this.list(res, bucket, url, record);
      return this.error(res, 405, 'MethodNotAllowed', 'only ListObjectsV2 on a bucket here', record);
    }
    switch (base.method) {
      case 'GET':
      case 'HEAD': {
        const o = this.objects.get(`${bucket}/${key}`);
        if (!o) return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.', record);
        this.requests.push({ ...record, outcome: 'OK' });
        res.writeHead(200, {
          'content-type': o.contentType,
          'content-length': String(o.body.length),
          etag: o.etag,
          'last-modified': o.lastModified.toUTCString(),
        });
        return void res.end(base.method === 'GET' ? o.body : undefined);
      }
      case 'PUT': {
        const tagging = new URLSearchParams(String(req.headers['x-amz-tagging'] ?? ''));
        const tags = Object.fromEntries(tagging.entries());
        const copyFrom = req.headers['x-amz-copy-source'];
        if (copyFrom === undefined) {
          this.store(bucket, key, bytes, String(req.headers['content-type'] ?? 'application/octet-stream'), tags);
          this.requests.push({ ...record, outcome: 'OK' });
          res.writeHead(200, { etag: this.objects.get(`${bucket}/${key}`)!.etag });
          return void res.end();
        }
        const [srcBucket = '', ...srcRest] = decodeURIComponent(String(copyFrom).split('?')[0]!)
          .replace(/^\//, '')
          .split('/');
        const src = this.objects.get(`${srcBucket}/${srcRest.join('/')}`);
        if (!src) return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.', record);
        const directive = String(req.headers['x-amz-tagging-directive'] ?? 'COPY');
        const o = this.store(bucket, key, src.body, src.contentType, directive === 'REPLACE' ? tags : { ...src.tags });
        this.requests.push({ ...record, outcome: 'OK' });
        res.writeHead(200, { 'content-type': 'application/xml' });
        return void res.end(
          `<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xml(o.etag)}</ETag></CopyObjectResult>`,
        );
      }
      case 'DELETE':
        this.objects.delete(`${bucket}/${key}`);
        this.requests.push({ ...record, outcome: 'OK' });
        res.writeHead(204);
        return void res.end();
      default:
        return this.error(res, 405, 'MethodNotAllowed', `${base.method} is not served here`, record);
    }
  }

  private list(res: ServerResponse, bucket: string, url: URL, record: Omit<FakeS3Request, 'outcome'>): void {
    const prefix = url.searchParams.get('prefix') ?? '';
    const max = Number(url.searchParams.get('max-keys') ?? '1000');
    if (!Number.isInteger(max) || max < 0)
      return this.error(res, 400, 'InvalidArgument', 'max-keys must be a non-negative integer', record);
    const token = url.searchParams.get('continuation-token');
    let after = url.searchParams.get('start-after') ?? '';
    if (token !== null) {
      after = Buffer.from(token, 'base64url').toString('utf8');
      if (!after)
        return this.error(res, 400, 'InvalidArgument', 'The continuation token provided is incorrect', record);
    }
    const all = this.keysIn(bucket, prefix).filter((k) => k > after);
    const page = all.slice(0, Math.min(max, 1000));
    const truncated = all.length > page.length;
    const contents = page
      .map((k) => {
        const o = this.objects.get(`${bucket}/${k}`)!;
        return `<Contents><Key>${xml(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xml(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      })
      .join('');
    this.requests.push({ ...record, outcome: 'OK' });
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${
        truncated
          ? `<NextContinuationToken>${Buffer.from(page.at(-1)!, 'utf8').toString('base64url')}</NextContinuationToken>`
          : ''
      }</ListBucketResult>`,
    );
  }
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
