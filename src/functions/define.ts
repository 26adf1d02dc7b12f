import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { QueueSetting, ScheduleSetting } from '../lib/config.js';
import type { Deps } from '../lib/deps.js';
import { withProblems } from '../lib/http/http.js';
import type { BlobStore } from '../lib/ports/blob-store.js';

export type { QueueSetting, ScheduleSetting };

export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

export interface HttpFunction {
  readonly kind: 'http';
  readonly name: string;
  readonly route: string;
  readonly methods: readonly ('GET' | 'POST' | 'PUT' | 'DELETE')[];
  /** Everything but health needs a function key in Azure. */
  readonly authLevel: 'anonymous' | 'function';
  readonly handler: HttpHandler;
}

export interface QueueFunction {
  readonly kind: 'queue';
  readonly name: string;
  readonly queueSetting: QueueSetting;
  /** Listens to the queue's poison / dead-letter queue instead of the queue itself. */
  readonly deadLetter: boolean;
  readonly handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

export interface TimerFunction {
  readonly kind: 'timer';
  readonly name: string;
  readonly scheduleSetting: ScheduleSetting;
  readonly handler: (context: InvocationContext) => Promise<void>;
}

export type FunctionDefinition = HttpFunction | QueueFunction | TimerFunction;

/** Telemetry of the host edges, loaded on first invocation (keeps the entry module's graph light). */
const hostSpans = () => import('../lib/telemetry/host-spans.js');

/**
 * What an HTTP handler is given: its use-case module (`use`), the request and the invocation, and —
 * unless the route says `deps: false` — the shared dependencies.
 */
export type HttpCall<M, D extends boolean = true> = {
  readonly use: M;
  readonly request: HttpRequest;
  readonly context: InvocationContext;
} & (D extends true ? { readonly deps: Deps } : unknown);

export interface HttpRoute<M, D extends boolean> {
  readonly name: string;
  readonly route: string;
  readonly methods: HttpFunction['methods'];
  /** Default `function`. */
  readonly authLevel?: HttpFunction['authLevel'];
  /**
   * The handler's module, imported on first invocation: the entry module stays light (zod, the use
   * cases and the SDKs stay off the cold-start path). Always `() => import('…')`.
   */
  readonly load: () => Promise<M>;
  /** `false` for routes that read no store, queue or provider (static pages): dependencies are not built. */
  readonly deps?: D;
  readonly handler: (call: HttpCall<M, D>) => Promise<HttpResponseInit>;
}

/**
 * An HTTP function. The module and the dependencies load in parallel on each invocation (both are
 * cached after the first); any error becomes a problem document.
 */
export function httpFunction<M, D extends boolean = true>(def: HttpRoute<M, D>): HttpFunction {
  const { load, deps: withDeps, handler, ...route } = def;
  const run = withProblems(async (request, context) => {
    if (withDeps === false) return handler({ use: await load(), request, context } as HttpCall<M, D>);
    const [use, d] = await Promise.all([load(), deps()]);
    return handler({ use, deps: d, request, context } as HttpCall<M, D>);
  });
  // Every HTTP function runs in a server span (one per request); problems map to replies inside it.
  const traced: HttpHandler = async (request, context) =>
    (await hostSpans()).traceHttp(route.name, route.route, request, context, () => run(request, context));
  return { kind: 'http', authLevel: 'function', ...route, handler: traced };
}

/** Every queue function runs in a consumer span, child of the trace context its message carries. */
export function queueFunction(
  def: Omit<QueueFunction, 'kind' | 'deadLetter'> & { deadLetter?: boolean },
): QueueFunction {
  return {
    kind: 'queue',
    deadLetter: false,
    ...def,
    handler: async (message, context) => {
      let body: Record<string, unknown> | undefined;
      try {
        body = messageBody(message);
      } catch {
        body = undefined; // the handler reports the bad message itself
      }
      await (await hostSpans()).traceQueueMessage(def.name, def.queueSetting, body, () =>
        def.handler(message, context),
      );
    },
  };
}

export function timerFunction(def: Omit<TimerFunction, 'kind'>): TimerFunction {
  return {
    kind: 'timer',
    ...def,
    handler: async (context) => (await hostSpans()).traceTimer(def.name, context, () => def.handler(context)),
  };
}

/** Queue messages arrive parsed (JSON) or as text, depending on host and transport. */
export function messageBody(message: unknown): Record<string, unknown> {
  if (typeof message === 'string') return JSON.parse(message) as Record<string, unknown>;
  if (Buffer.isBuffer(message)) return JSON.parse(message.toString('utf8')) as Record<string, unknown>;
  if (message && typeof message === 'object') return message as Record<string, unknown>;
  throw new Error('queue message is not a JSON object');
}

/**
 * A queue message's real body: parsed (see {@link messageBody}) and, when it is a claim check, the
 * payload read back from Blob Storage. The one place claim checks are resolved for the Functions
 * host, which hands triggers the body as it sits on the queue.
 */
export async function queueMessageBody(message: unknown, blobs: BlobStore): Promise<Record<string, unknown>> {
  const { resolveClaimCheck } = await import('../lib/adapters/claim-check-transport.js');
  return resolveClaimCheck(messageBody(message), blobs);
}

/** Lazily loaded so the entry module stays light: dependencies are built on first invocation. */
export async function deps() {
  const { getDeps } = await import('../lib/deps.js');
  return getDeps();
}
