import type { JobError } from '../../core/job.js';
import type { CapacityFailure, ObservedStatus } from '../../ports/provider.js';
import type { VertexKind } from './spec.js';

/** Every `JobState` of Vertex AI v1 (job_state.proto): CustomJob and BatchPredictionJob. */
export const JOB_STATES = [
  'JOB_STATE_UNSPECIFIED',
  'JOB_STATE_QUEUED',
  'JOB_STATE_PENDING',
  'JOB_STATE_RUNNING',
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLING',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_PAUSED',
  'JOB_STATE_EXPIRED',
  'JOB_STATE_UPDATING',
  'JOB_STATE_PARTIALLY_SUCCEEDED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Every `PipelineState` of Vertex AI v1 (pipeline_state.proto): TrainingPipeline. */
export const PIPELINE_STATES = [
  'PIPELINE_STATE_UNSPECIFIED',
  'PIPELINE_STATE_QUEUED',
  'PIPELINE_STATE_PENDING',
  'PIPELINE_STATE_RUNNING',
  'PIPELINE_STATE_SUCCEEDED',
  'PIPELINE_STATE_FAILED',
  'PIPELINE_STATE_CANCELLING',
  'PIPELINE_STATE_CANCELLED',
  'PIPELINE_STATE_PAUSED',
] as const;
export type PipelineState = (typeof PIPELINE_STATES)[number];

/** What one native state means for us. `notes` go to the job history. */
export interface MappedState {
  readonly status: Exclude<ObservedStatus, 'missing'>;
  readonly terminal: boolean;
  readonly note?: string;
}

/** Maps a CustomJob / BatchPredictionJob state. Cancelled and expired never count as success. */
export function mapJobState(state: JobState): MappedState {
  switch (state) {
    // UNSPECIFIED shows up only in the instant after create; treat as not started yet.
    case 'JOB_STATE_UNSPECIFIED':
    case 'JOB_STATE_QUEUED':
    case 'JOB_STATE_PENDING':
      return { status: 'dispatched', terminal: false };
    case 'JOB_STATE_RUNNING':
      return { status: 'running', terminal: false };
    // Paused and updating jobs keep their resources and resume by themselves.
    case 'JOB_STATE_PAUSED':
      return { status: 'running', terminal: false, note: 'paused at Vertex AI' };
    case 'JOB_STATE_UPDATING':
      return { status: 'running', terminal: false, note: 'being updated at Vertex AI' };
    case 'JOB_STATE_SUCCEEDED':
      return { status: 'succeeded', terminal: true };
    // Batch prediction finished with some instances failed: outputs exist, failures are listed.
    case 'JOB_STATE_PARTIALLY_SUCCEEDED':
      return {
        status: 'succeeded',
        terminal: true,
        note: 'partially succeeded: some instances failed (see result.partialFailures)',
      };
    case 'JOB_STATE_FAILED':
      return { status: 'failed', terminal: true };
    // Expired: Vertex gave up scheduling or running it within its time limit.
    case 'JOB_STATE_EXPIRED':
      return { status: 'failed', terminal: true, note: 'expired at Vertex AI' };
    case 'JOB_STATE_CANCELLING':
      return { status: 'cancelling', terminal: false };
    case 'JOB_STATE_CANCELLED':
      return { status: 'cancelled', terminal: true };
    default: {
      const unreachable: never = state;
      throw new Error(`unmapped JobState ${String(unreachable)}`);
    }
  }
}

/** Maps a TrainingPipeline state. */
export function mapPipelineState(state: PipelineState): MappedState {
  switch (state) {
    case 'PIPELINE_STATE_UNSPECIFIED':
    case 'PIPELINE_STATE_QUEUED':
    case 'PIPELINE_STATE_PENDING':
      return { status: 'dispatched', terminal: false };
    case 'PIPELINE_STATE_RUNNING':
      return { status: 'running', terminal: false };
    case 'PIPELINE_STATE_PAUSED':
      return { status: 'running', terminal: false, note: 'paused at Vertex AI' };
    case 'PIPELINE_STATE_SUCCEEDED':
      return { status: 'succeeded', terminal: true };
    case 'PIPELINE_STATE_FAILED':
      return { status: 'failed', terminal: true };
    case 'PIPELINE_STATE_CANCELLING':
      return { status: 'cancelling', terminal: false };
    case 'PIPELINE_STATE_CANCELLED':
      return { status: 'cancelled', terminal: true };
    default: {
      const unreachable: never = state;
      throw new Error(`unmapped PipelineState ${String(unreachable)}`);
    }
  }
}

/** Native states after which a resource never changes again, per kind (for list filters). */
export function terminalStates(kind: VertexKind): readonly string[] {
  return kind === 'training_pipeline'
    ? PIPELINE_STATES.filter((s) => mapPipelineState(s).terminal)
    : JOB_STATES.filter((s) => mapJobState(s).terminal);
}

/**
 * Maps whatever state string the client returned. The SDK returns enum names, but a state newer
 * than this code (or a number, when enum names are unknown to the bundled protos) must not crash
 * the poller: it is reported as still running, with the raw value in the history.
 */
export function mapNativeState(kind: VertexKind, state: unknown): MappedState {
  const s =
    typeof state === 'number' ? (kind === 'training_pipeline' ? PIPELINE_STATES[state] : JOB_STATES[state]) : state;
  if (kind === 'training_pipeline') {
    if ((PIPELINE_STATES as readonly unknown[]).includes(s)) return mapPipelineState(s as PipelineState);
  } else if ((JOB_STATES as readonly unknown[]).includes(s)) {
    return mapJobState(s as JobState);
  }
  return { status: 'running', terminal: false, note: `unknown Vertex AI state ${String(state)}` };
}

/** gRPC canonical code names, by number (google.rpc.Code). */
export const RPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** A resource as the client returns it: only the fields the poller reads. */
export interface VertexResourceView {
  readonly name?: string | null;
  readonly state?: unknown;
  readonly labels?: Record<string, string> | null;
  readonly error?: { readonly code?: number | null; readonly message?: string | null } | null;
  readonly createTime?: unknown;
  readonly [field: string]: unknown;
}

/** The resource's `error` field ({code, message}, a google.rpc.Status) as our JobError. */
export function resourceError(resource: VertexResourceView): JobError | undefined {
  const e = resource.error;
  if (!e || (!e.code && !e.message)) return undefined;
  const code = typeof e.code === 'number' ? (RPC_CODE_NAMES[e.code] ?? String(e.code)) : 'UNKNOWN';
  return { code, message: e.message || code, category: 'provider' };
}

/**
 * How Vertex AI fails a job or pipeline it had accepted when it cannot get the machines: the
 * resource's `error` is `RESOURCE_EXHAUSTED` (code 8: a training quota such as
 * custom_model_training_cpus reached, or a stockout), or names the zone's pool being exhausted
 * (`ZONE_RESOURCE_POOL_EXHAUSTED`, "The zone … does not have enough resources available") under
 * another code. Closed: a new code fails compilation wherever they are mapped.
 */
export const RUNTIME_CAPACITY_CODES = ['RESOURCE_EXHAUSTED', 'ZONE_RESOURCE_POOL_EXHAUSTED'] as const;
export type RuntimeCapacityCode = (typeof RUNTIME_CAPACITY_CODES)[number];

const STOCKOUT = /ZONE_RESOURCE_POOL_EXHAUSTED|does not have enough resources available|stockout/i;
const ZERO_QUOTA = /\blimit(:| of| is)? 0\b|quota (is|of) 0\b/i;

/** Which capacity code a failed resource's `error` carries, if any. */
export function runtimeCapacityCode(resource: VertexResourceView): RuntimeCapacityCode | undefined {
  const e = resource.error;
  if (!e) return undefined;
  if (e.code === 8) return 'RESOURCE_EXHAUSTED';
  if (STOCKOUT.test(e.message ?? '')) return 'ZONE_RESOURCE_POOL_EXHAUSTED';
  return undefined;
}

/**
 * The capacity failure of a failed job or pipeline, or `undefined` for any other failure. A quota of
 * 0 is lasting; a stockout heals. The job has ended at Vertex AI: there is nothing left to stop.
 */
export function capacityFailureOf(resource: VertexResourceView): CapacityFailure | undefined {
  const code = runtimeCapacityCode(resource);
  if (!code) return undefined;
  const message = resource.error?.message || code;
  switch (code) {
    case 'RESOURCE_EXHAUSTED':
      return { code, message, lasting: !STOCKOUT.test(message) && ZERO_QUOTA.test(message), runEnded: true };
    case 'ZONE_RESOURCE_POOL_EXHAUSTED':
      return { code, message, lasting: false, runEnded: true };
    default: {
      const never: never = code;
      throw new Error(`unmapped capacity code ${String(never)}`);
    }
  }
}

function get(o: unknown, ...path: string[]): unknown {
  let cur = o;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** A protobuf Timestamp (`{seconds, nanos}`, gRPC) or an RFC 3339 string (REST) as ISO 8601; undefined if neither. */
export function isoTime(v: unknown): string | undefined {
  if (nonEmpty(v)) return Number.isNaN(Date.parse(v)) ? undefined : new Date(v).toISOString();
  const seconds = Number(get(v, 'seconds'));
  if (v === null || typeof v !== 'object' || !Number.isFinite(seconds) || seconds <= 0) return undefined;
  return new Date(seconds * 1000 + Math.floor(Number(get(v, 'nanos') ?? 0) / 1e6)).toISOString();
}

/**
 * The small result summary stored on a finished job: the resource name, the uploaded model,
 * output locations, batch statistics and partial failures. Fields the resource lacks are omitted.
 */
export function resultSummary(kind: VertexKind, resource: VertexResourceView): Record<string, unknown> {
  const out: Record<string, unknown> = { resourceName: resource.name, kind };
  // The run's own start and end: its actual cost is billed from them (core/costs.ts billingFromResult).
  const startedAt = isoTime(resource.startTime);
  const endedAt = isoTime(resource.endTime);
  if (startedAt) out.startedAt = startedAt;
  if (endedAt) out.endedAt = endedAt;
  switch (kind) {
    case 'custom': {
      const dir = get(resource, 'jobSpec', 'baseOutputDirectory', 'outputUriPrefix');
      if (nonEmpty(dir)) out.outputDirectory = dir;
      break;
    }
    case 'training_pipeline': {
      const model = get(resource, 'modelToUpload', 'name');
      if (nonEmpty(model)) out.model = model;
      const version = get(resource, 'modelToUpload', 'versionId');
      if (nonEmpty(version)) out.modelVersionId = version;
      // Custom-training pipelines write under trainingTaskInputs.baseOutputDirectory (a Struct).
      const dir =
        get(
          resource,
          'trainingTaskInputs',
          'structValue',
          'fields',
          'baseOutputDirectory',
          'structValue',
          'fields',
          'outputUriPrefix',
          'stringValue',
        ) ?? get(resource, 'trainingTaskInputs', 'baseOutputDirectory', 'outputUriPrefix');
      if (nonEmpty(dir)) out.outputDirectory = dir;
      break;
    }
    case 'batch_prediction': {
      const model = resource.model;
      if (nonEmpty(model)) out.model = model;
      const gcs = get(resource, 'outputInfo', 'gcsOutputDirectory');
      if (nonEmpty(gcs)) out.gcsOutputDirectory = gcs;
      const bqDataset = get(resource, 'outputInfo', 'bigqueryOutputDataset');
      if (nonEmpty(bqDataset)) out.bigqueryOutputDataset = bqDataset;
      const bqTable = get(resource, 'outputInfo', 'bigqueryOutputTable');
      if (nonEmpty(bqTable)) out.bigqueryOutputTable = bqTable;
      const stats = resource.completionStats as Record<string, unknown> | null | undefined;
      if (stats) {
        out.completionStats = {
          successfulCount: Number(stats.successfulCount ?? 0),
          failedCount: Number(stats.failedCount ?? 0),
          incompleteCount: Number(stats.incompleteCount ?? 0),
        };
      }
      const partial = resource.partialFailures as
        | { code?: number | null; message?: string | null }[]
        | null
        | undefined;
      if (Array.isArray(partial) && partial.length > 0) {
        out.partialFailures = partial.slice(0, 20).map((p) => ({
          code: typeof p.code === 'number' ? (RPC_CODE_NAMES[p.code] ?? String(p.code)) : 'UNKNOWN',
          message: p.message ?? '',
        }));
      }
      break;
    }
    default: {
      const unreachable: never = kind;
      throw new Error(`unhandled kind ${String(unreachable)}`);
    }
  }
  return out;
}

/** How a google.longrunning.Operation stands: under way, done, or ended with an error. */
export function operationOutcome(op: {
  readonly done: boolean;
  readonly error?: { readonly code?: number | null; readonly message?: string | null } | null;
}): 'running' | 'done' | JobError {
  if (!op.done) return 'running';
  const e = op.error;
  if (!e || (!e.code && !e.message)) return 'done';
  const code = typeof e.code === 'number' ? (RPC_CODE_NAMES[e.code] ?? String(e.code)) : 'UNKNOWN';
  return { code, message: e.message || code, category: 'provider' };
}

/**
 * google.protobuf.Value (as either transport's client returns it, with or without the `kind`
 * oneof name) → plain JSON.
 */
export function fromProtoValue(value: unknown): unknown {
  if (value === null || value === undefined || typeof value !== 'object') return value ?? null;
  const v = value as Record<string, unknown>;
  const which =
    typeof v.kind === 'string'
      ? v.kind
      : ['structValue', 'listValue', 'stringValue', 'numberValue', 'boolValue', 'nullValue'].find(
          (k) => v[k] !== undefined && v[k] !== null,
        );
  switch (which) {
    case 'structValue': {
      const fields = ((v.structValue as { fields?: Record<string, unknown> } | null)?.fields ?? {}) as Record<
        string,
        unknown
      >;
      return Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, fromProtoValue(x)]));
    }
    case 'listValue':
      return (((v.listValue as { values?: unknown[] } | null)?.values ?? []) as unknown[]).map(fromProtoValue);
    case 'stringValue':
      return v.stringValue;
    case 'numberValue':
      return Number(v.numberValue);
    case 'boolValue':
      return Boolean(v.boolValue);
    default:
      return null;
  }
}
