/**
 * Generators of hostile HTTP requests for the property tests and `npm run fuzz`: the same
 * arbitraries drive both, so a case the fuzzer finds can be replayed in a test.
 */
import fc from 'fast-check';

export interface FuzzRequest {
  readonly method: string;
  /** Request target as sent on the request line (already encoded, possibly malformed). */
  readonly target: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** Send the body chunked (no content-length), in about this many pieces. */
  readonly chunks?: number;
}

/** A request sent as raw bytes on a fresh connection: framing the HTTP client would refuse to produce. */
export interface RawRequest {
  readonly raw: Buffer;
  readonly target: string;
}

/** Routes of the API with `{id}` where an id goes; kept in step with src/functions by the property test. */
export const ROUTE_TEMPLATES = [
  '/api/jobs',
  '/api/jobs/{id}',
  '/api/jobs/{id}/events',
  '/api/jobs/{id}/result',
  '/api/jobs/{id}/logs',
  '/api/jobs/{id}/cancel',
  '/api/jobs/{id}/deliveries',
  '/api/subscriptions',
  '/api/subscriptions/{id}',
  '/api/subscriptions/{id}/deliveries',
  '/api/submit-job',
  '/api/health',
  '/api/openapi.json',
  '/api/providers',
  '/api/ui',
  '/api/ui/assets/{id}',
  '/api/queues/status',
  '/api/execute',
  '/api/execute/{id}/getStatus',
  '/api/execute/{id}/getLog',
  '/api/execute/{id}/stop',
  '/api/service/v1/pipelines/training/{id}',
  '/api/service/v1/pipelines/training/list',
  '/api/service/v1/pipelines/training/{id}/get',
  '/api/service/v1/pipelines/training/{id}/cancel',
  '/api/service/v1/pipelines/training/{id}/delete',
  '/api/service/v1/projects_pipelines/{id}/delete',
  '/api/service/v1/pipelines/inference',
  '/api/service/v1/pipelines/inference/list',
  '/api/service/v1/pipelines/inference/{id}/get',
  '/api/service/v1/pipelines/inference/{id}/cancel',
  '/api/service/v1/pipelines/inference/{id}',
  '/api/costs',
  '/api/endpoints',
  '/api/service/v1/datasets',
  '/api/service/v1/datasets/list',
  '/api/service/v1/datasets/{id}',
  '/api/service/v1/datasets/{id}/export',
  '/api/service/v1/models/list',
  '/api/service/v1/models/register',
  '/api/service/v1/models/{id}',
  '/api/service/v1/models/{id}/export',
  '/api/service/v1/endpoints/list',
  '/api/service/v1/endpoints/register',
  '/api/service/v1/endpoints/{id}',
  '/api/service/v1/endpoints/{id}/delete',
  '/api/service/v1/endpoints/{id}/{id}',
  '/api/service/v1/endpoints/{id}/deploy_model',
  '/api/service/v1/endpoints/{id}/infer',
  '/api/service/v1/endpoints/{id}/explain',
  '/api/service/v1/endpoints/{id}/undeploy_models',
] as const;

/** Strings a generated request never contains, so finding one in a reply means the server leaked it. */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\n\s+at /,
  /\bat [\w.<>]+ \(/,
  /node:internal/,
  /node_modules/,
  /\/work\//,
  /\/home\//,
  /\/tmp\//,
  /\.ts:\d+/,
];

const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map(scrub);

/** Removes what would make a reply look like a leak when the server merely echoes it back. */
function scrub(text: string): string {
  return text
    .replace(/\/(work|home|tmp)\//g, '/x/')
    .replace(/node[:_]/gi, 'n-')
    .replace(/\bat /g, 'a ')
    .replace(/\.ts:/g, '.t:');
}

const MALFORMED_ESCAPES = [
  '%FF',
  '%E0%A4%A',
  '%ZZ',
  '%',
  '%%',
  '%0',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '..%2F..%2Fetc',
  '%2e%2e',
  '%u0041',
];

const idSegment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...MALFORMED_ESCAPES) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('j-00000000000000000000000000', 'automl', 'custom_script', 'train', 'list', '1'),
  },
  { weight: 3, arbitrary: printable.map((s) => encodeURIComponent(s) || 'x') },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => encodeURIComponent(scrub(s)) || 'y'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 3000 }).map((n) => 'a'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(';', ',', '~', '!', "'", '(', ')', '*', '@', '$', '&', '+', '=', ':') },
);

const routePath = fc
  .tuple(fc.constantFrom(...ROUTE_TEMPLATES), idSegment, fc.boolean())
  .map(([t, id, slash]) => t.replace('{id}', id) + (slash ? '/' : ''));

const junkPath = fc.oneof(
  fc.constantFrom(
    '/',
    '/api',
    '/api/',
    '//api/jobs',
    '/api//jobs',
    '/api/jobs/../health',
    '/api/./jobs',
    '/API/JOBS',
    '/api/jobs%2F',
    '/api/jobs?',
    '/%',
    '/api/%zz/x',
    '/api/jobs/a/b/c/d',
  ),
  fc.array(idSegment, { minLength: 1, maxLength: 6 }).map((segs) => `/api/${segs.join('/')}`),
);

const queryValue = fc.oneof(
  printable.map((s) => encodeURIComponent(s)),
  fc.constantFrom(
    ...MALFORMED_ESCAPES,
    '0',
    '-1',
    '1',
    '50',
    '1000',
    '1001',
    '1e3',
    'NaN',
    'Infinity',
    'true',
    'queued',
    'succeeded',
    'bWVo',
    'e30=',
    'bnVsbA==',
    'MQ==',
    'eyJuZXh0UGFydGl0aW9uS2V5Ijp7fX0=',
    'junk',
  ),
  fc.integer({ min: 1000, max: 9000 }).map((n) => 'q'.repeat(n)),
);
const queryKey = fc.constantFrom(
  'limit',
  'status',
  'queue',
  'provider',
  'continuationToken',
  'detail',
  'full',
  'code',
  'adapter_instance',
  'project',
  'isCached',
  'x',
  '',
  '%',
  'limit[]',
);
const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(queryKey, queryValue), { minLength: 1, maxLength: 5 })
      .map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('?', '?&&&', '?=', '?a', '?limit=1&limit=2&limit=3', '?%=%') },
);

export const target = fc
  .tuple(fc.oneof({ weight: 5, arbitrary: routePath }, { weight: 1, arbitrary: junkPath }), query)
  .map(([p, q]) => p + q);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json;charset=latin1',
      'APPLICATION/JSON ; x="y;z"',
      'application/json;;;',
      'application/merge-patch+json',
      'application/problem+json',
      'application/json; boundary=----x',
      'text/plain',
      'text/json',
      'multipart/form-data; boundary=x',
      '',
      ';',
      '+json',
      'application/',
    ),
  },
);

const hostHeader = fc.constantFrom(
  'a b',
  '[]',
  '127.0.0.1:99999',
  'user@host',
  '',
  '127.0.0.1',
  '[::1]:0',
  'localhost:7071',
  'x'.repeat(300),
  'évil',
  '%00',
  'a/b',
  ':',
);

/** A job body as clients send it, with fields now and then of the wrong type or size. */
const jobLikeBody = fc.record(
  {
    rows: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom(-1, 1.5, 1e308, 'many', null, [], {})),
    estimated_runtime_sec: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(-5, 'x', true)),
    priority: fc.constantFrom('high', 'normal', 'low', 'asap', '', 7),
    latency_sensitive: fc.oneof(fc.boolean(), fc.constant('yes')),
    data: fc.oneof(fc.dictionary(printable, printable, { maxKeys: 5 }), fc.constant('x'), fc.constant(null)),
    labels: fc.dictionary(printable, printable, { maxKeys: 4 }),
    target: fc.constantFrom('local', 'sagemaker', 'azure-ml', 'vertex', 'azure-batch', 'mars'),
    kind: fc.constantFrom('training', 'inference', 'automl', 'teleport'),
    spec: fc.dictionary(printable, fc.oneof(printable, fc.integer()), { maxKeys: 4 }),
    colour: printable,
  },
  { requiredKeys: [] },
);

function nested(depth: number, open: string, close: string, leaf = '0'): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

const deepBody = fc
  .tuple(fc.integer({ min: 30, max: 6000 }), fc.constantFrom('array', 'object', 'mixed', 'in-data'))
  .map(([d, shape]) => {
    if (shape === 'array') return nested(d, '[', ']');
    if (shape === 'object') return `${'{"a":'.repeat(d)}0${'}'.repeat(d)}`;
    if (shape === 'mixed') return `${'[{"a":'.repeat(Math.ceil(d / 2))}0${'}]'.repeat(Math.ceil(d / 2))}`;
    return `{"rows":5,"data":${nested(d, '[', ']')}}`;
  });

const manyItems = fc
  .integer({ min: 5_000, max: 60_000 })
  .map((n) => `{"rows":1,"data":{"v":[${Array.from({ length: n }, () => '0').join(',')}]}}`);
const manyIssues = fc
  .integer({ min: 50, max: 20_000 })
  .map((n) =>
    JSON.stringify(
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`unknown_field_${i}_${'k'.repeat(8)}`, 'v'])),
    ),
  );
const hugeString = fc.integer({ min: 100_000, max: 400_000 }).map((n) => JSON.stringify({ rows: 'x'.repeat(n) }));
const hugeKey = fc.integer({ min: 1_000, max: 200_000 }).map((n) => `{"${'k'.repeat(n)}":1}`);

export const bodyText = fc.oneof(
  { weight: 6, arbitrary: jobLikeBody.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: fc.json({ maxDepth: 6 }).map(scrub) },
  { weight: 2, arbitrary: deepBody },
  { weight: 1, arbitrary: manyItems },
  { weight: 1, arbitrary: manyIssues },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: hugeKey },
  { weight: 2, arbitrary: printable },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'null',
      'true',
      '1',
      '"x"',
      '[]',
      '{}',
      '{"rows":5,',
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"x":1}}}',
      '\uFEFF{}',
      '{"rows":1}{"rows":2}',
      '{"rows":1e999999}',
    ),
  },
);

const bodyBytes = fc.oneof(
  { weight: 9, arbitrary: bodyText.map((t) => Buffer.from(t, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  // A valid body at the size limit followed by padding: must be 413, never the valid prefix.
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 800_000 })
      .map((pad) =>
        Buffer.concat([
          Buffer.from(JSON.stringify({ rows: 1, data: { p: 'x'.repeat(262_100) } })),
          Buffer.alloc(pad, 0x20),
        ]),
      ),
  },
);

export const headerValue = fc.oneof(
  { weight: 12, arbitrary: printable },
  { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 20_000 }).map((n) => 'h'.repeat(n)) },
);

/** Any request the API can receive from a client that speaks HTTP/1.1 correctly. */
export function fuzzRequest(apiKey?: string): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT') },
        { weight: 2, arbitrary: fc.constantFrom('PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND') },
      ),
      target,
      contentType: fc.option(contentType, { nil: undefined, freq: 6 }),
      host: fc.option(hostHeader, { nil: undefined, freq: 2 }),
      idempotencyKey: fc.option(fc.oneof(printable, fc.constantFrom('order-1', 'k'.repeat(5000))), {
        nil: undefined,
        freq: 3,
      }),
      key: fc.constantFrom('right', 'right', 'right', 'right', 'wrong', 'none', 'query'),
      extra: fc.array(
        fc.tuple(
          fc.constantFrom(
            'x-weird',
            'accept',
            'accept-encoding',
            'content-encoding',
            'expect',
            'referer',
            'x-forwarded-for',
            'range',
            'if-match',
            'cookie',
            'x-ms-client-request-id',
          ),
          headerValue,
        ),
        { maxLength: 3 },
      ),
      body: fc.option(bodyBytes, { nil: undefined, freq: 4 }),
      chunks: fc.option(fc.integer({ min: 2, max: 40 }), { nil: undefined, freq: 3 }),
    })
    .map((r) => {
      const headers: Record<string, string> = {};
      if (r.contentType !== undefined) headers['content-type'] = r.contentType;
      if (r.host !== undefined) headers.host = r.host;
      if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
      // An Expect header other than 100-continue only ever earns a 417: keep it rare.
      for (const [k, v] of r.extra)
        if (k !== 'expect' || v.length % 8 === 0)
          headers[k] = k === 'expect' && v.length % 16 === 0 ? '100-continue' : v;
      let t = r.target;
      if (apiKey && r.key === 'right') headers['x-functions-key'] = apiKey;
      if (apiKey && r.key === 'wrong') headers['x-functions-key'] = `${apiKey.slice(0, -1)}X`;
      if (apiKey && r.key === 'query') t += `${t.includes('?') ? '&' : '?'}code=${encodeURIComponent(apiKey)}`;
      const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
      return {
        method: r.method,
        target: t,
        headers,
        ...(withBody && { body: r.body, ...(r.chunks !== undefined && { chunks: r.chunks }) }),
      };
    });
}

/** Requests an ordinary HTTP client would not send: conflicting framing, bad request lines, bare LFs. */
export const rawRequest: fc.Arbitrary<RawRequest> = fc
  .constantFrom(
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}',
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n',
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n',
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1e3\r\n\r\n',
    'GET /api/jobs HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET /api/jobs HTTP/1.1\r\n\r\n',
    'GET /api/jobs HTTP/1.0\r\n\r\n',
    'GET /api/jobs HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET api/jobs HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
    'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET http://other.example/api/jobs HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/jobs/\u00ff HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/jobs HTTP/1.1\nHost: x\n\n',
    'GET /api/jobs HTTP/1.1\r\nHost: x\r\nX-Bad Header: 1\r\n\r\n',
    'GET /api/jobs HTTP/1.1\r\nHost: x\r\n Folded: 1\r\n\r\n',
    'GET /api/jobs HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n',
    'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}',
    `GET /api/jobs HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(70_000)}\r\n\r\n`,
    `GET /api/jobs?${'q'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    'BREW /api/jobs HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/jobs HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    `HEAD /api/jobs HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(70_000)}\r\n\r\n`,
    '\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
  )
  .map((raw) => ({ raw: Buffer.from(raw, 'latin1'), target: raw.split(' ')[1] ?? '' }));
