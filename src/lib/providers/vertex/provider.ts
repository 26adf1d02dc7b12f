import { parseRunKey, runKey, type JobError, type JobRecord, type ProviderRef } from '../../core/job.js';
import {
  type OrchestratorError,
  PollThrottledError,
  ProviderRejectedError,
  ProviderThrottledError,
} from '../../errors.js';
import { backoffDelay, sleep as sleepMs, TokenBucket, withRetries } from '../../retry.js';
import type {
  CapacityFailure,
  JobProvider,
  ObservedStatus,
  OwnedCloudJob,
  OwnedJobsPage,
  PollReport,
  SubmitOutcome,
} from '../../ports/provider.js';
import {
  buildBatchPredictionJob,
  buildCustomJob,
  buildTrainingPipeline,
  parseVertexJobSpec,
  VERTEX_JOB_KINDS,
  type ResourceIdentity,
  type VertexJobSpec,
  type VertexKind,
} from './spec.js';
import { activeResourcesFilter, jobLabelValue, labelAnyOfFilter, labelEqualsFilter } from './names.js';
import { createErrorOf, inspectVertexError, isTransient, PROVIDER, toOrchestratorError } from './errors.js';
import type { VertexSettings } from './settings.js';
import {
  capacityFailureOf,
  mapNativeState,
  resourceError,
  resultSummary,
  terminalStates,
  type MappedState,
  type VertexResourceView,
} from './status.js';
import type { VertexApi, VertexCreateBody } from './client.js';
import type { ProviderContext } from '../provider-context.js';
import { isVertexAssetKind } from './catalog.js';
import { VertexAssets } from './assets.js';
import { createSdkVertexApi, type VertexClientDeps } from './client.js';
import { parseVertexSettings } from './settings.js';

/**
 * Finished jobs read back per list call (`labels.<key>="a" OR labels.<key>="b" …`). Twenty terms keep
 * the filter near 1 KB (over REST it travels in the URL) and a mass finish or mass cancel costs one
 * read per twenty jobs instead of one get each, which the 600-a-minute CRUD quota would pace.
 */
const FINISHED_LOOKUP_BATCH = 20;
/** A server retry hint longer than this ends the poll instead of being slept through. */
const MAX_INLINE_WAIT_MS = 10_000;
/** Page size of the single-job label look-up (more than one hit means an earlier race). */
const LOOKUP_PAGE_SIZE = 10;

/** The handle stored on the job: which kind, the Vertex resource name, our label value, last native state. */
export interface VertexRef {
  readonly kind: VertexKind;
  readonly name?: string;
  readonly labelValue: string;
  readonly state?: string;
}

function isKind(v: unknown): v is VertexKind {
  return typeof v === 'string' && (VERTEX_JOB_KINDS as readonly string[]).includes(v);
}

/** True for a job of an asset kind (dataset, model, endpoint operation), by its handle or its spec. */
function isAssetJob(job: JobRecord): boolean {
  return isVertexAssetKind(job.providerRef?.kind ?? job.spec.kind);
}

/** Reads our handle back from a job; falls back to the job's kind when no handle was stored yet. */
export function readRef(job: JobRecord): VertexRef | undefined {
  const r = job.providerRef ?? {};
  const kind = isKind(r.kind) ? r.kind : isKind(job.spec.kind) ? job.spec.kind : undefined;
  if (!kind) return undefined;
  return {
    kind,
    labelValue: typeof r.labelValue === 'string' ? r.labelValue : jobLabelValue(runKey(job)),
    ...(typeof r.name === 'string' && r.name && { name: r.name }),
    ...(typeof r.state === 'string' && { state: r.state }),
  };
}

function toRef(kind: VertexKind, resource: VertexResourceView, labelValue: string): ProviderRef {
  return {
    kind,
    labelValue,
    ...(typeof resource.name === 'string' && resource.name && { name: resource.name }),
    ...(resource.state !== undefined && resource.state !== null && { state: String(resource.state) }),
  };
}

function createdAt(r: VertexResourceView): number {
  const t = r.createTime as { seconds?: unknown; nanos?: unknown } | null | undefined;
  return t ? Number(t.seconds ?? 0) * 1000 + Number(t.nanos ?? 0) / 1e6 : Number.MAX_SAFE_INTEGER;
}

/**
 * Vertex AI behind the provider port: CustomJobs, TrainingPipelines and BatchPredictionJobs.
 *
 * - Idempotent submit: every resource carries `labels.<VERTEX_LABEL_KEY> = <job id>` (plus `-a<N>`
 *   from attempt 2, see `runKey`); a redelivered dispatch lists by that label first and re-attaches.
 * - Batched poll: one paged list per resource kind of our not-yet-finished resources; a job missing
 *   from it has finished, and only then is it read back, by label, twenty jobs to a list call (a get
 *   each only if Vertex refuses that filter).
 * - Cancel asks Vertex; the job stays `cancelling` while Vertex says CANCELLING, and the look-up of
 *   finished jobs confirms CANCELLED (or another end) in the same batched reads.
 */
export class VertexProvider implements JobProvider {
  readonly name = PROVIDER;
  private readonly parent: string;
  private assetOps: VertexAssets | undefined;

  constructor(
    private readonly settings: VertexSettings,
    private readonly api: VertexApi,
    private readonly sleep: (ms: number) => Promise<void> = sleepMs,
    private readonly limiter = new TokenBucket({ ratePerSec: settings.readRatePerSec, burst: settings.readBurst }),
  ) {
    this.parent = `projects/${settings.project}/locations/${settings.location}`;
  }

  async submit(job: JobRecord): Promise<SubmitOutcome> {
    if (isVertexAssetKind(job.spec.kind)) return this.assets().submit(job);
    const parsed = parseVertexJobSpec(job.spec);
    const labelValue = jobLabelValue(runKey(job));
    const existing = await this.findByLabel(parsed.kind, labelValue);
    if (existing) {
      return {
        ref: toRef(parsed.kind, existing, labelValue),
        attached: true,
        status: submitStatus(mapNativeState(parsed.kind, existing.state)),
      };
    }
    const body = this.build(parsed, {
      jobId: job.id,
      labelKey: this.settings.labelKey,
      labelValue,
      ...(job.spec.max_runtime_sec !== undefined && { maxRuntimeSec: job.spec.max_runtime_sec }),
    });
    let created: VertexResourceView;
    try {
      // Never retried here: a create that failed in transit may have succeeded, and the next
      // delivery's label look-up is the only safe way to find out.
      created = await this.api.create(parsed.kind, this.parent, body);
    } catch (error) {
      throw createErrorOf(error, this.settings.throttleBackoffMs);
    }
    return {
      ref: toRef(parsed.kind, created, labelValue),
      attached: false,
      status: submitStatus(mapNativeState(parsed.kind, created.state)),
    };
  }

  async poll(jobs: readonly JobRecord[]): Promise<PollReport[]> {
    const assetJobs = jobs.filter(isAssetJob);
    const reports: PollReport[] = [];
    let firstError: OrchestratorError | undefined;
    if (assetJobs.length > 0) {
      try {
        const polled = await this.assets().poll(assetJobs);
        reports.push(...polled.reports);
        if (polled.throttled) {
          const others = jobs.filter((j) => !isAssetJob(j)).map((j) => j.id);
          throw new PollThrottledError(
            PROVIDER,
            polled.throttled.retryAfterMs,
            reports,
            [...polled.unread, ...others],
            polled.throttled,
          );
        }
      } catch (error) {
        if (error instanceof PollThrottledError) throw error;
        firstError = toOrchestratorError(error, this.settings.throttleBackoffMs);
      }
    }
    const byKind = new Map<VertexKind, { job: JobRecord; ref: VertexRef }[]>();
    for (const job of jobs) {
      if (isAssetJob(job)) continue;
      const ref = readRef(job);
      if (!ref) continue; // Not a Vertex job we can read; nothing to say about it.
      const group = byKind.get(ref.kind) ?? [];
      group.push({ job, ref });
      byKind.set(ref.kind, group);
    }
    const kinds = [...byKind];
    for (const [i, [kind, group]] of kinds.entries()) {
      try {
        reports.push(...(await this.pollKind(kind, group)));
      } catch (error) {
        const converted =
          error instanceof PollThrottledError ? error : toOrchestratorError(error, this.settings.throttleBackoffMs);
        if (converted instanceof ProviderThrottledError) {
          // Throttled: stop spending quota on the other kinds this cycle, and hand back what was learned.
          const partial = converted instanceof PollThrottledError ? converted : undefined;
          const learned = [...reports, ...(partial?.reports ?? [])];
          const unread = [
            ...(partial?.unread ?? group.map((g) => g.job.id)),
            ...kinds.slice(i + 1).flatMap(([, g]) => g.map((x) => x.job.id)),
          ];
          throw new PollThrottledError(PROVIDER, converted.retryAfterMs, learned, unread, converted);
        }
        firstError ??= converted;
      }
    }
    // What was learned is worth more than the error, unless nothing was learned at all.
    if (firstError && reports.length === 0) throw firstError;
    return reports;
  }

  async cancel(job: JobRecord): Promise<void> {
    // Asset operations are not stopped: Vertex's operations on datasets, models and endpoints
    // either finish or fail on their own within minutes, and cancelling one half-way leaves a
    // resource in an unknown state. The poll reports how the operation ended (undo with a delete).
    if (isAssetJob(job)) return;
    const ref = readRef(job);
    if (!ref) return;
    const name = ref.name ?? (await this.findByLabel(ref.kind, ref.labelValue))?.name;
    if (!name) return; // Never created: nothing runs, nothing bills.
    try {
      await this.withReadRetries(() => this.api.cancel(ref.kind, name));
    } catch (error) {
      const info = inspectVertexError((error as { cause?: unknown }).cause ?? error);
      // Already finished (FAILED_PRECONDITION) or gone: the next poll reports how it ended.
      if (info.status === 'FAILED_PRECONDITION' || info.status === 'NOT_FOUND') return;
      throw toOrchestratorError(error, this.settings.throttleBackoffMs);
    }
  }

  /**
   * One page of this deployment's unfinished resources: the poll's list (`labels.<key>:*` and
   * `state!=` each terminal state, `pageToken` paging), kind after kind. The label value is the
   * run key, so it says whose run each one is.
   */
  async listOwnedJobs(cursor?: string): Promise<OwnedJobsPage> {
    const [kindText, token] = splitCursor(cursor);
    const index = Math.max(0, VERTEX_JOB_KINDS.indexOf(kindText as VertexKind));
    const kind = VERTEX_JOB_KINDS[index]!;
    const filter = activeResourcesFilter(this.settings.labelKey, terminalStates(kind));
    const page = await this.withReadRetries(() =>
      this.api.list(kind, this.parent, filter, this.settings.pageSize, token),
    );
    const jobs: OwnedCloudJob[] = [];
    for (const r of page.resources) {
      const label = r.labels?.[this.settings.labelKey];
      if (typeof r.name !== 'string' || !r.name || label === undefined) continue;
      // Already being stopped: asking again changes nothing.
      if (mapNativeState(kind, r.state).status === 'cancelling') continue;
      const owner = parseRunKey(label);
      const created = createdAt(r);
      jobs.push({
        providerId: r.name,
        nativeStatus: r.state === undefined || r.state === null ? 'unknown' : String(r.state),
        ...(owner && { jobId: owner.jobId, attempt: owner.attempt }),
        ...(created !== Number.MAX_SAFE_INTEGER && { createdAt: new Date(created).toISOString() }),
      });
    }
    const nextKind = VERTEX_JOB_KINDS[index + 1];
    const next = page.nextPageToken ? `${kind} ${page.nextPageToken}` : nextKind;
    return { jobs, ...(next && { next }) };
  }

  /** Cancels one resource by its name (the kind is in the name's collection segment). */
  async stopOwnedJob(providerId: string): Promise<void> {
    const kind = kindOfResourceName(providerId);
    if (!kind) throw new Error(`not a Vertex AI job resource name: ${providerId}`);
    try {
      await this.withReadRetries(() => this.api.cancel(kind, providerId));
    } catch (error) {
      const info = inspectVertexError((error as { cause?: unknown }).cause ?? error);
      if (info.status === 'FAILED_PRECONDITION' || info.status === 'NOT_FOUND') return;
      throw toOrchestratorError(error, this.settings.throttleBackoffMs);
    }
  }

  /** The result summary of a job, read fresh from Vertex. */
  async result(job: JobRecord): Promise<Record<string, unknown> | undefined> {
    if (isAssetJob(job)) return undefined;
    const ref = readRef(job);
    if (!ref) return undefined;
    const resource = ref.name
      ? await this.withReadRetries(() => this.api.get(ref.kind, ref.name!))
      : await this.findByLabel(ref.kind, ref.labelValue);
    return resource ? resultSummary(ref.kind, resource) : undefined;
  }

  /**
   * Predict (`infer`) or Explain on a live endpoint the job `endpoint` (a succeeded endpoint-create)
   * made, through the PredictionService client (VERTEX_PREDICTION_API_ENDPOINT).
   */
  async invokeEndpoint(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    return this.assets().invoke(endpoint, operation, body);
  }

  private assets(): VertexAssets {
    if (!this.assetOps) {
      const api = this.api.assets;
      if (!api) throw new ProviderRejectedError(PROVIDER, 'UNIMPLEMENTED', 'this Vertex client has no asset API');
      this.assetOps = new VertexAssets({
        settings: this.settings,
        api,
        parent: this.parent,
        reads: (fn) => this.withReadRetries(fn),
      });
    }
    return this.assetOps;
  }

  /** Closes the SDK clients (channels / keep-alive sockets). Not part of the port; hosts may call it on shutdown. */
  async close(): Promise<void> {
    await this.api.close();
  }

  private build(parsed: VertexJobSpec, id: ResourceIdentity): VertexCreateBody {
    switch (parsed.kind) {
      case 'custom':
        return buildCustomJob(parsed.spec, id);
      case 'training_pipeline':
        return buildTrainingPipeline(parsed.spec, id);
      case 'batch_prediction':
        return buildBatchPredictionJob(parsed.spec, id);
      default: {
        const unreachable: never = parsed;
        throw new Error(`unhandled kind ${String(unreachable)}`);
      }
    }
  }

  /** The resource carrying our label for this job, oldest first if an earlier race made two. */
  private async findByLabel(kind: VertexKind, labelValue: string): Promise<VertexResourceView | undefined> {
    const page = await this.withReadRetries(() =>
      this.api.list(kind, this.parent, labelEqualsFilter(this.settings.labelKey, labelValue), LOOKUP_PAGE_SIZE),
    );
    const mine = page.resources.filter((r) => r.labels?.[this.settings.labelKey] === labelValue);
    return mine.sort((a, b) => createdAt(a) - createdAt(b))[0];
  }

  /** The resources matching `filter`, page by page (`pageToken`), each read with the read retries. */
  private async *listPages(kind: VertexKind, filter: string): AsyncGenerator<readonly VertexResourceView[]> {
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const page = await this.withReadRetries(() =>
        this.api.list(kind, this.parent, filter, this.settings.pageSize, token),
      );
      yield page.resources;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  private async pollKind(
    kind: VertexKind,
    group: readonly { job: JobRecord; ref: VertexRef }[],
  ): Promise<PollReport[]> {
    const wanted = new Set(group.map((g) => g.ref.labelValue));
    const found = new Map<string, VertexResourceView>();
    const filter = activeResourcesFilter(this.settings.labelKey, terminalStates(kind));
    for await (const resources of this.listPages(kind, filter)) {
      for (const r of resources) {
        const lv = r.labels?.[this.settings.labelKey];
        if (lv && wanted.has(lv)) {
          const seen = found.get(lv);
          if (!seen || createdAt(r) < createdAt(seen)) found.set(lv, r);
        }
      }
      // Other deployments' or stale resources may follow; stop once every job is accounted for.
      if (found.size >= wanted.size) break;
    }

    const reports: PollReport[] = [];
    const finished: { job: JobRecord; ref: VertexRef }[] = [];
    for (const g of group) {
      const r = found.get(g.ref.labelValue);
      if (r) {
        const report = this.report(kind, g.job, g.ref, r);
        if (report) reports.push(report);
      } else {
        finished.push(g);
      }
    }

    // Jobs that left the not-finished list are read back by label in batches: confirming a mass
    // cancel (or finish) costs one list call per FINISHED_LOOKUP_BATCH jobs, never a get each.
    const batches: (typeof finished)[] = [];
    for (let i = 0; i < finished.length; i += FINISHED_LOOKUP_BATCH)
      batches.push(finished.slice(i, i + FINISHED_LOOKUP_BATCH));
    for (const [i, batch] of batches.entries()) {
      try {
        reports.push(...(await this.readFinished(kind, batch)));
      } catch (error) {
        const converted = toOrchestratorError(error, this.settings.throttleBackoffMs);
        if (converted instanceof ProviderThrottledError) {
          const unread = batches.slice(i).flatMap((b) => b.map((g) => g.job.id));
          throw new PollThrottledError(PROVIDER, converted.retryAfterMs, reports, unread, converted);
        }
        if (!converted.retriable) throw converted;
        // Unavailable for these jobs: they stay as they are until the next cycle.
      }
    }
    return reports;
  }

  /**
   * Reports for jobs whose resources left the not-finished list, from one label look-up (paged).
   * The resource the job's handle names is the one reported; without a name (the create's answer
   * was lost), the oldest carrying the label. A job whose resource is gone is `missing`.
   */
  private async readFinished(
    kind: VertexKind,
    batch: readonly { job: JobRecord; ref: VertexRef }[],
  ): Promise<PollReport[]> {
    const filter = labelAnyOfFilter(
      this.settings.labelKey,
      batch.map((g) => g.ref.labelValue),
    );
    const byLabel = new Map<string, VertexResourceView[]>();
    try {
      for await (const resources of this.listPages(kind, filter))
        for (const r of resources) {
          const lv = r.labels?.[this.settings.labelKey];
          if (lv === undefined) continue;
          const same = byLabel.get(lv);
          if (same) same.push(r);
          else byLabel.set(lv, [r]);
        }
    } catch (error) {
      // The OR filter is documented, but a limit on its length is not: should Vertex refuse it,
      // read these jobs one by one rather than never seeing them end.
      if (inspectVertexError((error as { cause?: unknown }).cause ?? error).status !== 'INVALID_ARGUMENT') throw error;
      const reports: PollReport[] = [];
      for (const g of batch) {
        const report = await this.pollOne(kind, g.job, g.ref);
        if (report) reports.push(report);
      }
      return reports;
    }
    const reports: PollReport[] = [];
    for (const g of batch) {
      const carrying = byLabel.get(g.ref.labelValue) ?? [];
      const resource = g.ref.name
        ? carrying.find((r) => r.name === g.ref.name)
        : carrying.sort((a, b) => createdAt(a) - createdAt(b))[0];
      if (!resource) {
        reports.push({
          jobId: g.job.id,
          status: 'missing',
          notes: [`Vertex AI has no ${kind} resource for this job (deleted outside the orchestrator?)`],
        });
        continue;
      }
      const report = this.report(kind, g.job, g.ref, resource);
      if (report) reports.push(report);
    }
    return reports;
  }

  private async pollOne(kind: VertexKind, job: JobRecord, ref: VertexRef): Promise<PollReport | undefined> {
    let resource: VertexResourceView | undefined;
    if (ref.name) {
      try {
        resource = await this.withReadRetries(() => this.api.get(kind, ref.name!));
      } catch (error) {
        const info = inspectVertexError((error as { cause?: unknown }).cause ?? error);
        if (info.status !== 'NOT_FOUND') throw error;
      }
    } else {
      resource = await this.findByLabel(kind, ref.labelValue);
    }
    if (!resource) {
      return {
        jobId: job.id,
        status: 'missing',
        notes: [`Vertex AI has no ${kind} resource for this job (deleted outside the orchestrator?)`],
      };
    }
    return this.report(kind, job, ref, resource) ?? undefined;
  }

  /**
   * A report when our status changed, or when a noteworthy native state (paused, updating) is new.
   * Same-status reports without a note are not sent: the poll use case stores nothing for them.
   */
  private report(
    kind: VertexKind,
    job: JobRecord,
    ref: VertexRef,
    resource: VertexResourceView,
  ): PollReport | undefined {
    const mapped = mapNativeState(kind, resource.state);
    const native = resource.state === undefined || resource.state === null ? undefined : String(resource.state);
    if (job.status === 'cancelling' && !mapped.terminal) {
      // Vertex confirms the stop is under way: stay `cancelling` until it ends.
      if (mapped.status === 'cancelling') return undefined;
      // Still running although a stop was asked for (the cancel call may have been lost): saying
      // so lets the poll use case ask again; the job itself stays `cancelling`.
      return { jobId: job.id, status: mapped.status, ...(native !== undefined && { nativeStatus: native }) };
    }
    // Never move a running job back to dispatched (a restart may pass through PENDING again).
    if (job.status === 'running' && mapped.status === 'dispatched') return undefined;
    const noteworthy = mapped.note !== undefined && native !== ref.state;
    if (mapped.status === job.status && !noteworthy) return undefined;
    return buildReport(kind, job, ref.labelValue, resource, mapped, native);
  }

  /**
   * Get/list/cancel are safe to repeat, so transient errors are retried a few times with backoff
   * (a server hint wins). Throws the orchestrator error of the last attempt, with its code intact.
   */
  private async withReadRetries<T>(fn: () => Promise<T>): Promise<T> {
    return withRetries(fn, {
      attempts: this.settings.readRetries + 1,
      maxWaitMs: MAX_INLINE_WAIT_MS,
      beforeAttempt: () => this.limiter.take(),
      sleep: (ms) => this.sleep(ms),
      delayMs: (error, attempt) => {
        const info = inspectVertexError(error);
        return isTransient(info) ? (info.retryAfterMs ?? backoffDelay(attempt, this.settings.retryBaseMs)) : undefined;
      },
      giveUp: (error) => toOrchestratorError(error, this.settings.throttleBackoffMs),
    });
  }
}

const COLLECTION_KIND: Readonly<Record<string, VertexKind>> = {
  customJobs: 'custom',
  trainingPipelines: 'training_pipeline',
  batchPredictionJobs: 'batch_prediction',
};

/** `projects/p/locations/l/customJobs/123` → `custom`. */
function kindOfResourceName(name: string): VertexKind | undefined {
  const parts = name.split('/');
  return parts.length === 6 && parts[0] === 'projects' && parts[2] === 'locations'
    ? COLLECTION_KIND[parts[4]!]
    : undefined;
}

/** A list cursor is `<kind>` or `<kind> <pageToken>`. */
function splitCursor(cursor: string | undefined): [string, string | undefined] {
  if (!cursor) return [VERTEX_JOB_KINDS[0], undefined];
  const space = cursor.indexOf(' ');
  return space < 0 ? [cursor, undefined] : [cursor.slice(0, space), cursor.slice(space + 1)];
}

function submitStatus(mapped: MappedState): SubmitOutcome['status'] {
  return mapped.status === 'dispatched' ? 'dispatched' : 'running';
}

function buildReport(
  kind: VertexKind,
  job: JobRecord,
  labelValue: string,
  resource: VertexResourceView,
  mapped: MappedState,
  native: string | undefined,
): PollReport {
  let status: ObservedStatus = mapped.status;
  let error: JobError | undefined;
  let capacity: CapacityFailure | undefined;
  if (status === 'failed') {
    error = resourceError(resource) ?? {
      code: native === 'JOB_STATE_EXPIRED' ? 'EXPIRED' : 'FAILED',
      message: `Vertex AI ${kind} ended in ${native ?? 'an unknown state'} without an error message`,
      category: 'provider',
    };
    // Not the job's fault: it fails over to its next target instead of failing.
    capacity = native === 'JOB_STATE_EXPIRED' ? undefined : capacityFailureOf(resource);
    if (capacity) {
      status = 'no-capacity';
      error = { ...error, category: 'capacity' };
    }
  }
  return {
    jobId: job.id,
    status,
    ...(native !== undefined && { nativeStatus: native }),
    ...(error && { error }),
    ...(capacity && { capacity }),
    ...(mapped.terminal && { result: resultSummary(kind, resource) }),
    ...(mapped.note && { notes: [mapped.note] }),
    ref: toRef(kind, resource, labelValue),
  };
}

/**
 * Builds the provider from already-parsed settings; tests pass an auth client (and, for gRPC,
 * insecure channel credentials). The SDK is loaded here, on first use.
 */
export async function createVertexProvider(
  settings: VertexSettings,
  deps: VertexClientDeps = {},
): Promise<VertexProvider> {
  return new VertexProvider(settings, await createSdkVertexApi(settings, deps));
}

/** The provider module entry (see the descriptor in index.ts). */
export async function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  return createVertexProvider(parseVertexSettings(ctx.config.env));
}
