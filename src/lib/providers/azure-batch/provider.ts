/**
 * Azure Batch adapter of the provider port, on `@azure/batch` 10.x (ms-rest-js).
 *
 * Shape: one pool per VM size (created if missing, autoscaled to zero when idle), one long-lived
 * Batch job per pool (`cjo-<pool>`), one task per orchestrator job with an id derived from the job
 * id. Polling lists the pool job's tasks with `$filter`/`$select` (1 000 per page) instead of one GET
 * per job. Inputs reach nodes through read-only SAS URLs; Batch uploads outputs itself through a
 * create/write-only SAS. No storage key ever reaches a node.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { BatchServiceClient, BatchServiceModels } from '@azure/batch';
import type { BlobServiceClient } from '@azure/storage-blob';
import { isTerminal, parseRunKey, runKey, type JobRecord } from '../../core/job.js';
import {
  PollThrottledError,
  ProviderCapacityError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  describeError,
} from '../../errors.js';
import type {
  CapacityFailure,
  DispatchSecrets,
  JobLogs,
  JobProvider,
  OwnedCloudJob,
  OwnedJobsPage,
  PollReport,
  SubmitOutcome,
} from '../../ports/provider.js';
import { backoffDelay, mapLimit, parseRetryAfter, sleep as realSleep, TokenBucket, withRetries } from '../../retry.js';
import type { ProviderContext } from '../provider-context.js';
import {
  PROVIDER_NAME,
  POLL_SELECT,
  batchErrorMessage,
  batchJobIdFor,
  blobNamesFor,
  buildPoolAddParameter,
  buildTaskAddParameter,
  classifyBatchError,
  OUTPUT_FILES,
  poolCapacityFailure,
  poolIdFor,
  refFor,
  reportFor,
  resolveJobOptions,
  specDocument,
  taskIdFor,
  toProviderError,
  type BatchRestErrorLike,
  type OutputFileName,
  type TaskSnapshot,
} from './mapping.js';
import { parseEssedumSettings } from '../../essedum-settings.js';
import { createSasIssuer, type SasIssuer } from './sas.js';
import { parseAzureBatchSettings, type AzureBatchSettings } from './settings.js';

/** Batch's documented page size cap for list operations. */
export const MAX_PAGE_SIZE = 1000;
/** Task clocks and ours may disagree; widen time filters by this much. */
const TIME_FILTER_SKEW_MS = 10 * 60_000;
/** Largest result.json inlined into a poll report (it ends up on the job record); larger ones stay in the blob. */
const MAX_INLINE_RESULT_BYTES = 8 * 1024;
/** Parallel result.json reads per poll (Blob Storage, not Batch). */
const RESULT_READ_CONCURRENCY = 8;

/** Test and host hooks; production passes none. */
export interface AzureBatchProviderOptions {
  /** Entra ID credential used when no account key is set (default: the shared DefaultAzureCredential). */
  readonly credential?: TokenCredential;
  /** Blob service that signs SAS URLs (default: the one behind `ctx.blobs`, or one built from config). */
  readonly blobService?: BlobServiceClient;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Replaces the request limiter built from the settings (tests run it on a fake clock). */
  readonly limiter?: TokenBucket;
}

/** Creates the Azure Batch provider. Imports the Batch SDK lazily (cold start of other functions). */
export async function createAzureBatchProvider(
  ctx: ProviderContext,
  options: AzureBatchProviderOptions = {},
): Promise<AzureBatchProvider> {
  const settings = parseAzureBatchSettings(ctx.config.env);
  const batch = await import('@azure/batch');
  const msRest = await import('@azure/ms-rest-js');
  let credentials: import('@azure/ms-rest-js').ServiceClientCredentials;
  if (settings.sharedKey) {
    credentials = new batch.BatchSharedKeyCredentials(settings.sharedKey.accountName, settings.sharedKey.accountKey);
  } else {
    const { azureCredential } = await import('../../adapters/azure-credential.js');
    const tokenCredential = options.credential ?? (await azureCredential(ctx.config));
    // A bare TokenCredential would ask for the management scope, which Batch rejects.
    credentials = new msRest.AzureIdentityCredentialAdapter(
      tokenCredential,
      'https://batch.core.windows.net//.default',
    );
  }
  // The SDK's default policies never retry 429 and retry 503 only after ~30 s ignoring Retry-After;
  // we switch them off and retry in `call()` with our own, configurable policy.
  // Every request gets a timeout (the SDK's default is to wait forever for a reply that was lost).
  const timeoutPolicy: import('@azure/ms-rest-js').RequestPolicyFactory = {
    create: (next) => ({
      sendRequest: (request) => {
        if (!request.timeout) request.timeout = settings.requestTimeoutMs;
        return next.sendRequest(request);
      },
    }),
  };
  const client = new batch.BatchServiceClient(credentials, settings.accountUrl, {
    noRetryPolicy: true,
    requestPolicyFactories: (defaults) => [timeoutPolicy, ...defaults],
  });
  const blobService = options.blobService ?? (await blobServiceOf(ctx));
  const sas = await createSasIssuer(blobService, options.now);
  const limiter =
    options.limiter ?? new TokenBucket({ ratePerSec: settings.requestRatePerSec, burst: settings.requestBurst });
  return new AzureBatchProvider(
    ctx,
    settings,
    client,
    sas,
    options.now ?? Date.now,
    options.sleep ?? realSleep,
    limiter,
  );
}

async function blobServiceOf(ctx: ProviderContext): Promise<BlobServiceClient> {
  const candidate = (ctx.blobs as { service?: unknown }).service;
  const { BlobServiceClient } = await import('@azure/storage-blob');
  if (candidate instanceof BlobServiceClient) return candidate;
  const { AzureBlobStore } = await import('../../adapters/azure-blob-store.js');
  return (await AzureBlobStore.create(ctx.config)).service;
}

/** The Azure Batch provider. Build it with {@link createAzureBatchProvider}. */
export class AzureBatchProvider implements JobProvider {
  readonly name = PROVIDER_NAME;
  private readonly pools = new Map<string, Promise<void>>();
  /** Last capacity look at each pool: when, and the refusal it found (none: the pool can grow). */
  private readonly poolCapacity = new Map<string, { at: number; failure?: CapacityFailure }>();
  private readonly jobs = new Map<string, Promise<void>>();
  private containers: Promise<void> | undefined;

  constructor(
    private readonly ctx: ProviderContext,
    readonly settings: AzureBatchSettings,
    private readonly client: BatchServiceClient,
    private readonly sas: SasIssuer,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly limiter: TokenBucket,
  ) {}

  /**
   * Dispatch secrets are deliberately not forwarded: a task's environment and command line are
   * readable by anyone with read access to the Batch account, and they outlive the job.
   */
  async submit(job: JobRecord, _secrets?: DispatchSecrets): Promise<SubmitOutcome> {
    const options = resolveJobOptions(job, this.settings, this.ctx.config.defaultMaxRuntimeSec);
    await this.ensureContainers();
    await this.ensurePool(options.poolId, options.vmSize);
    await this.checkPoolCapacity(options.poolId);
    await this.ensureBatchJob(options.batchJobId, options.poolId);

    const blobs = blobNamesFor(runKey(job), this.settings.outputPrefix);
    const results = this.ctx.config.containers.results;
    await this.storage('stage the job spec', () =>
      this.ctx.blobs.put(this.settings.stagingContainer, blobs.spec, specDocument(job)),
    );
    const now = this.now();
    const inputExpiry = now + this.settings.inputSasTtlSec * 1000;
    // Outputs are written when the task ends: after the wait for a node and the whole runtime.
    const outputExpiry = inputExpiry + (options.maxRuntimeSec + this.settings.outputSasMarginSec) * 1000;
    const [specUrl, outputUrls] = await this.storage('sign SAS URLs', () =>
      Promise.all([
        this.sas.readBlobUrl(this.settings.stagingContainer, blobs.spec, new Date(inputExpiry)),
        // One SAS per output blob: the task can write its own outputs and nothing else.
        Promise.all(
          OUTPUT_FILES.map(
            async (f) =>
              [f, await this.sas.writeBlobContainerUrl(results, blobs.outputs[f], new Date(outputExpiry))] as const,
          ),
        ),
      ]),
    );
    const task = buildTaskAddParameter(this.settings, {
      jobId: job.id,
      options,
      specUrl,
      outputContainerUrls: Object.fromEntries(outputUrls) as Record<OutputFileName, string>,
      outputBlobs: blobs.outputs,
      // The task's one-shot run re-checks the /execute gate against this switch.
      environment: {
        SIMULATION_TIME_SCALE: String(this.ctx.config.simulationTimeScale),
        ESSEDUM_EXECUTE_ENABLED: String(parseEssedumSettings(this.ctx.config.env).executeEnabled),
      },
    });

    try {
      await this.call(() => this.client.task.add(options.batchJobId, task));
      return { ref: refFor(options), attached: false, status: 'dispatched' };
    } catch (error) {
      if (!(error instanceof ProviderRejectedError && error.providerCode === 'TaskExists')) throw error;
    }
    // A redelivered dispatch: the task from the first delivery is the job; attach to it.
    const existing = await this.call(() =>
      this.client.task.get(options.batchJobId, options.taskId, { taskGetOptions: { select: POLL_SELECT } }),
    );
    return {
      ref: refFor(options, existing),
      attached: true,
      status: existing.state === 'running' ? 'running' : 'dispatched',
    };
  }

  async poll(jobs: readonly JobRecord[]): Promise<PollReport[]> {
    const reports: PollReport[] = [];
    const groups = [...this.groupByBatchJob(jobs)];
    for (const [i, [batchJobId, group]] of groups.entries()) {
      const polled = await this.pollBatchJob(batchJobId, group).catch((error: unknown) => {
        if (error instanceof ProviderThrottledError)
          return { reports: [] as PollReport[], cut: { error, unread: group.map((j) => j.id) } };
        throw error;
      });
      reports.push(...polled.reports);
      if (polled.cut) {
        // Keep what this cycle learned; the rest is read first next cycle, after the Retry-After.
        const unread = [...polled.cut.unread, ...groups.slice(i + 1).flatMap(([, g]) => g.map((j) => j.id))];
        throw new PollThrottledError(PROVIDER_NAME, polled.cut.error.retryAfterMs, reports, unread, polled.cut.error);
      }
    }
    return reports;
  }

  async cancel(job: JobRecord): Promise<void> {
    const { batchJobId, taskId } = this.locate(job);
    await this.terminate(batchJobId, taskId);
  }

  private async terminate(batchJobId: string, taskId: string): Promise<void> {
    try {
      await this.call(() => this.client.task.terminate(batchJobId, taskId));
    } catch (error) {
      // Already gone or already finished: the next poll reports what really happened.
      if (
        error instanceof ProviderRejectedError &&
        ['TaskNotFound', 'JobNotFound', 'TaskCompleted', 'JobCompleted'].includes(error.providerCode)
      )
        return;
      throw error;
    }
  }

  /**
   * One page of this deployment's unfinished tasks. Our Batch jobs are known by name (one per pool,
   * `cjo-<pool>` for each allowed VM size), so each is read in turn with
   * `$filter=state ne 'completed'`, 1 000 a page, following `odata.nextLink`. A task id is the run key.
   */
  async listOwnedJobs(cursor?: string): Promise<OwnedJobsPage> {
    const batchJobIds = this.ownBatchJobIds();
    const at = parseBatchCursor(cursor);
    const batchJobId = batchJobIds[at.index];
    if (batchJobId === undefined) return { jobs: [] };
    const options = { filter: "state ne 'completed'", select: 'id,state,creationTime', maxResults: MAX_PAGE_SIZE };
    let page: BatchServiceModels.TaskListResponse | undefined;
    try {
      page = await this.call(() =>
        at.link ? this.client.task.listNext(at.link) : this.client.task.list(batchJobId, { taskListOptions: options }),
      );
    } catch (error) {
      // A pool that never got a job has no tasks.
      if (!(error instanceof ProviderRejectedError && error.providerCode === 'JobNotFound')) throw error;
    }
    const jobs: OwnedCloudJob[] = [];
    for (const task of page ?? []) {
      if (!task.id) continue;
      const key = parseRunKey(task.id);
      jobs.push({
        providerId: `${batchJobId}/${task.id}`,
        nativeStatus: task.state ?? 'unknown',
        ...(key && { jobId: key.jobId, attempt: key.attempt }),
        ...(task.creationTime && { createdAt: new Date(task.creationTime).toISOString() }),
      });
    }
    const link = page?.odatanextLink;
    const next = link
      ? { index: at.index, link }
      : at.index + 1 < batchJobIds.length
        ? { index: at.index + 1 }
        : undefined;
    return { jobs, ...(next && { next: JSON.stringify(next) }) };
  }

  /** Terminates one task by `<batch job id>/<task id>`; a finished or deleted task is not an error. */
  async stopOwnedJob(providerId: string): Promise<void> {
    const [batchJobId, taskId, ...rest] = providerId.split('/');
    if (!batchJobId || !taskId || rest.length > 0) throw new Error(`not a Batch task path: ${providerId}`);
    await this.terminate(batchJobId, taskId);
  }

  /** The Batch jobs this deployment's tasks live in: one per pool it may create. */
  private ownBatchJobIds(): string[] {
    return [...new Set(this.settings.allowedVmSizes.map((size) => batchJobIdFor(poolIdFor(this.settings, size))))];
  }

  async result(job: JobRecord): Promise<Record<string, unknown> | undefined> {
    const name = blobNamesFor(runKey(job), this.settings.outputPrefix).outputs['result.json'];
    const content = await this.storage('read result.json', () =>
      this.ctx.blobs.get(this.ctx.config.containers.results, name),
    );
    return content ? parseResultDocument(content) : undefined;
  }

  async logs(job: JobRecord, tailBytes: number): Promise<JobLogs | undefined> {
    const tail = Math.max(0, Math.floor(tailBytes));
    if (isTerminal(job.status)) {
      const names = blobNamesFor(runKey(job), this.settings.outputPrefix).outputs;
      const container = this.ctx.config.containers.results;
      const [stdout, stderr] = await this.storage('read uploaded logs', () =>
        Promise.all([
          this.ctx.blobs.get(container, names['stdout.txt']),
          this.ctx.blobs.get(container, names['stderr.txt']),
        ]),
      );
      if (stdout !== undefined || stderr !== undefined) {
        return {
          stdout: tailOf(stdout, tail),
          stderr: tailOf(stderr, tail),
          source: `blob:${container}/${this.settings.outputPrefix}/${runKey(job)}/`,
        };
      }
      // Nothing uploaded (the upload itself failed, or the task never ran): the node keeps the
      // files until the task's retention time runs out.
    }
    const { batchJobId, taskId } = this.locate(job);
    const [stdout, stderr] = await Promise.all([
      this.taskFileTail(batchJobId, taskId, 'stdout.txt', tail),
      this.taskFileTail(batchJobId, taskId, 'stderr.txt', tail),
    ]);
    if (stdout === undefined && stderr === undefined) return undefined;
    return { stdout: stdout ?? '', stderr: stderr ?? '', source: `batch:${batchJobId}/${taskId}` };
  }

  async cleanup(jobs: readonly JobRecord[]): Promise<string[]> {
    const cutoff = this.now() - this.settings.retentionSec * 1000;
    const done: string[] = [];
    for (const job of jobs) {
      if (!isTerminal(job.status)) continue;
      const finished = Date.parse(job.finishedAt ?? job.updatedAt);
      if (!(finished <= cutoff)) continue;
      const { batchJobId, taskId } = this.locate(job);
      try {
        await this.call(() => this.client.task.deleteMethod(batchJobId, taskId));
      } catch (error) {
        if (!(error instanceof ProviderRejectedError && ['TaskNotFound', 'JobNotFound'].includes(error.providerCode)))
          throw error;
      }
      // Only the staged input goes: the uploaded outputs are the job's result and logs.
      await this.storage('delete the staged spec', () =>
        this.ctx.blobs.delete(
          this.settings.stagingContainer,
          blobNamesFor(runKey(job), this.settings.outputPrefix).spec,
        ),
      );
      done.push(job.id);
    }
    return done;
  }

  // ---- polling ---------------------------------------------------------------------------------

  private groupByBatchJob(jobs: readonly JobRecord[]): Map<string, JobRecord[]> {
    const groups = new Map<string, JobRecord[]>();
    for (const job of jobs) {
      const { batchJobId } = this.locate(job);
      const group = groups.get(batchJobId) ?? [];
      group.push(job);
      groups.set(batchJobId, group);
    }
    return groups;
  }

  /**
   * Two filtered list queries per Batch job, each paged at 1 000: first the unfinished tasks (at
   * most as many as active jobs), then — only when some polled job was not among them — the tasks
   * that completed since the earliest such job was dispatched. A per-task GET is made only for a
   * job found in neither list (to tell a deleted task from a listing race).
   */
  private async pollBatchJob(
    batchJobId: string,
    group: readonly JobRecord[],
  ): Promise<{ reports: PollReport[]; cut?: { error: ProviderThrottledError; unread: string[] } }> {
    const byTask = new Map(group.map((job) => [this.locate(job).taskId, job] as const));
    const found: Array<{ task: TaskSnapshot; job: JobRecord }> = [];
    const missing: PollReport[] = [];
    const seen = new Set<string>();
    const take = (task: TaskSnapshot): void => {
      const job = task.id === undefined ? undefined : byTask.get(task.id);
      if (!job || task.id === undefined || seen.has(task.id)) return;
      seen.add(task.id);
      found.push({ task, job });
    };

    await this.listTasks(batchJobId, "state ne 'completed'", take);
    const rest = group.filter((job) => !seen.has(this.locate(job).taskId));
    if (rest.length > 0) {
      const since = Math.min(...rest.map((job) => Date.parse(job.dispatchedAt ?? job.createdAt))) - TIME_FILTER_SKEW_MS;
      await this.listTasks(
        batchJobId,
        `state eq 'completed' and stateTransitionTime ge datetime'${new Date(since).toISOString()}'`,
        take,
      );
    }
    let cut: { error: ProviderThrottledError; unread: string[] } | undefined;
    const unlisted = group.filter((job) => !seen.has(this.locate(job).taskId));
    for (const [i, job] of unlisted.entries()) {
      const { taskId } = this.locate(job);
      try {
        take(
          await this.call(() => this.client.task.get(batchJobId, taskId, { taskGetOptions: { select: POLL_SELECT } })),
        );
      } catch (error) {
        if (error instanceof ProviderRejectedError && ['TaskNotFound', 'JobNotFound'].includes(error.providerCode)) {
          missing.push({ jobId: job.id, status: 'missing', nativeStatus: error.providerCode });
          continue;
        }
        if (error instanceof ProviderThrottledError) {
          cut = { error, unread: unlisted.slice(i).map((j) => j.id) };
          break;
        }
        throw error;
      }
    }

    const stranded = await this.stranded(found);
    const reports = found.flatMap(({ task, job }) => {
      const capacity = stranded.get(job.id);
      if (capacity) return [{ report: capacity, task, job }];
      const report = reportFor(task, job);
      return report ? [{ report: withBilling(report, task), task, job }] : [];
    });
    // Result documents of finished jobs come from Blob Storage, a few at a time.
    const withResults = await mapLimit(reports, RESULT_READ_CONCURRENCY, ({ report, task, job }) =>
      report.status === 'succeeded'
        ? this.withResult(report, task, job)
        : report.status === 'failed'
          ? this.withWorkerError(report, job)
          : Promise.resolve(report),
    );
    return { reports: [...withResults, ...missing], ...(cut && { cut }) };
  }

  private async listTasks(batchJobId: string, filter: string, onTask: (task: TaskSnapshot) => void): Promise<void> {
    let page: BatchServiceModels.TaskListResponse;
    try {
      page = await this.call(() =>
        this.client.task.list(batchJobId, {
          taskListOptions: { filter, select: POLL_SELECT, maxResults: MAX_PAGE_SIZE },
        }),
      );
    } catch (error) {
      // No pool job yet means no tasks yet; the per-task check reports them missing.
      if (error instanceof ProviderRejectedError && error.providerCode === 'JobNotFound') return;
      throw error;
    }
    for (;;) {
      for (const task of page) onTask(task);
      const next: string | undefined = page.odatanextLink;
      if (!next) return;
      page = await this.call((): Promise<BatchServiceModels.TaskListResponse> => this.client.task.listNext(next));
    }
  }

  private async withResult(report: PollReport, task: TaskSnapshot, job: JobRecord): Promise<PollReport> {
    const location = `${this.ctx.config.containers.results}/${blobNamesFor(runKey(job), this.settings.outputPrefix).outputs['result.json']}`;
    const summary: Record<string, unknown> = { location, exitCode: task.executionInfo?.exitCode ?? 0 };
    try {
      const document = await this.result(job);
      if (document !== undefined && JSON.stringify(document).length <= MAX_INLINE_RESULT_BYTES)
        summary.document = document;
    } catch (error) {
      // The job did succeed; a result we cannot read now is still at `location`.
      summary.readError = describeError(error);
    }
    return { ...report, result: summary };
  }

  /**
   * Batch knows only the exit code; the worker's status.json says why it failed. Its code and
   * message lead, Batch's own failure stays in the message.
   */
  private async withWorkerError(report: PollReport, job: JobRecord): Promise<PollReport> {
    const name = blobNamesFor(runKey(job), this.settings.outputPrefix).outputs['status.json'];
    const content = await this.ctx.blobs.get(this.ctx.config.containers.results, name).catch(() => undefined);
    const status = content ? parseResultDocument(content) : undefined;
    const error = status?.error as { code?: unknown; message?: unknown } | undefined;
    if (!report.error || typeof error?.code !== 'string' || typeof error.message !== 'string') return report;
    return {
      ...report,
      error: {
        ...report.error,
        code: error.code,
        message: `${error.message} (Batch: ${report.error.code}: ${report.error.message})`,
      },
    };
  }

  // ---- provisioning ----------------------------------------------------------------------------

  private ensureContainers(): Promise<void> {
    this.containers ??= this.storage('create containers', () =>
      this.ctx.blobs.ensure([this.settings.stagingContainer, this.ctx.config.containers.results]),
    ).catch((error: unknown) => {
      this.containers = undefined;
      throw error;
    });
    return this.containers;
  }

  /**
   * A pool whose last resize failed for quota or allocation and that holds no node would leave a
   * new task pending for ever: refuse it for capacity instead, so dispatch can send the job
   * elsewhere or make it wait. Looked at once per {@link POOL_CAPACITY_CHECK_MS} per pool.
   */
  private async checkPoolCapacity(poolId: string): Promise<void> {
    const failure = await this.poolFailure(poolId);
    if (failure) throw new ProviderCapacityError(PROVIDER_NAME, failure.code, failure.message);
  }

  /** The pool's capacity failure, from a look at most {@link POOL_CAPACITY_CHECK_MS} old. */
  private async poolFailure(poolId: string): Promise<CapacityFailure | undefined> {
    const known = this.poolCapacity.get(poolId);
    if (known && this.now() - known.at < POOL_CAPACITY_CHECK_MS) return known.failure;
    const pool = await this.call(() =>
      this.client.pool.get(poolId, {
        poolGetOptions: { select: 'id,allocationState,resizeErrors,currentDedicatedNodes,currentLowPriorityNodes' },
      }),
    );
    const failure = poolCapacityFailure(pool);
    this.poolCapacity.set(poolId, { at: this.now(), ...(failure && { failure }) });
    return failure;
  }

  /**
   * Reports the tasks still waiting for a node (`active`) on a pool that cannot get one for quota or
   * capacity as `no-capacity`, so the job fails over rather than wait for ever; the use case stops
   * the task first. Only tasks dispatched longer than {@link POOL_CAPACITY_CHECK_MS} ago are looked
   * at (dispatch itself checked the pool just before), and each pool is read at most once per that
   * time, however many tasks wait on it. A pool that cannot be read now changes nothing: a later
   * cycle looks again.
   */
  private async stranded(
    found: ReadonlyArray<{ task: TaskSnapshot; job: JobRecord }>,
  ): Promise<Map<string, PollReport>> {
    const stranded = new Map<string, PollReport>();
    const looks = new Map<string, Promise<CapacityFailure | undefined>>();
    const since = this.now() - POOL_CAPACITY_CHECK_MS;
    for (const { task, job } of found) {
      if (task.state !== 'active' || job.status === 'cancelling') continue;
      if (!(Date.parse(job.dispatchedAt ?? job.createdAt) <= since)) continue;
      const poolId = job.providerRef?.poolId;
      if (typeof poolId !== 'string') continue;
      let look = looks.get(poolId);
      if (!look) {
        look = this.poolFailure(poolId).catch(() => {
          // Not looked at again until the check interval has passed.
          this.poolCapacity.set(poolId, { at: this.now() });
          return undefined;
        });
        looks.set(poolId, look);
      }
      const failure = await look;
      if (!failure) continue;
      stranded.set(job.id, {
        jobId: job.id,
        status: 'no-capacity',
        nativeStatus: `active; pool ${failure.code}`,
        error: { code: failure.code, message: failure.message, category: 'capacity' },
        capacity: failure,
      });
    }
    return stranded;
  }

  /** Creates the pool once per process; an existing pool (PoolExists) is success. */
  private ensurePool(poolId: string, vmSize: string): Promise<void> {
    return memo(this.pools, poolId, async () => {
      try {
        await this.call(() => this.client.pool.add(buildPoolAddParameter(this.settings, poolId, vmSize)));
      } catch (error) {
        if (error instanceof ProviderRejectedError && error.providerCode === 'PoolExists') return;
        if (error instanceof ProviderRejectedError && error.providerCode === 'PoolQuotaReached') {
          throw new ProviderCapacityError(PROVIDER_NAME, 'PoolQuotaReached', error.message, { cause: error });
        }
        if (error instanceof ProviderRejectedError && error.providerCode === 'PoolBeingDeleted') {
          throw new ProviderUnavailableError(
            PROVIDER_NAME,
            `pool '${poolId}' is being deleted; retry once it is gone`,
            error,
          );
        }
        throw error;
      }
    });
  }

  /** Creates the long-lived pool job once per process; JobExists is success. */
  private ensureBatchJob(batchJobId: string, poolId: string): Promise<void> {
    return memo(this.jobs, batchJobId, async () => {
      try {
        await this.call(() =>
          this.client.job.add({
            id: batchJobId,
            displayName: `Cloud Job Orchestrator tasks on ${poolId}`,
            poolInfo: { poolId },
            // The job outlives its tasks: never let Batch terminate it when they all finish.
            onAllTasksComplete: 'noaction',
            metadata: [{ name: 'managed-by', value: 'cloud-job-orchestrator' }],
          }),
        );
      } catch (error) {
        if (error instanceof ProviderRejectedError && error.providerCode === 'JobExists') return;
        if (error instanceof ProviderRejectedError && error.providerCode === 'ActiveJobAndScheduleQuotaReached') {
          throw new ProviderCapacityError(PROVIDER_NAME, 'ActiveJobAndScheduleQuotaReached', error.message, {
            cause: error,
          });
        }
        throw error;
      }
    });
  }

  // ---- plumbing --------------------------------------------------------------------------------

  /** Where a job's task lives: from its stored ref, or derived like submit derives it. */
  private locate(job: JobRecord): { batchJobId: string; taskId: string } {
    const ref = job.providerRef;
    const batchJobId = typeof ref?.batchJobId === 'string' ? ref.batchJobId : batchJobIdFor(this.settings.poolId);
    const taskId = typeof ref?.taskId === 'string' ? ref.taskId : taskIdFor(runKey(job));
    return { batchJobId, taskId };
  }

  private async taskFileTail(
    batchJobId: string,
    taskId: string,
    file: string,
    tailBytes: number,
  ): Promise<string | undefined> {
    try {
      const props = await this.call(() => this.client.file.getPropertiesFromTask(batchJobId, taskId, file));
      const length = props.contentLength ?? 0;
      if (length === 0 || tailBytes === 0) return '';
      const start = Math.max(0, length - tailBytes);
      const response = await this.call(() =>
        this.client.file.getFromTask(batchJobId, taskId, file, {
          fileGetFromTaskOptions: { ocpRange: `bytes=${start}-${length - 1}` },
        }),
      );
      return response.readableStreamBody ? (await readAll(response.readableStreamBody)).toString('utf8') : '';
    } catch (error) {
      // Not started yet (no node, no files) or already cleaned up.
      if (
        error instanceof ProviderRejectedError &&
        ['404', 'TaskNotFound', 'JobNotFound', 'FileNotFound', '409', 'TaskNotStarted'].includes(error.providerCode)
      )
        return undefined;
      throw error;
    }
  }

  /**
   * Runs one Batch call with our retry policy: 429, 5xx and network errors are retried after
   * Retry-After (or an exponential backoff) while that wait fits `maxWaitMs`; otherwise, and after
   * the last attempt, the typed error goes to the caller (throttled/unavailable: never a job failure).
   */
  private async call<T>(op: () => Promise<T>): Promise<T> {
    const { attempts, baseMs, maxWaitMs } = this.settings.retry;
    const statusOf = (error: unknown) => (error as BatchRestErrorLike | null)?.statusCode;
    const waitAfter = (error: unknown, attempt: number) =>
      parseRetryAfter((error as BatchRestErrorLike | null)?.response?.headers?.get('retry-after')) ??
      backoffDelay(attempt, baseMs);
    return withRetries(op, {
      attempts,
      maxWaitMs,
      beforeAttempt: () => this.limiter.take(),
      sleep: (ms) => this.sleep(ms),
      delayMs: (error, attempt) => {
        const status = statusOf(error);
        const healable = classifyBatchError(error) !== 'rejected' && status !== 401 && status !== 403;
        return healable ? waitAfter(error, attempt) : undefined;
      },
      giveUp: (error, attempt) => {
        const status = statusOf(error);
        const wait = waitAfter(error, attempt);
        // Everyone sharing the limiter waits out a short Retry-After; a long one is the poller's to honour.
        if (status === 429 || status === 503) this.limiter.pause(Math.min(wait, maxWaitMs));
        return toProviderError(error, wait);
      },
    });
  }

  /** Blob Storage trouble during a dispatch heals with time: report it as unavailable, not as a job failure. */
  private async storage<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw new ProviderUnavailableError(PROVIDER_NAME, `could not ${what}: ${batchErrorMessage(error)}`, error);
    }
  }
}

/** How long a pool's capacity look stays good (one extra GET per pool per this, not per dispatch). */
const POOL_CAPACITY_CHECK_MS = 30_000;

/** `{"index": n, "link": nextLink?}`: which of our Batch jobs, and where in its task list. */
function parseBatchCursor(cursor: string | undefined): { index: number; link?: string } {
  if (!cursor) return { index: 0 };
  try {
    const c = JSON.parse(cursor) as { index?: unknown; link?: unknown };
    const index = Number.isInteger(c.index) && (c.index as number) >= 0 ? (c.index as number) : 0;
    return { index, ...(typeof c.link === 'string' && { link: c.link }) };
  } catch {
    return { index: 0 };
  }
}

function memo(map: Map<string, Promise<void>>, key: string, create: () => Promise<void>): Promise<void> {
  let pending = map.get(key);
  if (!pending) {
    pending = create().catch((error: unknown) => {
      map.delete(key);
      throw error;
    });
    map.set(key, pending);
  }
  return pending;
}

function tailOf(content: Buffer | undefined, tailBytes: number): string {
  if (!content) return '';
  return content.subarray(Math.max(0, content.length - tailBytes)).toString('utf8');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function parseResultDocument(content: Buffer): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(content.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { value: parsed };
  } catch {
    return { unparsed: content.subarray(0, 4096).toString('utf8') };
  }
}

/** The provider module entry (see the descriptor in index.ts): builds the provider from `ctx.config.env`. */
export function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  return createAzureBatchProvider(ctx);
}

/**
 * A finished task's own start and end (executionInfo): the job's actual cost is billed from Batch's
 * times rather than from when a poll noticed the end.
 */
function withBilling(report: PollReport, task: TaskSnapshot): PollReport {
  if (report.status === 'running' || report.status === 'dispatched') return report;
  const iso = (d: Date | string | undefined) => {
    const t = d === undefined ? Number.NaN : new Date(d).getTime();
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  };
  const startedAt = iso(task.executionInfo?.startTime);
  const endedAt = iso(task.executionInfo?.endTime);
  if (!startedAt || !endedAt) return report;
  return { ...report, billing: { startedAt, endedAt } };
}
