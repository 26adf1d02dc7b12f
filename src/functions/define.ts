import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { QueueSetting, ScheduleSetting } from '../lib/config.js';
import { withProblems } from '../lib/http/http.js';

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

/** Every HTTP function runs in a server span (one per request); problems map to replies inside it. */
export function httpFunction(def: Omit<HttpFunction, 'kind' | 'authLevel'> & { authLevel?: HttpFunction['authLevel'] }): HttpFunction {
  const handler = withProblems(def.handler);
  return {
    kind: 'http',
    authLevel: 'function',
    ...def,
    handler: async (request, context) => (await hostSpans()).traceHttp(def.name, def.route, request, context, () => handler(request, context)),
  };
}

/** Every queue function runs in a consumer span, child of the trace context its message carries. */
export function queueFunction(def: Omit<QueueFunction, 'kind' | 'deadLetter'> & { deadLetter?: boolean }): QueueFunction {
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
      await (await hostSpans()).traceQueueMessage(def.name, def.queueSetting, body, () => def.handler(message, context));
    },
  };
}

export function timerFunction(def: Omit<TimerFunction, 'kind'>): TimerFunction {
  return { kind: 'timer', ...def, handler: async (context) => (await hostSpans()).traceTimer(def.name, context, () => def.handler(context)) };
}

/** Queue messages arrive parsed (JSON) or as text, depending on host and transport. */
export function messageBody(message: unknown): Record<string, unknown> {
  if (typeof message === 'string') return JSON.parse(message) as Record<string, unknown>;
  if (Buffer.isBuffer(message)) return JSON.parse(message.toString('utf8')) as Record<string, unknown>;
  if (message && typeof message === 'object') return message as Record<string, unknown>;
  throw new Error('queue message is not a JSON object');
}

/** Lazily loaded so the entry module stays light: dependencies are built on first invocation. */
export async function deps() {
  const { getDeps } = await import('../lib/deps.js');
  return getDeps();
}
