import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors.js';
import type { CapacityWait, FailoverHistory } from './capacity.js';

import type { CostEstimates, JobCost, ProviderBilling } from './costs.js';

/** Every state a job can be in. Closed: adding one fails compilation wherever states are mapped. */
export const JOB_STATUSES = [
  'submitted',
  'queued',
  'dispatched',
  'running',
  'cancelling',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
/** States in which a provider (or worker) owns the job and pollers must watch it. */
export const ACTIVE_STATUSES = ['dispatched', 'running', 'cancelling'] as const satisfies readonly JobStatus[];

export function isTerminal(status: JobStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

export const PRIORITIES = ['low', 'normal', 'high'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Where the submission came from; decides reply shapes on the compatibility routes. */
export type JobSource = 'api' | 'submit-job' | 'essedum-execute' | 'essedum-pipeline' | 'essedum-asset';

/** Limits that keep one request from exhausting a table entity, a queue message or a poller. */
export const LIMITS = {
  maxRows: 1e15,
  maxRuntimeSec: 30 * 24 * 3600,
  maxLabels: 16,
  maxLabelKeyLength: 63,
  maxLabelValueLength: 128,
  maxTargetLength: 64,
  maxKindLength: 64,
  maxFallbacks: 4,
} as const;

const nonNegativeNumber = z.number().finite().nonnegative();
const labelKey = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'label keys use letters, digits, "_", "." and "-", starting with a letter or digit',
  )
  .max(LIMITS.maxLabelKeyLength);

/** Longest webhook URL accepted (a URL is stored and re-sent with every delivery). */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** `notify` on a submission: a webhook URL and the job states to be told about (Standard Webhooks). */
export const NotifySchema = z.strictObject({
  url: z.string().min(1).max(MAX_WEBHOOK_URL_LENGTH),
  events: z
    .array(z.enum(JOB_STATUSES))
    .min(1)
    .max(JOB_STATUSES.length)
    .refine((e) => new Set(e).size === e.length, 'list each event once'),
});
export type NotifyRequest = z.infer<typeof NotifySchema>;

/**
 * The body of a job submission as clients send it. Both spellings the seed uses are accepted
 * (`rows`/`nr_of_rows`, `estimated_runtime_sec`/`estimated_runtime`,
 * `latency_sensitive`/`latency_sensitivity`); giving both spellings with different values is an error.
 */
const submissionFields = {
  rows: nonNegativeNumber.int().max(LIMITS.maxRows).optional(),
  nr_of_rows: nonNegativeNumber.int().max(LIMITS.maxRows).optional(),
  estimated_runtime_sec: nonNegativeNumber.max(LIMITS.maxRuntimeSec).optional(),
  estimated_runtime: nonNegativeNumber.max(LIMITS.maxRuntimeSec).optional(),
  priority: z.enum(PRIORITIES).optional(),
  latency_sensitive: z.boolean().optional(),
  latency_sensitivity: z.boolean().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  target: z.string().min(1).max(LIMITS.maxTargetLength).optional(),
  max_runtime_sec: nonNegativeNumber.int().min(1).max(LIMITS.maxRuntimeSec).optional(),
  labels: z
    .record(labelKey, z.string().max(LIMITS.maxLabelValueLength))
    .refine((l) => Object.keys(l).length <= LIMITS.maxLabels, `at most ${LIMITS.maxLabels} labels`)
    .optional(),
  /** Provider-specific job kind (`training`, `automl`, `command`, …); the provider validates `spec`. */
  kind: z.string().min(1).max(LIMITS.maxKindLength).optional(),
  spec: z.record(z.string(), z.unknown()).optional(),
  /** Webhook for this job's transitions; the signing secret is in the submission's reply only. */
  notify: NotifySchema.optional(),
  /** Providers to fail over to, in order, when the routed one refuses the job for capacity or quota. */
  fallback: z
    .array(z.string().min(1).max(LIMITS.maxTargetLength))
    .max(LIMITS.maxFallbacks)
    .refine((f) => new Set(f).size === f.length, 'list each provider once')
    .optional(),
};

/** `/api/jobs` rejects unknown fields so a typo (`row`) is an error, not a silent default. */
export const StrictSubmissionSchema = z.strictObject(submissionFields);
/** `/api/submit-job` keeps the seed's lenient behaviour: unknown fields are ignored. */
export const LenientSubmissionSchema = z.object(submissionFields);

export type RawSubmission = z.infer<typeof StrictSubmissionSchema>;

/** The canonical, defaulted job description stored on every job. */
export interface JobSpec {
  readonly rows: number;
  readonly estimated_runtime_sec: number;
  readonly priority: Priority;
  readonly latency_sensitive: boolean;
  readonly data: Record<string, unknown>;
  readonly target?: string;
  readonly max_runtime_sec?: number;
  readonly labels: Record<string, string>;
  readonly kind?: string;
  readonly spec?: Record<string, unknown>;
  readonly notify?: NotifyRequest;
  readonly fallback?: readonly string[];
}

/** Defaults are the seed's: 1 000 rows, 10 s, normal priority, not latency sensitive. */
export const SPEC_DEFAULTS = {
  rows: 1000,
  estimated_runtime_sec: 10,
  priority: 'normal',
  latency_sensitive: false,
} as const;

/** Turns zod issues into field paths a client can act on. */
export function zodIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    // One issue per unknown key, named by the key itself, so a typo points at the typo.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: path ? `${path}.${key}` : key, message: 'unknown field' }));
    }
    return [{ field: path, message: issue.message }];
  });
}

/** Parses with a zod schema, throwing a {@link ValidationError} that names each bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, prefix = ''): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError(
      zodIssues(parsed.error).map((i) => ({
        ...i,
        field: prefix ? (i.field ? `${prefix}.${i.field}` : prefix) : i.field,
      })),
    );
  }
  return parsed.data;
}

function pickAlias<T>(
  issues: FieldIssue[],
  name: string,
  alias: string,
  a: T | undefined,
  b: T | undefined,
): T | undefined {
  if (a !== undefined && b !== undefined && a !== b) {
    issues.push({ field: alias, message: `conflicts with '${name}'; send one of them` });
  }
  return a ?? b;
}

/** Validates a submission body and resolves aliases and defaults into a {@link JobSpec}. */
export function parseSubmission(body: unknown, mode: 'strict' | 'lenient' = 'strict'): JobSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ field: '', message: 'the body must be a JSON object' }]);
  }
  const raw = parseOrThrow(mode === 'strict' ? StrictSubmissionSchema : LenientSubmissionSchema, body);
  const issues: FieldIssue[] = [];
  const rows = pickAlias(issues, 'rows', 'nr_of_rows', raw.rows, raw.nr_of_rows);
  const runtime = pickAlias(
    issues,
    'estimated_runtime_sec',
    'estimated_runtime',
    raw.estimated_runtime_sec,
    raw.estimated_runtime,
  );
  const latency = pickAlias(
    issues,
    'latency_sensitive',
    'latency_sensitivity',
    raw.latency_sensitive,
    raw.latency_sensitivity,
  );
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    rows: rows ?? SPEC_DEFAULTS.rows,
    estimated_runtime_sec: runtime ?? SPEC_DEFAULTS.estimated_runtime_sec,
    priority: raw.priority ?? SPEC_DEFAULTS.priority,
    latency_sensitive: latency ?? SPEC_DEFAULTS.latency_sensitive,
    data: raw.data ?? {},
    labels: raw.labels ?? {},
    ...(raw.target !== undefined && { target: raw.target }),
    ...(raw.max_runtime_sec !== undefined && { max_runtime_sec: raw.max_runtime_sec }),
    ...(raw.kind !== undefined && { kind: raw.kind }),
    ...(raw.spec !== undefined && { spec: raw.spec }),
    ...(raw.notify !== undefined && { notify: raw.notify }),
    ...(raw.fallback !== undefined && { fallback: raw.fallback }),
  };
}

/** Why a job went where it went: stored on the job and returned by the API. */
export interface RoutingDecision {
  readonly preset: string;
  readonly inputs: {
    readonly rows: number;
    readonly estimated_runtime_sec: number;
    readonly priority: Priority;
    readonly latency_sensitive: boolean;
    readonly target?: string;
  };
  readonly weights: ClassifierWeights;
  /** Cost before rounding; `null` when the rule that fired does not look at cost. */
  readonly cost: number;
  readonly rule: RoutingRule;
  readonly queue: string;
  /** Which provider runs the job: a cloud provider, `local`, or `worker` for the actor/spark queues. */
  readonly provider: string;
  readonly explanation: string;
  readonly decidedAt: string;
  /** Capacity failover: the chain of targets and every refusal along it (added at dispatch). */
  readonly failover?: FailoverHistory;

  /** Estimated cost per candidate target from the price table (absent when no price table is loaded). */
  readonly costEstimates?: CostEstimates;
}

export type RoutingRule =
  | 'target-queue'
  | 'target-provider'
  | 'latency-sensitive'
  | 'cost-above-spark'
  | 'cost-above-ml'
  | 'default';

export interface ClassifierWeights {
  /** Cost per row (README: 1 / 1 000 000). */
  readonly perRow: number;
  /** Cost per second of estimated runtime (README: 1 / 10; reference code: 1 / 60). */
  readonly perSecond: number;
  readonly highPriorityFactor: number;
  readonly lowPriorityFactor: number;
  /** Strictly above this cost → spark-jobs. */
  readonly sparkThreshold: number;
  /** Strictly above this cost (and not above spark) → ml-jobs. */
  readonly mlThreshold: number;
}

export interface JobError {
  readonly code: string;
  readonly message: string;
  readonly category?: string;
}

export interface JobProgress {
  readonly done: number;
  readonly total: number;
  readonly unit: string;
}

/** Provider-side handle: whatever a provider needs to find its job again (names, ids, URLs). */
export type ProviderRef = Readonly<Record<string, string | number | boolean>>;

export interface JobResultInfo {
  /** Blob path (container/name) of the result document, when one was written. */
  readonly location?: string;
  /** Small summary safe to show inline (metrics, output URIs, model ids). */
  readonly summary?: Record<string, unknown>;
}

/** A job as the store holds it and the API returns it. */
export interface JobRecord {
  readonly id: string;
  readonly status: JobStatus;
  readonly source: JobSource;
  readonly spec: JobSpec;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly decision?: RoutingDecision;
  readonly queue?: string;
  readonly provider?: string;
  readonly providerRef?: ProviderRef;
  /** When the job last entered `queued` (classified, or re-queued for a new attempt). */
  readonly queuedAt?: string;
  readonly dispatchedAt?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly heartbeatAt?: string;
  readonly progress?: JobProgress;
  /** Who is running it now (worker id) and until when that claim holds without a heartbeat. */
  readonly lease?: { readonly owner: string; readonly until: string };
  readonly cancelRequestedAt?: string;
  /** Stop requests the reconciler re-sent because the provider had not confirmed the stop (CANCEL_MAX_RESENDS). */
  readonly cancelResends?: number;
  /** When the last stop request was re-sent. */
  readonly cancelResentAt?: string;
  readonly result?: JobResultInfo;
  readonly error?: JobError;
  /** Billing facts the provider reported for the finished run (its own start/end or billable seconds). */
  readonly billing?: ProviderBilling;
  /** The actual cost, set when the job finishes (billed runtime × instances × price). */
  readonly cost?: JobCost;
  /** Set while a `wait` budget holds the job before classification (see BUDGETS). */
  readonly budgetHold?: BudgetHold;
  /** Times a worker or provider started this job (redeliveries that re-attach do not count). */
  readonly attempts: number;
  /** Set while a queued job waits for capacity (a cap, or every target refused); cleared when it leaves `queued`. */
  readonly waitingForCapacity?: CapacityWait;
  /** Times the reconciler re-sent this job's message because it sat still too long. */
  readonly resends?: number;
  /** Next event sequence number: the history is numbered without gaps. */
  readonly eventSeq: number;
  readonly idempotencyKey?: string;
  /**
   * W3C trace context of the request that submitted the job: hops that start from a timer or a
   * list rather than a message (poll cycles, the reconciler) continue the job's one trace from it.
   */
  readonly trace?: { readonly traceparent: string; readonly tracestate?: string };
  /**
   * On a job that created a cloud asset (an Essedum dataset, model or endpoint): what the later
   * operations on that asset did to it. Written by the asset use cases, never by a provider.
   */
  readonly asset?: AssetState;
}

/** The operation last started on an asset, and how it ended once it did. */
export interface AssetOperation {
  readonly op: string;
  readonly jobId: string;
  readonly at: string;
  /** Set once the operation's job ended (its outcome is folded into the asset state). */
  readonly status?: TerminalStatus;
  readonly error?: JobError;
}

/** State of a cloud asset kept on the job that created it (see {@link JobRecord.asset}). */
export interface AssetState {
  readonly lastOperation?: AssetOperation;
  /** An operation being started right now (claimed before its job exists); stale claims expire. */
  readonly pending?: { readonly op: string; readonly at: string };
  /** True once a delete job succeeded (the provider confirmed the resource is gone). */
  readonly deleted?: boolean;
  readonly deletedAt?: string;
  /** Endpoints: the models deployed on it, as the provider last reported them. */
  readonly deployedModels?: readonly string[];
  /** When the deployed models last changed (deploy/undeploy confirmed). */
  readonly deployedAt?: string;
  /** Endpoints: last infer/explain call through the orchestrator. */
  readonly lastInvokedAt?: string;
  readonly invocations?: number;
  /** Where the latest exports went (newest last, bounded). */
  readonly exports?: readonly { readonly jobId: string; readonly uri?: string; readonly at: string }[];
}

/**
 * The key every provider-side name of a job's current run derives from (local run folder, Batch
 * task id, SageMaker/Azure ML job name, Vertex label). Attempt 1 keeps the bare job id, so names
 * of runs started before attempts existed still re-attach; attempt N > 1 gets `-a<N>`, so a run
 * lost to infrastructure is replaced by a new cloud job rather than re-attached to the dead one,
 * while a redelivered dispatch of the same attempt still finds its own run.
 */
export function runKey(job: Pick<JobRecord, 'id' | 'attempts'>): string {
  return job.attempts > 1 ? `${job.id}-a${job.attempts}` : job.id;
}

/** A job held by a `wait` budget: which one, since when, and the last check. */
export interface BudgetHold {
  readonly budget: string;
  readonly since: string;
  readonly checkedAt: string;
  readonly checks: number;
  readonly spent: number;
  readonly limit: number;
  readonly estimate: number | null;
}

/** The job id and attempt a {@link runKey} was made from; `undefined` for anything else. */
export function parseRunKey(key: string): { jobId: string; attempt: number } | undefined {
  const m = /^(j-[0-9a-hjkmnp-tv-z]{26})(?:-a([1-9]\d{0,5}))?$/.exec(key);
  if (!m) return undefined;
  const attempt = m[2] === undefined ? 1 : Number(m[2]);
  // runKey never writes `-a1`: such a key is not one of ours.
  return m[2] !== undefined && attempt < 2 ? undefined : { jobId: m[1]!, attempt };
}

export type JobEventType = 'transition' | 'note';

/** One line of a job's history. `note` events (from === to) record preemption, requeue, re-attach … */
export interface JobEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: JobEventType;
  readonly from: JobStatus | null;
  readonly to: JobStatus;
  readonly reason: string;
  readonly detail?: Record<string, unknown>;
}

/**
 * What a list shows of a job: enough to pick one out, without its `data`, `spec` body or decision.
 * Small and fixed-size, so a store can keep it beside the record and a page of them stays cheap.
 */
export interface JobSummary {
  readonly id: string;
  readonly status: JobStatus;
  readonly source: JobSource;
  readonly priority: Priority;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly queue?: string;
  readonly provider?: string;
  readonly labels?: Record<string, string>;
  readonly errorCode?: string;
}

/** The summary of a full record. Pure. */
export function summarizeJob(job: JobRecord): JobSummary {
  return {
    id: job.id,
    status: job.status,
    source: job.source,
    priority: job.spec.priority,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.queue && { queue: job.queue }),
    ...(job.provider && { provider: job.provider }),
    ...(Object.keys(job.spec.labels ?? {}).length > 0 && { labels: job.spec.labels }),
    ...(job.error && { errorCode: job.error.code }),
  };
}
