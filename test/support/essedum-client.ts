/**
 * A stand-in for the Essedum backend's executor clients: it sends what the backend sends (the
 * remote-job body, the MLOps query parameters and Referer header) and parses replies as strictly as
 * the Java side does — the `yyyy-MM-dd HH:mm:ss.SSSSSSXXX` date pattern, `timestamp` as a number
 * (missing → throw), `logs` as an object, task states compared case-sensitively. Any deviation from
 * the executors' contract throws here, so a test that passes through this client proves the
 * contract, not just our own shapes.
 */

export const TASK_STATES = ['WAITING', 'RUNNING', 'COMPLETED', 'ERROR', 'CANCELLED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** What the backend's remote-job client POSTs to `/execute`. */
export interface RemoteBody {
  bucket: string;
  project_id: string;
  name: string;
  version: string;
  input_artifacts: string;
  command: string;
  storage: 'minio' | 's3' | 'local';
  credentials: { endpoint: string; access_key: string; secret_key: string };
  configs: Record<string, unknown>;
  environment: Record<string, unknown>;
}

export class ContractError extends Error {}

/**
 * Strict parser of Java's `yyyy-MM-dd HH:mm:ss.SSSSSSXXX`: exactly six fraction digits and an offset
 * `Z` or `±HH:MM` (XXX). Returns epoch milliseconds (microseconds beyond ms must be zero here, as
 * JavaScript cannot hold them; the contract is still checked digit by digit).
 */
export function parseJavaDate(value: unknown, field = 'date'): { epochMs: number; micros: number } {
  if (typeof value !== 'string')
    throw new ContractError(
      `${field}: expected a string in yyyy-MM-dd HH:mm:ss.SSSSSSXXX, got ${JSON.stringify(value)}`,
    );
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) throw new ContractError(`${field}: '${value}' does not match yyyy-MM-dd HH:mm:ss.SSSSSSXXX`);
  const [, y, mo, d, h, mi, s, frac, off] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const num = (x: string) => Number(x);
  if (num(mo) < 1 || num(mo) > 12) throw new ContractError(`${field}: month out of range in '${value}'`);
  const daysIn = new Date(Date.UTC(num(y), num(mo), 0)).getUTCDate();
  if (num(d) < 1 || num(d) > daysIn) throw new ContractError(`${field}: day out of range in '${value}'`);
  if (num(h) > 23 || num(mi) > 59 || num(s) > 59) throw new ContractError(`${field}: time out of range in '${value}'`);
  let offsetMin = 0;
  if (off !== 'Z') {
    const sign = off.startsWith('-') ? -1 : 1;
    const [oh, om] = off.slice(1).split(':').map(Number) as [number, number];
    if (oh > 18 || om > 59) throw new ContractError(`${field}: offset out of range in '${value}'`);
    offsetMin = sign * (oh * 60 + om);
  }
  const micros = num(frac);
  const epochMs =
    Date.UTC(num(y), num(mo) - 1, num(d), num(h), num(mi), num(s)) + Math.floor(micros / 1000) - offsetMin * 60_000;
  return { epochMs, micros };
}

export interface TaskStatus {
  taskId: string;
  state: TaskState;
  logPath: string;
  submitted: number;
  started?: number;
  finished?: number;
  /** Elapsed seconds, read as a number on COMPLETED/ERROR. */
  elapsedSec?: number;
  raw: Record<string, unknown>;
}

export interface ExecutorClientOptions {
  /** The executor URL configured in Essedum, e.g. `http://host:7071/api`. */
  readonly executorUrl: string;
  /** Sent as x-functions-key (the function key in Azure, LOCAL_API_KEY locally). */
  readonly key?: string;
  /** Every reply body, for tests that scan them. */
  readonly onReply?: (path: string, status: number, body: string) => void;
}

export class EssedumExecutorClient {
  constructor(private readonly options: ExecutorClientOptions) {}

  private async call(
    method: string,
    path: string,
    init: { body?: unknown; query?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; text: string; json: unknown }> {
    const url = new URL(`${this.options.executorUrl.replace(/\/+$/, '')}${path}`);
    for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json', ...(init.headers ?? {}) };
    if (this.options.key) headers['x-functions-key'] = this.options.key;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    this.options.onReply?.(url.pathname, res.status, text);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  /** POST /execute; the backend accepts 200 or 201 and reads task_id. */
  async submit(body: RemoteBody): Promise<{ taskId: string; logPath: string }> {
    const r = await this.call('POST', '/execute', { body });
    if (r.status !== 200 && r.status !== 201) throw new ContractError(`submit: HTTP ${r.status}: ${r.text}`);
    const j = r.json as Record<string, unknown>;
    if (typeof j?.task_id !== 'string' || !j.task_id) throw new ContractError(`submit: no task_id in ${r.text}`);
    if (j.task_status !== 'Submitted')
      throw new ContractError(`submit: task_status '${String(j.task_status)}' is not 'Submitted'`);
    if (typeof j.log_path !== 'string') throw new ContractError(`submit: log_path missing in ${r.text}`);
    return { taskId: j.task_id, logPath: j.log_path };
  }

  /** Raw submit, for tests of refusals. */
  submitRaw(body: unknown): Promise<{ status: number; text: string; json: unknown }> {
    return this.call('POST', '/execute', { body });
  }

  async status(taskId: string): Promise<TaskStatus> {
    const r = await this.call('GET', `/execute/${encodeURIComponent(taskId)}/getStatus`);
    if (r.status !== 200) throw new ContractError(`getStatus: HTTP ${r.status}: ${r.text}`);
    const j = r.json as Record<string, unknown>;
    if (j?.task_id !== taskId)
      throw new ContractError(`getStatus: task_id ${JSON.stringify(j?.task_id)} is not ${taskId}`);
    const state = j.task_status;
    if (typeof state !== 'string' || !(TASK_STATES as readonly string[]).includes(state)) {
      throw new ContractError(
        `getStatus: task_status ${JSON.stringify(state)} is none of ${TASK_STATES.join(', ')} (case-sensitive)`,
      );
    }
    for (const k of ['pid', 'log_path', 'submitted', 'started', 'finished', 'timestamp']) {
      if (!(k in j)) throw new ContractError(`getStatus: field '${k}' missing`);
    }
    const out: TaskStatus = {
      taskId,
      state: state as TaskState,
      logPath: String(j.log_path),
      submitted: parseJavaDate(j.submitted, 'submitted').epochMs,
      raw: j,
    };
    if (state === 'COMPLETED' || state === 'ERROR') {
      // What the backend does on a finished task: parse started/finished, read timestamp as a number.
      out.started = parseJavaDate(j.started, 'started').epochMs;
      out.finished = parseJavaDate(j.finished, 'finished').epochMs;
      if (typeof j.timestamp !== 'number' || !Number.isFinite(j.timestamp))
        throw new ContractError(`getStatus: timestamp ${JSON.stringify(j.timestamp)} is not a number`);
      out.elapsedSec = j.timestamp;
    }
    return out;
  }

  async log(taskId: string): Promise<string> {
    const r = await this.call('GET', `/execute/${encodeURIComponent(taskId)}/getLog`);
    if (r.status !== 200) throw new ContractError(`getLog: HTTP ${r.status}: ${r.text}`);
    const logs = (r.json as { logs?: unknown })?.logs;
    if (logs === null || typeof logs !== 'object' || Array.isArray(logs))
      throw new ContractError(`getLog: 'logs' is not an object: ${r.text}`);
    const content = (logs as { content?: unknown }).content;
    if (typeof content !== 'string') throw new ContractError(`getLog: logs.content is not a string: ${r.text}`);
    return content;
  }

  async stop(taskId: string): Promise<boolean> {
    const r = await this.call('GET', `/execute/${encodeURIComponent(taskId)}/stop`);
    if (r.status !== 200) throw new ContractError(`stop: HTTP ${r.status}: ${r.text}`);
    const v = (r.json as Record<string, unknown>)?.['Task cancelled'];
    if (typeof v !== 'boolean') throw new ContractError(`stop: 'Task cancelled' is not a boolean: ${r.text}`);
    return v;
  }

  async list(): Promise<Array<{ id: string; pid: unknown; status: TaskState; submitted: number }>> {
    const r = await this.call('GET', '/execute');
    if (r.status !== 200) throw new ContractError(`list: HTTP ${r.status}: ${r.text}`);
    if (!Array.isArray(r.json)) throw new ContractError(`list: not an array: ${r.text}`);
    if (r.json.length > 100) throw new ContractError(`list: ${r.json.length} items, more than 100`);
    return r.json.map((x: Record<string, unknown>) => {
      if (typeof x.id !== 'string' || !(TASK_STATES as readonly string[]).includes(x.status as string) || !('pid' in x))
        throw new ContractError(`list: bad item ${JSON.stringify(x)}`);
      return {
        id: x.id,
        pid: x.pid,
        status: x.status as TaskState,
        submitted: parseJavaDate(x.submitted, 'submitted').epochMs,
      };
    });
  }

  /** Raw GET, for 404 shapes. */
  get(path: string): Promise<{ status: number; text: string; json: unknown }> {
    return this.call('GET', path);
  }

  /** Polls getStatus like the backend until the task leaves WAITING/RUNNING. */
  async waitFinished(taskId: string, timeoutMs = 60_000, seen?: TaskState[]): Promise<TaskStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(taskId);
      if (seen && seen[seen.length - 1] !== s.state) seen.push(s.state);
      if (s.state !== 'WAITING' && s.state !== 'RUNNING') return s;
      if (Date.now() > deadline) throw new Error(`task ${taskId} still ${s.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** MLOps call with the query parameters and Referer header the backend adds. */
  mlops(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    params: MlopsParams,
    body?: unknown,
  ): Promise<{ status: number; text: string; json: unknown }> {
    return this.call(method, path, {
      query: {
        adapter_instance: params.adapterInstance,
        project: params.project ?? 'demo-project',
        isCached: String(params.isCached ?? false),
        isInstance: String(params.isInstance ?? true),
      },
      headers: { referer: params.referer ?? 'https://essedum.example/ui/pipelines' },
      ...(body !== undefined && { body }),
    });
  }
}

export interface MlopsParams {
  adapterInstance: string;
  project?: string;
  isCached?: boolean;
  isInstance?: boolean;
  referer?: string;
}

/** Record fields every MLOps reply item carries (the Essedum backend reads all of them). */
export const RECORD_FIELDS = [
  'sourceId',
  'name',
  'status',
  'type',
  'adapter',
  'rawPayload',
  'createdOn',
  'createdBy',
  'syncDate',
  'description',
  'project',
  'artifacts',
  'deployment',
] as const;

export function assertRecord(x: unknown): Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x))
    throw new ContractError(`record is not an object: ${JSON.stringify(x)}`);
  for (const f of RECORD_FIELDS)
    if (!(f in x)) throw new ContractError(`record misses '${f}': ${JSON.stringify(x).slice(0, 500)}`);
  return x as Record<string, unknown>;
}
