import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import functions, { type HttpResponseInit } from '@azure/functions';
import { Cron } from 'croner';
import type { FunctionDefinition, HttpFunction, QueueFunction, TimerFunction } from '../../functions/define.js';
import { processMessage } from '../app/process-message.js';
import { azuriteConnectionString, loadConfig, queueNameFor, type Config } from '../config.js';
import { createDeps, ensureResources, setSharedDeps, type Deps } from '../deps.js';
import { UnauthorizedError } from '../errors.js';
import { problemResponse } from '../http/http.js';
import type { ReceivedMessage } from '../ports/queue.js';
import { startAzurite, type AzuriteHandle } from './azurite.js';
import { WakingTransport } from './waking-transport.js';
import { PollBackoff, type IdleWait } from '../core/poll-backoff.js';
import type { JobWorker } from '../../worker/job-worker.js';

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
    if (!config.storage.connectionString && !config.storage.tableServiceUri && options.startAzurite !== false && !options.overrides?.store) {
      azurite = await startAzurite({
        blobPort: config.local.azuriteBlobPort,
        queuePort: config.local.azuriteQueuePort,
        tablePort: config.local.azuriteTablePort,
        location: config.local.azuriteLocation,
      });
      stops.push(() => azurite!.stop());
      env.JobsStorage = azuriteConnectionString({ blob: config.local.azuriteBlobPort, queue: config.local.azuriteQueuePort, table: config.local.azuriteTablePort });
      config = loadConfig(env);
    }
    const created = await createDeps(config, options.overrides);
    // Producers and consumers share this process: a send wakes the queue's idle consumers, so idle
    // polling can back off far (cheap) while a new job is still picked up at once.
    const waking = new WakingTransport(created.queues);
    const deps: Deps = { ...created, queues: waking };
    await ensureResources(deps);
    await deps.queues.ensure(Object.values(config.queues));
    setSharedDeps(deps);
    stops.push(async () => setSharedDeps(undefined));

    const log = options.quiet ? () => undefined : (...args: unknown[]) => console.log(...args);
    const server = await startHttp(config, options.functions.filter((f): f is HttpFunction => f.kind === 'http'), log);
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
    stops.push(async () => {
      await Promise.all(queueStops.map((s) => s()));
    });

    const timers = options.functions
      .filter((f): f is TimerFunction => f.kind === 'timer')
      .map((f) => startTimer(config, f, log));
    stops.push(async () => timers.forEach((t) => t.stop()));

    const workers: JobWorker[] = [];
    if (options.workers !== false) {
      const { startQueueWorker } = await import('../../worker/main.js');
      for (const mode of ['actor', 'spark'] as const) workers.push(await startQueueWorker(deps, mode, { idleWait: waking.idleWait, maxPollMs }));
      stops.push(async () => {
        await Promise.all(workers.map((w) => w.shutdown()));
      });
    }

    const address = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${address.port}`,
      deps,
      workers,
      stop: async () => {
        // Reverse order: workers first, then triggers, HTTP, and Azurite last.
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
    .map((seg) => (seg.startsWith('{') && seg.endsWith('}') ? `(?<${seg.slice(1, -1).replace(/[?:].*$/, '')}>[^/]+)` : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^/api/${pattern}/?$`);
}

async function startHttp(config: Config, functions: readonly HttpFunction[], log: (...a: unknown[]) => void): Promise<Server> {
  const routes = functions.map((f) => ({ f, re: compileRoute(f.route) }));
  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      log('local runner: request failed', error);
      if (!res.headersSent) send(res, problemResponse(error, req.url ?? '/'));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const matches = routes
      .map((r) => ({ ...r, m: r.re.exec(url.pathname) }))
      .filter((r) => r.m);
    const hit = matches.find((r) => r.f.methods.includes(method as never));
    if (!hit) {
      const status = matches.length > 0 ? 405 : 404;
      const detail = status === 405 ? `${method} is not allowed on ${url.pathname}` : `No route for ${url.pathname}`;
      return send(res, { status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ type: 'about:blank', title: status === 405 ? 'Method not allowed' : 'Not found', status, detail, instance: url.pathname }) });
    }
    const key = config.local.apiKey;
    if (key && hit.f.authLevel !== 'anonymous') {
      const given = req.headers['x-functions-key'] ?? url.searchParams.get('code');
      if (given !== key) return send(res, problemResponse(new UnauthorizedError(), url.pathname));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      // Stop buffering far beyond the limit; the handler still answers 413.
      if (size <= config.maxBodyBytes + 1) chunks.push(chunk as Buffer);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const params = Object.fromEntries(Object.entries(hit.m!.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      params,
      ...(method !== 'GET' && method !== 'HEAD' && { body: { bytes: new Uint8Array(Buffer.concat(chunks)) } }),
    });
    const context = new InvocationContext({ functionName: hit.f.name, invocationId: randomUUID(), logHandler: (level, ...args) => log(`[${hit.f.name}] ${level}:`, ...args) });
    send(res, await hit.f.handler(request, context));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.local.httpPort, '127.0.0.1', () => resolve());
  });
  return server;
}

async function send(res: ServerResponse, init: HttpResponseInit): Promise<void> {
  const response = new HttpResponse(init);
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * Polls one queue like the host's queue trigger: up to `batchSize` messages per receive, a new
 * receive whenever fewer than `newBatchThreshold` are in flight (host.json semantics), back-off
 * when the queue is empty (doubling up to `maxPollMs`, reset by a message), cut short by
 * `idleWait` when this process sends to the queue.
 */
function startQueueTrigger(deps: Deps, def: QueueFunction, maxPollMs: number, idleWait: IdleWait, log: (...a: unknown[]) => void): () => Promise<void> {
  const base = queueNameFor(deps.config, def.queueSetting);
  const queue = def.deadLetter ? deps.queues.deadLetterQueueOf(base) : base;
  const batchSize = 16;
  const newBatchThreshold = 8;
  const inFlight = new Set<Promise<unknown>>();
  let running = true;
  const stopping = new AbortController();
  const lockSec = 60;
  const handle = (m: ReceivedMessage) => {
    // Like the host, keep the message locked while its handler runs (a slow provider call must not
    // let a second copy be delivered).
    const renewal = setInterval(() => void m.renewLock().catch(() => undefined), (lockSec / 3) * 1000);
    return processMessage(
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
    )
      .catch((error: unknown) => log(`[${def.name}] settle failed`, error))
      .finally(() => clearInterval(renewal));
  };
  const loop = (async () => {
    const backoff = new PollBackoff(50, maxPollMs);
    while (running) {
      if (inFlight.size > newBatchThreshold) {
        await Promise.race(inFlight);
        continue;
      }
      try {
        const messages = await deps.queues.receive(queue, { maxMessages: batchSize, lockSec, waitSec: 1 });
        if (messages.length === 0) {
          await idleWait(queue, backoff.empty(), stopping.signal);
          continue;
        }
        backoff.reset();
        for (const m of messages) {
          const p = handle(m).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
      } catch (error) {
        log(`[${def.name}] receive failed`, error instanceof Error ? error.message : error);
        await sleep(1000);
      }
    }
    await Promise.all(inFlight);
  })();
  return async () => {
    running = false;
    stopping.abort();
    await loop;
  };
}

function startTimer(config: Config, def: TimerFunction, log: (...a: unknown[]) => void): Cron {
  const pattern = config.schedules[def.scheduleSetting];
  const context = () => new InvocationContext({ functionName: def.name, invocationId: randomUUID(), logHandler: (level, ...args) => log(`[${def.name}] ${level}:`, ...args) });
  // `protect`: a slow run is never overlapped by the next tick, as the host's singleton lock ensures.
  return new Cron(pattern, { protect: true }, async () => {
    try {
      await def.handler(context());
    } catch (error) {
      log(`[${def.name}] failed`, error instanceof Error ? error.message : error);
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
