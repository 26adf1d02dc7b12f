/**
 * A stand-in for the Azure Batch data plane, speaking the REST paths `@azure/batch` calls:
 * pools, jobs, tasks (add, get, list with `$filter`/`$select`/`maxresults` and `odata.nextLink`
 * paging, terminate, delete) and task files (get with `ocp-range`, properties, list).
 *
 * Modelled on the service's documented behaviour, not on what our adapter sends:
 * - every request needs the `api-version` query parameter and an Authorization header
 *   (SharedKey signatures are verified with the documented string-to-sign; Bearer tokens are checked
 *   against a list);
 * - errors use the OData envelope `{"odata.metadata", code, message: {lang, value}}`;
 * - list pages hold at most 1 000 items and `maxresults` above 1 000 is refused;
 * - only the documented task properties can be filtered on;
 * - ids are unique case-insensitively (`PoolExists`, `JobExists`, `TaskExists` → 409);
 * - a task's node downloads its resource files through their `httpUrl` when it starts and uploads its
 *   output files to their `containerUrl` when it completes — real HTTP against the SAS URLs, so a
 *   SAS without the right permission fails here as it would on a node.
 *
 * The test drives task state (`startTask`, `completeTask`, `requeueTask`) and injects faults
 * (`failNext`); every request is recorded for assertions and call counting.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultPlan, QuotaBucket, type FaultRates, type RateLimit } from '../rate-limit.js';
import { compileFilter, FilterSyntaxError, TASK_FILTER_PROPERTIES } from './odata-filter.js';

export const FAKE_API_VERSIONS = ['2022-10-01.16.0', '2023-05-01.17.0', '2024-07-01.20.0'];
const MAX_PAGE = 1000;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly status: number;
}

export interface FaultSpec {
  readonly method?: string;
  /** Matched against the request path (without query). */
  readonly path?: RegExp;
  readonly status: number;
  readonly code: string;
  readonly message?: string;
  readonly retryAfterSec?: number;
  /** How many matching requests fail (default 1). */
  readonly times?: number;
}

export interface FakeBatchOptions {
  /**
   * Most items a list page holds, below what `maxresults` asks for: the service may answer with a
   * shorter page and an `odata.nextLink` (default: the 1 000 cap).
   */
  readonly pageSize?: number;
  /** Account whose shared key signatures are verified. */
  readonly sharedKey?: { readonly accountName: string; readonly accountKey: string };
  /** Accepted bearer tokens (Entra ID). */
  readonly bearerTokens?: readonly string[];
  /**
   * Account request quota: an empty bucket answers 429 TooManyRequests with Retry-After (whole
   * seconds), as Batch does when a client exceeds the account's request rate.
   */
  readonly requestLimit?: RateLimit;
  /** Time source of `requestLimit` (a fake clock shared with the client's limiter). */
  readonly quotaClock?: () => number;
  /**
   * Random faults: 429 TooManyRequests / 503 ServerBusy / 500, and replies that never come (a task add
   * is still carried out: only its reply is lost).
   */
  readonly faults?: FaultRates;
}

type TaskState = 'active' | 'preparing' | 'running' | 'completed';

interface FakeTask {
  id: string;
  body: Record<string, unknown>;
  state: TaskState;
  previousState?: TaskState;
  creationTime: string;
  stateTransitionTime: string;
  previousStateTransitionTime?: string;
  lastModified: string;
  eTag: string;
  executionInfo: Record<string, unknown> & { retryCount: number; requeueCount: number };
  nodeInfo?: Record<string, unknown>;
  /** Files relative to the task directory: `stdout.txt`, `stderr.txt`, `wd/<file>`. */
  files: Map<string, Buffer>;
  uploads: Array<{ filePattern: string; url: string; status: number }>;
  downloads: Array<{ url: string; status: number }>;
}

interface FakeJob {
  id: string;
  body: Record<string, unknown>;
  creationTime: string;
  tasks: Map<string, FakeTask>;
  order: string[];
}

export interface CompleteTaskOptions {
  readonly exitCode: number;
  readonly stdout?: string;
  readonly stderr?: string;
  /** Files written into the working directory, e.g. `{ 'result.json': '{…}' }`. */
  readonly workingFiles?: Record<string, string>;
  readonly failureInfo?: {
    category: string;
    code: string;
    message: string;
    details?: Array<{ name: string; value: string }>;
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The fake Batch account. `start()` listens on 127.0.0.1; `url` is the account URL to configure. */
export class FakeBatchService {
  readonly requests: RecordedRequest[] = [];
  readonly pools = new Map<string, Record<string, unknown>>();
  readonly jobs = new Map<string, FakeJob>();
  private readonly faults: Array<FaultSpec & { left: number }> = [];
  private server: Server | undefined;
  /** Starts at the real time: callers compare their own timestamps with the service's, as in production. */
  private clock = Date.now();
  url = '';
  private readonly quota: QuotaBucket | undefined;
  readonly faultPlan: FaultPlan | undefined;
  /** Requests the account quota answered with 429. */
  throttledByQuota = 0;
  /** Successful task adds per task id (lower-case): more than one would be a duplicate cloud job. */
  readonly addsByTask = new Map<string, number>();

  constructor(private readonly options: FakeBatchOptions = {}) {
    this.quota = QuotaBucket.of(options.requestLimit, options.quotaClock);
    this.faultPlan = options.faults ? new FaultPlan(options.faults) : undefined;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The service's clock; tests move it instead of waiting. */
  now(): string {
    return new Date(this.clock).toISOString();
  }

  advance(ms: number): void {
    this.clock += ms;
  }

  failNext(fault: FaultSpec): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  task(jobId: string, taskId: string): FakeTask | undefined {
    return this.findJob(jobId)?.tasks.get(taskId.toLowerCase());
  }

  /** Adds tasks directly (bench/paging tests); each starts active unless `state` says otherwise. */
  seedTasks(jobId: string, ids: readonly string[], state: TaskState = 'active'): void {
    const job = this.findJob(jobId) ?? this.createJob({ id: jobId, poolInfo: { poolId: 'seeded' } });
    for (const id of ids) {
      const task = this.newTask(id, { id, commandLine: 'true' });
      task.state = state;
      job.tasks.set(id.toLowerCase(), task);
      job.order.push(id.toLowerCase());
    }
  }

  /**
   * A node picks the task up: it downloads the resource files through their URLs (a refused
   * download completes the task with a ResourceFile error, like the service) and starts running.
   */
  async startTask(jobId: string, taskId: string): Promise<void> {
    const task = this.mustTask(jobId, taskId);
    this.transition(task, 'preparing');
    for (const rf of (task.body.resourceFiles as Array<Record<string, string>> | undefined) ?? []) {
      const response = await fetch(rf.httpUrl!);
      task.downloads.push({ url: rf.httpUrl!, status: response.status });
      if (!response.ok) {
        this.finish(task, undefined, {
          category: 'UserError',
          code: response.status === 403 ? 'BlobAccessDenied' : 'BlobNotFound',
          message: 'Access for one of the specified Azure Blob(s) is denied.',
        });
        return;
      }
      task.files.set(`wd/${rf.filePath}`, Buffer.from(await response.arrayBuffer()));
    }
    task.executionInfo.startTime = this.now();
    task.nodeInfo = { poolId: 'pool', nodeId: 'tvmps_1', taskRootDirectory: `workitems/${jobId}/job-1/${task.id}` };
    this.transition(task, 'running');
  }

  /** Appends output to a running task's stdout/stderr (live logs). */
  writeOutput(jobId: string, taskId: string, file: 'stdout.txt' | 'stderr.txt', text: string): void {
    const task = this.mustTask(jobId, taskId);
    task.files.set(file, Buffer.concat([task.files.get(file) ?? Buffer.alloc(0), Buffer.from(text)]));
  }

  /** The task's process exits: files are written, then Batch uploads the output files and completes the task. */
  async completeTask(jobId: string, taskId: string, outcome: CompleteTaskOptions): Promise<void> {
    const task = this.mustTask(jobId, taskId);
    if (outcome.stdout !== undefined) this.writeOutput(jobId, taskId, 'stdout.txt', outcome.stdout);
    if (outcome.stderr !== undefined) this.writeOutput(jobId, taskId, 'stderr.txt', outcome.stderr);
    for (const [name, content] of Object.entries(outcome.workingFiles ?? {}))
      task.files.set(`wd/${name}`, Buffer.from(content));
    const failure =
      outcome.failureInfo ??
      (outcome.exitCode === 0
        ? undefined
        : {
            category: 'UserError',
            code: 'FailureExitCode',
            message: 'The task exited with an exit code representing a failure',
          });
    await this.uploadOutputs(task, failure === undefined);
    this.finish(task, outcome.exitCode, failure);
  }

  /** The node was preempted or lost: the task goes back to active with its requeue count raised. */
  requeueTask(jobId: string, taskId: string): void {
    const task = this.mustTask(jobId, taskId);
    task.executionInfo.requeueCount += 1;
    task.executionInfo.lastRequeueTime = this.now();
    delete task.nodeInfo;
    this.transition(task, 'active');
  }

  /** Batch retried a failed attempt (maxTaskRetryCount): back to active with the retry count raised. */
  retryTask(jobId: string, taskId: string): void {
    const task = this.mustTask(jobId, taskId);
    task.executionInfo.retryCount += 1;
    task.executionInfo.lastRetryTime = this.now();
    this.transition(task, 'active');
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readBody(req);
    let body: unknown;
    const record = (status: number): void => {
      this.requests.push({
        method: req.method ?? 'GET',
        path: decodeURIComponent(url.pathname),
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
        ),
        body,
        status,
      });
    };
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
      const version = url.searchParams.get('api-version');
      if (!version)
        throw new HttpError(
          400,
          'MissingRequiredQueryParameter',
          "A query parameter that's mandatory for this request is not specified: api-version",
        );
      if (!FAKE_API_VERSIONS.includes(version))
        throw new HttpError(
          400,
          'InvalidQueryParameterValue',
          `Value for one of the query parameters specified in the request URI is invalid: api-version ${version}`,
        );
      this.authenticate(req, url, raw);
      const fault = this.faults.find(
        (f) => f.left > 0 && (!f.method || f.method === req.method) && (!f.path || f.path.test(url.pathname)),
      );
      if (fault) {
        fault.left -= 1;
        throw new HttpError(
          fault.status,
          fault.code,
          fault.message ?? fault.code,
          fault.retryAfterSec === undefined ? {} : { 'retry-after': String(fault.retryAfterSec) },
        );
      }
      if (this.quota) {
        const q = this.quota.take();
        if (!q.ok) {
          this.throttledByQuota++;
          throw new HttpError(429, 'TooManyRequests', 'The server is busy: the account request rate was exceeded.', {
            'retry-after': String(Math.max(1, Math.ceil(q.retryAfterMs / 1000))),
          });
        }
      }
      const drawn = this.faultPlan?.next() ?? 'ok';
      if (drawn === 'throttle')
        throw new HttpError(429, 'TooManyRequests', 'The server is busy.', { 'retry-after': '1' });
      if (drawn === 'server-error')
        throw Math.random() < 0.5
          ? new HttpError(
              503,
              'ServerBusy',
              'The server is currently unable to receive requests. Please retry your request.',
            )
          : new HttpError(500, 'InternalError', 'The server encountered an internal error. Please retry the request.');
      const result = await this.route(req.method ?? 'GET', url, body, req);
      record(result.status);
      if (drawn === 'timeout') return; // done, but the reply is lost: the socket stays open until the client gives up
      res.writeHead(result.status, { 'request-id': randomUUID(), DataServiceVersion: '3.0', ...result.headers });
      res.end(result.payload);
    } catch (error) {
      const e =
        error instanceof HttpError
          ? error
          : error instanceof SyntaxError
            ? new HttpError(400, 'InvalidRequestBody', 'The specified Request Body is not syntactically valid.')
            : new HttpError(500, 'InternalError', String(error));
      record(e.status);
      res.writeHead(e.status, {
        'Content-Type': 'application/json;odata=minimalmetadata',
        'request-id': randomUUID(),
        ...e.headers,
      });
      res.end(
        req.method === 'HEAD'
          ? undefined
          : JSON.stringify({
              'odata.metadata': `${this.url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`,
              code: e.code,
              message: { lang: 'en-US', value: `${e.message}\nRequestId:${randomUUID()}\nTime:${this.now()}` },
            }),
      );
    }
  }

  /** Documented SharedKey scheme: HMAC-SHA256 over verb, standard headers, ocp-* headers and the resource. */
  private authenticate(req: IncomingMessage, url: URL, raw: Buffer): void {
    const auth = req.headers.authorization;
    if (!auth)
      throw new HttpError(
        401,
        'AuthenticationFailed',
        'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
      );
    if (auth.startsWith('Bearer ')) {
      if (this.options.bearerTokens?.includes(auth.slice(7))) return;
      throw new HttpError(401, 'AuthenticationFailed', 'The bearer token is not valid.');
    }
    const key = this.options.sharedKey;
    const m = /^SharedKey ([^:]+):(.+)$/.exec(auth);
    if (!key || !m || m[1] !== key.accountName)
      throw new HttpError(401, 'AuthenticationFailed', 'Unknown account or authorization scheme.');
    const h = (name: string): string => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : (v ?? '');
    };
    const ocp = Object.keys(req.headers)
      .filter((n) => n.startsWith('ocp-'))
      .sort()
      .map((n) => `${n}:${h(n)}\n`)
      .join('');
    const params = [...new Set(url.searchParams.keys())]
      .sort()
      .map((n) => `\n${n}:${url.searchParams.getAll(n).join(',')}`)
      .join('');
    const resource = `/${key.accountName}${url.pathname}${params}`;
    // Zero-length bodies may be signed with an empty Content-Length or with 0.
    const lengths = raw.length === 0 ? ['', '0'] : [String(raw.length)];
    const ok = lengths.some((length) => {
      const standard = [
        req.method,
        h('content-encoding'),
        h('content-language'),
        length,
        h('content-md5'),
        h('content-type'),
        h('date'),
        h('if-modified-since'),
        h('if-match'),
        h('if-none-match'),
        h('if-unmodified-since'),
        h('range'),
      ];
      const stringToSign = `${standard.join('\n')}\n${ocp}${resource}`;
      const expected = createHmac('sha256', Buffer.from(key.accountKey, 'base64'))
        .update(stringToSign, 'utf8')
        .digest('base64');
      return expected === m[2];
    });
    if (!ok)
      throw new HttpError(
        403,
        'AuthenticationFailed',
        'The MAC signature found in the HTTP request is not the same as any computed signature.',
      );
  }

  private async route(
    method: string,
    url: URL,
    body: unknown,
    req: IncomingMessage,
  ): Promise<{ status: number; headers?: Record<string, string>; payload?: string | Buffer }> {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [a, b, c, d, e, ...rest] = parts;
    if (a === 'pools' && parts.length === 1 && method === 'POST') return this.addPool(body as Record<string, unknown>);
    if (a === 'pools' && parts.length === 2 && method === 'GET') return this.json(200, this.mustPool(b!));
    if (a === 'jobs' && parts.length === 1 && method === 'POST') {
      this.createJob(body as Record<string, unknown>);
      return this.created(`${this.url}/jobs/${(body as { id: string }).id}`);
    }
    if (a === 'jobs' && parts.length === 2 && method === 'GET')
      return this.json(200, { id: this.mustJob(b!).id, state: 'active' });
    if (a === 'jobs' && c === 'tasks' && parts.length === 3 && method === 'POST')
      return this.addTask(b!, body as Record<string, unknown>);
    if (a === 'jobs' && c === 'tasks' && parts.length === 3 && method === 'GET') return this.listTasks(b!, url);
    if (a === 'jobs' && c === 'tasks' && parts.length === 4 && method === 'GET')
      return this.json(200, project(this.taskJson(b!, this.mustTask(b!, d!)), url.searchParams.get('$select')));
    if (a === 'jobs' && c === 'tasks' && parts.length === 4 && method === 'DELETE') {
      const job = this.mustJob(b!);
      this.mustTask(b!, d!);
      job.tasks.delete(d!.toLowerCase());
      job.order = job.order.filter((id) => id !== d!.toLowerCase());
      return { status: 200 };
    }
    if (a === 'jobs' && c === 'tasks' && e === 'terminate' && parts.length === 5 && method === 'POST')
      return this.terminate(b!, d!);
    if (a === 'jobs' && c === 'tasks' && e === 'files' && parts.length === 5 && method === 'GET')
      return this.listFiles(b!, d!, url);
    if (a === 'jobs' && c === 'tasks' && e === 'files' && rest.length > 0 && (method === 'GET' || method === 'HEAD')) {
      return this.getFile(b!, d!, rest.join('/'), method, req.headers['ocp-range']);
    }
    throw new HttpError(
      404,
      'InvalidUri',
      `The requested URI does not represent any resource on the server: ${method} ${url.pathname}`,
    );
  }

  private addPool(pool: Record<string, unknown>): { status: number; headers: Record<string, string> } {
    const id = String(pool.id ?? '');
    if (!ID.test(id))
      throw new HttpError(
        400,
        'InvalidPropertyValue',
        'The value provided for one of the properties in the request body is invalid: id',
      );
    if (!pool.vmSize)
      throw new HttpError(
        400,
        'MissingRequiredProperty',
        'A required property was not specified in the request body: vmSize',
      );
    if (pool.cloudServiceConfiguration)
      throw new HttpError(
        400,
        'InvalidPropertyValue',
        'CloudServiceConfiguration pools are retired; use virtualMachineConfiguration.',
      );
    const vm = pool.virtualMachineConfiguration as Record<string, unknown> | undefined;
    if (!vm?.imageReference || !vm.nodeAgentSKUId)
      throw new HttpError(
        400,
        'MissingRequiredProperty',
        'A required property was not specified in the request body: virtualMachineConfiguration',
      );
    if (pool.enableAutoScale === true) {
      if (!pool.autoScaleFormula)
        throw new HttpError(
          400,
          'MissingRequiredProperty',
          'A required property was not specified in the request body: autoScaleFormula',
        );
      if (pool.targetDedicatedNodes !== undefined || pool.targetLowPriorityNodes !== undefined) {
        throw new HttpError(
          400,
          'InvalidPropertyValue',
          'targetDedicatedNodes cannot be specified when enableAutoScale is true',
        );
      }
    }
    if (this.pools.has(id.toLowerCase())) throw new HttpError(409, 'PoolExists', 'The specified pool already exists.');
    this.pools.set(id.toLowerCase(), { ...pool, state: 'active', allocationState: 'steady', creationTime: this.now() });
    return this.created(`${this.url}/pools/${id}`);
  }

  private createJob(job: Record<string, unknown>): FakeJob {
    const id = String(job.id ?? '');
    if (!ID.test(id))
      throw new HttpError(
        400,
        'InvalidPropertyValue',
        'The value provided for one of the properties in the request body is invalid: id',
      );
    if (!(job.poolInfo as { poolId?: string } | undefined)?.poolId)
      throw new HttpError(
        400,
        'MissingRequiredProperty',
        'A required property was not specified in the request body: poolInfo',
      );
    if (this.jobs.has(id.toLowerCase())) throw new HttpError(409, 'JobExists', 'The specified job already exists.');
    const created: FakeJob = { id, body: job, creationTime: this.now(), tasks: new Map(), order: [] };
    this.jobs.set(id.toLowerCase(), created);
    return created;
  }

  private addTask(jobId: string, body: Record<string, unknown>): { status: number; headers: Record<string, string> } {
    const job = this.mustJob(jobId);
    const id = String(body.id ?? '');
    if (!ID.test(id))
      throw new HttpError(
        400,
        'InvalidPropertyValue',
        'The value provided for one of the properties in the request body is invalid: id',
      );
    if (!body.commandLine)
      throw new HttpError(
        400,
        'MissingRequiredProperty',
        'A required property was not specified in the request body: commandLine',
      );
    for (const rf of (body.resourceFiles as Array<Record<string, unknown>> | undefined) ?? []) {
      const sources = ['httpUrl', 'storageContainerUrl', 'autoStorageContainerName'].filter((k) => rf[k] !== undefined);
      if (sources.length !== 1)
        throw new HttpError(
          400,
          'InvalidPropertyValue',
          'A resource file needs exactly one of httpUrl, storageContainerUrl, autoStorageContainerName',
        );
    }
    for (const of of (body.outputFiles as Array<Record<string, unknown>> | undefined) ?? []) {
      const dest = (of.destination as { container?: { containerUrl?: string } } | undefined)?.container;
      if (
        !of.filePattern ||
        !dest?.containerUrl ||
        !(of.uploadOptions as { uploadCondition?: string } | undefined)?.uploadCondition
      ) {
        throw new HttpError(
          400,
          'MissingRequiredProperty',
          'A required property was not specified in the request body: outputFiles',
        );
      }
    }
    if (job.tasks.has(id.toLowerCase())) throw new HttpError(409, 'TaskExists', 'The specified task already exists.');
    const task = this.newTask(id, body);
    this.addsByTask.set(id.toLowerCase(), (this.addsByTask.get(id.toLowerCase()) ?? 0) + 1);
    job.tasks.set(id.toLowerCase(), task);
    job.order.push(id.toLowerCase());
    return this.created(`${this.url}/jobs/${job.id}/tasks/${id}`);
  }

  private listTasks(jobId: string, url: URL): { status: number; headers: Record<string, string>; payload: string } {
    const job = this.mustJob(jobId);
    const maxText = url.searchParams.get('maxresults');
    const asked = maxText === null ? MAX_PAGE : Number(maxText);
    const max = Math.min(asked, this.options.pageSize ?? MAX_PAGE);
    if (!Number.isInteger(asked) || asked < 1 || asked > MAX_PAGE) {
      throw new HttpError(
        400,
        'InvalidQueryParameterValue',
        `Value for one of the query parameters specified in the request URI is invalid: maxresults ${maxText}`,
      );
    }
    const filterText = url.searchParams.get('$filter');
    let filter: ((row: Record<string, unknown>) => boolean) | undefined;
    try {
      filter = filterText ? compileFilter(filterText, TASK_FILTER_PROPERTIES) : undefined;
    } catch (error) {
      if (error instanceof FilterSyntaxError)
        throw new HttpError(400, 'InvalidQueryParameterValue', `$filter: ${error.message}`);
      throw error;
    }
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
    const rows: Record<string, unknown>[] = [];
    let position = skip;
    for (; position < job.order.length && rows.length < max; position++) {
      const task = job.tasks.get(job.order[position]!)!;
      const json = this.taskJson(jobId, task);
      if (!filter || filter(json)) rows.push(project(json, url.searchParams.get('$select')));
    }
    const payload: Record<string, unknown> = {
      'odata.metadata': `${this.url}/$metadata#tasks`,
      value: rows,
    };
    if (position < job.order.length) {
      const next = new URL(`${this.url}/jobs/${encodeURIComponent(job.id)}/tasks`);
      for (const [k, v] of url.searchParams) if (k !== '$skiptoken' && k !== 'api-version') next.searchParams.set(k, v);
      next.searchParams.set('$skiptoken', String(position));
      next.searchParams.set('api-version', url.searchParams.get('api-version')!);
      payload['odata.nextLink'] = next.toString();
    }
    return this.json(200, payload);
  }

  private async terminate(jobId: string, taskId: string): Promise<{ status: number; headers: Record<string, string> }> {
    const task = this.mustTask(jobId, taskId);
    if (task.state === 'completed')
      throw new HttpError(409, 'TaskCompleted', 'The specified task is already completed.');
    const started = task.state === 'running';
    if (started) await this.uploadOutputs(task, false);
    this.finish(task, started ? 137 : undefined, {
      category: 'UserError',
      code: 'TaskEnded',
      message: 'Task Was Ended by User Request',
    });
    return { status: 204, headers: { DataServiceId: `${this.url}/jobs/${jobId}/tasks/${taskId}/terminate` } };
  }

  private listFiles(
    jobId: string,
    taskId: string,
    url: URL,
  ): { status: number; headers: Record<string, string>; payload: string } {
    const task = this.mustTask(jobId, taskId);
    const recursive = url.searchParams.get('recursive') === 'true';
    const names = new Set<string>();
    for (const name of task.files.keys()) {
      if (recursive) names.add(name);
      else names.add(name.includes('/') ? name.split('/')[0]! : name);
    }
    const value = [...names].sort().map((name) => {
      const content = task.files.get(name);
      return {
        name,
        url: `${this.url}/jobs/${jobId}/tasks/${taskId}/files/${name}`,
        isDirectory: content === undefined,
        ...(content
          ? {
              properties: {
                contentLength: content.length,
                contentType: 'application/octet-stream',
                lastModified: task.lastModified,
                creationTime: task.creationTime,
              },
            }
          : {}),
      };
    });
    return this.json(200, { 'odata.metadata': `${this.url}/$metadata#files`, value });
  }

  private getFile(
    jobId: string,
    taskId: string,
    path: string,
    method: string,
    range: string | string[] | undefined,
  ): { status: number; headers: Record<string, string>; payload?: Buffer } {
    const task = this.mustTask(jobId, taskId);
    const content = task.files.get(path);
    if (!content) throw new HttpError(404, 'FileNotFound', 'The specified file does not exist.');
    let slice = content;
    if (typeof range === 'string') {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m)
        throw new HttpError(
          400,
          'InvalidHeaderValue',
          'The value for one of the HTTP headers is not in the correct format: ocp-range',
        );
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), content.length - 1) : content.length - 1;
      if (start >= content.length && content.length > 0)
        throw new HttpError(
          416,
          'InvalidRange',
          'The range specified is invalid for the current size of the resource.',
        );
      slice = content.subarray(start, end + 1);
    }
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(method === 'HEAD' ? content.length : slice.length),
      'ocp-creation-time': new Date(task.creationTime).toUTCString(),
      'ocp-batch-file-isdirectory': 'False',
      'ocp-batch-file-url': `${this.url}/jobs/${jobId}/tasks/${taskId}/files/${path}`,
      'ocp-batch-file-mode': '0o100644',
      'Last-Modified': new Date(task.lastModified).toUTCString(),
    };
    return method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, payload: slice };
  }

  // ---- state -----------------------------------------------------------------------------------

  private newTask(id: string, body: Record<string, unknown>): FakeTask {
    const now = this.now();
    return {
      id,
      body,
      state: 'active',
      creationTime: now,
      stateTransitionTime: now,
      lastModified: now,
      eTag: `0x${randomUUID().replace(/-/g, '').slice(0, 15).toUpperCase()}`,
      executionInfo: { retryCount: 0, requeueCount: 0 },
      files: new Map(),
      uploads: [],
      downloads: [],
    };
  }

  private transition(task: FakeTask, state: TaskState): void {
    this.advance(1000);
    task.previousState = task.state;
    task.previousStateTransitionTime = task.stateTransitionTime;
    task.state = state;
    task.stateTransitionTime = this.now();
    task.lastModified = this.now();
  }

  private finish(task: FakeTask, exitCode: number | undefined, failure: CompleteTaskOptions['failureInfo']): void {
    task.executionInfo.endTime = this.now();
    if (exitCode !== undefined) task.executionInfo.exitCode = exitCode;
    task.executionInfo.result = failure ? 'failure' : 'success';
    if (failure) task.executionInfo.failureInfo = failure;
    this.transition(task, 'completed');
  }

  /** Uploads output files like the node agent: file patterns resolve against the working directory (`wd/`). */
  private async uploadOutputs(task: FakeTask, succeeded: boolean): Promise<void> {
    for (const of of (task.body.outputFiles as Array<Record<string, any>> | undefined) ?? []) {
      const condition = String(of.uploadOptions.uploadCondition).toLowerCase();
      if ((condition === 'tasksuccess' && !succeeded) || (condition === 'taskfailure' && succeeded)) continue;
      const pattern = String(of.filePattern);
      const path = pattern.startsWith('../') ? pattern.slice(3) : `wd/${pattern}`;
      const content = task.files.get(path);
      if (!content) continue;
      const container = new URL(String(of.destination.container.containerUrl));
      const target = `${container.origin}${container.pathname}/${of.destination.container.path ?? pattern.split('/').pop()}${container.search}`;
      const response = await fetch(target, {
        method: 'PUT',
        headers: {
          'x-ms-blob-type': 'BlockBlob',
          'x-ms-version': '2021-08-06',
          'Content-Type': 'application/octet-stream',
        },
        body: content,
      });
      task.uploads.push({ filePattern: pattern, url: target, status: response.status });
    }
  }

  private taskJson(jobId: string, task: FakeTask): Record<string, unknown> {
    const body = task.body;
    return {
      id: task.id,
      url: `${this.url}/jobs/${jobId}/tasks/${task.id}`,
      eTag: task.eTag,
      creationTime: task.creationTime,
      lastModified: task.lastModified,
      state: task.state,
      stateTransitionTime: task.stateTransitionTime,
      ...(task.previousState
        ? { previousState: task.previousState, previousStateTransitionTime: task.previousStateTransitionTime }
        : {}),
      commandLine: body.commandLine,
      ...(body.containerSettings ? { containerSettings: body.containerSettings } : {}),
      ...(body.resourceFiles ? { resourceFiles: body.resourceFiles } : {}),
      ...(body.outputFiles ? { outputFiles: body.outputFiles } : {}),
      ...(body.environmentSettings ? { environmentSettings: body.environmentSettings } : {}),
      constraints: {
        maxWallClockTime: 'P10675199DT2H48M5.4775807S',
        retentionTime: 'P7D',
        maxTaskRetryCount: 0,
        ...(body.constraints as object | undefined),
      },
      requiredSlots: body.requiredSlots ?? 1,
      executionInfo: { ...task.executionInfo },
      ...(task.nodeInfo ? { nodeInfo: task.nodeInfo } : {}),
    };
  }

  private findJob(jobId: string): FakeJob | undefined {
    return this.jobs.get(jobId.toLowerCase());
  }

  private mustJob(jobId: string): FakeJob {
    const job = this.findJob(jobId);
    if (!job) throw new HttpError(404, 'JobNotFound', 'The specified job does not exist.');
    return job;
  }

  private mustPool(poolId: string): Record<string, unknown> {
    const pool = this.pools.get(poolId.toLowerCase());
    if (!pool) throw new HttpError(404, 'PoolNotFound', 'The specified pool does not exist.');
    return pool;
  }

  private mustTask(jobId: string, taskId: string): FakeTask {
    const task = this.mustJob(jobId).tasks.get(taskId.toLowerCase());
    if (!task) throw new HttpError(404, 'TaskNotFound', 'The specified task does not exist.');
    return task;
  }

  private created(location: string): { status: number; headers: Record<string, string> } {
    return {
      status: 201,
      headers: {
        Location: location,
        DataServiceId: location,
        ETag: `0x${randomUUID().slice(0, 8)}`,
        'Last-Modified': new Date(this.clock).toUTCString(),
      },
    };
  }

  private json(status: number, payload: unknown): { status: number; headers: Record<string, string>; payload: string } {
    return {
      status,
      headers: { 'Content-Type': 'application/json;odata=minimalmetadata' },
      payload: JSON.stringify(payload),
    };
  }
}

/** `$select` keeps only the named top-level properties (the service does the same). */
function project(row: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (!select) return row;
  const keep = new Set(select.split(',').map((s) => s.trim()));
  return Object.fromEntries(Object.entries(row).filter(([k]) => keep.has(k)));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Counts recorded requests the way the bench reports them. */
export function countCalls(requests: readonly RecordedRequest[]): { list: number; get: number; other: number } {
  let list = 0;
  let get = 0;
  let other = 0;
  for (const r of requests) {
    const segments = r.path.split('/').filter(Boolean).length;
    if (r.method === 'GET' && segments % 2 === 1 && !r.path.includes('/files/')) list++;
    else if (r.method === 'GET' || r.method === 'HEAD') get++;
    else other++;
  }
  return { list, get, other };
}
