import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QuotaBucket } from '../rate-limit.js';
import { createSelfSignedCert } from './self-signed-cert.js';

/**
 * A stand-in for the parts of Azure Resource Manager's Microsoft.MachineLearningServices jobs API
 * the provider uses, over HTTPS with a throw-away certificate. It follows the documented wire
 * behaviour rather than our adapter:
 * - every call needs `api-version` (400 MissingApiVersionParameter / InvalidApiVersionParameter)
 *   and a bearer token (401 AuthenticationFailed / InvalidAuthenticationToken);
 * - errors use the ARM envelope `{"error":{"code","message"}}`, Azure ML's own codes inside;
 * - `PUT jobs/{id}` answers 201 for a new job and 200 for the documented "update case" (only tags,
 *   description, displayName, properties, isArchived may change); a body whose other fields differ
 *   from the stored, service-normalised job is refused with 400 UserError / JobPropertyImmutable
 *   (fields the body leaves out are not compared);
 * - `GET jobs` filters by `tag` (jobs having that tag key), `listViewType` (ActiveOnly hides
 *   archived jobs) and `jobType`, newest first, paged with an absolute `nextLink` carrying `$skipToken`;
 * - `POST jobs/{id}/cancel` is a long-running operation: 202 with `Location` and `Retry-After`;
 *   the location answers 202 until the operation ends, then 200;
 * - job status only moves when the test says so ({@link FakeAzureMl.setStatus});
 * - with `readLimit`, reads (GETs) are throttled as ARM documents: a token bucket per principal
 *   (ARM refills 25 reads/s into a bucket of 250); an empty bucket answers 429 TooManyRequests with
 *   `Retry-After` (whole seconds) and `x-ms-ratelimit-remaining-subscription-reads: 0`.
 */

export type FakeJobStatus =
  | 'NotStarted'
  | 'Starting'
  | 'Provisioning'
  | 'Preparing'
  | 'Queued'
  | 'Running'
  | 'Finalizing'
  | 'CancelRequested'
  | 'Completed'
  | 'Failed'
  | 'Canceled'
  | 'NotResponding'
  | 'Paused'
  | 'Unknown';

export type RequestKind =
  | 'list'
  | 'get'
  | 'put'
  | 'cancel'
  | 'operation'
  | 'environment'
  | 'workspace'
  | 'data'
  | 'model'
  | 'endpoint'
  | 'deployment'
  | 'opstatus'
  | 'score'
  | 'other';

/** A data or model version, online endpoint or deployment as the fake stores it (the ARM document). */
export interface FakeResource {
  id: string;
  name: string;
  type: string;
  location?: string;
  kind?: string;
  tags?: Record<string, string>;
  identity?: Record<string, unknown>;
  sku?: { name?: string; capacity?: number };
  properties: Record<string, unknown>;
  systemData: Record<string, unknown>;
}

/** An endpoint or deployment long-running operation (Azure-AsyncOperation), ended by the test. */
interface Lro {
  status: 'InProgress' | 'Succeeded' | 'Failed';
  reads: number;
  error?: { code: string; message: string };
  succeed: () => void;
  fail: () => void;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
  readonly body: unknown;
  readonly kind: RequestKind;
}

export interface Fault {
  readonly kind?: RequestKind;
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly error?: { code: string; message: string };
  /** How many matching requests get this reply (default 1). */
  times?: number;
}

interface StoredJob {
  name: string;
  seq: number;
  doc: {
    id: string;
    name: string;
    type: string;
    properties: Record<string, unknown>;
    systemData: Record<string, unknown>;
  };
}

interface Operation {
  jobName: string;
  pollsLeft: number;
  done: boolean;
}

export interface FakeAzureMlOptions {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  /** The bearer token the test's credential hands out; anything else is 401. */
  readonly token: string;
  readonly apiVersions?: readonly string[];
  /** Jobs per list page (ARM decides this server-side; the client cannot ask). */
  readonly pageSize?: number;
  /** Retry-After (seconds) on 202 replies of the cancel operation. */
  readonly operationRetryAfterSec?: number;
  /** Location polls answering 202 before a cancel operation completes (the job then turns Canceled). */
  readonly cancelPollsUntilDone?: number;
  /**
   * Reads of an endpoint/deployment operation (status document or Location) after which it
   * succeeds by itself, for flows driven only through the poller. Unset: only
   * {@link FakeAzureMl.completeOperations} ends one.
   */
  readonly assetOperationReadsUntilDone?: number;
  /** Read quota (GETs): refill per second and bucket size. Unset: unlimited. */
  readonly readLimit?: { readonly perSec: number; readonly burst: number };
  /** Time source of the read quota (tests run it on a fake clock shared with the client). */
  readonly clock?: () => number;
}

const MUTABLE = new Set(['tags', 'description', 'displayName', 'properties', 'isArchived']);
/** Server-populated; a client sending them back (a GET round trip) is not changing them. */
const READ_ONLY = new Set(['status']);
const TERMINAL = new Set(['Completed', 'Failed', 'Canceled']);

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export class FakeAzureMl {
  readonly requests: RecordedRequest[] = [];
  readonly jobs = new Map<string, StoredJob>();
  readonly environments = new Map<string, Record<string, unknown>>();
  /** Data versions by `name:version`. */
  readonly data = new Map<string, FakeResource>();
  /** Model versions by `name:version`. */
  readonly models = new Map<string, FakeResource>();
  /** Online endpoints by name. */
  readonly endpoints = new Map<string, FakeResource>();
  /** Online deployments by `endpoint/deployment`. */
  readonly deployments = new Map<string, FakeResource>();
  private readonly lros = new Map<string, Lro>();
  /** Region of the workspace (online endpoints and deployments must be created in it). */
  readonly location = 'westeurope';
  private readonly operations = new Map<string, Operation>();
  private readonly faults: Fault[] = [];
  private readonly readQuota: QuotaBucket | undefined;
  /** GETs answered 429 by the read quota, per request kind. */
  readonly throttled = new Map<RequestKind, number>();
  private seq = 0;
  private port = 0;

  private constructor(
    private readonly server: Server,
    readonly ca: string,
    private readonly opts: Required<
      Omit<FakeAzureMlOptions, 'cancelPollsUntilDone' | 'readLimit' | 'clock' | 'assetOperationReadsUntilDone'>
    > &
      Pick<FakeAzureMlOptions, 'readLimit' | 'clock'> & {
        cancelPollsUntilDone: number;
        assetOperationReadsUntilDone: number;
      },
  ) {
    this.readQuota = opts.readLimit
      ? new QuotaBucket(opts.readLimit.perSec, opts.readLimit.burst, opts.clock)
      : undefined;
  }

  static async start(options: FakeAzureMlOptions): Promise<FakeAzureMl> {
    const { cert, key } = createSelfSignedCert();
    let fake: FakeAzureMl | undefined;
    const server = createServer({ cert, key }, (req, res) => {
      void fake!.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: { code: 'InternalServerError', message: String(error) } }));
      });
    });
    fake = new FakeAzureMl(server, cert, {
      apiVersions: ['2024-04-01', '2024-10-01'],
      pageSize: 50,
      operationRetryAfterSec: 1,
      cancelPollsUntilDone: Number.POSITIVE_INFINITY,
      assetOperationReadsUntilDone: Number.POSITIVE_INFINITY,
      ...options,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  /** Origin to use as AZUREML_ARM_ENDPOINT. */
  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get pageSize(): number {
    return this.opts.pageSize;
  }

  get workspacePath(): string {
    return `/subscriptions/${this.opts.subscriptionId}/resourceGroups/${this.opts.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${this.opts.workspace}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Replies to the next matching request(s) with an error instead of serving them. */
  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  count(kind: RequestKind): number {
    return this.requests.filter((r) => r.kind === kind).length;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Moves a job, as Azure ML would; Completed fills outputs, Failed may carry service errors. */
  setStatus(name: string, status: FakeJobStatus, extra: { serviceErrors?: Record<string, string> } = {}): void {
    const job = this.mustGet(name);
    const props = job.doc.properties;
    props.status = status;
    if (status === 'Completed') {
      const outputs = { ...(props.outputs as Record<string, unknown> | undefined) };
      if (props.jobType === 'AutoML') {
        outputs.best_model = {
          jobOutputType: 'mlflow_model',
          mode: 'ReadWriteMount',
          uri: `azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.${name}/outputs/mlflow-model`,
        };
      }
      props.outputs = outputs;
    }
    for (const [svc, message] of Object.entries(extra.serviceErrors ?? {})) {
      const services = props.services as Record<string, Record<string, unknown>>;
      services[svc] = { ...(services[svc] ?? { jobServiceType: svc }), errorMessage: message, status: 'Failed' };
    }
    for (const op of this.operations.values()) if (op.jobName === name && TERMINAL.has(status)) op.done = true;
  }

  /** Changes the stored definition, as the service's normalisation does (defaults filled in). */
  normaliseStored(name: string, patch: Record<string, unknown>): void {
    const job = this.mustGet(name);
    Object.assign(job.doc.properties, patch);
  }

  archive(name: string): void {
    this.mustGet(name).doc.properties.isArchived = true;
  }

  /** A job some other tool created in the same workspace. */
  addForeignJob(name: string, tags: Record<string, string> = {}): void {
    this.store(name, { jobType: 'Command', command: 'echo other', environmentId: 'azureml:x:1', tags });
  }

  private mustGet(name: string): StoredJob {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`fake has no job ${name}`);
    return job;
  }

  private store(name: string, properties: Record<string, unknown>): StoredJob {
    const wsid = this.workspacePath;
    const outputs = Object.fromEntries(
      Object.entries((properties.outputs as Record<string, Record<string, unknown>> | undefined) ?? {}).map(
        ([k, v]) => [k, { ...v, uri: v.uri ?? `azureml://datastores/workspaceblobstore/paths/azureml/${name}/${k}/` }],
      ),
    );
    const job: StoredJob = {
      name,
      seq: ++this.seq,
      doc: {
        id: `${wsid}/jobs/${name}`,
        name,
        type: 'Microsoft.MachineLearningServices/workspaces/jobs',
        properties: {
          ...structuredClone(properties),
          ...(Object.keys(outputs).length > 0 && { outputs }),
          status: 'NotStarted',
          isArchived: false,
          services: {
            Studio: {
              jobServiceType: 'Studio',
              endpoint: `https://ml.azure.com/runs/${name}?wsid=${wsid}&tid=00000000-0000-0000-0000-000000000000`,
            },
            Tracking: {
              jobServiceType: 'Tracking',
              endpoint: `azureml://westeurope.api.azureml.ms/mlflow/v1.0${wsid}`,
            },
          },
        },
        systemData: { createdAt: new Date().toISOString(), createdByType: 'Application' },
      },
    };
    this.jobs.set(name, job);
    return job;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return this.send(res, 400, {
          error: {
            code: 'InvalidRequestContent',
            message: 'The request content was invalid and could not be deserialized.',
          },
        });
      }
    }
    const method = req.method ?? 'GET';
    const kind = this.classify(method, url.pathname);
    this.requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      body,
      kind,
    });

    const scoring = /^\/inference\/([^/]+)\/score$/.exec(url.pathname);
    const auth = req.headers.authorization;
    if (!auth)
      return this.send(res, 401, {
        error: {
          code: 'AuthenticationFailed',
          message: "Authentication failed. The 'Authorization' header is missing.",
        },
      });
    if (auth !== `Bearer ${this.opts.token}`)
      return this.send(res, 401, {
        error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' },
      });
    // The scoring host is data plane: no api-version there.
    if (scoring && method === 'POST') return this.score(res, decodeURIComponent(scoring[1]!), body);
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion)
      return this.send(res, 400, {
        error: {
          code: 'MissingApiVersionParameter',
          message: 'The api-version query parameter (?api-version=) is required for all requests.',
        },
      });
    if (!this.opts.apiVersions.includes(apiVersion)) {
      return this.send(res, 400, {
        error: {
          code: 'InvalidApiVersionParameter',
          message: `The api-version '${apiVersion}' is invalid. The supported versions are '${this.opts.apiVersions.join(',')}'.`,
        },
      });
    }

    if (method === 'GET' && this.readQuota) {
      const quota = this.readQuota.take();
      if (!quota.ok) {
        this.throttled.set(kind, (this.throttled.get(kind) ?? 0) + 1);
        const seconds = Math.max(1, Math.ceil(quota.retryAfterMs / 1000));
        return this.send(
          res,
          429,
          {
            error: {
              code: 'TooManyRequests',
              message: `The request was throttled: the read quota of this principal is used up. Retry after ${seconds} seconds.`,
            },
          },
          { 'retry-after': String(seconds), 'x-ms-ratelimit-remaining-subscription-reads': '0' },
        );
      }
      res.setHeader('x-ms-ratelimit-remaining-subscription-reads', String(quota.remaining));
    }

    const fault = this.faults.find((f) => f.kind === undefined || f.kind === kind);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
      return this.send(
        res,
        fault.status,
        {
          error: fault.error ?? {
            code: fault.status === 429 ? 'TooManyRequests' : 'InternalServerError',
            message: `injected ${fault.status}`,
          },
        },
        fault.headers,
      );
    }

    const ws = this.workspacePath.toLowerCase();
    const path = url.pathname;
    const lower = path.toLowerCase();
    const opMatch =
      /^\/subscriptions\/[^/]+\/providers\/microsoft\.machinelearningservices\/locations\/[^/]+\/mfeoperationresults\/(.+)$/.exec(
        lower,
      );
    if (opMatch) return this.pollOperation(res, decodeURIComponent(path.split('/').pop()!));
    const statusMatch =
      /^\/subscriptions\/[^/]+\/providers\/microsoft\.machinelearningservices\/locations\/[^/]+\/mfeoperationsstatus\/(.+)$/.exec(
        lower,
      );
    if (statusMatch && method === 'GET') return this.operationStatus(res, decodeURIComponent(path.split('/').pop()!));
    if (!lower.startsWith(ws))
      return this.send(res, 404, {
        error: { code: 'ResourceNotFound', message: `The Resource under '${path}' was not found.` },
      });
    const rest = path.slice(ws.length);

    if (method === 'GET' && /^\/jobs\/?$/.test(rest)) return this.list(res, url);
    const jobMatch = /^\/jobs\/([^/]+)(\/cancel)?$/.exec(rest);
    if (jobMatch) {
      const name = decodeURIComponent(jobMatch[1]!);
      if (jobMatch[2] && method === 'POST') return this.cancel(res, name, apiVersion);
      if (!jobMatch[2] && method === 'PUT') return this.put(res, name, body);
      if (!jobMatch[2] && method === 'GET') {
        const job = this.jobs.get(name);
        return job ? this.send(res, 200, job.doc) : this.notFound(res, name);
      }
    }
    if (rest === '' && method === 'GET') {
      return this.send(res, 200, {
        id: this.workspacePath,
        name: this.opts.workspace,
        type: 'Microsoft.MachineLearningServices/workspaces',
        location: this.location,
        properties: {},
      });
    }
    const versionMatch = /^\/(data|models)\/([^/]+)\/versions\/([^/]+)$/i.exec(rest);
    if (versionMatch) {
      const store = versionMatch[1]!.toLowerCase() === 'data' ? this.data : this.models;
      return this.assetVersion(
        res,
        method,
        store,
        decodeURIComponent(versionMatch[2]!),
        decodeURIComponent(versionMatch[3]!),
        body,
        path,
      );
    }
    const endpointMatch = /^\/onlineendpoints\/([^/]+)(\/deployments(?:\/([^/]+))?)?$/i.exec(rest);
    if (endpointMatch) {
      const endpoint = decodeURIComponent(endpointMatch[1]!);
      if (endpointMatch[3] !== undefined)
        return this.deployment(res, method, endpoint, decodeURIComponent(endpointMatch[3]), body, path, apiVersion);
      if (endpointMatch[2] !== undefined && method === 'GET') {
        if (!this.endpoints.has(endpoint)) return this.resourceNotFound(res, path);
        const value = [...this.deployments.entries()].filter(([k]) => k.startsWith(`${endpoint}/`)).map(([, d]) => d);
        return this.send(res, 200, { value });
      }
      if (endpointMatch[2] === undefined) return this.onlineEndpoint(res, method, endpoint, body, path, apiVersion);
    }
    const envMatch = /^\/environments\/([^/]+)\/versions\/([^/]+)$/.exec(rest);
    if (envMatch && method === 'PUT') return this.putEnvironment(res, `${envMatch[1]}:${envMatch[2]}`, body);
    return this.send(res, 405, { error: { code: 'MethodNotAllowed', message: `${method} ${path}` } });
  }

  private classify(method: string, path: string): RequestKind {
    const lower = path.toLowerCase();
    if (lower.startsWith('/inference/')) return 'score';
    if (lower.includes('/mfeoperationsstatus/')) return 'opstatus';
    if (lower.includes('/mfeoperationresults/')) return 'operation';
    if (lower.includes('/deployments')) return 'deployment';
    if (lower.includes('/onlineendpoints/')) return 'endpoint';
    if (/\/workspaces\/[^/]+\/data\//.test(lower)) return 'data';
    if (/\/workspaces\/[^/]+\/models\//.test(lower)) return 'model';
    if (/\/workspaces\/[^/]+$/.test(lower)) return 'workspace';
    if (lower.includes('/environments/')) return 'environment';
    if (/\/jobs\/?$/.test(lower) && method === 'GET') return 'list';
    if (/\/jobs\/[^/]+\/cancel$/.test(lower)) return 'cancel';
    if (/\/jobs\/[^/]+$/.test(lower)) return method === 'PUT' ? 'put' : method === 'GET' ? 'get' : 'other';
    return 'other';
  }

  private notFound(res: ServerResponse, name: string): void {
    this.send(res, 404, {
      error: {
        code: 'UserError',
        message: `Job ${name} was not found in workspace ${this.opts.workspace}.`,
        innerError: { code: 'NotFoundError' },
      },
    });
  }

  private userError(res: ServerResponse, message: string, inner?: Record<string, unknown>): void {
    this.send(res, 400, { error: { code: 'UserError', message, ...(inner && { innerError: inner }) } });
  }

  private put(res: ServerResponse, name: string, body: unknown): void {
    const props = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
    if (!props) return this.userError(res, 'The request body must have properties.');
    const problem = this.validate(props);
    if (problem) return this.userError(res, problem);
    const existing = this.jobs.get(name);
    if (!existing) return this.send(res, 201, this.store(name, props).doc);
    const changed = Object.keys(props).filter(
      (k) => !MUTABLE.has(k) && !READ_ONLY.has(k) && canonical(props[k]) !== canonical(existing.doc.properties[k]),
    );
    if (changed.length > 0) {
      return this.userError(
        res,
        `A job named '${name}' exists already. Use a different name for a new job; an existing job can only change description, tags, displayName, properties and isArchived.`,
        { code: 'Immutable', innerError: { code: 'JobPropertyImmutable' } },
      );
    }
    // Update case: tags replace the stored tags; the job is not started again.
    for (const k of MUTABLE) if (k in props) existing.doc.properties[k] = structuredClone(props[k]);
    return this.send(res, 200, existing.doc);
  }

  private validate(p: Record<string, unknown>): string | undefined {
    if (p.jobType === 'Command') {
      if (typeof p.command !== 'string' || !p.command) return 'Command job: command is required.';
      if (typeof p.environmentId !== 'string' || !p.environmentId) return 'Command job: environmentId is required.';
      return undefined;
    }
    if (p.jobType === 'AutoML') {
      const t = p.taskDetails as Record<string, unknown> | undefined;
      if (!t || typeof t.taskType !== 'string') return 'AutoML job: taskDetails.taskType is required.';
      if (!(t.trainingData as { uri?: unknown } | undefined)?.uri)
        return 'AutoML job: taskDetails.trainingData.uri is required.';
      if (typeof t.targetColumnName !== 'string') return 'AutoML job: taskDetails.targetColumnName is required.';
      return undefined;
    }
    return `Unsupported jobType '${String(p.jobType)}'.`;
  }

  private list(res: ServerResponse, url: URL): void {
    const tag = url.searchParams.get('tag');
    const view = url.searchParams.get('listViewType') ?? 'ActiveOnly';
    const jobType = url.searchParams.get('jobType');
    const skip = Number(url.searchParams.get('$skipToken') ?? '0');
    const matching = [...this.jobs.values()]
      .filter((j) => {
        const props = j.doc.properties;
        if (tag && !(tag in ((props.tags as Record<string, string> | undefined) ?? {}))) return false;
        if (jobType && props.jobType !== jobType) return false;
        if (view === 'ActiveOnly' && props.isArchived === true) return false;
        if (view === 'ArchivedOnly' && props.isArchived !== true) return false;
        return true;
      })
      .sort((a, b) => b.seq - a.seq);
    const page = matching.slice(skip, skip + this.opts.pageSize);
    let nextLink: string | undefined;
    if (skip + this.opts.pageSize < matching.length) {
      const next = new URL(url.pathname, this.endpoint);
      for (const [k, v] of url.searchParams) if (k !== '$skipToken') next.searchParams.set(k, v);
      next.searchParams.set('$skipToken', String(skip + this.opts.pageSize));
      nextLink = next.toString();
    }
    this.send(res, 200, { value: page.map((j) => j.doc), ...(nextLink && { nextLink }) });
  }

  private cancel(res: ServerResponse, name: string, apiVersion: string): void {
    const job = this.jobs.get(name);
    if (!job) return this.notFound(res, name);
    const id = `jc:${randomUUID()}`;
    const terminal = TERMINAL.has(String(job.doc.properties.status));
    if (!terminal) job.doc.properties.status = 'CancelRequested';
    this.operations.set(id, { jobName: name, pollsLeft: this.opts.cancelPollsUntilDone, done: terminal });
    const location = `${this.endpoint}/subscriptions/${this.opts.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/westeurope/mfeOperationResults/${encodeURIComponent(id)}?api-version=${apiVersion}`;
    this.send(res, 202, undefined, { location, 'retry-after': String(this.opts.operationRetryAfterSec) });
  }

  private pollOperation(res: ServerResponse, id: string): void {
    const lro = this.lros.get(id);
    if (lro) {
      this.readLro(lro);
      if (lro.status === 'InProgress')
        return this.send(res, 202, undefined, { 'retry-after': String(this.opts.operationRetryAfterSec) });
      return lro.status === 'Succeeded' ? this.send(res, 200, undefined) : this.send(res, 200, { error: lro.error });
    }
    const op = this.operations.get(id);
    if (!op) return this.send(res, 404, { error: { code: 'NotFound', message: `Operation ${id} not found.` } });
    if (!op.done && op.pollsLeft <= 0) {
      op.done = true;
      this.setStatus(op.jobName, 'Canceled');
    }
    if (op.done) return this.send(res, 200, undefined);
    op.pollsLeft -= 1;
    this.send(res, 202, undefined, { 'retry-after': String(this.opts.operationRetryAfterSec) });
  }

  private putEnvironment(res: ServerResponse, key: string, body: unknown): void {
    const props = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
    if (!props || typeof props.image !== 'string')
      return this.userError(res, 'Environment version: properties.image is required.');
    const existing = this.environments.get(key);
    if (existing && existing.image !== props.image)
      return this.send(res, 409, {
        error: { code: 'UserError', message: 'Environment version exists with a different image.' },
      });
    this.environments.set(key, props);
    this.send(res, existing ? 200 : 201, { name: key.split(':')[1], properties: props });
  }

  // ---- Assets: data and model versions, online endpoints and deployments ----------------------

  /**
   * Ends every pending endpoint/deployment operation, as Azure ML would after provisioning:
   * successfully, or with `fail`'s error (the resource turns Failed).
   */
  completeOperations(outcome: { fail?: { code: string; message: string } } = {}): number {
    let n = 0;
    for (const lro of this.lros.values()) {
      if (lro.status !== 'InProgress') continue;
      n += 1;
      if (outcome.fail) {
        lro.status = 'Failed';
        lro.error = outcome.fail;
        lro.fail();
      } else {
        lro.status = 'Succeeded';
        lro.succeed();
      }
    }
    return n;
  }

  /** Operations still running. */
  get pendingOperations(): number {
    return [...this.lros.values()].filter((l) => l.status === 'InProgress').length;
  }

  /** Drops every operation document, as ARM does once they expire. */
  expireOperations(): void {
    this.lros.clear();
  }

  private resourceNotFound(res: ServerResponse, path: string): void {
    this.send(res, 404, {
      error: { code: 'ResourceNotFound', message: `The Resource '${path}' was not found.` },
    });
  }

  /** Starts an LRO: 201/200/202 with Azure-AsyncOperation (status document) and Location. */
  private startLro(
    res: ServerResponse,
    status: number,
    body: unknown,
    apiVersion: string,
    succeed: () => void,
    fail: () => void,
  ): void {
    const id = `lro:${randomUUID()}`;
    this.lros.set(id, { status: 'InProgress', reads: 0, succeed, fail });
    const base = `${this.endpoint}/subscriptions/${this.opts.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/${this.location}`;
    this.send(res, status, body, {
      'azure-asyncoperation': `${base}/mfeOperationsStatus/${encodeURIComponent(id)}?api-version=${apiVersion}`,
      location: `${base}/mfeOperationResults/${encodeURIComponent(id)}?api-version=${apiVersion}`,
      'retry-after': String(this.opts.operationRetryAfterSec),
    });
  }

  /** Counts a read of an operation; ends it when `assetOperationReadsUntilDone` is reached. */
  private readLro(lro: Lro): void {
    lro.reads += 1;
    if (lro.status === 'InProgress' && lro.reads >= this.opts.assetOperationReadsUntilDone) {
      lro.status = 'Succeeded';
      lro.succeed();
    }
  }

  private operationStatus(res: ServerResponse, id: string): void {
    const lro = this.lros.get(id);
    if (!lro) return this.send(res, 404, { error: { code: 'NotFound', message: `Operation ${id} not found.` } });
    this.readLro(lro);
    this.send(res, 200, {
      id,
      name: id,
      status: lro.status,
      ...(lro.error && { error: lro.error }),
    });
  }

  private newResource(path: string, type: string, name: string, props: Record<string, unknown>): FakeResource {
    return {
      id: path,
      name,
      type,
      properties: structuredClone(props),
      systemData: { createdAt: new Date().toISOString(), createdByType: 'Application' },
    };
  }

  /**
   * Data and model versions: synchronous. A version is immutable: a PUT changing its URI or type
   * answers 409 Conflict; description, tags and properties may change (200). DELETE answers 200,
   * or 204 when there was nothing to delete.
   */
  private assetVersion(
    res: ServerResponse,
    method: string,
    store: Map<string, FakeResource>,
    name: string,
    version: string,
    body: unknown,
    path: string,
  ): void {
    const key = `${name}:${version}`;
    const existing = store.get(key);
    const isData = store === this.data;
    if (method === 'GET') return existing ? this.send(res, 200, existing) : this.resourceNotFound(res, path);
    if (method === 'DELETE') {
      if (!existing) return this.send(res, 204, undefined);
      store.delete(key);
      return this.send(res, 200, undefined);
    }
    if (method !== 'PUT') return this.send(res, 405, { error: { code: 'MethodNotAllowed', message: method } });
    const props = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
    const uriKey = isData ? 'dataUri' : 'modelUri';
    const typeKey = isData ? 'dataType' : 'modelType';
    if (!props || typeof props[uriKey] !== 'string') return this.userError(res, `properties.${uriKey} is required.`);
    if (isData && !['uri_file', 'uri_folder', 'mltable'].includes(String(props.dataType)))
      return this.userError(res, `properties.dataType '${String(props.dataType)}' is not supported.`);
    if (existing) {
      if (existing.properties[uriKey] !== props[uriKey] || existing.properties[typeKey] !== props[typeKey]) {
        return this.send(res, 409, {
          error: {
            code: 'UserError',
            message: `Conflict: ${isData ? 'data' : 'model'} ${name} version ${version} already exists and its ${uriKey} cannot be changed.`,
          },
        });
      }
      for (const k of ['description', 'tags', 'properties'])
        if (k in props) existing.properties[k] = structuredClone(props[k]);
      return this.send(res, 200, existing);
    }
    const doc = this.newResource(
      path,
      `Microsoft.MachineLearningServices/workspaces/${isData ? 'data' : 'models'}/versions`,
      version,
      { ...props, isArchived: false, ...(isData ? {} : { modelType: props.modelType ?? 'custom_model' }) },
    );
    store.set(key, doc);
    return this.send(res, 201, doc);
  }

  /**
   * Managed online endpoints. PUT creates (201, Creating) or updates (200, Updating) as a
   * long-running operation; traffic must name existing deployments and add up to 0 or 100, and
   * takes effect when the operation ends. A PUT or DELETE while an operation runs is 409.
   */
  private onlineEndpoint(
    res: ServerResponse,
    method: string,
    name: string,
    body: unknown,
    path: string,
    apiVersion: string,
  ): void {
    const existing = this.endpoints.get(name);
    if (method === 'GET') return existing ? this.send(res, 200, existing) : this.resourceNotFound(res, path);
    if (method === 'DELETE') {
      if (!existing) return this.send(res, 204, undefined);
      if (['Creating', 'Updating', 'Deleting'].includes(String(existing.properties.provisioningState)))
        return this.conflict(res, `Endpoint ${name} is ${String(existing.properties.provisioningState)}.`);
      existing.properties.provisioningState = 'Deleting';
      return this.startLro(
        res,
        202,
        undefined,
        apiVersion,
        () => {
          this.endpoints.delete(name);
          for (const k of [...this.deployments.keys()]) if (k.startsWith(`${name}/`)) this.deployments.delete(k);
        },
        () => {
          existing.properties.provisioningState = 'Failed';
        },
      );
    }
    if (method !== 'PUT') return this.send(res, 405, { error: { code: 'MethodNotAllowed', message: method } });
    const b = (body ?? {}) as Partial<FakeResource>;
    if (b.location !== this.location)
      return this.userError(res, `location '${String(b.location)}' must be the workspace's region '${this.location}'.`);
    const props = b.properties ?? {};
    if (!['AADToken', 'Key', 'AMLToken'].includes(String(props.authMode)))
      return this.userError(res, 'properties.authMode must be AADToken, Key or AMLToken.');
    const traffic = (props.traffic ?? {}) as Record<string, number>;
    for (const [dep, share] of Object.entries(traffic)) {
      const d = this.deployments.get(`${name}/${dep}`);
      if (!d) return this.userError(res, `Traffic names deployment '${dep}', which does not exist.`);
      if (share > 0 && d.properties.provisioningState !== 'Succeeded')
        return this.userError(
          res,
          `Deployment '${dep}' is ${String(d.properties.provisioningState)}; it cannot take traffic.`,
        );
    }
    const sum = Object.values(traffic).reduce((n, v) => n + v, 0);
    if (sum !== 0 && sum !== 100) return this.userError(res, `Traffic must add up to 100 (or 0), not ${sum}.`);
    if (existing) {
      if (['Creating', 'Updating', 'Deleting'].includes(String(existing.properties.provisioningState)))
        return this.conflict(res, `Endpoint ${name} is ${String(existing.properties.provisioningState)}.`);
      existing.properties.provisioningState = 'Updating';
      return this.startLro(
        res,
        200,
        existing,
        apiVersion,
        () => {
          existing.properties.traffic = { ...traffic };
          if (b.tags) existing.tags = { ...b.tags };
          if (typeof props.description === 'string') existing.properties.description = props.description;
          existing.properties.provisioningState = 'Succeeded';
        },
        () => {
          existing.properties.provisioningState = 'Failed';
        },
      );
    }
    const doc = this.newResource(path, 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints', name, {
      ...props,
      traffic: {},
      provisioningState: 'Creating',
    });
    doc.location = this.location;
    doc.kind = b.kind ?? 'Managed';
    doc.tags = { ...(b.tags ?? {}) };
    doc.identity = { type: (b.identity as { type?: string } | undefined)?.type ?? 'SystemAssigned' };
    this.endpoints.set(name, doc);
    return this.startLro(
      res,
      201,
      doc,
      apiVersion,
      () => {
        doc.properties.provisioningState = 'Succeeded';
        doc.properties.scoringUri = `${this.endpoint}/inference/${encodeURIComponent(name)}/score`;
        doc.properties.swaggerUri = `${this.endpoint}/inference/${encodeURIComponent(name)}/swagger.json`;
      },
      () => {
        doc.properties.provisioningState = 'Failed';
      },
    );
  }

  /**
   * Online deployments: PUT needs a Succeeded endpoint, an existing workspace model and an
   * instance type; DELETE of a deployment that still has traffic is refused (400), as the service
   * does. Both are long-running operations.
   */
  private deployment(
    res: ServerResponse,
    method: string,
    endpoint: string,
    name: string,
    body: unknown,
    path: string,
    apiVersion: string,
  ): void {
    const ep = this.endpoints.get(endpoint);
    const key = `${endpoint}/${name}`;
    const existing = this.deployments.get(key);
    if (method === 'GET') return existing ? this.send(res, 200, existing) : this.resourceNotFound(res, path);
    if (!ep) return this.resourceNotFound(res, path);
    if (method === 'DELETE') {
      if (!existing) return this.send(res, 204, undefined);
      const share = ((ep.properties.traffic ?? {}) as Record<string, number>)[name] ?? 0;
      if (share > 0)
        return this.userError(
          res,
          `Deployment ${name} has ${share}% of the traffic; set its traffic to 0 before deleting it.`,
        );
      existing.properties.provisioningState = 'Deleting';
      return this.startLro(
        res,
        202,
        undefined,
        apiVersion,
        () => {
          this.deployments.delete(key);
          const traffic = { ...((ep.properties.traffic ?? {}) as Record<string, number>) };
          delete traffic[name];
          ep.properties.traffic = traffic;
        },
        () => {
          existing.properties.provisioningState = 'Failed';
        },
      );
    }
    if (method !== 'PUT') return this.send(res, 405, { error: { code: 'MethodNotAllowed', message: method } });
    if (ep.properties.provisioningState !== 'Succeeded')
      return this.conflict(res, `Endpoint ${endpoint} is ${String(ep.properties.provisioningState)}.`);
    const b = (body ?? {}) as Partial<FakeResource>;
    const props = b.properties ?? {};
    if (props.endpointComputeType !== 'Managed')
      return this.userError(res, 'properties.endpointComputeType must be Managed.');
    if (typeof props.instanceType !== 'string') return this.userError(res, 'properties.instanceType is required.');
    const model = String(props.model ?? '');
    const mv = /\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(model);
    if (
      model.toLowerCase().startsWith(this.workspacePath.toLowerCase()) &&
      !(mv && this.models.has(`${mv[1]}:${mv[2]}`))
    )
      return this.userError(res, `Model ${model} was not found.`);
    if (existing) {
      if (['Creating', 'Updating', 'Deleting'].includes(String(existing.properties.provisioningState)))
        return this.conflict(res, `Deployment ${name} is ${String(existing.properties.provisioningState)}.`);
      existing.properties.provisioningState = 'Updating';
      return this.startLro(
        res,
        200,
        existing,
        apiVersion,
        () => {
          Object.assign(existing.properties, props, { provisioningState: 'Succeeded' });
          if (b.sku) existing.sku = { ...b.sku };
        },
        () => {
          existing.properties.provisioningState = 'Failed';
        },
      );
    }
    const doc = this.newResource(
      path,
      'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments',
      name,
      { ...props, provisioningState: 'Creating' },
    );
    doc.location = this.location;
    doc.kind = b.kind ?? 'Managed';
    doc.tags = { ...(b.tags ?? {}) };
    doc.sku = { name: 'Default', capacity: 1, ...(b.sku ?? {}) };
    this.deployments.set(key, doc);
    return this.startLro(
      res,
      201,
      doc,
      apiVersion,
      () => {
        doc.properties.provisioningState = 'Succeeded';
      },
      () => {
        doc.properties.provisioningState = 'Failed';
      },
    );
  }

  private conflict(res: ServerResponse, message: string): void {
    this.send(res, 409, { error: { code: 'Conflict', message: `${message} Wait for the operation to finish.` } });
  }

  /**
   * The scoring URI: routes to the deployment with the largest traffic share (404 when none has
   * any, as the service answers) and "predicts" the sum of each input row.
   */
  private score(res: ServerResponse, name: string, body: unknown): void {
    const ep = this.endpoints.get(name);
    if (ep?.properties.provisioningState !== 'Succeeded')
      return this.send(res, 404, { message: `No endpoint ${name}.` });
    const traffic = Object.entries((ep.properties.traffic ?? {}) as Record<string, number>).filter(([, v]) => v > 0);
    if (traffic.length === 0)
      return this.send(res, 404, {
        message:
          'No valid deployments to route to. Please check that the endpoint has at least one deployment with positive weight values.',
      });
    const [deployment] = traffic.sort((a, b) => b[1] - a[1])[0]!;
    const rows = (body as { input_data?: { data?: unknown } } | undefined)?.input_data?.data;
    if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r) && r.every((v) => typeof v === 'number'))) {
      return this.send(res, 400, { message: 'Expected input_data.data: an array of numeric rows.' });
    }
    const model = String(this.deployments.get(`${name}/${deployment}`)?.properties.model ?? '');
    this.send(res, 200, {
      predictions: (rows as number[][]).map((r) => r.reduce((n, v) => n + v, 0)),
      deployment,
      model,
    });
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.statusCode = status;
    res.setHeader('x-ms-request-id', randomUUID());
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (body === undefined) {
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }
}
