/**
 * A stand-in for the SageMaker control plane, speaking its wire protocol (awsJson1_1): `POST /` with
 * `X-Amz-Target: SageMaker.<Operation>`, JSON bodies, timestamps as epoch seconds, errors as
 * `{"__type": "...", "message": "..."}` with the documented HTTP status.
 *
 * Modelled on SageMaker's documented behaviour, not on what our adapter sends:
 * - job names: 1-63 characters (AutoML: 32) matching `^[a-zA-Z0-9](-*[a-zA-Z0-9])*`, unique per kind
 *   and case-insensitive; a duplicate Create answers `ResourceInUse`;
 * - List*: `MaxResults` 1-100 (default 10), `NameContains` ≤ 63 of `[a-zA-Z0-9-]`, status and time
 *   filters, default sort (training/transform: CreationTime, AutoML: Name; Descending), opaque
 *   `NextToken` bound to the query;
 * - Describe of an unknown training or transform job answers `ValidationException`, of an unknown
 *   AutoML job `ResourceNotFound` (the real service does the same);
 * - Stop* of a job that is not InProgress answers `ValidationException`, of an unknown one
 *   `ResourceNotFound`; a stopped job stays `Stopping` until the test moves it on;
 * - requests must carry a SigV4 `Authorization` header scoped to service `sagemaker`.
 *
 * Jobs never progress on their own: the test moves them (`setStatus`, `completeStopping`), so no
 * test depends on wall-clock time. Failures are injected per operation (`failNext`).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultPlan, QuotaBucket, type FaultRates, type RateLimit } from '../rate-limit.js';
import { FakeAssetError, FakeSageMakerAssets } from './fake-sagemaker-assets.js';

export type FakeKind = 'training' | 'automl' | 'transform';
export type FakeStatus = 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';
const STATUSES: readonly string[] = ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped'];

export interface FakeJob {
  readonly kind: FakeKind;
  readonly name: string;
  readonly arn: string;
  status: FakeStatus;
  secondaryStatus: string;
  failureReason?: string;
  creationTime: number;
  lastModifiedTime: number;
  startTime?: number;
  endTime?: number;
  /** Final metrics (training) or the best candidate's objective value (AutoML). */
  metrics: Record<string, number>;
  /** The Create request as received. */
  readonly request: Record<string, unknown>;
}

export interface RecordedRequest {
  readonly op: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Record<string, unknown>;
  /** Present when the fake answered with an error. */
  error?: string;
}

export interface InjectedError {
  readonly type: string;
  readonly message?: string;
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export const THROTTLING: InjectedError = { type: 'ThrottlingException', message: 'Rate exceeded', status: 400 };
export const INTERNAL_FAILURE: InjectedError = {
  type: 'InternalFailure',
  message: 'An internal error occurred.',
  status: 500,
};
export const SERVICE_UNAVAILABLE: InjectedError = {
  type: 'ServiceUnavailable',
  message: 'Service is unavailable.',
  status: 503,
};

class FakeError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}
const validation = (message: string) => new FakeError(400, 'ValidationException', message);

const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const ROLE_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const S3_PATTERN = /^(https|s3):\/\/([^/]+)\/?(.*)$/;
const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const KIND_OF_OP: Readonly<Record<string, FakeKind>> = {
  CreateTrainingJob: 'training',
  DescribeTrainingJob: 'training',
  ListTrainingJobs: 'training',
  StopTrainingJob: 'training',
  CreateAutoMLJobV2: 'automl',
  DescribeAutoMLJobV2: 'automl',
  ListAutoMLJobs: 'automl',
  StopAutoMLJob: 'automl',
  CreateTransformJob: 'transform',
  DescribeTransformJob: 'transform',
  ListTransformJobs: 'transform',
  StopTransformJob: 'transform',
};
const ARN_TYPE: Readonly<Record<FakeKind, string>> = {
  training: 'training-job',
  automl: 'automl-job',
  transform: 'transform-job',
};
const NAME_FIELD: Readonly<Record<FakeKind, string>> = {
  training: 'TrainingJobName',
  automl: 'AutoMLJobName',
  transform: 'TransformJobName',
};
const MAX_NAME: Readonly<Record<FakeKind, number>> = { training: 63, automl: 32, transform: 63 };

export interface FakeSageMakerOptions {
  readonly region?: string;
  readonly accountId?: string;
  /** When set, List* calls beyond this many per wall-clock second answer ThrottlingException (SageMaker's per-API quota). */
  readonly listCallsPerSecond?: number;
  /**
   * Access key id → secret. When given, every request must be signed by one of these keys and its
   * SigV4 signature is recomputed and compared, as AWS does; unknown keys get UnrecognizedClientException.
   */
  readonly credentials?: Readonly<Record<string, string>>;
  /**
   * Per-API request quota (SageMaker's quotas are per API and account): every operation gets its own
   * token bucket; an empty one answers ThrottlingException (HTTP 400), as SageMaker does.
   */
  readonly apiLimit?: RateLimit;
  /** Time source of `apiLimit` (a fake clock shared with the client's limiter). */
  readonly quotaClock?: () => number;
  /**
   * Random faults: ThrottlingException / InternalFailure / ServiceUnavailable, and replies that never
   * come (a Create is still carried out: only its reply is lost).
   */
  readonly faults?: FaultRates;
}

export class FakeSageMaker {
  readonly region: string;
  readonly accountId: string;
  readonly requests: RecordedRequest[] = [];
  private readonly jobs: Record<FakeKind, Map<string, FakeJob>> = {
    training: new Map(),
    automl: new Map(),
    transform: new Map(),
  };
  private readonly injected = new Map<string, Array<InjectedError | null>>();
  private readonly hanging = new Map<string, number>();
  private server?: Server;
  private clock = Date.UTC(2026, 10, 23, 12, 0, 0);
  private listWindow = { second: 0, count: 0 };
  private port = 0;
  private readonly quotas = new Map<string, QuotaBucket>();
  readonly faultPlan: FaultPlan | undefined;
  /** Requests the per-API quota answered with ThrottlingException. */
  throttledByQuota = 0;
  /** Successful Create calls per job name (lower-case): more than one would be a duplicate cloud job. */
  readonly createsByName = new Map<string, number>();
  /** Models, model packages, endpoint configurations and endpoints (the MLOps asset operations). */
  readonly assets: FakeSageMakerAssets;

  constructor(private readonly options: FakeSageMakerOptions = {}) {
    this.region = options.region ?? 'eu-west-1';
    this.accountId = options.accountId ?? '123456789012';
    this.assets = new FakeSageMakerAssets(this.region, this.accountId, () => (this.clock += 10));
    this.faultPlan = options.faults ? new FaultPlan(options.faults) : undefined;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  // ---- test controls -------------------------------------------------------------------------

  /** The fake's clock (epoch ms); SageMaker stamps CreationTime/LastModifiedTime with it. */
  now(): number {
    return this.clock;
  }

  advanceClock(ms: number): void {
    this.clock += ms;
  }

  /**
   * Answers `times` calls of `op` (or of every op with `'*'`) with this error, after letting
   * `afterOk` calls through normally.
   */
  failNext(op: string, error: InjectedError, times = 1, afterOk = 0): void {
    const q = this.injected.get(op) ?? [];
    for (let i = 0; i < afterOk; i++) q.push(null);
    for (let i = 0; i < times; i++) q.push(error);
    this.injected.set(op, q);
  }

  /** The next `times` calls of `op` get no answer at all (the connection stays open until close()). */
  hangNext(op: string, times = 1): void {
    this.hanging.set(op, (this.hanging.get(op) ?? 0) + times);
  }

  job(kind: FakeKind, name: string): FakeJob | undefined {
    return this.jobs[kind].get(name.toLowerCase());
  }

  allJobs(kind: FakeKind): FakeJob[] {
    return [...this.jobs[kind].values()];
  }

  /** Moves a job to a status (stamping LastModifiedTime), as SageMaker would on its own. */
  setStatus(
    kind: FakeKind,
    name: string,
    status: FakeStatus,
    extra: { secondaryStatus?: string; failureReason?: string; metrics?: Record<string, number> } = {},
  ): FakeJob {
    const job = this.job(kind, name);
    if (!job) throw new Error(`fake has no ${kind} job ${name}`);
    this.clock += 1000;
    job.status = status;
    job.secondaryStatus = extra.secondaryStatus ?? defaultSecondary(status);
    if (extra.failureReason !== undefined) job.failureReason = extra.failureReason;
    if (extra.metrics) job.metrics = { ...job.metrics, ...extra.metrics };
    if (status !== 'InProgress' && status !== 'Stopping') job.endTime = this.clock;
    job.lastModifiedTime = this.clock;
    return job;
  }

  /** Changes only the secondary status of a running job (a new training phase). */
  setSecondaryStatus(kind: FakeKind, name: string, secondaryStatus: string): void {
    const job = this.job(kind, name);
    if (!job) throw new Error(`fake has no ${kind} job ${name}`);
    this.clock += 1000;
    job.secondaryStatus = secondaryStatus;
    job.lastModifiedTime = this.clock;
  }

  /** Every Stopping job of a kind becomes Stopped. */
  completeStopping(kind: FakeKind): number {
    let n = 0;
    for (const job of this.jobs[kind].values()) {
      if (job.status === 'Stopping') {
        this.setStatus(kind, job.name, 'Stopped');
        n++;
      }
    }
    return n;
  }

  /** Creates a job directly (as if someone else had called Create), e.g. for paging and bench setups. */
  seedJob(
    kind: FakeKind,
    name: string,
    status: FakeStatus = 'InProgress',
    request: Record<string, unknown> = {},
  ): FakeJob {
    return this.addJob(kind, name, request, status);
  }

  /** Requests received for an operation (all operations without an argument). */
  callsTo(op?: string): RecordedRequest[] {
    return op ? this.requests.filter((r) => r.op === op) : [...this.requests];
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  // ---- wire ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    const invocation = /^\/endpoints\/([^/?]+)\/invocations$/.exec(req.url ?? '');
    if (req.method === 'POST' && invocation)
      return this.handleInvoke(req, res, raw, decodeURIComponent(invocation[1]!));
    const op = target.startsWith('SageMaker.') ? target.slice('SageMaker.'.length) : '';
    let body: Record<string, unknown> = {};
    const record: RecordedRequest = { op, headers: flatHeaders(req), body };
    try {
      if (req.method !== 'POST' || (req.url ?? '/') !== '/')
        throw new FakeError(404, 'UnknownOperationException', `${req.method} ${req.url}`);
      if (!op) throw new FakeError(400, 'UnknownOperationException', `missing or foreign X-Amz-Target '${target}'`);
      const contentType = String(req.headers['content-type'] ?? '');
      if (!contentType.startsWith('application/x-amz-json-1.1'))
        throw new FakeError(400, 'SerializationException', `unexpected Content-Type ${contentType}`);
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        throw new FakeError(400, 'SerializationException', 'body is not JSON');
      }
      (record as { body: Record<string, unknown> }).body = body;
      this.requests.push(record);
      this.checkAuth(req, raw);
      const hang = this.hanging.get(op) ?? 0;
      if (hang > 0) {
        this.hanging.set(op, hang - 1);
        record.error = 'NoAnswer';
        return;
      }
      const queue = this.injected.get(op)?.length ? this.injected.get(op) : this.injected.get('*');
      const injected = queue?.shift();
      if (injected) {
        record.error = injected.type;
        return send(
          res,
          injected.status,
          { __type: injected.type, message: injected.message ?? injected.type },
          injected.headers,
        );
      }
      if (this.options.listCallsPerSecond !== undefined && op.startsWith('List'))
        this.rateLimit(this.options.listCallsPerSecond);
      this.takeQuota(op);
      const fault = this.faultPlan?.next() ?? 'ok';
      if (fault === 'throttle') throw new FakeError(400, 'ThrottlingException', 'Rate exceeded');
      if (fault === 'server-error')
        throw Math.random() < 0.5
          ? new FakeError(500, 'InternalFailure', 'An internal error occurred.')
          : new FakeError(503, 'ServiceUnavailable', 'Service is unavailable.');
      const out = this.dispatch(op, body);
      if (op.startsWith('Create') && KIND_OF_OP[op]) {
        const name = String(body[NAME_FIELD[KIND_OF_OP[op]!]] ?? '').toLowerCase();
        this.createsByName.set(name, (this.createsByName.get(name) ?? 0) + 1);
      }
      if (fault === 'timeout') {
        // The work is done; the reply is lost. The connection stays open until the client gives up.
        record.error = 'NoAnswer';
        return;
      }
      send(res, 200, out);
    } catch (error) {
      if (!this.requests.includes(record)) this.requests.push(record);
      const e =
        error instanceof FakeError || error instanceof FakeAssetError
          ? error
          : new FakeError(500, 'InternalFailure', String(error));
      record.error = e.type;
      send(res, e.status, { __type: e.type, message: e.message });
    }
  }

  /**
   * SageMaker Runtime InvokeEndpoint (restJson1): the raw body goes to the model, its answer comes
   * back raw with `Content-Type` and `x-Amzn-Invoked-Production-Variant`; errors are JSON with the
   * code in `x-amzn-errortype` too. Failures injected for `InvokeEndpoint` apply here.
   */
  private handleInvoke(req: IncomingMessage, res: ServerResponse, raw: string, endpointName: string): void {
    const record: RecordedRequest = { op: 'InvokeEndpoint', headers: flatHeaders(req), body: { endpointName, raw } };
    this.requests.push(record);
    const fail = (status: number, type: string, message: string, headers: Record<string, string> = {}) => {
      record.error = type;
      send(res, status, { __type: type, message }, { 'x-amzn-errortype': type, ...headers });
    };
    try {
      this.checkAuth(req, raw, ['host', 'x-amz-date']);
      const injected = this.injected.get('InvokeEndpoint')?.shift();
      if (injected) return fail(injected.status, injected.type, injected.message ?? injected.type, injected.headers);
      const out = this.assets.invoke(endpointName, {
        contentType: String(req.headers['content-type'] ?? 'application/octet-stream'),
        accept: String(req.headers.accept ?? '*/*'),
        body: raw,
        explain: req.headers['x-amzn-sagemaker-enable-explanations'] !== undefined,
      });
      res.writeHead(out.status, {
        'content-type': out.contentType,
        'content-length': Buffer.byteLength(out.body),
        'x-amzn-invoked-production-variant': out.variant,
      });
      res.end(out.body);
    } catch (error) {
      const e =
        error instanceof FakeError || error instanceof FakeAssetError
          ? error
          : new FakeError(500, 'InternalFailure', String(error));
      fail(e.status, e.type, e.message);
    }
  }

  private checkAuth(req: IncomingMessage, rawBody: string, mustSign = ['host', 'x-amz-date', 'x-amz-target']): void {
    const auth = String(req.headers.authorization ?? '');
    if (!auth) throw new FakeError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    const m = AUTH_PATTERN.exec(auth);
    if (!m)
      throw new FakeError(400, 'IncompleteSignatureException', `malformed Authorization header: ${auth.slice(0, 40)}…`);
    const [, , date, region, service, signed] = m;
    if (service !== 'sagemaker')
      throw new FakeError(403, 'InvalidSignatureException', `credential scope names service '${service}'`);
    if (region !== this.region)
      throw new FakeError(
        403,
        'InvalidSignatureException',
        `credential scope names region '${region}', expected '${this.region}'`,
      );
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    if (!amzDate.startsWith(date ?? '-'))
      throw new FakeError(403, 'InvalidSignatureException', 'X-Amz-Date does not match the credential scope');
    const signedHeaders = (signed ?? '').split(';');
    for (const h of mustSign) {
      if (!signedHeaders.includes(h))
        throw new FakeError(403, 'InvalidSignatureException', `header ${h} is not signed`);
    }
    const known = this.options.credentials;
    if (!known) return;
    const [, keyId, , , , , signature] = m;
    const secret = known[keyId ?? ''];
    if (secret === undefined)
      throw new FakeError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    const expected = sigV4(req, rawBody, {
      secret,
      date: date!,
      region: region!,
      service: service!,
      signedHeaders,
      amzDate,
    });
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature ?? ''))) {
      throw new FakeError(
        403,
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
  }

  private takeQuota(op: string): void {
    const limit = this.options.apiLimit;
    if (!limit) return;
    let bucket = this.quotas.get(op);
    if (!bucket) {
      bucket = new QuotaBucket(limit.perSec, limit.burst, this.options.quotaClock);
      this.quotas.set(op, bucket);
    }
    if (!bucket.take().ok) {
      this.throttledByQuota++;
      throw new FakeError(400, 'ThrottlingException', 'Rate exceeded');
    }
  }

  private rateLimit(perSecond: number): void {
    const second = Math.floor(Date.now() / 1000);
    if (this.listWindow.second !== second) this.listWindow = { second, count: 0 };
    this.listWindow.count++;
    if (this.listWindow.count > perSecond) throw new FakeError(400, 'ThrottlingException', 'Rate exceeded');
  }

  private dispatch(op: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (op) {
      case 'CreateTrainingJob':
        return this.createTraining(body);
      case 'CreateAutoMLJobV2':
        return this.createAutoml(body);
      case 'CreateTransformJob':
        return this.createTransform(body);
      case 'DescribeTrainingJob':
      case 'DescribeAutoMLJobV2':
      case 'DescribeTransformJob':
        return this.describe(KIND_OF_OP[op]!, body);
      case 'ListTrainingJobs':
      case 'ListAutoMLJobs':
      case 'ListTransformJobs':
        return this.list(KIND_OF_OP[op]!, body);
      case 'StopTrainingJob':
      case 'StopAutoMLJob':
      case 'StopTransformJob':
        return this.stop(KIND_OF_OP[op]!, body);
      case 'ListTags':
        return this.listTags(body);
      default:
        if (FakeSageMakerAssets.OPS.has(op)) return this.assets.dispatch(op, body);
        throw new FakeError(400, 'UnknownOperationException', `SageMaker.${op} is not implemented by the fake`);
    }
  }

  // ---- operations ----------------------------------------------------------------------------

  private checkName(kind: FakeKind, name: unknown): string {
    const field = NAME_FIELD[kind];
    if (typeof name !== 'string' || name.length === 0)
      throw validation(
        `1 validation error detected: Value null at '${lcFirst(field)}' failed to satisfy constraint: Member must not be null`,
      );
    if (name.length > MAX_NAME[kind])
      throw validation(
        `1 validation error detected: Value '${name}' at '${lcFirst(field)}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_NAME[kind]}`,
      );
    if (!NAME_PATTERN.test(name))
      throw validation(
        `1 validation error detected: Value '${name}' at '${lcFirst(field)}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*`,
      );
    return name;
  }

  private checkRole(role: unknown): void {
    if (typeof role !== 'string' || role.length < 20 || !ROLE_PATTERN.test(role))
      throw validation(
        `Value '${String(role)}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+`,
      );
  }

  private checkS3(uri: unknown, field: string): void {
    if (typeof uri !== 'string' || !S3_PATTERN.test(uri))
      throw validation(
        `Value '${String(uri)}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$`,
      );
  }

  private ensureNew(kind: FakeKind, name: string): void {
    const existing = this.job(kind, name);
    if (existing) {
      const what = { training: 'Training job', automl: 'AutoML job', transform: 'Transform job' }[kind];
      throw new FakeError(
        400,
        'ResourceInUse',
        `${what} names must be unique within an AWS account and region, and a ${what.toLowerCase()} with this name already exists (${existing.arn})`,
      );
    }
  }

  private addJob(
    kind: FakeKind,
    name: string,
    request: Record<string, unknown>,
    status: FakeStatus = 'InProgress',
  ): FakeJob {
    this.clock += 10;
    const job: FakeJob = {
      kind,
      name,
      arn: `arn:aws:sagemaker:${this.region}:${this.accountId}:${ARN_TYPE[kind]}/${name.toLowerCase()}`,
      status,
      secondaryStatus: defaultSecondary(status),
      creationTime: this.clock,
      lastModifiedTime: this.clock,
      startTime: this.clock,
      metrics: {},
      request,
    };
    this.jobs[kind].set(name.toLowerCase(), job);
    return job;
  }

  private createTraining(b: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName('training', b.TrainingJobName);
    this.checkRole(b.RoleArn);
    const algo = obj(b.AlgorithmSpecification);
    if (!algo)
      throw validation("Value null at 'algorithmSpecification' failed to satisfy constraint: Member must not be null");
    if (!['File', 'Pipe', 'FastFile'].includes(String(algo.TrainingInputMode)))
      throw validation(
        "Value at 'algorithmSpecification.trainingInputMode' failed to satisfy constraint: Member must satisfy enum value set: [Pipe, File, FastFile]",
      );
    if ((algo.TrainingImage === undefined) === (algo.AlgorithmName === undefined))
      throw validation('Exactly one of TrainingImage or AlgorithmName must be specified.');
    this.checkS3(obj(b.OutputDataConfig)?.S3OutputPath, 'outputDataConfig.s3OutputPath');
    const rc = obj(b.ResourceConfig);
    if (
      !rc ||
      typeof rc.InstanceType !== 'string' ||
      !Number.isInteger(rc.InstanceCount) ||
      !Number.isInteger(rc.VolumeSizeInGB)
    )
      throw validation('ResourceConfig needs InstanceType, InstanceCount and VolumeSizeInGB.');
    const sc = obj(b.StoppingCondition);
    const maxRuntime = sc?.MaxRuntimeInSeconds;
    if (!sc || typeof maxRuntime !== 'number' || maxRuntime < 1 || maxRuntime > 2_419_200)
      throw validation(
        "Value at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have value between 1 and 2419200",
      );
    const hp = obj(b.HyperParameters) ?? {};
    if (Object.keys(hp).length > 100) throw validation('HyperParameters: at most 100 entries');
    for (const [k, v] of Object.entries(hp))
      if (typeof v !== 'string') throw validation(`Hyperparameter '${k}' must be a string`);
    const channels = Array.isArray(b.InputDataConfig) ? (b.InputDataConfig as Array<Record<string, unknown>>) : [];
    if (channels.length > 20) throw validation('InputDataConfig: at most 20 channels');
    const names = new Set<string>();
    for (const c of channels) {
      if (names.has(String(c.ChannelName))) throw validation(`Channel names must be unique: ${String(c.ChannelName)}`);
      names.add(String(c.ChannelName));
      this.checkS3(obj(obj(c.DataSource)?.S3DataSource)?.S3Uri, 'inputDataConfig.dataSource.s3DataSource.s3Uri');
    }
    this.ensureNew('training', name);
    return { TrainingJobArn: this.addJob('training', name, b).arn };
  }

  private createAutoml(b: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName('automl', b.AutoMLJobName);
    this.checkRole(b.RoleArn);
    const channels = b.AutoMLJobInputDataConfig;
    if (!Array.isArray(channels) || channels.length < 1 || channels.length > 2)
      throw validation(
        "Value at 'autoMLJobInputDataConfig' failed to satisfy constraint: Member must have length between 1 and 2",
      );
    for (const c of channels as Array<Record<string, unknown>>) {
      this.checkS3(
        obj(obj(c.DataSource)?.S3DataSource)?.S3Uri,
        'autoMLJobInputDataConfig.dataSource.s3DataSource.s3Uri',
      );
      if (
        c.ContentType !== undefined &&
        !['text/csv;header=present', 'x-application/vnd.amazon+parquet'].includes(String(c.ContentType))
      ) {
        throw validation(
          `ContentType ${String(c.ContentType)} is not supported; use text/csv;header=present or x-application/vnd.amazon+parquet`,
        );
      }
    }
    this.checkS3(obj(b.OutputDataConfig)?.S3OutputPath, 'outputDataConfig.s3OutputPath');
    const ptc = obj(b.AutoMLProblemTypeConfig);
    if (!ptc || Object.keys(ptc).length !== 1)
      throw validation('AutoMLProblemTypeConfig must set exactly one problem type configuration.');
    const tab = obj(ptc.TabularJobConfig);
    if (tab) {
      if (typeof tab.TargetAttributeName !== 'string' || !tab.TargetAttributeName)
        throw validation('TabularJobConfig.TargetAttributeName must not be null');
      if ((tab.ProblemType === undefined) !== (b.AutoMLJobObjective === undefined))
        throw validation('For tabular problem types, provide both ProblemType and AutoMLJobObjective, or neither.');
    }
    this.ensureNew('automl', name);
    return { AutoMLJobArn: this.addJob('automl', name, b).arn };
  }

  private createTransform(b: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName('transform', b.TransformJobName);
    if (typeof b.ModelName !== 'string' || !b.ModelName)
      throw validation("Value null at 'modelName' failed to satisfy constraint: Member must not be null");
    this.checkS3(
      obj(obj(obj(b.TransformInput)?.DataSource)?.S3DataSource)?.S3Uri,
      'transformInput.dataSource.s3DataSource.s3Uri',
    );
    this.checkS3(obj(b.TransformOutput)?.S3OutputPath, 'transformOutput.s3OutputPath');
    const tr = obj(b.TransformResources);
    if (!tr || typeof tr.InstanceType !== 'string' || !Number.isInteger(tr.InstanceCount))
      throw validation('TransformResources needs InstanceType and InstanceCount.');
    this.ensureNew('transform', name);
    return { TransformJobArn: this.addJob('transform', name, b).arn };
  }

  private describe(kind: FakeKind, b: Record<string, unknown>): Record<string, unknown> {
    const name = String(b[NAME_FIELD[kind]] ?? '');
    const job = this.job(kind, name);
    if (!job) {
      if (kind === 'automl') throw new FakeError(400, 'ResourceNotFound', `AutoML job ${name} does not exist.`);
      if (kind === 'training') throw validation('Requested resource not found.');
      throw validation(`Could not find requested job with name ${name}`);
    }
    return describeBody(job);
  }

  private list(kind: FakeKind, b: Record<string, unknown>): Record<string, unknown> {
    const max = b.MaxResults === undefined ? 10 : Number(b.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 100)
      throw validation(
        `1 validation error detected: Value '${String(b.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100`,
      );
    const contains = b.NameContains;
    if (
      contains !== undefined &&
      (typeof contains !== 'string' || contains.length > 63 || !/^[a-zA-Z0-9-]+$/.test(contains))
    )
      throw validation(
        `Value '${String(contains)}' at 'nameContains' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\-]+`,
      );
    const status = b.StatusEquals;
    if (status !== undefined && !STATUSES.includes(String(status)))
      throw validation(
        `Value '${String(status)}' at 'statusEquals' failed to satisfy constraint: Member must satisfy enum value set: [${STATUSES.join(', ')}]`,
      );
    const time = (f: string): number | undefined => (typeof b[f] === 'number' ? (b[f] as number) * 1000 : undefined);
    const [cAfter, cBefore, mAfter, mBefore] = [
      'CreationTimeAfter',
      'CreationTimeBefore',
      'LastModifiedTimeAfter',
      'LastModifiedTimeBefore',
    ].map(time);
    const sortBy = String(b.SortBy ?? (kind === 'automl' ? 'Name' : 'CreationTime'));
    const order = String(b.SortOrder ?? 'Descending');
    const query = JSON.stringify({ kind, contains, status, cAfter, cBefore, mAfter, mBefore, sortBy, order });
    let offset = 0;
    if (b.NextToken !== undefined) {
      try {
        const t = JSON.parse(Buffer.from(String(b.NextToken), 'base64').toString('utf8')) as { o: number; q: string };
        if (t.q !== hash(query) || !Number.isInteger(t.o)) throw new Error('mismatch');
        offset = t.o;
      } catch {
        throw validation('The pagination token is invalid or does not match the request.');
      }
    }
    const needle = typeof contains === 'string' ? contains.toLowerCase() : undefined;
    const rows = [...this.jobs[kind].values()].filter(
      (j) =>
        (needle === undefined || j.name.toLowerCase().includes(needle)) &&
        (status === undefined || j.status === status) &&
        (cAfter === undefined || j.creationTime > cAfter) &&
        (cBefore === undefined || j.creationTime < cBefore) &&
        (mAfter === undefined || j.lastModifiedTime > mAfter) &&
        (mBefore === undefined || j.lastModifiedTime < mBefore),
    );
    const key = (j: FakeJob): string | number =>
      sortBy === 'Name' ? j.name : sortBy === 'Status' ? j.status : j.creationTime;
    rows.sort((a, z) => {
      const [x, y] = [key(a), key(z)];
      const c = x < y ? -1 : x > y ? 1 : 0;
      return order === 'Ascending' ? c : -c;
    });
    const page = rows.slice(offset, offset + max);
    const next =
      offset + max < rows.length
        ? Buffer.from(JSON.stringify({ o: offset + max, q: hash(query) })).toString('base64')
        : undefined;
    const summaries = page.map((j) => summaryBody(j));
    const field = {
      training: 'TrainingJobSummaries',
      automl: 'AutoMLJobSummaries',
      transform: 'TransformJobSummaries',
    }[kind];
    return { [field]: summaries, ...(next && { NextToken: next }) };
  }

  /** ListTags: the Tags the Create request carried, by ResourceArn (MaxResults 50 by default, NextToken). */
  private listTags(b: Record<string, unknown>): Record<string, unknown> {
    const arn = String(b.ResourceArn ?? '');
    const job = (Object.keys(this.jobs) as FakeKind[])
      .flatMap((k) => [...this.jobs[k].values()])
      .find((j) => j.arn === arn);
    if (!job) throw validation(`Resource ${arn} does not exist.`);
    const tags = Array.isArray(job.request.Tags) ? (job.request.Tags as unknown[]) : [];
    const max = b.MaxResults === undefined ? 50 : Number(b.MaxResults);
    const offset = b.NextToken === undefined ? 0 : Number(b.NextToken);
    const page = tags.slice(offset, offset + max);
    return { Tags: page, ...(offset + max < tags.length && { NextToken: String(offset + max) }) };
  }

  private stop(kind: FakeKind, b: Record<string, unknown>): Record<string, unknown> {
    const name = String(b[NAME_FIELD[kind]] ?? '');
    const job = this.job(kind, name);
    if (!job) throw new FakeError(400, 'ResourceNotFound', `Could not find job ${name}.`);
    if (job.status === 'Stopping') return {};
    if (job.status !== 'InProgress')
      throw validation(`The request was rejected because the job is in status ${job.status}.`);
    this.setStatus(kind, job.name, 'Stopping');
    return {};
  }
}

// ---- bodies ----------------------------------------------------------------------------------

/** Training and AutoML jobs start in secondary status `Starting` (transform summaries carry none). */
function defaultSecondary(status: FakeStatus): string {
  return status === 'InProgress' ? 'Starting' : status;
}

const secs = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

function summaryBody(j: FakeJob): Record<string, unknown> {
  switch (j.kind) {
    case 'training':
      return clean({
        TrainingJobName: j.name,
        TrainingJobArn: j.arn,
        CreationTime: secs(j.creationTime),
        LastModifiedTime: secs(j.lastModifiedTime),
        TrainingEndTime: secs(j.endTime),
        TrainingJobStatus: j.status,
        SecondaryStatus: j.secondaryStatus,
      });
    case 'automl':
      return clean({
        AutoMLJobName: j.name,
        AutoMLJobArn: j.arn,
        AutoMLJobStatus: j.status,
        AutoMLJobSecondaryStatus: j.secondaryStatus,
        CreationTime: secs(j.creationTime),
        EndTime: secs(j.endTime),
        LastModifiedTime: secs(j.lastModifiedTime),
        FailureReason: j.failureReason,
      });
    case 'transform':
      return clean({
        TransformJobName: j.name,
        TransformJobArn: j.arn,
        CreationTime: secs(j.creationTime),
        TransformEndTime: secs(j.endTime),
        LastModifiedTime: secs(j.lastModifiedTime),
        TransformJobStatus: j.status,
        FailureReason: j.failureReason,
      });
  }
}

function describeBody(j: FakeJob): Record<string, unknown> {
  const r = j.request;
  switch (j.kind) {
    case 'training': {
      const out = String(obj(r.OutputDataConfig)?.S3OutputPath ?? 's3://bucket/out').replace(/\/+$/, '');
      const done = j.status === 'Completed';
      return clean({
        TrainingJobName: j.name,
        TrainingJobArn: j.arn,
        TrainingJobStatus: j.status,
        SecondaryStatus: j.secondaryStatus,
        FailureReason: j.failureReason,
        ModelArtifacts: { S3ModelArtifacts: done ? `${out}/${j.name}/output/model.tar.gz` : '' },
        HyperParameters: r.HyperParameters,
        AlgorithmSpecification: r.AlgorithmSpecification,
        RoleArn: r.RoleArn,
        InputDataConfig: r.InputDataConfig,
        OutputDataConfig: r.OutputDataConfig,
        ResourceConfig: r.ResourceConfig,
        StoppingCondition: r.StoppingCondition ?? { MaxRuntimeInSeconds: 86400 },
        CreationTime: secs(j.creationTime),
        TrainingStartTime: secs(j.startTime),
        TrainingEndTime: secs(j.endTime),
        LastModifiedTime: secs(j.lastModifiedTime),
        SecondaryStatusTransitions: [{ Status: j.secondaryStatus, StartTime: secs(j.lastModifiedTime) }],
        FinalMetricDataList: done
          ? Object.entries(j.metrics).map(([MetricName, Value]) => ({ MetricName, Value, Timestamp: secs(j.endTime) }))
          : undefined,
        TrainingTimeInSeconds: j.endTime && j.startTime ? Math.round((j.endTime - j.startTime) / 1000) : undefined,
        BillableTimeInSeconds: j.endTime && j.startTime ? Math.round((j.endTime - j.startTime) / 1000) : undefined,
      });
    }
    case 'automl': {
      const out = String(obj(r.OutputDataConfig)?.S3OutputPath ?? 's3://bucket/out').replace(/\/+$/, '');
      const metric = String(obj(r.AutoMLJobObjective)?.MetricName ?? 'F1');
      const value = j.metrics[metric] ?? 0.9;
      const candidate = `${j.name.slice(0, 12)}-trial-t1-1-${hash(j.name).slice(0, 12)}`;
      return clean({
        AutoMLJobName: j.name,
        AutoMLJobArn: j.arn,
        AutoMLJobInputDataConfig: r.AutoMLJobInputDataConfig,
        OutputDataConfig: r.OutputDataConfig,
        RoleArn: r.RoleArn,
        AutoMLJobObjective: r.AutoMLJobObjective,
        AutoMLProblemTypeConfig: r.AutoMLProblemTypeConfig,
        AutoMLProblemTypeConfigName: 'Tabular',
        CreationTime: secs(j.creationTime),
        EndTime: secs(j.endTime),
        LastModifiedTime: secs(j.lastModifiedTime),
        FailureReason: j.failureReason,
        AutoMLJobStatus: j.status,
        AutoMLJobSecondaryStatus: j.secondaryStatus,
        BestCandidate:
          j.status === 'Completed'
            ? {
                CandidateName: candidate,
                FinalAutoMLJobObjectiveMetric: { Type: 'Maximize', MetricName: metric, Value: value },
                ObjectiveStatus: 'Succeeded',
                CandidateSteps: [],
                CandidateStatus: 'Completed',
                InferenceContainers: [
                  {
                    Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-sklearn-automl:2.5-1-cpu-py3',
                    ModelDataUrl: `${out}/${j.name}/data-processor-models/${candidate}/output/model.tar.gz`,
                    Environment: {},
                  },
                  {
                    Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1',
                    ModelDataUrl: `${out}/${j.name}/tuning/${candidate}/output/model.tar.gz`,
                    Environment: {},
                  },
                ],
                CreationTime: secs(j.creationTime),
                EndTime: secs(j.endTime),
                LastModifiedTime: secs(j.lastModifiedTime),
              }
            : undefined,
        AutoMLJobArtifacts:
          j.status === 'Completed'
            ? {
                CandidateDefinitionNotebookLocation: `${out}/${j.name}/sagemaker-automl-candidates/notebooks/SageMakerAutopilotCandidateDefinitionNotebook.ipynb`,
                DataExplorationNotebookLocation: `${out}/${j.name}/sagemaker-automl-candidates/notebooks/SageMakerAutopilotDataExplorationNotebook.ipynb`,
              }
            : undefined,
        ResolvedAttributes: {
          AutoMLProblemTypeResolvedAttributes: {
            TabularResolvedAttributes: {
              ProblemType: obj(obj(r.AutoMLProblemTypeConfig)?.TabularJobConfig)?.ProblemType ?? 'BinaryClassification',
            },
          },
        },
      });
    }
    case 'transform':
      return clean({
        TransformJobName: j.name,
        TransformJobArn: j.arn,
        TransformJobStatus: j.status,
        FailureReason: j.failureReason,
        ModelName: r.ModelName,
        TransformInput: r.TransformInput,
        TransformOutput: r.TransformOutput,
        TransformResources: r.TransformResources,
        CreationTime: secs(j.creationTime),
        TransformStartTime: secs(j.startTime),
        TransformEndTime: secs(j.endTime),
      });
  }
}

// ---- helpers ---------------------------------------------------------------------------------

/** Recomputes a SigV4 signature (canonical request → string to sign → derived key), as AWS does. */
function sigV4(
  req: IncomingMessage,
  body: string,
  p: { secret: string; date: string; region: string; service: string; signedHeaders: string[]; amzDate: string },
): string {
  const sha = (x: string) => createHash('sha256').update(x, 'utf8').digest('hex');
  const hmac = (key: string | Buffer, x: string) => createHmac('sha256', key).update(x, 'utf8').digest();
  const headerValue = (name: string): string => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v.join(',') : String(v ?? '')).trim().replace(/\s+/g, ' ');
  };
  const url = new URL(req.url ?? '/', 'http://x');
  const canonical = [
    req.method ?? 'POST',
    url.pathname,
    [...url.searchParams]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&'),
    p.signedHeaders.map((h) => `${h}:${headerValue(h)}\n`).join(''),
    p.signedHeaders.join(';'),
    sha(body),
  ].join('\n');
  const scope = `${p.date}/${p.region}/${p.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', p.amzDate, scope, sha(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${p.secret}`, p.date), p.region), p.service), 'aws4_request');
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': hash(`${Date.now()}-${Math.random()}`).slice(0, 32),
    ...headers,
  });
  res.end(text);
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function clean(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function lcFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
