/**
 * The dashboard's only way to the API: same origin, the function key from sessionStorage sent as
 * x-functions-key (never in a URL), problem documents turned into readable errors.
 */

const KEY_ITEM = 'cjo-function-key';

export const keyStore = {
  get: (): string | null => sessionStorage.getItem(KEY_ITEM),
  set: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the API answers 401, so the page can ask for the key again. */
let onUnauthorized: () => void = () => undefined;
export const setUnauthorizedHandler = (fn: () => void) => {
  onUnauthorized = fn;
};

export async function api<T>(path: string, init: { method?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = keyStore.get();
  if (key) headers['x-functions-key'] = key;
  const res = await fetch(`/api${path}`, { method: init.method ?? 'GET', headers, cache: 'no-store' });
  const text = await res.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (res.status === 401) onUnauthorized();
  if (!res.ok)
    throw new ApiError(res.status, [body.title, body.detail].filter(Boolean).join(': ') || `HTTP ${res.status}`);
  return body as T;
}

export interface Decision {
  preset: string;
  inputs: {
    rows: number;
    estimated_runtime_sec: number;
    priority: string;
    latency_sensitive: boolean;
    target?: string;
  };
  weights: {
    perRow: number;
    perSecond: number;
    highPriorityFactor: number;
    lowPriorityFactor: number;
    sparkThreshold: number;
    mlThreshold: number;
  };
  cost: number | null;
  rule: string;
  queue: string;
  provider: string;
  explanation: string;
  decidedAt: string;
  costEstimates?: CostEstimates;
}

export interface PricedInstances {
  instanceType: string;
  count: number;
  hourly: number | null;
}

export interface CostEstimates {
  currency: string;
  runtimeSec: number;
  priceTableAsOf: string;
  chosen: number | null;
  candidates: {
    queue: string;
    provider: string;
    instances: PricedInstances[];
    billedSec: number;
    estimatedCost: number | null;
    missingPrice?: string;
    chosen: boolean;
  }[];
}

export interface JobCost {
  currency: string;
  actual: number | null;
  estimated: number | null;
  runtimeSec: number;
  billedSec: number;
  instances: PricedInstances[];
  basis: string;
  missingPrice?: string;
}

export interface Job {
  id: string;
  status: string;
  source?: string;
  createdAt: string;
  updatedAt: string;
  queue?: string;
  provider?: string;
  decision?: Decision;
  providerRef?: Record<string, string | number | boolean>;
  startedAt?: string;
  finishedAt?: string;
  progress?: { done: number; total: number; unit: string };
  error?: { code: string; message: string };
  result?: { location?: string; summary?: Record<string, unknown> };
  spec?: { labels?: Record<string, string>; rows?: number; estimated_runtime_sec?: number; priority?: string };
  attempts?: number;
  cost?: JobCost;
  budgetHold?: { budget: string; since: string; checks: number; spent: number; limit: number };
}

export interface JobEvent {
  seq: number;
  at: string;
  type: string;
  from: string | null;
  to: string;
  reason: string;
}

export const TERMINAL = ['succeeded', 'failed', 'cancelled'];
export const STATUSES = [
  'submitted',
  'queued',
  'dispatched',
  'running',
  'cancelling',
  'succeeded',
  'failed',
  'cancelled',
];
