import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { QueueSetting, ScheduleSetting } from '../lib/config.js';
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

export function httpFunction(def: Omit<HttpFunction, 'kind' | 'authLevel'> & { authLevel?: HttpFunction['authLevel'] }): HttpFunction {
  return { kind: 'http', authLevel: 'function', ...def, handler: withProblems(def.handler) };
}

export function queueFunction(def: Omit<QueueFunction, 'kind' | 'deadLetter'> & { deadLetter?: boolean }): QueueFunction {
  return { kind: 'queue', deadLetter: false, ...def };
}

export function timerFunction(def: Omit<TimerFunction, 'kind'>): TimerFunction {
  return { kind: 'timer', ...def };
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
