import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import functions, { type HttpResponseInit } from '@azure/functions';
import { Cron } from 'croner';
import type { FunctionDefinition, HttpFunction, QueueFunction, TimerFunction } from '../functions/define.js';
import { processMessage } from '../lib/app/process-message.js';
import { azuriteConnectionString, loadConfig, queueNameFor, type Config } from '../lib/config.js';
import { createDeps, ensureResources, setSharedDeps, type Deps } from '../lib/deps.js';
import { UnauthorizedError } from '../lib/errors.js';
import { clip, problemResponse } from '../lib/http/http.js';
import { releaseHostedRuns } from '../lib/app/release-hosted-runs.js';
import { startAzurite, type AzuriteHandle } from './azurite.js';
import { WakingTransport } from './waking-transport.js';
import type { IdleWait } from '../lib/core/poll-backoff.js';
import { LeaseKeeper } from '../lib/app/lease-keeper.js';
import { QueueConsumer } from '../lib/app/queue-consumer.js';
import type { JobWorker } from '../worker/job-worker.js';

// @azure/functions is a CommonJS bundle whose named exports Node's ESM loader cannot see.
const { HttpRequest, HttpResponse, InvocationContext } = functions;

export interface LocalRunnerOptions {
  /** Settings (local.settings.json Values merged with the environment). */
  readonly env: Record<string, string | undefined>;
  readonly functions: readonly FunctionDefinition[];
  /** Start Azurite unless JobsStorage already points somewhere. Default true. */
  readonly startAzurite?: boolean;
  /** Run the actor and spark workers in this process. Default true. */
  readonly workers?: boolean;
  /** Test seams, passed to createDeps. */
  readonly overrides?: Partial<Deps>;
  /** Longest idle wait of queue triggers and workers (the host's maxPollingInterval); default IDLE_POLL_MAX_SEC. */
  readonly queuePollMs?: number;
  readonly quiet?: boolean;
}

export interface LocalRunner {
  readonly url: string;
  readonly deps: Deps;
  readonly workers: readonly JobWorker[];
  stop(): Promise<void>;
}

/**
 * Hosts the same function definitions the Functions app registers, without Core Tools: HTTP under
 * /api, queue triggers with the host's delivery semantics (redelivery, then `<queue>-poison` after
 * the max dequeue count), timers on their NCRONTAB schedules, and the actor and spark workers.
 */
export async function startLocalRunner(options: LocalRunnerOptions): Promise<LocalRunner> {
  const stops: Array<() => Promise<void>> = [];
  let azurite: AzuriteHandle | undefined;
  const env = { ...options.env };
  try {
    let config = loadConfig(env);
    if (
      !config.storage.connectionString &&
      !config.storage.tableServiceUri &&
      options.startAzurite !== false &&
      !options.overrides?.store
    ) {
      azurite = await startAzurite({
        blobPort: config.local.azuriteBlobPort,
        queuePort: config.local.azuriteQueuePort,
        tablePort: config.local.azuriteTablePort,
        location: config.local.azuriteLocation,
      });
      stops.push(() => azurite!.stop());
      env.JobsStorage = azuriteConnectionString({
        blob: config.local.azuriteBlobPort,
        queue: config.local.azuriteQueuePort,
        table: config.local.azuriteTablePort,
      });
      config = loadConfig(env);
    }
    // Telemetry first, so the first request is already traced (a no-op when a test started its own).
    const { startTelemetry, flushTelemetry } = await import('../lib/telemetry/setup.js');
    await startTelemetry(config.env, { role: 'local' });
    stops.push(() => flushTelemetry());
    const created = await createDeps(config, options.overrides);
    // Producers and consumers share this process: a send wakes the queue's idle consumers, so idle
    // polling can back off far (cheap) while a new job is still picked up at once.
    const waking = new WakingTransport(created.queues);
    const { NotifyingJobStore } = await import('../lib/app/webhooks/notifier.js');
    // Webhook deliveries enqueued by transitions wake the delivery trigger like any other send.
    const store = created.store instanceof NotifyingJobStore ? created.store.withQueues(waking) : created.store;
    const deps: Deps = { ...created, queues: waking, store };
    await ensureResources(deps);
    await deps.queues.ensure(Object.values(config.queues));
    setSharedDeps(deps);
    stops.push(async () => setSharedDeps(undefined));

    // The host's own lines (function context logs, request failures) go through the one logger too.
    const log = options.quiet
      ? () => undefined
      : (...args: unknown[]) => {
          const [message, ...rest] = args;
          deps.log.info(String(message), rest.length > 0 ? { detail: rest.length === 1 ? rest[0] : rest } : undefined);
        };
    const server = await startHttp(
      config,
      options.functions.filter((f): f is HttpFunction => f.kind === 'http'),
      log,
    );
    stops.push(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          // Keep-alive connections would hold close() open until their clients hang up.
          server.closeAllConnections();
        }),
    );

    const maxPollMs = options.queuePollMs ?? config.worker.maxPollSec * 1000;
    const queueStops = options.functions
      .filter((f): f is QueueFunction => f.kind === 'queue')
      .map((f) => startQueueTrigger(deps, f, maxPollMs, waking.idleWait, log));
    const stopQueueTriggers = once(async () => {
      await Promise.all(queueStops.map((s) => s()));
    });
    stops.push(stopQueueTriggers);

    const timers = options.functions
      .filter((f): f is TimerFunction => f.kind === 'timer')
      .map((f) => startTimer(config, f, log));
    stops.push(async () => {
      for (const t of timers) t.stop();
    });

    const workers: JobWorker[] = [];
    const stopWorkers = once(async () => {
      await Promise.all(workers.map((w) => w.shutdown()));
    });
    if (options.workers !== false) {
      const { startQueueWorker } = await import('../worker/main.js');
      for (const mode of ['actor', 'spark'] as const)
        workers.push(await startQueueWorker(deps, mode, { idleWait: waking.idleWait, maxPollMs }));
      stops.push(stopWorkers);
    }

    const address = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${address.port}`,
      deps,
      workers,
      stop: async () => {
        // First take no more work: queue triggers stop receiving (no new dispatch) while the
        // workers finish or release their jobs; then the local provider's runs get the same grace
        // and the rest go back to their queues. Timers run meanwhile, so the poller still records
        // runs that finish. Then timers, HTTP, and Azurite last.
        await Promise.all([
          stopWorkers(),
          stopQueueTriggers().then(() =>
            releaseHostedRuns(deps, config.worker.shutdownGraceSec).then(
              (s) => s.released > 0 && log(`released ${s.released} unfinished local run(s) to their queues`),
              (error: unknown) => log('releasing local runs failed', error instanceof Error ? error.message : error),
            ),
          ),
        ]);
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

/** Matches `/api/<route>` against a Functions route template such as `jobs/{id}/cancel`. */
export function compileRoute(template: string): RegExp {
  const pattern = template
    .split('/')
    .map((seg) =>
      seg.startsWith('{') && seg.endsWith('}')
        ? `(?<${seg.slice(1, -1).replace(/[?:].*$/, '')}>[^/]+)`
        : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^/api/${pattern}/?$`);
}

/** A problem document for a refusal the runner makes itself, before any function runs. */
function edgeProblem(
  status: number,
  detail: string,
  instance: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  const title = STATUS_CODES[status] ?? 'Request failed';
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify({ type: 'about:blank', title, status, detail, instance: clip(instance) }),
  };
}

/**
 * The request target as a URL on this host. The Host header is never trusted (it can be anything a
 * client types); an absolute-form target keeps only its path and query.
 */
function parseTarget(raw: string | undefined, origin: string): URL | undefined {
  try {
    if (raw?.startsWith('/')) return new URL(origin + raw);
    if (raw && /^https?:\/\//i.test(raw)) {
      const u = new URL(raw);
      return new URL(origin + u.pathname + u.search);
    }
  } catch {
    // Falls through: not a target we can route.
  }
  return undefined;
}

/** A path segment as the function sees it; a malformed %-escape stays as sent (no id contains one). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Reads at most `maxBytes + 1` bytes of the body, then stops: the function sees an oversize body and answers 413. */
function readUpTo(req: IncomingMessage, maxBytes: number): Promise<{ bytes: Buffer; over: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) {
        done();
        req.pause();
        resolve({ bytes: Buffer.concat(chunks, size).subarray(0, maxBytes + 1), over: true });
      }
    };
    const onEnd = () => {
      done();
      resolve({ bytes: Buffer.concat(chunks, size), over: false });
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** How long, and how many more bytes, the rest of an upload answered before it was read is read and dropped. */
const LINGER_MS = 30_000;
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Request line plus headers larger than this get a 431 problem document (Node's own default limit,
 * which the runner enforced before). The check runs once Node has parsed the request, so the reply
 * knows the method: a HEAD reply must not carry a body.
 */
const MAX_HEADER_BYTES = 16 * 1024;
/**
 * Node's parser gives up beyond this (then the request is refused in `clientError`, where the method
 * may no longer be known). Well above MAX_HEADER_BYTES, so that ordinary oversize requests are
 * refused by the check above, where the method is known.
 */
const PARSER_MAX_HEADER_BYTES = 256 * 1024;

/** Bytes of the request line and header block, as sent (near enough: separators counted). */
function headerBytes(req: IncomingMessage): number {
  let n = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
  for (const part of req.rawHeaders) n += part.length + 2;
  return n;
}

/**
 * The method of the request whose bytes Node could not parse, when the chunk that failed begins
 * with its request line. A header block that arrived in several reads fails in a later chunk, and
 * then the method is unknown.
 */
function methodOfRawPacket(packet: Buffer | undefined): string | undefined {
  return /^([A-Z]{1,20}) /.exec(packet?.subarray(0, 24).toString('latin1') ?? '')?.[1];
}

const digest = (text: string) => createHash('sha256').update(text).digest();

async function startHttp(
  config: Config,
  functions: readonly HttpFunction[],
  log: (...a: unknown[]) => void,
): Promise<Server> {
  const routes = functions.map((f) => ({ f, re: compileRoute(f.route) }));
  const anonymous = routes.filter((r) => r.f.authLevel === 'anonymous').map((r) => r.re);
  const keyDigest = config.local.apiKey === undefined ? undefined : digest(config.local.apiKey);
  // Constant-time: both sides are SHA-256 digests, so lengths match whatever the caller sent.
  const keyMatches = (given: string | undefined) =>
    keyDigest !== undefined && given !== undefined && timingSafeEqual(digest(given), keyDigest);
  let origin = 'http://127.0.0.1';

  // Routing never looks at Host, so a request without one is served rather than refused bare.
  const server = createServer({ requireHostHeader: false, maxHeaderSize: PARSER_MAX_HEADER_BYTES }, (req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (req.destroyed || res.destroyed || res.headersSent) return;
      // The client hung up or broke the body mid-stream: its fault, and nobody is listening anyway.
      const aborted = (error as { code?: string } | null)?.code === 'ECONNRESET';
      if (!aborted) log('local runner: request failed', error);
      void send(
        res,
        aborted ? edgeProblem(400, 'The request body was cut off.', '/') : problemResponse(error, '/'),
      ).catch(() => res.destroy());
    });
  });
  // Requests Node cannot parse (bad framing, huge headers, unknown methods) still get a problem document.
  // After the reply, the rest of what the client sends fails to parse again and again: that is
  // read and dropped (bounded, as for early replies) rather than answered with a reset, which
  // could discard the reply before the client reads it.
  const refused = new WeakSet<Duplex>();
  server.on('clientError', (error: Error & { code?: string }, socket) => {
    if (refused.has(socket)) return;
    if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
    refused.add(socket);
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', () => socket.destroy());
    // The request already has its reply on the wire (an early 401/404/413 while its body was still
    // coming, and then the body turned out malformed): a second reply would be read as the body of
    // the first. Finish that reply and close once it is written.
    const current = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (current?.headersSent) {
      if (!current.writableEnded) current.end();
      return void socket.end();
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    // A HEAD reply carries no body, or the client reads the body as bytes after the reply (Node's
    // client: "Data after `Connection: close`"). When the failing chunk does not start with the
    // request line, the method is unknown: a reply without a body is read correctly by every client.
    // A request whose head was parsed (an error in its body) is the parser's incoming message, still
    // incomplete; after a complete one, `incoming` is the previous request on the connection.
    const incoming = (socket as { parser?: { incoming?: IncomingMessage | null } }).parser?.incoming;
    const method =
      methodOfRawPacket((error as { rawPacket?: Buffer }).rawPacket) ??
      (incoming && !incoming.complete ? incoming.method : undefined);
    const body =
      method === undefined || method === 'HEAD'
        ? ''
        : JSON.stringify({
            type: 'about:blank',
            title: STATUS_CODES[status],
            status,
            detail: 'The request is not valid HTTP/1.1 or its headers are too large.',
          });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  // CONNECT and protocol upgrades would otherwise drop the connection without a word.
  const refuseTunnel = (status: number, detail: string) => (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status], status, detail });
    socket.on('error', () => undefined);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
  server.on('connect', refuseTunnel(405, 'CONNECT is not supported.'));
  server.on('upgrade', refuseTunnel(400, 'Protocol upgrades are not supported.'));
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    void send(res, edgeProblem(417, 'Only "Expect: 100-continue" is supported.', '/', { connection: 'close' }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url, origin);
    if (!url)
      return send(
        res,
        edgeProblem(400, 'The request target must be a path such as /api/jobs.', '/', { connection: 'close' }),
      );
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    if (headerBytes(req) > MAX_HEADER_BYTES)
      return send(
        res,
        edgeProblem(431, `The request line and headers exceed ${MAX_HEADER_BYTES} bytes.`, '/', {
          connection: 'close',
        }),
      );
    // The key is checked before routing, so a caller without one learns nothing about which routes
    // exist: every non-anonymous path, known or not, answers 401.
    if (keyDigest && !anonymous.some((re) => re.test(path))) {
      const header = req.headers['x-functions-key'];
      const given = (Array.isArray(header) ? header.join(', ') : header) ?? url.searchParams.get('code') ?? undefined;
      if (!keyMatches(given)) return send(res, problemResponse(new UnauthorizedError(), path));
    }
    const matches = routes.map((r) => ({ ...r, m: r.re.exec(path) })).filter((r) => r.m);
    const hit = matches.find((r) => r.f.methods.includes(method as never));
    if (!hit) {
      if (matches.length > 0) {
        const allow = [...new Set(matches.flatMap((r) => r.f.methods))].join(', ');
        return send(
          res,
          edgeProblem(405, `${method} is not allowed on ${clip(path)}; allowed: ${allow}.`, path, { allow }),
        );
      }
      return send(res, edgeProblem(404, `No route for ${clip(path)}`, path));
    }
    const { bytes, over } = await readUpTo(req, config.maxBodyBytes);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const params = Object.fromEntries(Object.entries(hit.m!.groups ?? {}).map(([k, v]) => [k, decodeSegment(v)]));
    let request: InstanceType<typeof HttpRequest>;
    try {
      request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        params,
        ...(method !== 'GET' && method !== 'HEAD' && { body: { bytes: new Uint8Array(bytes) } }),
      });
    } catch {
      return send(
        res,
        edgeProblem(400, 'The request headers or target cannot be represented.', path, { connection: 'close' }),
      );
    }
    const context = new InvocationContext({
      functionName: hit.f.name,
      invocationId: randomUUID(),
      logHandler: (level, ...args) => log(`[${hit.f.name}] ${level}:`, ...args),
    });
    const reply = await hit.f.handler(request, context);
    if (over) {
      // The rest of an oversize body is not kept: close the connection once it has been read off.
      const replyHeaders = new Headers(reply.headers as ConstructorParameters<typeof Headers>[0]);
      replyHeaders.set('connection', 'close');
      return send(res, { ...reply, headers: replyHeaders });
    }
    await send(res, reply);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.local.httpPort, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return server;
}

/** A reply as written to the socket. */
interface WireReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Statuses whose replies carry no body (the fetch spec's null-body statuses in 200–599). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * The reply of a handler that returned plain data (a JSON value, a string or bytes), read as
 * `HttpResponse` reads it — `jsonBody` wins over `body` and gets `application/json`, a string gets
 * `text/plain;charset=UTF-8`, 204/205/304 carry nothing — without building a fetch `Response` and
 * reading its body stream back, which cost about a tenth of the submit path's CPU. Anything else
 * (an `HttpResponse`, a stream, a Blob) goes through {@link replyThroughFetch}.
 */
function directReply(init: HttpResponseInit | InstanceType<typeof HttpResponse>): WireReply | undefined {
  if (init instanceof HttpResponse) return undefined;
  const status = init.status ?? 200;
  const hasJson = init.jsonBody !== undefined && init.jsonBody !== null;
  const raw = init.body;
  let body: Buffer;
  let contentType: string | undefined;
  if (NULL_BODY_STATUSES.has(status)) body = Buffer.alloc(0);
  else if (hasJson) {
    body = Buffer.from(JSON.stringify(init.jsonBody));
    contentType = 'application/json';
  } else if (raw === undefined || raw === null) body = Buffer.alloc(0);
  else if (typeof raw === 'string') {
    body = Buffer.from(raw);
    contentType = 'text/plain;charset=UTF-8';
  } else if (raw instanceof Uint8Array) body = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  else return undefined;
  // Headers normalises names and refuses invalid values exactly as the Response would.
  const normalised = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
  if (contentType && !normalised.has('content-type')) normalised.set('content-type', contentType);
  return { status, headers: headerRecord(normalised), body };
}

/** Any reply, through the Functions library's own `HttpResponse` (a fetch Response underneath). */
async function replyThroughFetch(init: HttpResponseInit | InstanceType<typeof HttpResponse>): Promise<WireReply> {
  const response = init instanceof HttpResponse ? init : new HttpResponse(init);
  return {
    status: response.status,
    headers: headerRecord(response.headers),
    body: Buffer.from(await response.arrayBuffer()),
  };
}

/** Fetch headers as the plain record `writeHead` takes (names already lower-case). */
function headerRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

/**
 * Writes a reply. When the client may still be uploading (an early 401/404/405, a 413), the whole
 * reply is written at once but the response ends only after the rest of the upload has been read
 * and dropped, up to LINGER_MS and LINGER_MAX_BYTES — a lingering close, as nginx does. Ending it
 * at once would close a `connection: close` socket with unread bytes in it, and the kernel's reset
 * can discard the reply before the client reads it.
 */
async function send(res: ServerResponse, init: HttpResponseInit): Promise<void> {
  const { status, headers, body } = directReply(init) ?? (await replyThroughFetch(init));
  headers['content-length'] = String(body.length);
  const req = res.req as IncomingMessage | undefined;
  // A pipelined request's reply waits for the replies before it. Written early, Node puts its head
  // before the `100 Continue` it already queued for the request, and the client reads garbage: wait
  // until the reply has the connection.
  if (!res.socket && !res.destroyed)
    await new Promise<void>((resolve) => {
      res.once('socket', () => resolve());
      res.once('close', () => resolve());
    });
  if (res.destroyed) return;
  res.writeHead(status, headers);
  if (!req || req.readableEnded || req.destroyed) return void res.end(body);
  res.write(body);
  let drained = 0;
  let settled = false;
  const settle = (end: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (end) res.end();
    else req.socket.destroy();
  };
  const timer = setTimeout(() => settle(false), LINGER_MS).unref();
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > LINGER_MAX_BYTES) settle(false);
  });
  req.once('end', () => settle(true));
  req.once('error', () => settle(false));
  req.once('close', () => settle(req.readableEnded));
  req.resume();
}

/**
 * Serves one queue like the host's queue trigger: up to `batchSize` messages per receive, a new
 * receive whenever at most `newBatchThreshold` are in flight (host.json semantics), the consumer's
 * idle back-off, and the message lock renewed while its handler runs.
 */
function startQueueTrigger(
  deps: Deps,
  def: QueueFunction,
  maxPollMs: number,
  idleWait: IdleWait,
  log: (...a: unknown[]) => void,
): () => Promise<void> {
  const base = queueNameFor(deps.config, def.queueSetting);
  const queue = def.deadLetter ? deps.queues.deadLetterQueueOf(base) : base;
  const lockSec = 60;
  // Like the host, keep the message locked while its handler runs (a slow provider call must not
  // let a second copy be delivered).
  const leases = new LeaseKeeper((lockSec / 3) * 1000);
  const consumer = new QueueConsumer(
    deps.queues,
    {
      queue,
      batchSize: 16,
      newBatchThreshold: 8,
      maxInFlight: 16 + 8,
      lockSec,
      maxPollMs,
      idleWait,
      onError: (stage, error) =>
        log(
          `[${def.name}] ${stage === 'receive' ? 'receive' : 'settle'} failed`,
          stage === 'receive' && error instanceof Error ? error.message : error,
        ),
    },
    async (m) => {
      const release = leases.hold({ renew: () => m.renewLock().then(() => 'held' as const) });
      try {
        await processMessage(
          m,
          async (body) => {
            const context = new InvocationContext({
              functionName: def.name,
              invocationId: randomUUID(),
              triggerMetadata: { id: m.id, dequeueCount: m.deliveryCount },
              logHandler: (level, ...args) => log(`[${def.name}] ${level}:`, ...args),
            });
            await def.handler(body, context);
          },
          { maxDeliveries: deps.config.maxDeliveries },
        );
      } finally {
        release();
      }
    },
  );
  consumer.start();
  return async () => {
    await consumer.stopReceiving();
    await consumer.drain();
  };
}

function startTimer(config: Config, def: TimerFunction, log: (...a: unknown[]) => void): Cron {
  const pattern = config.schedules[def.scheduleSetting];
  const context = () =>
    new InvocationContext({
      functionName: def.name,
      invocationId: randomUUID(),
      logHandler: (level, ...args) => log(`[${def.name}] ${level}:`, ...args),
    });
  // `protect`: a slow run is never overlapped by the next tick, as the host's singleton lock ensures.
  return new Cron(pattern, { protect: true }, async () => {
    try {
      await def.handler(context());
    } catch (error) {
      log(`[${def.name}] failed`, error instanceof Error ? error.message : error);
    }
  });
}

/** A stop step that runs at most once, however often it is called. */
function once(step: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= step());
}
