import type {
  CreateModelCommandInput,
  CreateModelCommandOutput,
  DescribeModelCommandInput,
  DescribeModelCommandOutput,
  DeleteModelCommandInput,
  DeleteModelCommandOutput,
  CreateModelPackageCommandInput,
  CreateModelPackageCommandOutput,
  DescribeModelPackageCommandInput,
  DescribeModelPackageCommandOutput,
  DeleteModelPackageCommandInput,
  DeleteModelPackageCommandOutput,
  CreateEndpointConfigCommandInput,
  CreateEndpointConfigCommandOutput,
  DescribeEndpointConfigCommandInput,
  DescribeEndpointConfigCommandOutput,
  DeleteEndpointConfigCommandInput,
  DeleteEndpointConfigCommandOutput,
  CreateEndpointCommandInput,
  CreateEndpointCommandOutput,
  DescribeEndpointCommandInput,
  DescribeEndpointCommandOutput,
  UpdateEndpointCommandInput,
  UpdateEndpointCommandOutput,
  DeleteEndpointCommandInput,
  DeleteEndpointCommandOutput,
  CreateAutoMLJobV2CommandInput,
  CreateAutoMLJobV2CommandOutput,
  CreateTrainingJobCommandInput,
  CreateTrainingJobCommandOutput,
  CreateTransformJobCommandInput,
  CreateTransformJobCommandOutput,
  DescribeAutoMLJobV2CommandInput,
  DescribeAutoMLJobV2CommandOutput,
  DescribeTrainingJobCommandInput,
  DescribeTrainingJobCommandOutput,
  DescribeTransformJobCommandInput,
  DescribeTransformJobCommandOutput,
  ListAutoMLJobsCommandInput,
  ListAutoMLJobsCommandOutput,
  ListTrainingJobsCommandInput,
  ListTrainingJobsCommandOutput,
  ListTransformJobsCommandInput,
  ListTransformJobsCommandOutput,
  StopAutoMLJobCommandInput,
  StopAutoMLJobCommandOutput,
  StopTrainingJobCommandInput,
  StopTrainingJobCommandOutput,
  StopTransformJobCommandInput,
  StopTransformJobCommandOutput,
  ListTagsCommandInput,
  ListTagsCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { runKey, type JobRecord, type ProviderRef } from '../../core/job.js';
import { JOB_ID_PATTERN } from '../../core/ids.js';
import {
  PollThrottledError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
} from '../../errors.js';
import type { JobProvider, OwnedCloudJob, OwnedJobsPage, PollReport, SubmitOutcome } from '../../ports/provider.js';
import { createError, errorCode, errorMessage, isNameTaken, isNotFound, PROVIDER, transientError } from './errors.js';
import { isSageMakerKind, parseSageMakerJob, type SageMakerJobSpec } from './spec.js';
import { namePrefixFor, sageMakerJobName, SAGEMAKER_KINDS, type SageMakerKind } from './names.js';
import { buildCreateRequest, JOB_ID_TAG, type CreateRequest, type RequestContext } from './requests.js';
import type { SageMakerSettings } from './settings.js';
import { automlOutcome, trainingOutcome, transformOutcome, type DescribedOutcome } from './status.js';
import type { ProviderContext } from '../provider-context.js';
import { createInvokeCall, createS3Call, createSageMakerCall, type InvokeCall, type S3Call } from './client.js';
import { isSageMakerAssetKind, type SageMakerAssetSpec } from './asset-spec.js';
import { SageMakerAssets } from './assets.js';
import { parseSageMakerSettings } from './settings.js';

/** The SageMaker operations this provider uses, with their SDK input and output types. */
export interface SageMakerOps {
  CreateTrainingJob: [CreateTrainingJobCommandInput, CreateTrainingJobCommandOutput];
  CreateAutoMLJobV2: [CreateAutoMLJobV2CommandInput, CreateAutoMLJobV2CommandOutput];
  CreateTransformJob: [CreateTransformJobCommandInput, CreateTransformJobCommandOutput];
  DescribeTrainingJob: [DescribeTrainingJobCommandInput, DescribeTrainingJobCommandOutput];
  DescribeAutoMLJobV2: [DescribeAutoMLJobV2CommandInput, DescribeAutoMLJobV2CommandOutput];
  DescribeTransformJob: [DescribeTransformJobCommandInput, DescribeTransformJobCommandOutput];
  ListTrainingJobs: [ListTrainingJobsCommandInput, ListTrainingJobsCommandOutput];
  ListAutoMLJobs: [ListAutoMLJobsCommandInput, ListAutoMLJobsCommandOutput];
  ListTransformJobs: [ListTransformJobsCommandInput, ListTransformJobsCommandOutput];
  StopTrainingJob: [StopTrainingJobCommandInput, StopTrainingJobCommandOutput];
  StopAutoMLJob: [StopAutoMLJobCommandInput, StopAutoMLJobCommandOutput];
  StopTransformJob: [StopTransformJobCommandInput, StopTransformJobCommandOutput];
  CreateModel: [CreateModelCommandInput, CreateModelCommandOutput];
  DescribeModel: [DescribeModelCommandInput, DescribeModelCommandOutput];
  DeleteModel: [DeleteModelCommandInput, DeleteModelCommandOutput];
  CreateModelPackage: [CreateModelPackageCommandInput, CreateModelPackageCommandOutput];
  DescribeModelPackage: [DescribeModelPackageCommandInput, DescribeModelPackageCommandOutput];
  DeleteModelPackage: [DeleteModelPackageCommandInput, DeleteModelPackageCommandOutput];
  CreateEndpointConfig: [CreateEndpointConfigCommandInput, CreateEndpointConfigCommandOutput];
  DescribeEndpointConfig: [DescribeEndpointConfigCommandInput, DescribeEndpointConfigCommandOutput];
  DeleteEndpointConfig: [DeleteEndpointConfigCommandInput, DeleteEndpointConfigCommandOutput];
  CreateEndpoint: [CreateEndpointCommandInput, CreateEndpointCommandOutput];
  DescribeEndpoint: [DescribeEndpointCommandInput, DescribeEndpointCommandOutput];
  UpdateEndpoint: [UpdateEndpointCommandInput, UpdateEndpointCommandOutput];
  DeleteEndpoint: [DeleteEndpointCommandInput, DeleteEndpointCommandOutput];

  ListTags: [ListTagsCommandInput, ListTagsCommandOutput];
}
export type SageMakerOp = keyof SageMakerOps;

/** One call to SageMaker through the (rate-limited) SDK client. The seam tests and the bench drive. */
export type SageMakerCall = <K extends SageMakerOp>(op: K, input: SageMakerOps[K][0]) => Promise<SageMakerOps[K][1]>;

/** SageMaker caps MaxResults of every List* call at 100. */
export const LIST_PAGE_SIZE = 100;
/**
 * Slack on the LastModifiedTimeAfter watermark: SageMaker stamps times with its clock, we with ours.
 * A job's SageMaker creation can never precede our record's creation by more than the clock skew.
 */
const CLOCK_SKEW_MS = 15 * 60 * 1000;

interface Summary {
  readonly status: string;
  readonly secondary?: string;
}

export interface SageMakerProviderOptions {
  readonly call: SageMakerCall;
  /** The S3 client of the asset operations, created on first use (absent: asset operations are refused). */
  readonly s3?: () => Promise<S3Call>;
  /** The SageMaker Runtime client of invokeEndpoint, created on first use. */
  readonly invoke?: () => Promise<InvokeCall>;
  readonly settings: SageMakerSettings;
  /** JOB_DEFAULT_MAX_RUNTIME_SEC: the stopping condition of jobs that set no max_runtime_sec. */
  readonly defaultMaxRuntimeSec: number;
}

/**
 * The SageMaker provider: training (CreateTrainingJob), AutoML (CreateAutoMLJobV2, tabular) and batch
 * inference (CreateTransformJob).
 *
 * Polling is built around SageMaker's low List* quotas: per kind, one `List*Jobs` pass filtered by our
 * name prefix, `StatusEquals=InProgress` and a LastModifiedTimeAfter watermark, 100 jobs a page.
 * A watched job that is still InProgress costs nothing more; one that dropped out of the list changed
 * state and gets exactly one Describe (failure reason, metrics, artifacts, best candidate, output).
 */
export class SageMakerProvider implements JobProvider {
  readonly name = PROVIDER;
  private readonly call: SageMakerCall;
  private readonly settings: SageMakerSettings;
  private readonly requestContext: RequestContext;
  private readonly assets: SageMakerAssets;

  constructor(options: SageMakerProviderOptions) {
    this.call = options.call;
    this.settings = options.settings;
    this.requestContext = { settings: options.settings, defaultMaxRuntimeSec: options.defaultMaxRuntimeSec };
    const missing = (what: string) => async (): Promise<never> => {
      throw new ProviderUnavailableError(PROVIDER, `no ${what} client was configured for this provider`);
    };
    this.assets = new SageMakerAssets({
      call: options.call,
      s3: options.s3 ?? missing('S3'),
      invoke: options.invoke ?? missing('SageMaker Runtime'),
      settings: options.settings,
    });
  }

  async submit(job: JobRecord): Promise<SubmitOutcome> {
    const any = parseSageMakerJob(job.spec);
    if (isSageMakerAssetKind(any.kind)) return this.assets.submit(job, any as SageMakerAssetSpec);
    const parsed = any as SageMakerJobSpec;
    const name = sageMakerJobName(this.settings.namePrefix, parsed.kind, runKey(job));
    const request = buildCreateRequest(job, name, parsed, this.requestContext);
    try {
      const arn = await this.create(request);
      return { ref: refOf(parsed.kind, name, arn), attached: false, status: 'dispatched' };
    } catch (error) {
      if (!isNameTaken(error)) throw createError(error, this.settings.throttleBackoffMs);
    }
    // The name is ours (it derives from the job id): an earlier delivery created the job. Re-attach.
    let outcome: DescribedOutcome & { arn?: string };
    try {
      outcome = await this.describe(parsed.kind, name);
    } catch (error) {
      throw (
        transientError(error, this.settings.throttleBackoffMs) ??
        new ProviderUnavailableError(PROVIDER, `re-attach to ${name}: ${errorMessage(error)}`, error)
      );
    }
    return {
      ref: refOf(parsed.kind, name, outcome.arn),
      attached: true,
      // A finished job is reported by the next poll; here we only say it exists.
      status: outcome.status === 'running' ? 'running' : 'dispatched',
    };
  }

  async poll(jobs: readonly JobRecord[]): Promise<PollReport[]> {
    const byKind = new Map<SageMakerKind, JobRecord[]>();
    for (const job of jobs) {
      const kind = kindOf(job);
      if (!kind) continue;
      const group = byKind.get(kind);
      if (group) group.push(job);
      else byKind.set(kind, [job]);
    }
    const reports: PollReport[] = [];
    const toDescribe: Array<{ job: JobRecord; read: () => Promise<PollReport>; asset?: true }> = [];
    // Every List before any Describe: a failing List aborts the cycle before the costlier Describes.
    for (const kind of SAGEMAKER_KINDS) {
      const group = byKind.get(kind);
      if (!group) continue;
      const seen = await this.listActive(kind, group);
      for (const job of group) {
        const name = this.nameOf(job, kind);
        const summary = seen.get(name.toLowerCase());
        if (!summary) {
          toDescribe.push({ job, read: () => this.describeReport(job, kind, name) });
          continue;
        }
        const report = reportFromSummary(job, summary);
        if (report) reports.push(report);
      }
    }
    // Asset operations are read one by one (an S3 Head, a Describe of the model or endpoint) and
    // share the per-cycle read budget with finished jobs.
    for (const job of jobs)
      if (isSageMakerAssetKind(assetKindOf(job)))
        toDescribe.push({ job, read: () => this.assets.poll(job), asset: true });
    // A mass completion must not turn one cycle into minutes of rate-limited Describes: the rest are
    // handed back unread and described first by the next cycles (finished jobs leave the watch list).
    const describing = toDescribe.slice(0, this.settings.maxDescribesPerPoll);
    const beyondCap = toDescribe.slice(describing.length).map((d) => d.job.id);
    for (const [i, { read }] of describing.entries()) {
      try {
        reports.push(await read());
      } catch (error) {
        const transient =
          error instanceof ProviderThrottledError || error instanceof ProviderUnavailableError
            ? error
            : transientError(error, this.settings.throttleBackoffMs);
        // Keep what this cycle learned: throwing it away would, under steady throttling, leave the
        // jobs at the end of the list never described. The poller reads the rest first next cycle.
        if (transient instanceof ProviderThrottledError) {
          const unread = [...describing.slice(i), ...toDescribe.slice(describing.length)].map((d) => d.job.id);
          throw new PollThrottledError(PROVIDER, transient.retryAfterMs, reports, unread, error);
        }
        // A 5xx part-way: keep what was read and hand the rest back unread (never "unchanged": a job
        // nobody read must not look like one still running, e.g. to the timeout check).
        if (transient && reports.length > 0) {
          const unread = [...describing.slice(i), ...toDescribe.slice(describing.length)].map((d) => d.job.id);
          throw new PollThrottledError(
            PROVIDER,
            transient.retryAfterMs ?? this.settings.throttleBackoffMs,
            reports,
            unread,
            error,
          );
        }
        // An asset read refused for good (access denied, a handle that names nothing readable) fails
        // that operation only: it must not stall the poll of every other job.
        if (!transient && describing[i]!.asset) {
          reports.push({
            jobId: describing[i]!.job.id,
            status: 'failed',
            error: { code: 'SAGEMAKER_ASSET_FAILED', message: errorMessage(error), category: 'provider' },
          });
          continue;
        }
        throw transient ?? new ProviderUnavailableError(PROVIDER, `${errorCode(error)}: ${errorMessage(error)}`, error);
      }
    }
    // Past the per-cycle cap: not throttled, so no wait, but not read either.
    if (beyondCap.length > 0) throw new PollThrottledError(PROVIDER, 0, reports, beyondCap);
    return reports;
  }

  /** One finished (or vanished) job's Describe, as a report. */
  private async describeReport(job: JobRecord, kind: SageMakerKind, name: string): Promise<PollReport> {
    try {
      return reportFromOutcome(job, await this.describe(kind, name));
    } catch (error) {
      if (isNotFound(error))
        return { jobId: job.id, status: 'missing', notes: [`SageMaker has no ${kind} job named ${name}`] };
      throw error;
    }
  }

  /**
   * Stops a training, AutoML or transform job. Asset operations have nothing to stop: S3 copies and
   * deletes finish within submit, and SageMaker offers no way to abort an endpoint being created or
   * updated (deleting it mid-creation is refused) — the operation completes and the next poll
   * reports it; delete the asset to undo it.
   */
  async cancel(job: JobRecord): Promise<void> {
    const kind = kindOf(job);
    // Without a valid kind submit() refused the job, so nothing exists at SageMaker to stop.
    if (!kind) return;
    await this.stop(kind, this.nameOf(job, kind));
  }

  private async stop(kind: SageMakerKind, name: string): Promise<void> {
    try {
      switch (kind) {
        case 'training':
          await this.call('StopTrainingJob', { TrainingJobName: name });
          return;
        case 'automl':
          await this.call('StopAutoMLJob', { AutoMLJobName: name });
          return;
        case 'transform':
          await this.call('StopTransformJob', { TransformJobName: name });
          return;
        default: {
          const never: never = kind;
          throw new Error(`unhandled kind ${String(never)}`);
        }
      }
    } catch (error) {
      const transient = transientError(error, this.settings.throttleBackoffMs);
      if (transient) throw transient;
      // Unknown job, or one that already finished ("…is in status Completed"): nothing is billing,
      // and the next poll reports what really happened.
      if (isNotFound(error) || errorCode(error) === 'ValidationException') return;
      throw new ProviderRejectedError(PROVIDER, errorCode(error), errorMessage(error), error);
    }
  }

  /**
   * One page of this deployment's InProgress jobs: `List*Jobs` by our per-kind name prefix, 100 a
   * page, kind after kind (the cursor holds the kind and SageMaker's NextToken). A name made from a
   * standard job id's first attempt says whose it is; a hashed one (later attempts) is resolved
   * through the job's `orchestrator-job-id` tag.
   */
  async listOwnedJobs(cursor?: string): Promise<OwnedJobsPage> {
    const at = decodeCursor(cursor);
    const kind = SAGEMAKER_KINDS[at.kind];
    if (!kind) return { jobs: [] };
    const head = namePrefixFor(this.settings.namePrefix, kind);
    const filter = {
      NameContains: head,
      StatusEquals: 'InProgress' as const,
      MaxResults: LIST_PAGE_SIZE,
      ...(at.token && { NextToken: at.token }),
    };
    const rows: Array<{ name: string; arn?: string; status: string; created?: Date }> = [];
    let token: string | undefined;
    try {
      switch (kind) {
        case 'training': {
          const page = await this.call('ListTrainingJobs', filter);
          for (const j of page.TrainingJobSummaries ?? [])
            rows.push({
              name: j.TrainingJobName ?? '',
              arn: j.TrainingJobArn,
              status: j.TrainingJobStatus ?? '',
              created: j.CreationTime,
            });
          token = page.NextToken || undefined;
          break;
        }
        case 'automl': {
          const page = await this.call('ListAutoMLJobs', filter);
          for (const j of page.AutoMLJobSummaries ?? [])
            rows.push({
              name: j.AutoMLJobName ?? '',
              arn: j.AutoMLJobArn,
              status: j.AutoMLJobStatus ?? '',
              created: j.CreationTime,
            });
          token = page.NextToken || undefined;
          break;
        }
        case 'transform': {
          const page = await this.call('ListTransformJobs', filter);
          for (const j of page.TransformJobSummaries ?? [])
            rows.push({
              name: j.TransformJobName ?? '',
              arn: j.TransformJobArn,
              status: j.TransformJobStatus ?? '',
              created: j.CreationTime,
            });
          token = page.NextToken || undefined;
          break;
        }
        default: {
          const never: never = kind;
          throw new Error(`unhandled kind ${String(never)}`);
        }
      }
    } catch (error) {
      throw (
        transientError(error, this.settings.throttleBackoffMs) ??
        new ProviderUnavailableError(PROVIDER, `${errorCode(error)}: ${errorMessage(error)}`, error)
      );
    }
    const jobs: OwnedCloudJob[] = [];
    // NameContains matches anywhere in the name: keep only names that start with our prefix.
    for (const row of rows.filter((r) => r.name.toLowerCase().startsWith(head))) {
      const owner = await this.ownerOf(kind, row.name, row.arn);
      jobs.push({
        providerId: `${kind}/${row.name}`,
        nativeStatus: row.status,
        ...owner,
        ...(row.created && { createdAt: row.created.toISOString() }),
      });
    }
    const next = token
      ? { kind: at.kind, token }
      : at.kind + 1 < SAGEMAKER_KINDS.length
        ? { kind: at.kind + 1 }
        : undefined;
    return { jobs, ...(next && { next: encodeCursor(next) }) };
  }

  async stopOwnedJob(providerId: string): Promise<void> {
    const slash = providerId.indexOf('/');
    const kind = providerId.slice(0, slash);
    if (!isSageMakerKind(kind)) throw new Error(`not a SageMaker run id: ${providerId}`);
    await this.stop(kind, providerId.slice(slash + 1));
  }

  /** Whose run a listed name is: read from the name when it holds a ULID, else from the job's tag. */
  private async ownerOf(
    kind: SageMakerKind,
    name: string,
    arn: string | undefined,
  ): Promise<Pick<OwnedCloudJob, 'jobId' | 'attempt'>> {
    const rest = name.slice(namePrefixFor(this.settings.namePrefix, kind).length).toLowerCase();
    const fromName = `j-${rest}`;
    if (
      JOB_ID_PATTERN.test(fromName) &&
      sageMakerJobName(this.settings.namePrefix, kind, fromName) === name.toLowerCase()
    )
      return { jobId: fromName, attempt: 1 };
    if (!arn) return {};
    const tags = await this.call('ListTags', { ResourceArn: arn, MaxResults: 50 });
    const jobId = tags.Tags?.find((t) => t.Key === JOB_ID_TAG)?.Value;
    if (!jobId) return {};
    // The attempt is the one whose derived name this is (hashing is cheap; attempts are few).
    for (let attempt = 1; attempt <= MAX_ATTEMPT_SEARCH; attempt++) {
      if (
        sageMakerJobName(this.settings.namePrefix, kind, runKey({ id: jobId, attempts: attempt })) ===
        name.toLowerCase()
      )
        return { jobId, attempt };
    }
    return { jobId };
  }

  async result(job: JobRecord): Promise<Record<string, unknown> | undefined> {
    const kind = kindOf(job);
    if (!kind) return undefined;
    try {
      return (await this.describe(kind, this.nameOf(job, kind))).result;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw (
        transientError(error, this.settings.throttleBackoffMs) ??
        new ProviderUnavailableError(PROVIDER, errorMessage(error), error)
      );
    }
  }

  /** Essedum infer/explain on the endpoint an endpoint-create job made (SageMaker Runtime InvokeEndpoint). */
  async invokeEndpoint(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    return this.assets.invoke(endpoint, operation, body);
  }

  private nameOf(job: JobRecord, kind: SageMakerKind): string {
    const fromRef = job.providerRef?.name;
    return typeof fromRef === 'string' && fromRef
      ? fromRef
      : sageMakerJobName(this.settings.namePrefix, kind, runKey(job));
  }

  private async create(request: CreateRequest): Promise<string | undefined> {
    switch (request.kind) {
      case 'training':
        return (await this.call('CreateTrainingJob', request.input)).TrainingJobArn;
      case 'automl':
        return (await this.call('CreateAutoMLJobV2', request.input)).AutoMLJobArn;
      case 'transform':
        return (await this.call('CreateTransformJob', request.input)).TransformJobArn;
      default: {
        const never: never = request;
        throw new Error(`unhandled request ${JSON.stringify(never)}`);
      }
    }
  }

  private async describe(kind: SageMakerKind, name: string): Promise<DescribedOutcome & { arn?: string }> {
    switch (kind) {
      case 'training': {
        const d = await this.call('DescribeTrainingJob', { TrainingJobName: name });
        return { ...trainingOutcome(d), ...(d.TrainingJobArn && { arn: d.TrainingJobArn }) };
      }
      case 'automl': {
        const d = await this.call('DescribeAutoMLJobV2', { AutoMLJobName: name });
        return { ...automlOutcome(d), ...(d.AutoMLJobArn && { arn: d.AutoMLJobArn }) };
      }
      case 'transform': {
        const d = await this.call('DescribeTransformJob', { TransformJobName: name });
        return { ...transformOutcome(d), ...(d.TransformJobArn && { arn: d.TransformJobArn }) };
      }
      default: {
        const never: never = kind;
        throw new Error(`unhandled kind ${String(never)}`);
      }
    }
  }

  /**
   * Lists this deployment's jobs of one kind that are InProgress (and Stopping, when we are stopping
   * some), modified since the oldest watched job was created. Keys are lower-case: names are
   * case-insensitive in SageMaker.
   */
  private async listActive(kind: SageMakerKind, group: readonly JobRecord[]): Promise<Map<string, Summary>> {
    const oldest = Math.min(...group.map((j) => Date.parse(j.createdAt)).filter(Number.isFinite));
    const after = Number.isFinite(oldest) ? new Date(oldest - CLOCK_SKEW_MS) : undefined;
    const statuses: Array<'InProgress' | 'Stopping'> = ['InProgress'];
    if (group.some((j) => j.status === 'cancelling')) statuses.push('Stopping');
    const seen = new Map<string, Summary>();
    try {
      for (const status of statuses) {
        let token: string | undefined;
        do {
          const filter = {
            NameContains: namePrefixFor(this.settings.namePrefix, kind),
            StatusEquals: status,
            MaxResults: LIST_PAGE_SIZE,
            ...(after && { LastModifiedTimeAfter: after }),
            ...(token && { NextToken: token }),
          };
          token = await this.listPage(kind, filter, seen);
        } while (token);
      }
    } catch (error) {
      throw (
        transientError(error, this.settings.throttleBackoffMs) ??
        new ProviderUnavailableError(PROVIDER, `${errorCode(error)}: ${errorMessage(error)}`, error)
      );
    }
    return seen;
  }

  private async listPage(
    kind: SageMakerKind,
    filter: ListTrainingJobsCommandInput & ListAutoMLJobsCommandInput & ListTransformJobsCommandInput,
    into: Map<string, Summary>,
  ): Promise<string | undefined> {
    const put = (name: string | undefined, status: string | undefined, secondary?: string) => {
      if (name && status) into.set(name.toLowerCase(), { status, ...(secondary && { secondary }) });
    };
    switch (kind) {
      case 'training': {
        const page = await this.call('ListTrainingJobs', filter);
        for (const s of page.TrainingJobSummaries ?? []) put(s.TrainingJobName, s.TrainingJobStatus, s.SecondaryStatus);
        return page.NextToken || undefined;
      }
      case 'automl': {
        const page = await this.call('ListAutoMLJobs', filter);
        for (const s of page.AutoMLJobSummaries ?? [])
          put(s.AutoMLJobName, s.AutoMLJobStatus, s.AutoMLJobSecondaryStatus);
        return page.NextToken || undefined;
      }
      case 'transform': {
        const page = await this.call('ListTransformJobs', filter);
        for (const s of page.TransformJobSummaries ?? []) put(s.TransformJobName, s.TransformJobStatus);
        return page.NextToken || undefined;
      }
      default: {
        const never: never = kind;
        throw new Error(`unhandled kind ${String(never)}`);
      }
    }
  }
}

/** Highest attempt number tried when matching a hashed run name back to its attempt (JOB_MAX_ATTEMPTS is at most 100). */
const MAX_ATTEMPT_SEARCH = 100;

interface ListCursor {
  readonly kind: number;
  readonly token?: string;
}

function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string | undefined): ListCursor {
  if (!cursor) return { kind: 0 };
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as ListCursor;
    return Number.isInteger(c.kind) && c.kind >= 0 ? c : { kind: 0 };
  } catch {
    return { kind: 0 };
  }
}

function refOf(kind: SageMakerKind, name: string, arn: string | undefined): ProviderRef {
  return { kind, name, ...(arn && { arn }) };
}

/** The job's asset operation kind, if it is one. */
function assetKindOf(job: JobRecord): unknown {
  return job.providerRef?.kind ?? job.spec.kind;
}

/** The job's SageMaker kind: from its handle once submitted, else from its spec. */
function kindOf(job: JobRecord): SageMakerKind | undefined {
  const k = job.providerRef?.kind ?? job.spec.kind;
  return isSageMakerKind(k) ? k : undefined;
}

/** A history note when the secondary status (training phase) moved on; none when it only repeats the status. */
function secondaryNote(
  job: JobRecord,
  status: string,
  secondary: string | undefined,
): Pick<PollReport, 'notes' | 'ref'> {
  if (!secondary || secondary === status || job.providerRef?.secondaryStatus === secondary) return {};
  return { notes: [`SageMaker: ${secondary}`], ref: { secondaryStatus: secondary } };
}

/** What a List summary says about a watched job; `undefined` when nothing changed. */
function reportFromSummary(job: JobRecord, summary: Summary): PollReport | undefined {
  const extra = secondaryNote(job, summary.status, summary.secondary);
  if (summary.status === 'InProgress') {
    // `running` for a job we are stopping makes the poll use case send the stop again.
    const changed = job.status !== 'running' || extra.notes !== undefined;
    return changed ? { jobId: job.id, status: 'running', nativeStatus: 'InProgress', ...extra } : undefined;
  }
  if (summary.status === 'Stopping') {
    const changed = job.status !== 'cancelling' || extra.notes !== undefined;
    return changed ? { jobId: job.id, status: 'cancelling', nativeStatus: 'Stopping', ...extra } : undefined;
  }
  return undefined;
}

function reportFromOutcome(job: JobRecord, outcome: DescribedOutcome): PollReport {
  const extra = secondaryNote(job, outcome.nativeStatus, outcome.secondaryStatus);
  const finished = outcome.status === 'succeeded' || outcome.status === 'failed' || outcome.status === 'cancelled';
  return {
    jobId: job.id,
    status: outcome.status,
    nativeStatus:
      outcome.secondaryStatus && outcome.secondaryStatus !== outcome.nativeStatus
        ? `${outcome.nativeStatus}/${outcome.secondaryStatus}`
        : outcome.nativeStatus,
    ...(outcome.error && { error: outcome.error }),
    ...(outcome.capacity && { capacity: outcome.capacity }),
    ...(finished && { result: outcome.result }),
    ...extra,
  };
}

/** The provider module entry (see the descriptor in index.ts): parses SAGEMAKER_* settings and loads the AWS SDK. */
export async function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  const settings = parseSageMakerSettings(ctx.config.env);
  const { call } = await createSageMakerCall(settings);
  return new SageMakerProvider({
    call,
    s3: once(async () => (await createS3Call(settings)).call),
    invoke: once(async () => (await createInvokeCall(settings)).call),
    settings,
    defaultMaxRuntimeSec: ctx.config.defaultMaxRuntimeSec,
  });
}

/** Runs `make` on the first call only (a failed attempt is tried again next time). */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
}
