import { z } from 'zod';
import { JOB_STATUSES, PRIORITIES } from '../core/job.js';

/**
 * Zod schemas of what the API answers. Requests are validated by the schemas the use cases own
 * (StrictSubmissionSchema, ListQuerySchema, ExecuteBodySchema …); replies are built from TypeScript
 * interfaces, so their shapes are written down here once, for the OpenAPI document and for tests
 * that check real replies against it. Objects are open (`looseObject`): a field added later is not
 * a breaking change, a field removed or retyped is.
 */

const timestamp = z.string().describe('ISO 8601 UTC time');
const status = z.enum(JOB_STATUSES);

export const ProblemSchema = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string().optional().describe('Stable error code, e.g. VALIDATION_FAILED'),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('One entry per bad field'),
  })
  .describe('RFC 9457 problem document (application/problem+json).');

export const DecisionSchema = z
  .looseObject({
    preset: z.string(),
    inputs: z.looseObject({
      rows: z.number(),
      estimated_runtime_sec: z.number(),
      priority: z.enum(PRIORITIES),
      latency_sensitive: z.boolean(),
      target: z.string().optional(),
    }),
    weights: z.looseObject({
      perRow: z.number(),
      perSecond: z.number(),
      highPriorityFactor: z.number(),
      lowPriorityFactor: z.number(),
      sparkThreshold: z.number(),
      mlThreshold: z.number(),
    }),
    cost: z.number().nullable(),
    rule: z.string(),
    queue: z.string(),
    provider: z.string(),
    explanation: z.string(),
    decidedAt: timestamp,
  })
  .describe('Why the job went where it went.');

export const JobSchema = z
  .looseObject({
    id: z.string(),
    status,
    source: z.string().optional(),
    spec: z.looseObject({}).optional().describe('The defaulted job body'),
    createdAt: timestamp,
    updatedAt: timestamp,
    decision: DecisionSchema.optional(),
    queue: z.string().optional(),
    provider: z.string().optional(),
    providerRef: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    dispatchedAt: timestamp.optional(),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    heartbeatAt: timestamp.optional(),
    progress: z.looseObject({ done: z.number(), total: z.number(), unit: z.string() }).optional(),
    runner: z.string().optional(),
    cancelRequestedAt: timestamp.optional(),
    result: z
      .looseObject({ location: z.string().optional(), summary: z.record(z.string(), z.unknown()).optional() })
      .optional(),
    error: z.looseObject({ code: z.string(), message: z.string(), category: z.string().optional() }).optional(),
    attempts: z.number().int().optional(),
    resends: z.number().int().optional(),
    links: z.record(z.string(), z.string()).optional(),
    notifySecret: z
      .string()
      .optional()
      .describe('Signing secret of the `notify` webhook: only in the reply that created the job'),
  })
  .describe('A job: state, where it went and why. List pages may carry a summary of these fields.');

export const JobPageSchema = z.looseObject({
  jobs: z.array(JobSchema),
  continuationToken: z.string().optional().describe('Pass back to get the next page'),
});

export const JobEventSchema = z.looseObject({
  seq: z.number().int(),
  at: timestamp,
  type: z.enum(['transition', 'note']),
  from: status.nullable(),
  to: status,
  reason: z.string(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const JobEventsSchema = z.looseObject({ jobId: z.string(), events: z.array(JobEventSchema) });

export const JobLogsSchema = z.looseObject({
  jobId: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  source: z.string(),
});

export const JobResultSchema = z.record(z.string(), z.unknown()).describe('The result document the job left.');

export const SeedSubmitReplySchema = z.object({
  status: z.literal('submitted'),
  job_id: z.string(),
  notify_secret: z.string().optional().describe('Signing secret of the `notify` webhook; in this reply only'),
});

const webhookEvent = z.enum(JOB_STATUSES);

export const SubscriptionSchema = z
  .looseObject({
    id: z.string(),
    url: z.string(),
    events: z.array(webhookEvent),
    labels: z.record(z.string(), z.string()).optional(),
    description: z.string().optional(),
    createdAt: timestamp,
    links: z.record(z.string(), z.string()).optional(),
  })
  .describe('A webhook subscription (its secret is shown only when it is created).');

export const SubscriptionCreatedSchema = SubscriptionSchema.extend({
  secret: z
    .string()
    .describe('`whsec_` + base64 key for verifying `webhook-signature` (Standard Webhooks); shown this once'),
});

export const SubscriptionListSchema = z.looseObject({ subscriptions: z.array(SubscriptionSchema) });

export const DeliveryAttemptSchema = z
  .looseObject({
    webhookId: z.string().describe('The `webhook-id` header: the same on every attempt of one message'),
    jobId: z.string(),
    subscriptionId: z.string().optional().describe("Absent for the job's own `notify`"),
    eventType: z.string(),
    attempt: z.number().int(),
    at: timestamp,
    outcome: z.enum(['delivered', 'failed', 'dead-lettered', 'dropped']),
    statusCode: z.number().int().optional(),
    error: z.string().optional(),
    durationMs: z.number(),
    nextRetryAt: timestamp.optional(),
    host: z.string(),
  })
  .describe('One webhook delivery attempt.');

export const DeliveriesSchema = z.looseObject({
  jobId: z.string().optional(),
  subscriptionId: z.string().optional(),
  deliveries: z.array(DeliveryAttemptSchema),
});

export const QueueDepthSchema = z.looseObject({
  active: z.number().int(),
  deadLetter: z.number().int(),
  scheduled: z.number().int(),
});

export const QueueStatusSchema = z
  .record(z.string(), z.union([z.number().int(), QueueDepthSchema]))
  .describe('Queue name → waiting messages, or → QueueDepth with detail=true.');

export const HealthSchema = z.looseObject({
  status: z.enum(['healthy', 'degraded']),
  checks: z.record(z.string(), z.looseObject({ ok: z.boolean(), detail: z.string().optional() })),
});

export const ProviderStateSchema = z.looseObject({
  name: z.string(),
  configured: z.boolean(),
  activeJobs: z
    .number()
    .int()
    .nullable()
    .describe('Jobs the provider owns now (dispatched, running, cancelling); null when not configured'),
  lastPollAt: timestamp.nullable().describe('Last poll cycle in this instance, if any'),
  lastPollError: z.string().nullable(),
  backingOffUntil: timestamp.nullable().describe('Set while the poller waits after a throttle or outage'),
});

export const ProvidersSchema = z.looseObject({ providers: z.array(ProviderStateSchema) });

const taskStatus = z.enum(['WAITING', 'RUNNING', 'COMPLETED', 'ERROR', 'CANCELLED']);
export const EssedumNotFoundSchema = z.object({ error: z.string() });
export const ExecuteAcceptedSchema = z.object({
  task_id: z.string(),
  task_status: z.literal('Submitted'),
  log_path: z.string(),
});
export const ExecuteStatusSchema = z.object({
  task_id: z.string(),
  pid: z.number().int().nullable(),
  task_status: taskStatus,
  log_path: z.string(),
  submitted: z.string(),
  started: z.string().nullable(),
  finished: z.string().nullable(),
  timestamp: z.number().nullable(),
});
export const ExecuteLogSchema = z.object({ logs: z.object({ content: z.string() }) });
export const ExecuteStopSchema = z.object({ 'Task cancelled': z.boolean() });
export const ExecuteListSchema = z.array(
  z.object({ id: z.string(), pid: z.number().int().nullable(), status: taskStatus, submitted: z.string() }),
);

export const PipelineRecordSchema = z.looseObject({
  sourceId: z.string(),
  name: z.string(),
  status: taskStatus,
  type: z.string(),
  adapter: z.string().nullable(),
  rawPayload: z.unknown(),
  createdOn: timestamp,
  createdBy: z.string().nullable(),
  syncDate: timestamp,
  description: z.string().nullable(),
  project: z.string().nullable(),
  artifacts: z.record(z.string(), z.unknown()),
  deployment: z.looseObject({}),
  jobStatus: status,
  deleted: z.boolean().optional(),
  message: z.string().optional(),
});
export const PipelineListSchema = z.array(PipelineRecordSchema);

/** Body of the Essedum MLOps create routes: forwarded from the Essedum UI, provider-native. */
export const PipelineBodySchema = z.record(z.string(), z.unknown());

const assetOperation = z.looseObject({
  op: z.string(),
  jobId: z.string(),
  at: timestamp,
  status: z.enum(['succeeded', 'failed', 'cancelled']).optional().describe('Set once the operation’s job ended'),
});

/** An Essedum dataset, model or endpoint record (docs/essedum.md). */
export const AssetRecordSchema = z
  .looseObject({
    sourceId: z.string().describe('The id of the job that created the asset'),
    name: z.string(),
    status: z.enum(['WAITING', 'RUNNING', 'COMPLETED', 'ERROR', 'CANCELLED', 'DELETED']),
    type: z.enum(['dataset', 'model', 'endpoint']),
    adapter: z.string().nullable(),
    rawPayload: z.unknown(),
    createdOn: timestamp,
    createdBy: z.string().nullable(),
    syncDate: timestamp,
    description: z.string().nullable(),
    project: z.string().nullable(),
    artifacts: z.record(z.string(), z.unknown()),
    deployment: z.looseObject({}),
    jobStatus: status,
    lastOperation: assetOperation.optional(),
    deleted: z.boolean().optional(),
    message: z.string().optional(),
  })
  .describe('An Essedum asset record: its creating job plus the confirmed outcomes of later operations.');
export const AssetListSchema = z.array(AssetRecordSchema);

export const InvocationSchema = z
  .looseObject({
    sourceId: z.string(),
    name: z.string(),
    operation: z.enum(['infer', 'explain']),
    output: z.unknown().describe('What the endpoint answered'),
    invokedAt: timestamp,
  })
  .describe('The answer of a live endpoint to an infer or explain call.');

export const LiveEndpointsSchema = z
  .looseObject({
    endpoints: z.array(
      z.looseObject({
        id: z.string(),
        name: z.string(),
        provider: z.string().nullable(),
        adapter: z.string().nullable(),
        project: z.string().nullable(),
        status,
        resourceId: z.string().nullable(),
        uri: z.string().nullable(),
        instanceType: z.string().nullable(),
        instanceCount: z.number().nullable(),
        deployedModels: z.array(z.string()),
        createdAt: timestamp,
        ageSec: z.number().int(),
        lastInvokedAt: timestamp.nullable(),
        idleSec: z.number().int(),
        idleUndeployAt: timestamp.nullable(),
        lastOperation: assetOperation.nullable(),
      }),
    ),
    idleTtlSec: z.number().int().nullable().describe('ENDPOINT_IDLE_TTL_SEC, or null when the idle check is off'),
  })
  .describe('Live endpoints the orchestrator created, newest first.');
