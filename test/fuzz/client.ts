/** Sends generated requests over loopback and judges the replies (shared by the property test and the fuzzer). */
import { type Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { LEAK_PATTERNS, type FuzzRequest, type RawRequest } from './requests.js';

export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly ms: number;
}

const MAX_READ = 4 * 1024 * 1024;

/** Sends one request to a loopback origin (`http://127.0.0.1:port`), chunked when asked. */
export function send(origin: string, r: FuzzRequest, agent?: Agent, timeoutMs = 30_000): Promise<Reply> {
  const { hostname, port } = new URL(origin);
  if (!/^127\.|^\[::1\]$|^localhost$/.test(hostname)) throw new Error(`refusing to send to ${hostname}: loopback only`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.headers };
    if (r.body && r.chunks === undefined) headers['content-length'] = String(r.body.length);
    // Node frames a body without a length as chunked only for methods that usually carry one; for
    // DELETE, OPTIONS and the like it would send the bytes unframed, which is not a body but a
    // broken next request (the raw requests cover that). Ask for chunked framing explicitly.
    if (r.body && r.chunks !== undefined) headers['transfer-encoding'] = 'chunked';
    const req = httpRequest(
      {
        host: hostname,
        port,
        method: r.method,
        path: r.target,
        headers,
        agent: agent ?? false,
        setHost: !('host' in headers),
        timeout: timeoutMs,
        insecureHTTPParser: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_READ) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    req.on('error', (error: Error & { code?: string }) => {
      // The server may close an oversize upload before it is all sent; the reply was already read or is lost.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET')
        resolve({ status: -1, contentType: '', body: '', ms: performance.now() - started });
      else reject(error);
    });
    if (!r.body) return void req.end();
    if (r.chunks === undefined) return void req.end(r.body);
    const size = Math.ceil(r.body.length / r.chunks) || 1;
    let offset = 0;
    const pump = () => {
      while (offset < r.body!.length) {
        const piece = r.body!.subarray(offset, offset + size);
        offset += size;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** Writes raw bytes on a fresh loopback connection and reads the status line and body of the first reply. */
export function sendRaw(origin: string, r: RawRequest, timeoutMs = 30_000): Promise<Reply> {
  const { hostname, port } = new URL(origin);
  if (!/^127\.|^\[::1\]$/.test(hostname)) throw new Error(`refusing to send to ${hostname}: loopback only`);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const finish = () => {
      let text = Buffer.concat(chunks).toString('latin1');
      // Skip interim replies (100 Continue) to the final one.
      while (/^HTTP\/1\.[01] 1\d\d /.test(text) && text.includes('\r\n\r\n'))
        text = text.slice(text.indexOf('\r\n\r\n') + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? -1);
      const head = text.split('\r\n\r\n')[0] ?? '';
      const contentType = /\r\ncontent-type: *([^\r]*)/i.exec(head)?.[1] ?? '';
      resolve({ status, contentType, body: text.slice(head.length + 4), ms: performance.now() - started });
    };
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One reply is enough; a keep-alive connection would otherwise wait for the timeout.
      if (/^HTTP\/1\.[01] [2-5]\d\d |\r\n\r\nHTTP\/1\.[01] [2-5]\d\d /.test(Buffer.concat(chunks).toString('latin1')))
        setTimeout(() => socket.destroy(), 100);
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
    // write, not end: a half-closed connection lets the server drop a request it has not answered yet.
    socket.write(r.raw);
  });
}

/**
 * What must hold for every reply: no 5xx, a problem document for every 4xx on the /api/jobs family,
 * no stack trace or host path (unless the request itself carried that text), and an answer within
 * `slowMs`. Returns the broken rules, empty when the reply is fine.
 */
export function judge(target: string, sent: string, reply: Reply, slowMs = 5000, method = 'GET'): string[] {
  const broken: string[] = [];
  if (reply.status >= 500) broken.push(`status ${reply.status}`);
  if (reply.status < 0) broken.push('no reply (connection closed)');
  const path = target.split('?')[0] ?? '';
  if (/^\/api\/(jobs|submit-job|subscriptions)(\/|$)/i.test(path) && reply.status >= 400 && reply.status < 500) {
    if (!reply.contentType.startsWith('application/problem+json'))
      broken.push(`4xx without problem+json (${reply.contentType || 'no content-type'})`);
    else if (method !== 'HEAD') {
      try {
        const doc = JSON.parse(reply.body) as { status?: unknown; detail?: unknown; title?: unknown };
        if (doc.status !== reply.status || (typeof doc.detail !== 'string' && typeof doc.title !== 'string'))
          broken.push('problem document without status/detail');
      } catch {
        broken.push('problem document is not JSON');
      }
    }
  }
  for (const p of LEAK_PATTERNS) if (p.test(reply.body) && !p.test(sent)) broken.push(`reply leaks ${p}`);
  if (reply.body.includes(process.cwd()) && !sent.includes(process.cwd()))
    broken.push('reply leaks the working directory');
  if (reply.ms > slowMs) broken.push(`slow reply: ${Math.round(reply.ms)} ms`);
  return broken;
}

/** The text of a request, to tell an echo from a leak. */
export function requestText(r: FuzzRequest | RawRequest): string {
  if ('raw' in r) return r.raw.toString('latin1');
  let target = r.target;
  try {
    target += ` ${decodeURIComponent(r.target)}`;
  } catch {
    // A malformed escape: the raw target is all there is.
  }
  return `${r.method} ${target} ${JSON.stringify(r.headers)} ${r.body?.toString('utf8') ?? ''}`;
}
