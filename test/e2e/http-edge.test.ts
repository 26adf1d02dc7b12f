import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { send, sendRaw, type Reply } from '../fuzz/client.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

const KEY = 'edge-key-91c2';
const auth = { 'x-functions-key': KEY };

function problemOf(reply: Reply): {
  status: number;
  code?: string;
  detail: string;
  errors?: unknown[];
  errorsOmitted?: number;
} {
  expect(reply.contentType).toBe('application/problem+json');
  const doc = JSON.parse(reply.body) as { status: number; code?: string; detail: string };
  expect(doc.status).toBe(reply.status);
  return doc;
}

describe('HTTP edge: hostile requests get a 4xx naming the problem, never a 5xx', () => {
  let r: TestRunner;
  const agent = new Agent({ keepAlive: true });
  const post = (
    target: string,
    body: string | Buffer,
    options: { chunks?: number; headers?: Record<string, string> } = {},
  ) =>
    send(
      r.url,
      {
        method: 'POST',
        target,
        headers: { 'content-type': 'application/json', ...auth, ...options.headers },
        body: Buffer.from(body),
        ...(options.chunks && { chunks: options.chunks }),
      },
      agent,
    );
  const get = (target: string, headers: Record<string, string> = auth) =>
    send(r.url, { method: 'GET', target, headers }, agent);
  const jobCount = async () =>
    ((await r.api('/api/jobs?limit=1000', { headers: auth }).then((x) => x.json())) as { jobs: unknown[] }).jobs.length;

  beforeAll(async () => {
    r = await startTestRunner({ LOCAL_API_KEY: KEY, HEALTH_CACHE_SEC: '30' }, { workers: false });
  });
  afterAll(async () => {
    agent.destroy();
    await r?.stop();
  });

  it('refuses JSON nested 4 500 deep (arrays, objects, inside data) with 400 naming MAX_JSON_DEPTH, and stores nothing', async () => {
    const before = await jobCount();
    const bodies = [
      '['.repeat(4500) + ']'.repeat(4500),
      `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
      `{"rows":5,"data":{"a":${'['.repeat(63)}${']'.repeat(63)}}}`,
    ];
    for (const target of ['/api/jobs', '/api/submit-job', '/api/service/v1/pipelines/inference']) {
      for (const body of bodies) {
        const p = problemOf(await post(target, body));
        expect(p).toMatchObject({ status: 400, code: 'JSON_LIMIT_EXCEEDED' });
        expect(p.detail).toContain('MAX_JSON_DEPTH');
      }
    }
    // 64 levels (the documented default) is still accepted; 65 is not.
    const ok = await post('/api/jobs', `{"rows":5,"data":{"a":${'['.repeat(62)}${']'.repeat(62)}}}`);
    expect(ok.status, ok.body.slice(0, 500)).toBe(202);
    expect(await jobCount()).toBe(before + 1);
  });

  it('refuses a body with more items than MAX_JSON_ITEMS with 400', async () => {
    const p = problemOf(await post('/api/jobs', `{"rows":1,"data":{"v":[${new Array(20_001).fill(0).join(',')}]}}`));
    expect(p).toMatchObject({ status: 400, code: 'JSON_LIMIT_EXCEEDED' });
    expect(p.detail).toContain('MAX_JSON_ITEMS');
  });

  it("answers malformed %-escapes in every id route with 404 in the route family's own shape", async () => {
    for (const id of ['%FF', '%E0%A4%A', '%ZZ', '%']) {
      for (const path of [
        `/api/jobs/${id}`,
        `/api/jobs/${id}/events`,
        `/api/jobs/${id}/result`,
        `/api/jobs/${id}/logs`,
      ]) {
        const reply = await get(path);
        expect(problemOf(reply)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      }
      const cancel = await post(`/api/jobs/${id}/cancel`, '{}');
      expect(problemOf(cancel).status).toBe(404);
      for (const path of [
        `/api/service/v1/pipelines/training/${id}/get`,
        `/api/service/v1/pipelines/inference/${id}/get`,
      ]) {
        const reply = await get(path);
        expect(reply.status).toBe(404);
        expect(JSON.parse(reply.body)).toEqual({ error: 'Not found - The requested resource does not exists' });
      }
      // /execute is off by default: 403, never 500.
      expect((await get(`/api/execute/${id}/getStatus`)).status).toBeLessThan(500);
    }
  });

  it('routes by path whatever the Host header says', async () => {
    for (const host of ['a b', '[]', '127.0.0.1:99999', 'user@host', '']) {
      const reply = await get('/api/jobs?limit=1', { ...auth, host });
      expect(reply.status, host).toBe(200);
    }
  });

  it('answers 413 to a chunked 1 MiB body and to a valid body at the limit plus padding, without storing a job', async () => {
    const before = await jobCount();
    const big = await post('/api/jobs', Buffer.alloc(1024 * 1024, 0x20), { chunks: 64 });
    expect(problemOf(big)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    const prefix = JSON.stringify({ rows: 1, data: { p: 'x'.repeat(r.deps.config.maxBodyBytes - 40) } });
    expect(prefix.length).toBeLessThanOrEqual(r.deps.config.maxBodyBytes);
    const padded = await post('/api/jobs', Buffer.concat([Buffer.from(prefix), Buffer.alloc(300_000, 0x20)]), {
      chunks: 32,
    });
    expect(problemOf(padded).status).toBe(413);
    expect(await jobCount()).toBe(before);
  });

  it('keeps validation replies small: at most 20 issues listed, the rest counted, echoed strings clipped', async () => {
    const body = JSON.stringify(
      Object.fromEntries(Array.from({ length: 3500 }, (_, i) => [`field_${i}_${'x'.repeat(50)}`, 1])),
    );
    expect(body.length).toBeGreaterThan(200_000);
    const reply = await post('/api/jobs', body);
    const p = problemOf(reply);
    expect(p.status).toBe(400);
    expect(p.errors).toHaveLength(20);
    expect(p.errorsOmitted).toBe(3480);
    expect(reply.body.length).toBeLessThan(20_000);
    const long = problemOf(await post('/api/jobs', JSON.stringify({ priority: 'p'.repeat(100_000) })));
    expect(JSON.stringify(long).length).toBeLessThan(10_000);
  });

  it('asks for the key before matching routes: unknown and known routes alike answer 401 without it', async () => {
    for (const path of ['/api/jobs', '/api/no-such-route', '/api/jobs/x/y/z', '/nothing']) {
      expect(problemOf(await get(path, {})), path).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
      expect(problemOf(await get(path, { 'x-functions-key': `${KEY}x` })).status).toBe(401);
    }
    expect((await get('/api/no-such-route')).status).toBe(404);
    expect((await get('/api/health', {})).status).toBe(200);
  });

  it('answers a flood of health checks from one cached probe that names no error text', async () => {
    const probe = vi.spyOn(r.deps.queues, 'depth');
    const replies = await Promise.all(Array.from({ length: 50 }, () => get('/api/health', {})));
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({
        status: 'healthy',
        checks: { tables: { ok: true }, queues: { ok: true }, blobs: { ok: true }, providers: { ok: true } },
      });
    }
    // HEALTH_CACHE_SEC is 30 here: at most one probe for the whole flood (none if an earlier one is cached).
    expect(probe.mock.calls.length).toBeLessThanOrEqual(1);
    probe.mockRestore();
  });

  it('answers methods, framing and expectations it does not support with a 4xx', async () => {
    for (const method of ['HEAD', 'OPTIONS', 'PATCH', 'TRACE']) {
      const reply = await send(r.url, { method, target: '/api/jobs', headers: auth }, agent);
      expect(reply.status, method).toBe(405);
    }
    const raws = [
      'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /api/jobs HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n',
      `GET /api/jobs?${'q'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ];
    for (const raw of raws) {
      const reply = await sendRaw(r.url, { raw: Buffer.from(raw), target: '/api/jobs' });
      expect(reply.status, raw.slice(0, 60)).toBeGreaterThanOrEqual(400);
      expect(reply.status).toBeLessThan(500);
      expect(reply.contentType).toBe('application/problem+json');
    }
  });
  /** Writes `parts` on one connection, a pause between them, and returns every byte the server sent. */
  async function rawExchange(parts: string[]): Promise<string> {
    const { hostname, port } = new URL(r.url);
    const socket = connect({ port: Number(port), host: hostname });
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    for (const part of parts) {
      socket.write(part);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    socket.destroy();
    return Buffer.concat(received).toString('latin1');
  }

  it("keeps a pipelined request's 100 Continue before its reply while the reply before it is still open", async () => {
    // Found by the property test: an early 405 still reading its upload, and the next request on
    // the connection asking `Expect: 100-continue`. Written at once, the second reply's head went
    // out before the 100 Continue Node had queued, and the client read the rest as garbage.
    const first = `PROPFIND /api/jobs/ HTTP/1.1\r\nHost: x\r\nX-Functions-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n${' '.repeat(200_000)}`;
    const second =
      'PUT /api/ui HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n';
    const wire = await rawExchange([first + second, '0123456789']);
    const replies = wire.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(replies.map((x) => x.slice(0, 12))).toEqual(['HTTP/1.1 405', 'HTTP/1.1 100', 'HTTP/1.1 405']);
    expect(replies[1]).toBe('HTTP/1.1 100 Continue\r\n\r\n');
  });

  it('answers oversize headers with 431, and never sends a body after the head of a HEAD reply', async () => {
    // Found by the fuzzer: a HEAD whose header block arrived in two reads failed in the second one,
    // and the reply carried a problem body the client read as bytes after the reply.
    const split = await rawExchange([
      `HEAD /api/providers?adapter_instance=${'q'.repeat(200)} HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(10_000)}\r\n`,
      `X-B: ${'b'.repeat(10_000)}\r\n\r\n`,
    ]);
    expect(split).toMatch(/^HTTP\/1\.1 431 /);
    expect(split.endsWith('\r\n\r\n'), 'nothing after the head of a HEAD reply').toBe(true);

    // Broken chunked framing in a body that arrives after its head: the method is known, so the
    // 400 carries its problem document.
    const bodyError = await rawExchange([
      `POST /api/jobs HTTP/1.1\r\nHost: x\r\nX-Functions-Key: ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      'ZZ\r\n{}\r\n0\r\n\r\n',
    ]);
    expect(bodyError).toMatch(/^HTTP\/1\.1 400 /);
    const doc = JSON.parse(bodyError.slice(bodyError.indexOf('\r\n\r\n') + 4)) as { status: number };
    expect(doc.status).toBe(400);

    // The same headers for GET and POST: a problem document naming the limit.
    for (const method of ['GET', 'POST'] as const) {
      const reply = await send(
        r.url,
        {
          method,
          target: '/api/jobs',
          headers: {
            ...auth,
            'content-type': 'application/json',
            'x-a': 'a'.repeat(10_000),
            'x-b': 'b'.repeat(10_000),
          },
          ...(method === 'POST' && { body: Buffer.from('{"rows":1}') }),
        },
        agent,
      );
      expect(reply.status, method).toBe(431);
      expect(problemOf(reply).detail).toMatch(/exceed 16384 bytes/);
    }
    // HEAD through an ordinary client: a 431 the client parses (no body bytes after the head).
    const head = await send(
      r.url,
      { method: 'HEAD', target: '/api/jobs', headers: { ...auth, 'x-a': 'a'.repeat(20_000) } },
      new Agent({ keepAlive: false }),
    );
    expect(head.status).toBe(431);
    expect(head.body).toBe('');
  });

  /**
   * Writes the head and a first chunk of a `connection: close` upload, reads the whole reply, then
   * checks the server still reads the rest: a server that closed after replying would reset the
   * client's later writes, and a reset can discard a reply the client has not read yet.
   */
  async function earlyReplyKeepsReading(
    head: string,
    firstBytes: number,
    framing: 'chunked' | 'garbage' = 'chunked',
  ): Promise<{ status: number; closedBeforeUploadEnded: boolean; endedCleanly: boolean }> {
    const { hostname, port } = new URL(r.url);
    // Half-open allowed: a server may half-close after its reply (a FIN) and still read what follows.
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    const received: Buffer[] = [];
    let closedAt: 'before' | 'after' | undefined;
    let uploadDone = false;
    let failed = false;
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => (failed = true));
    const closed = new Promise<void>((resolve) =>
      socket.on('close', () => {
        closedAt ??= uploadDone ? 'after' : 'before';
        resolve();
      }),
    );
    // Garbage: bytes that are not a chunk, which the server refuses with 400 on the first one.
    const chunk = (bytes: number) =>
      framing === 'chunked' ? `${bytes.toString(16)}\r\n${' '.repeat(bytes)}\r\n` : 'Z'.repeat(bytes);
    socket.write(
      `${head}\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(firstBytes)}`,
    );
    await vi.waitFor(() => expect(Buffer.concat(received).toString('latin1')).toMatch(/\r\n\r\n\{.*\}$/s), {
      timeout: 10_000,
    });
    // The reply is complete; the upload goes on in pieces, as a slow client's would.
    for (let i = 0; i < 8 && closedAt === undefined; i++) {
      socket.write(chunk(64 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    uploadDone = true;
    socket.end('0\r\n\r\n');
    await closed;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(received).toString('latin1'))?.[1] ?? -1);
    return { status, closedBeforeUploadEnded: closedAt === 'before', endedCleanly: !failed };
  }

  it('replies early (401, 404, 405, 413, 400 on broken framing) without closing on a client still uploading, then closes cleanly once the upload is read', async () => {
    const keyed = (line: string) => `${line}\r\nx-functions-key: ${KEY}`;
    const over = r.deps.config.maxBodyBytes + 1024;
    const cases: Array<[string, number, number]> = [
      ['POST /api/jobs HTTP/1.1', 64 * 1024, 401],
      [keyed('POST /api/no-such-route HTTP/1.1'), 64 * 1024, 404],
      [keyed('PUT /api/jobs HTTP/1.1'), 64 * 1024, 405],
      [keyed('POST /api/jobs HTTP/1.1'), over, 413],
    ];
    for (const [head, firstBytes, status] of cases) {
      const outcome = await earlyReplyKeepsReading(head, firstBytes);
      expect(outcome, head).toEqual({ status, closedBeforeUploadEnded: false, endedCleanly: true });
    }
    // Broken framing is refused at once, and what follows it is read and dropped, not reset.
    const garbage = await earlyReplyKeepsReading(keyed('POST /api/jobs HTTP/1.1'), 1024, 'garbage');
    expect(garbage).toEqual({ status: 400, closedBeforeUploadEnded: false, endedCleanly: true });
  });
});
