import type { ProviderBilling } from '../core/costs.js';
import type { JobError, JobRecord, JobStatus, ProviderRef } from '../core/job.js';

/**
 * What a provider says a job is doing, in our vocabulary. `missing`: the provider has no such job.
 * `lost`: the run ended without a verdict of its own (its process or node died with the host, the
 * node was preempted): the job is re-dispatched as a new attempt, never failed for it (see
 * JOB_MAX_ATTEMPTS). `no-capacity`: the provider accepted the job but cannot run it for capacity or
 * quota (a SageMaker `CapacityError`, a Vertex stockout, a Batch pool that cannot allocate nodes);
 * the report's `capacity` says why, and the job fails over like a refusal at create time.
 * `failed` is only for a run the provider itself reports failed for another reason.
 */
export type ObservedStatus =
  | Extract<JobStatus, 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelling' | 'cancelled'>
  | 'missing'
  | 'lost'
  | 'no-capacity';

/**
 * Why an accepted run cannot go on: the provider's own capacity or quota code (`CapacityError`,
 * `RESOURCE_EXHAUSTED`, `AccountCoreQuotaReached`, `OutOfQuota` …) and its message. `lasting`: it
 * will not heal by waiting (a quota of 0). `runEnded`: the provider already ended the run (a failed
 * job); when false the run still waits at the provider (a Batch task on a pool with no node) and
 * the poll use case stops it before the job moves on, so it never starts late beside its successor.
 */
export interface CapacityFailure {
  readonly code: string;
  readonly message: string;
  readonly lasting: boolean;
  readonly runEnded: boolean;
}

export interface SubmitOutcome {
  /** Handle the provider needs to find the job again; stored on the job. */
  readonly ref: ProviderRef;
  /** True when a job already existed under the derived name and we re-attached to it. */
  readonly attached: boolean;
  /** The provider's native status at submit time, mapped. */
  readonly status: Extract<ObservedStatus, 'dispatched' | 'running'>;
}

export interface PollReport {
  readonly jobId: string;
  readonly status: ObservedStatus;
  /** The provider's own status string, for the history (`InProgress`, `JOB_STATE_RUNNING`, …). */
  readonly nativeStatus?: string;
  readonly error?: JobError;
  /** Set with status `no-capacity`: the capacity or quota failure the provider reported. */
  readonly capacity?: CapacityFailure;
  /** Result summary to store on the job when it finished (metrics, artifact URIs, output paths). */
  readonly result?: Record<string, unknown>;
  /** Things worth a history line that are not state changes (preemption, requeue, retry). */
  readonly notes?: readonly string[];
  /** Updated handle, when the provider learned more (e.g. a node id or a log stream name). */
  readonly ref?: ProviderRef;
  /**
   * For a finished run: the provider's own start and end times (or billable seconds), so the actual
   * cost uses the provider's clock rather than when our poll happened to notice.
   */
  readonly billing?: ProviderBilling;
}

export interface JobLogs {
  readonly stdout: string;
  readonly stderr: string;
  /** Where the logs came from (uploaded outputs, live node files, a CloudWatch stream …). */
  readonly source: string;
}

/** Secrets that travel with one dispatch and are never stored on the job (see the Essedum routes). */
export type DispatchSecrets = Readonly<Record<string, string>>;

/**
 * The provider port. One adapter per place jobs run (local, Azure Batch, Azure ML, SageMaker,
 * Vertex AI). Heavy SDKs are imported lazily inside the adapter, never at module load.
 *
 * Errors: throw `ProviderThrottledError` / `ProviderUnavailableError` for things that heal with time
 * (never a job failure), `ProviderRejectedError` for a job the provider will never accept.
 */
export interface JobProvider {
  readonly name: string;
  /**
   * Starts the job's attempt `job.attempts`. Idempotent: the provider-side name derives from
   * `runKey(job)` (job id + attempt, core/job.ts), so a redelivered dispatch re-attaches (`attached: true`)
   * instead of starting a second cloud job, and a new attempt gets a run of its own.
   */
  submit(job: JobRecord, secrets?: DispatchSecrets): Promise<SubmitOutcome>;
  /** Batched status of many jobs; one provider call may report many. Jobs not reported are unchanged. */
  poll(jobs: readonly JobRecord[]): Promise<PollReport[]>;
  /** Asks the provider to stop the job; completion is confirmed by a later poll. */
  cancel(job: JobRecord): Promise<void>;
  /** Full result document, when the provider keeps one beyond the poll summary. */
  result?(job: JobRecord): Promise<Record<string, unknown> | undefined>;
  logs?(job: JobRecord, tailBytes: number): Promise<JobLogs | undefined>;
  /**
   * Deletes or archives provider-side leftovers of finished jobs (those past the provider's
   * retention). Returns the ids it is done with; the others are offered again later.
   */
  cleanup?(jobs: readonly JobRecord[]): Promise<string[]>;
  /**
   * For providers whose runs live in this process's tree (local): lets them finish within
   * `graceMs`, stops the rest and says which (job id + attempt), so the host can give those back
   * to their queues before it exits.
   */
  shutdown?(graceMs: number): Promise<readonly StoppedRun[]>;
  /** Calls a live endpoint the job `endpoint` (a succeeded endpoint-create) made: Essedum infer/explain.
   *  Throws ProviderRejectedError for a 4xx from the endpoint, ProviderUnavailableError/ThrottledError
   *  for what heals with time. */
  invokeEndpoint?(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown>;

  /**
   * One page of the cloud jobs this deployment created that have not finished (found by the name
   * prefix, tag or label the provider puts on everything it creates), for the orphan reaper.
   * `cursor` is a page's `next`; a page without `next` ends the listing. Paged and rate-limited
   * inside the adapter like its poll; throttling surfaces as `ProviderThrottledError`.
   */
  listOwnedJobs?(cursor?: string): Promise<OwnedJobsPage>;
  /**
   * Stops one cloud job by its {@link OwnedCloudJob.providerId}. A job that already finished or is
   * gone is not an error (nothing bills).
   */
  stopOwnedJob?(providerId: string): Promise<void>;
}

/** A cloud job of this deployment as {@link JobProvider.listOwnedJobs} sees it. */
export interface OwnedCloudJob {
  /** The provider's own id of the run (name, resource name, task path): what `stopOwnedJob` takes. */
  readonly providerId: string;
  /** Our job the run was created for, read back from its name, tag or label; absent when unreadable. */
  readonly jobId?: string;
  /** The attempt (`runKey`) the run was created for; absent when the name does not say. */
  readonly attempt?: number;
  /** The provider's own status string (`InProgress`, `JOB_STATE_RUNNING`, `running` …). */
  readonly nativeStatus: string;
  /** When the provider created it (ISO 8601); the reaper leaves runs younger than its grace age alone. */
  readonly createdAt?: string;
}

export interface OwnedJobsPage {
  readonly jobs: readonly OwnedCloudJob[];
  /** Cursor of the next page; absent on the last one. */
  readonly next?: string;
}

/** A run a provider stopped on shutdown before it could finish. */
export interface StoppedRun {
  readonly jobId: string;
  readonly attempt: number;
}

/** Provider registry: which provider runs a job, by name. */
export interface ProviderRegistry {
  get(name: string): Promise<JobProvider>;
  /** Names of providers this deployment has configured (pollers skip the others). */
  configured(): readonly string[];
  /**
   * Checks a job's kind and spec for a provider at submission. Absent (the app's registry): the
   * provider descriptors' own checks; a registry of providers a test brings itself supplies theirs.
   */
  validateSpec?(provider: string, kind: string | undefined, spec: Record<string, unknown> | undefined): Promise<void>;
}
