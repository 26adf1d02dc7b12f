import type { TokenCredential } from '@azure/core-auth';
import { parseRunKey, runKey, type JobError, type JobRecord, type ProviderRef } from '../../core/job.js';
import {
  PollThrottledError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../errors.js';
import type {
  JobProvider,
  ObservedStatus,
  OwnedCloudJob,
  OwnedJobsPage,
  PollReport,
  SubmitOutcome,
} from '../../ports/provider.js';
import { parseRetryAfter, sleep, TokenBucket } from '../../retry.js';
import { type AzureMlAssetSpec, parseAzureMlAssetSpec } from './asset-spec.js';
import { AzureMlAssets, type AssetSummary } from './assets.js';
import { isAzureMlAssetKind } from './catalog.js';
import { ArmClient, PROVIDER, ScoringClient, armError, capacityRefusal, type ArmResponse } from './client.js';
import {
  azureMlJobName,
  buildJobBody,
  imageEnvironmentName,
  parseAzureMlJobSpec,
  workspaceId,
  type AzureMlJobSpec,
} from './spec.js';
import type { AzureMlSettings } from './settings.js';
import { capacityFailureOf, mapAzureMlStatus } from './status.js';
import { azureCredential } from '../../adapters/azure-credential.js';
import type { ProviderContext } from '../provider-context.js';
import { parseAzureMlSettings } from './settings.js';

/** The parts of an Azure ML `JobBase` resource the provider reads. */
interface ArmJob {
  readonly name?: string;
  readonly systemData?: { readonly createdAt?: string };
  readonly properties?: {
    readonly status?: string;
    readonly jobType?: string;
    readonly tags?: Record<string, string | null>;
    readonly services?: Record<string, { endpoint?: string; errorMessage?: string; jobServiceType?: string } | null>;
    readonly outputs?: Record<string, { jobOutputType?: string; uri?: string } | null>;
  };
}

interface ArmPage {
  readonly value?: ArmJob[];
  readonly nextLink?: string | null;
}

export interface AzureMlProviderDeps {
  /** `DefaultAzureCredential` in production; a stub in tests. */
  readonly credential: TokenCredential;
  /** PEM of a CA to trust besides the system ones (a test's self-signed fake). */
  readonly trustedCa?: string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Replaces the read limiter built from the settings (benches run it on a fake clock). */
  readonly readLimiter?: TokenBucket;
}

/** Creates the Azure ML provider; the core REST pipeline is loaded here, not at module load. */
export async function createAzureMlProvider(
  settings: AzureMlSettings,
  deps: AzureMlProviderDeps,
): Promise<JobProvider> {
  const client = await ArmClient.create({
    endpoint: settings.armEndpoint,
    apiVersion: settings.apiVersion,
    credential: deps.credential,
    requestTimeoutMs: settings.requestTimeoutMs,
    retries: settings.retries,
    retryDelayMs: settings.retryDelayMs,
    ...(deps.trustedCa !== undefined && { trustedCa: deps.trustedCa }),
    ...(deps.sleep !== undefined && { sleep: deps.sleep }),
    readLimiter:
      deps.readLimiter ?? new TokenBucket({ ratePerSec: settings.readRatePerSec, burst: settings.readBurst }),
  });
  let scoring: Promise<ScoringClient> | undefined;
  const scoringClient = () => {
    scoring ??= ScoringClient.create({
      credential: deps.credential,
      scope: settings.scoringScope,
      allowedHosts: settings.scoringHosts,
      timeoutMs: settings.scoringTimeoutMs,
      ...(deps.trustedCa !== undefined && { trustedCa: deps.trustedCa }),
    });
    return scoring;
  };
  return new AzureMlProvider(settings, client, deps.sleep ?? sleep, scoringClient);
}

/** Asset kinds that run as workspace jobs (a copy job) rather than as resource operations. */
const EXPORT_KINDS = new Set(['dataset-export', 'model-export']);

/** True for a job the provider runs as an Azure ML workspace job (listed and polled as such). */
function isWorkspaceJob(job: JobRecord): boolean {
  return !isAzureMlAssetKind(job.spec.kind) || EXPORT_KINDS.has(job.spec.kind);
}

/**
 * An export as a command job: the asset mounted read-only as input, copied into an upload output
 * at AZUREML_EXPORT_PATH/<datasets|models>/<name>/<version>/. Azure ML has no copy call for data
 * or model versions; a job is what its own tooling uses, and it reuses the job path's idempotency,
 * polling and cancel.
 */
export function exportCommand(
  parsed: Extract<AzureMlAssetSpec, { kind: 'dataset-export' | 'model-export' }>,
  settings: AzureMlSettings,
): { spec: AzureMlJobSpec & { kind: 'command' }; destination: string } {
  if (settings.exportPath === undefined) {
    throw new ProviderRejectedError(
      PROVIDER,
      'ExportNotConfigured',
      'exports need AZUREML_EXPORT_PATH (a datastore folder) in this deployment',
    );
  }
  const s = parsed.spec;
  const folder = parsed.kind === 'dataset-export' ? 'datasets' : 'models';
  const destination = `${settings.exportPath}/${folder}/${s.name}/${s.version}/`;
  const type = parsed.kind === 'dataset-export' ? parsed.spec.dataType : parsed.spec.modelType;
  const copy =
    type === 'uri_file'
      ? 'cp "${{inputs.source}}" "${{outputs.copy}}/"'
      : 'cp -r "${{inputs.source}}/." "${{outputs.copy}}/"';
  return {
    destination,
    spec: {
      kind: 'command',
      spec: {
        command: copy,
        environment: settings.exportEnvironment,
        ...(s.compute !== undefined && { compute: s.compute }),
        inputs: { source: { type, uri: `azureml:${s.name}:${s.version}`, mode: 'ReadOnlyMount' } },
        outputs: { copy: { type: 'uri_folder', uri: destination, mode: 'Upload' } },
        displayName: `export ${s.name}:${s.version}`,
        description: `Copy of ${parsed.kind === 'dataset-export' ? 'data' : 'model'} asset ${s.name}:${s.version} made by the Cloud Job Orchestrator`,
      },
    },
  };
}

const TERMINAL_NATIVE = new Set(['Completed', 'Failed', 'Canceled']);
/** Cap on operation polls in one cancel, so a service answering Retry-After: 0 forever cannot hold us. */
const MAX_OPERATION_POLLS = 20;

class AzureMlProvider implements JobProvider {
  readonly name = PROVIDER;
  private readonly ws: string;
  private readonly assets: AzureMlAssets;

  constructor(
    private readonly settings: AzureMlSettings,
    private readonly client: ArmClient,
    private readonly sleep: (ms: number) => Promise<void>,
    scoring: () => Promise<ScoringClient>,
  ) {
    this.ws = workspaceId(settings);
    this.assets = new AzureMlAssets(settings, client, this.ws, scoring);
  }

  private jobPath(name: string): string {
    return `${this.ws}/jobs/${encodeURIComponent(name)}`;
  }

  private nameOf(job: JobRecord): string {
    const ref = job.providerRef?.jobName;
    return typeof ref === 'string' ? ref : azureMlJobName(runKey(job));
  }

  async submit(job: JobRecord): Promise<SubmitOutcome> {
    const kind = job.spec.kind;
    if (isAzureMlAssetKind(kind)) {
      const parsed = rejectInvalid(() => parseAzureMlAssetSpec(kind, job.spec.spec));
      if (parsed.kind === 'dataset-export' || parsed.kind === 'model-export') {
        const { spec, destination } = exportCommand(parsed, this.settings);
        const outcome = await this.submitJob(job, spec);
        return { ...outcome, ref: { ...outcome.ref, exportUri: destination } };
      }
      return this.assets.submit(job, parsed);
    }
    return this.submitJob(
      job,
      rejectInvalid(() => parseAzureMlJobSpec(kind, job.spec.spec)),
    );
  }

  private async submitJob(job: JobRecord, parsed: AzureMlJobSpec): Promise<SubmitOutcome> {
    let body: { properties: Record<string, unknown> };
    try {
      const envId =
        parsed.kind === 'command' && parsed.spec.image !== undefined
          ? await this.ensureImageEnvironment(parsed.spec.image)
          : undefined;
      body = buildJobBody(job, parsed, this.settings, envId);
    } catch (error) {
      if (error instanceof ValidationError)
        throw new ProviderRejectedError(PROVIDER, 'InvalidJobSpec', error.message, error);
      throw error;
    }
    // Named for this attempt, never from the stored handle: a re-dispatched job still carries the
    // handle of its lost attempt, and re-using that name would re-attach to the lost run.
    const name = azureMlJobName(runKey(job));
    const res = await this.client.send('PUT', this.jobPath(name), body);
    if (res.status === 201) return this.outcome(name, res.body as ArmJob, false);
    if (res.status === 200) {
      // Documented "update case": the name existed (a redelivered dispatch) and only its tags
      // were replaced with the same tags. The job was not started again: re-attach.
      return this.outcome(name, this.ownedOrReject(job, res.body as ArmJob), true);
    }
    const e = armError(res);
    if ((res.status === 400 || res.status === 409) && isAlreadyExists(e)) {
      // The service compares our body with the stored job and refuses any difference in
      // immutable fields (inputs, settings …) with "A job with this name already exists".
      // Its stored copy is normalised, so even an identical resend can land here. The job is
      // ours (the name is our id): re-attach to it rather than fail the dispatch.
      const existing = await this.client.send('GET', this.jobPath(name));
      if (existing.status === 200) return this.outcome(name, this.ownedOrReject(job, existing.body as ArmJob), true);
    }
    const capacity = capacityRefusal(res);
    if (capacity) throw capacity;
    throw this.rejection(res, 'PUT job');
  }

  private ownedOrReject(job: JobRecord, doc: ArmJob): ArmJob {
    const owner = doc.properties?.tags?.[this.settings.tagKey];
    if (owner !== undefined && owner !== null && owner !== job.id) {
      throw new ProviderRejectedError(
        PROVIDER,
        'JobNameTaken',
        `Azure ML job '${doc.name}' belongs to '${owner}', not '${job.id}'`,
      );
    }
    return doc;
  }

  private outcome(name: string, doc: ArmJob, attached: boolean): SubmitOutcome {
    const native = doc.properties?.status ?? 'NotStarted';
    const mapped = mapAzureMlStatus(native);
    return {
      ref: { jobName: name, nativeStatus: native },
      attached,
      // A finished job found on re-attach is reported by the next poll; submit only knows "started".
      status: mapped.kind === 'status' && mapped.status === 'running' ? 'running' : 'dispatched',
    };
  }

  /** PUTs an environment version for a container image; the name is the image's hash, so it is idempotent. */
  private async ensureImageEnvironment(image: string): Promise<string> {
    const path = `${this.ws}/environments/${imageEnvironmentName(image)}/versions/1`;
    const res = await this.client.send('PUT', path, {
      properties: {
        image,
        osType: 'Linux',
        description: `Container image ${image}, created by the Cloud Job Orchestrator`,
      },
    });
    // 409: the version exists; its name is derived from this very image, so it is the one we want.
    if (res.status === 200 || res.status === 201 || res.status === 409) return path;
    throw this.rejection(res, 'PUT environment');
  }

  /** Error for a 4xx the caller did not expect: auth and missing workspace heal with configuration. */
  private rejection(res: ArmResponse, what: string): Error {
    const e = armError(res);
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      return new ProviderUnavailableError(PROVIDER, `${what} answered ${res.status} ${e.code}: ${e.message}`);
    }
    return new ProviderRejectedError(PROVIDER, e.innerCode ?? e.code, e.message);
  }

  /**
   * One batched read of many jobs. `GET …/jobs` filters only by tag *key* (`tag`), by
   * `listViewType` (ActiveOnly hides archived jobs), `jobType` and user `properties`; there is no
   * status or name filter. So every job we create carries the tag AZUREML_TAG_KEY = our job id,
   * we list `tag=<key>&listViewType=ActiveOnly` page by page (`nextLink`, newest first) until every
   * watched job is seen, and {@link cleanup} archives finished ones to keep that listing short.
   * A job GET follows only for jobs that reached a final state (their outputs) or were not listed.
   */
  async poll(jobs: readonly JobRecord[]): Promise<PollReport[]> {
    const wanted = new Map<string, JobRecord>();
    const assetJobs: JobRecord[] = [];
    for (const job of jobs) {
      if (isWorkspaceJob(job)) wanted.set(this.nameOf(job), job);
      else assetJobs.push(job);
    }
    const reports = await this.pollWorkspaceJobs(wanted);
    for (const [i, job] of assetJobs.entries()) {
      try {
        const parsed = parseAzureMlAssetSpec(
          job.spec.kind as Parameters<typeof parseAzureMlAssetSpec>[0],
          job.spec.spec,
        );
        const report = await this.assets.poll(job, parsed);
        if (report) reports.push(report);
      } catch (error) {
        // A step the service refuses for good (a traffic update it rejects) ends this job only.
        if (error instanceof ProviderRejectedError) {
          reports.push({
            jobId: job.id,
            status: 'failed',
            error: { code: error.providerCode, message: error.message, category: 'provider' },
          });
          continue;
        }
        if (error instanceof ProviderThrottledError) {
          throw new PollThrottledError(
            PROVIDER,
            error.retryAfterMs,
            reports,
            assetJobs.slice(i).map((j) => j.id),
            error,
          );
        }
        throw error;
      }
    }
    return reports;
  }

  private async pollWorkspaceJobs(wanted: Map<string, JobRecord>): Promise<PollReport[]> {
    if (wanted.size === 0) return [];

    const listed = new Map<string, ArmJob>();
    const query = new URLSearchParams({
      'api-version': this.settings.apiVersion,
      tag: this.settings.tagKey,
      listViewType: 'ActiveOnly',
    });
    let next: string | undefined = `${this.ws}/jobs?${query.toString()}`;
    while (next !== undefined) {
      const res = await this.client.send('GET', next);
      if (res.status !== 200) throw this.rejectionAsUnavailable(res, 'list jobs');
      const page = (res.body ?? {}) as ArmPage;
      for (const doc of page.value ?? []) {
        if (doc.name !== undefined && wanted.has(doc.name)) listed.set(doc.name, doc);
      }
      // Stop paging once every job we watch is seen: the rest are other (older) jobs.
      next = listed.size < wanted.size && page.nextLink ? page.nextLink : undefined;
    }

    const reports: PollReport[] = [];
    const order = [...wanted];
    for (const [i, [name, job]] of order.entries()) {
      try {
        const report = await this.readOne(job, name, listed.get(name));
        if (report) reports.push(report);
      } catch (error) {
        // Keep what this cycle learned; the jobs from here on are read first next cycle.
        if (error instanceof ProviderThrottledError) {
          throw new PollThrottledError(
            PROVIDER,
            error.retryAfterMs,
            reports,
            order.slice(i).map(([, j]) => j.id),
            error,
          );
        }
        throw error;
      }
    }
    return reports;
  }

  /** One watched job's report: from the listing, with a GET when it finished or was not listed. */
  private async readOne(job: JobRecord, name: string, listedDoc: ArmJob | undefined): Promise<PollReport | undefined> {
    if (listedDoc !== undefined) return this.reportFor(job, name, listedDoc, false);
    // Not in the active listing: archived in Studio, deleted, or created after the list was read.
    const res = await this.client.send('GET', this.jobPath(name));
    if (res.status === 404) return { jobId: job.id, status: 'missing', notes: [`Azure ML has no job named '${name}'`] };
    if (res.status !== 200) throw this.rejectionAsUnavailable(res, 'get job');
    return this.reportFor(job, name, res.body as ArmJob, true);
  }

  private rejectionAsUnavailable(res: ArmResponse, what: string): Error {
    const e = armError(res);
    // A 4xx on a read is a configuration problem (workspace, permissions), never the job's fault.
    return new ProviderUnavailableError(
      PROVIDER,
      `${what} answered ${res.status} ${e.code}: ${e.message}`,
      undefined,
      parseRetryAfter(res.header('retry-after')),
    );
  }

  /** One job's report, or undefined when nothing changed since the last poll. */
  private async reportFor(
    job: JobRecord,
    name: string,
    listedDoc: ArmJob,
    fresh: boolean,
  ): Promise<PollReport | undefined> {
    const native = listedDoc.properties?.status ?? 'Unknown';
    const previousNative = job.providerRef?.nativeStatus;
    const mapped = mapAzureMlStatus(native);
    // Pollers only hand us active jobs; anything else is treated as merely dispatched.
    const current: ObservedStatus = job.status === 'running' || job.status === 'cancelling' ? job.status : 'dispatched';
    const ref: ProviderRef = { ...job.providerRef, jobName: name, nativeStatus: native };

    if (mapped.kind === 'hold') {
      if (native === previousNative) return undefined;
      return { jobId: job.id, status: current, nativeStatus: native, notes: [mapped.note], ref };
    }
    let status = mapped.status;
    // A cancel we asked for is not undone by a poll that still sees the job running.
    if (job.status === 'cancelling' && (status === 'dispatched' || status === 'running')) status = 'cancelling';
    if (status === current && native === previousNative) return undefined;

    if (!TERMINAL_NATIVE.has(native)) return { jobId: job.id, status, nativeStatus: native, ref };

    // Finished: read the job itself once for its final outputs and services. A cancel's end needs
    // neither (nothing of a cancelled job's result is kept), so the listing confirms it without a
    // read per job: a mass cancel costs the list pages alone.
    let doc = listedDoc;
    if (!fresh && native !== 'Canceled') {
      const res = await this.client.send('GET', this.jobPath(name));
      if (res.status === 200) doc = res.body as ArmJob;
    }
    const summary = summarise(name, doc);
    const result: Record<string, unknown> =
      native === 'Completed' && EXPORT_KINDS.has(job.spec.kind ?? '')
        ? { ...summary, asset: exportedAsset(job, this.ws) }
        : summary;
    const error = native === 'Failed' ? failureOf(doc, summary.studioUrl) : undefined;
    // Not the job's fault: it fails over to its next target instead of failing.
    const capacity = native === 'Failed' ? capacityFailureOf(serviceErrors(doc)) : undefined;
    if (capacity && error) {
      return {
        jobId: job.id,
        status: 'no-capacity',
        nativeStatus: native,
        result,
        error: { ...error, code: capacity.code, category: 'capacity' },
        capacity,
        ref,
      };
    }
    return { jobId: job.id, status, nativeStatus: native, result, ...(error && { error }), ref };
  }

  /**
   * Asset operations other than exports cannot be stopped: Resource Manager has no cancel for an
   * endpoint or deployment operation, and data/model writes are immediate. Cancel does nothing for
   * them; the job stays `cancelling` until the poll sees the operation end, then records its outcome.
   */
  async cancel(job: JobRecord): Promise<void> {
    if (!isWorkspaceJob(job)) return;
    await this.cancelByName(this.nameOf(job));
  }

  private async cancelByName(name: string): Promise<void> {
    const res = await this.client.send('POST', `${this.jobPath(name)}/cancel`);
    if (res.status === 200 || res.status === 204) return;
    if (res.status === 202) return this.followOperation(res, name);
    // Nothing to stop: the job never reached Azure ML. The next poll reports it missing.
    if (res.status === 404) return;
    if (res.status === 400 || res.status === 409) {
      // Cancelling a finished job is refused; that is not an error for us, the poll reports the end.
      const current = await this.client.send('GET', this.jobPath(name));
      const native = (current.body as ArmJob | undefined)?.properties?.status;
      if (current.status === 200 && native !== undefined && TERMINAL_NATIVE.has(native)) return;
    }
    throw this.rejection(res, 'cancel job');
  }

  /**
   * Follows the cancel operation (Azure-AsyncOperation, else Location) for at most
   * AZUREML_CANCEL_WAIT_MS of Retry-After waits. Still running after that is fine: the job is
   * `cancelling` and a later poll sees `Canceled`.
   */
  private async followOperation(accepted: ArmResponse, name: string): Promise<void> {
    const asyncOp = accepted.header('azure-asyncoperation');
    const target = asyncOp ?? accepted.header('location');
    if (target === undefined) return;
    let waited = 0;
    let retryAfter = parseRetryAfter(accepted.header('retry-after'));
    for (let i = 0; i < MAX_OPERATION_POLLS; i++) {
      const delay = retryAfter ?? 1000;
      if (waited + delay > this.settings.cancelWaitMs) return;
      if (delay > 0) await this.sleep(delay);
      waited += delay;
      const res = await this.client.send('GET', target);
      retryAfter = parseRetryAfter(res.header('retry-after'));
      const body = res.body as { status?: string; error?: { code?: string; message?: string } } | undefined;
      const pending = res.status === 202 || (asyncOp !== undefined && res.status === 200 && isInProgress(body?.status));
      if (pending) continue;
      if (res.status >= 400 || body?.status === 'Failed') {
        const e =
          res.status >= 400
            ? armError(res)
            : {
                code: body?.error?.code ?? 'CancelFailed',
                message: body?.error?.message ?? 'the cancel operation failed',
              };
        throw new ProviderUnavailableError(PROVIDER, `cancel of '${name}' failed: ${e.code}: ${e.message}`);
      }
      return;
    }
  }

  /**
   * One page of this deployment's jobs that have not finished: the poll's listing
   * (`tag=<AZUREML_TAG_KEY>&listViewType=ActiveOnly`, `nextLink` paging), final and cancel-requested
   * ones left out. The tag holds our job id, the name the run key.
   */
  async listOwnedJobs(cursor?: string): Promise<OwnedJobsPage> {
    const query = new URLSearchParams({
      'api-version': this.settings.apiVersion,
      tag: this.settings.tagKey,
      listViewType: 'ActiveOnly',
    });
    const res = await this.client.send('GET', cursor ?? `${this.ws}/jobs?${query.toString()}`);
    if (res.status !== 200) throw this.rejectionAsUnavailable(res, 'list jobs');
    const page = (res.body ?? {}) as ArmPage;
    const jobs: OwnedCloudJob[] = [];
    for (const doc of page.value ?? []) {
      const native = doc.properties?.status ?? 'Unknown';
      if (doc.name === undefined || TERMINAL_NATIVE.has(native) || native === 'CancelRequested') continue;
      const tagged = doc.properties?.tags?.[this.settings.tagKey] ?? undefined;
      const key = parseRunKey(doc.name);
      const jobId = tagged ?? key?.jobId;
      jobs.push({
        providerId: doc.name,
        nativeStatus: native,
        ...(jobId && { jobId }),
        ...(key && key.jobId === jobId && { attempt: key.attempt }),
        ...(doc.systemData?.createdAt && { createdAt: doc.systemData.createdAt }),
      });
    }
    return { jobs, ...(page.nextLink && { next: page.nextLink }) };
  }

  async stopOwnedJob(providerId: string): Promise<void> {
    await this.cancelByName(providerId);
  }

  /**
   * Archives finished jobs. Azure ML keeps every job forever and `listViewType=ActiveOnly` hides
   * archived ones, so archiving is what keeps the poll's list pages proportional to the jobs still
   * running rather than to the workspace's whole history. Archiving is the documented update case:
   * the job as read, with `isArchived: true`, PUT back (what the Python SDK's `jobs.archive` does).
   * Best effort per job: a job that cannot be archived only costs list pages later.
   */
  async cleanup(jobs: readonly JobRecord[]): Promise<string[]> {
    const done: string[] = [];
    for (const job of jobs) {
      if (job.status !== 'succeeded' && job.status !== 'failed' && job.status !== 'cancelled') continue;
      // Assets are what the user asked for, not leftovers: only their delete jobs remove them.
      if (!isWorkspaceJob(job)) {
        done.push(job.id);
        continue;
      }
      const name = this.nameOf(job);
      const res = await this.client.send('GET', this.jobPath(name));
      if (res.status === 404) {
        done.push(job.id);
        continue;
      }
      if (res.status !== 200) throw this.rejectionAsUnavailable(res, 'get job');
      const doc = res.body as ArmJob & { properties?: Record<string, unknown> };
      const props = doc.properties ?? {};
      const native = typeof props.status === 'string' ? props.status : undefined;
      // Never archive a job that is still running at Azure ML, nor one that is not ours.
      if (native === undefined || !TERMINAL_NATIVE.has(native)) continue;
      if (
        props.isArchived === true ||
        (props.tags as Record<string, unknown> | undefined)?.[this.settings.tagKey] !== job.id
      ) {
        done.push(job.id);
        continue;
      }
      const { status: _readOnly, ...writable } = props;
      await this.client.send('PUT', this.jobPath(name), { properties: { ...writable, isArchived: true } });
      done.push(job.id);
    }
    return done;
  }

  async result(job: JobRecord): Promise<Record<string, unknown> | undefined> {
    if (!isWorkspaceJob(job)) return job.result?.summary;
    const name = this.nameOf(job);
    const res = await this.client.send('GET', this.jobPath(name));
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.rejectionAsUnavailable(res, 'get job');
    const doc = res.body as ArmJob;
    return { ...summarise(name, doc), nativeStatus: doc.properties?.status };
  }

  invokeEndpoint(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    return this.assets.invoke(endpoint, operation, body);
  }
}

/** A spec that fails validation at dispatch is a job Azure ML will never run. */
function rejectInvalid<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ValidationError)
      throw new ProviderRejectedError(PROVIDER, 'InvalidJobSpec', error.message, error);
    throw error;
  }
}

/** `result.asset` of a finished export: the source asset, and where its copy now lives. */
function exportedAsset(job: JobRecord, ws: string): AssetSummary {
  const s = (job.spec.spec ?? {}) as { name?: string; version?: string };
  const isData = job.spec.kind === 'dataset-export';
  const copy = String(job.providerRef?.exportUri ?? '');
  const path = `${encodeURIComponent(String(s.name))}/versions/${encodeURIComponent(String(s.version))}`;
  return {
    kind: isData ? 'dataset' : 'model',
    id: `${ws}/${isData ? 'data' : 'models'}/${path}`,
    name: String(s.name),
    ...(copy && { uri: copy }),
  };
}

function isInProgress(status: string | undefined): boolean {
  return status === undefined || !['Succeeded', 'Failed', 'Canceled'].includes(status);
}

function isAlreadyExists(e: { code: string; message: string; innerCode?: string }): boolean {
  return /Immutable/i.test(e.innerCode ?? '') || /already exists/i.test(e.message) || e.code === 'Conflict';
}

interface Summary {
  azureMlJobName: string;
  studioUrl?: string;
  outputs?: Record<string, string>;
  bestModelUri?: string;
  [key: string]: unknown;
}

/** Result summary: output URIs, the best model of an AutoML job, and the Studio link. */
function summarise(name: string, doc: ArmJob): Summary {
  const studio = doc.properties?.services?.Studio?.endpoint;
  const outputs: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.properties?.outputs ?? {})) if (v?.uri) outputs[k] = v.uri;
  const best = doc.properties?.outputs?.best_model?.uri;
  return {
    azureMlJobName: name,
    ...(studio !== undefined && { studioUrl: studio }),
    ...(Object.keys(outputs).length > 0 && { outputs }),
    ...(best && { bestModelUri: best }),
  };
}

/** The per-service error messages of a job resource, each prefixed with its service. */
function serviceErrors(doc: ArmJob): string[] {
  return Object.entries(doc.properties?.services ?? {})
    .filter(([, s]) => s?.errorMessage)
    .map(([k, s]) => `${k}: ${s?.errorMessage}`);
}

/**
 * The ARM job resource has no error field; what it does carry are per-service error messages.
 * The full error lives in Run History, reachable through the Studio link we include.
 */
function failureOf(doc: ArmJob, studioUrl: string | undefined): JobError {
  const messages = serviceErrors(doc);
  const detail = messages.length > 0 ? messages.join('; ') : 'Azure ML reports the job Failed';
  return {
    code: 'AzureMLJobFailed',
    message: studioUrl ? `${detail} (details: ${studioUrl})` : detail,
    category: 'provider',
  };
}

/**
 * The provider module entry (see the descriptor in index.ts): parses AZUREML_* settings and builds
 * the provider with the shared `DefaultAzureCredential`.
 */
export async function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  const settings = parseAzureMlSettings(ctx.config.env);
  return createAzureMlProvider(settings, { credential: await azureCredential(ctx.config) });
}
