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

export const FailoverSchema = z
  .looseObject({
    chain: z.array(z.string()).describe('The routed provider, then its fallbacks, in order'),
    steps: z.array(
      z.looseObject({
        at: timestamp,
        round: z.number().int(),
        provider: z.string(),
        code: z.string().describe("The provider's capacity code (ResourceLimitExceeded, RESOURCE_EXHAUSTED …)"),
        message: z.string(),
        next: z.string().optional().describe('Where the job went next; absent when the chain ran out'),
        outcome: z.enum(['refused', 'skipped']),
        lasting: z.boolean().optional(),
        attempt: z
          .number()
          .int()
          .optional()
          .describe(
            'Set when the provider accepted the run and then could not run it for capacity (seen by a poll): the attempt whose cloud job that was',
          ),
      }),
    ),
  })
  .describe(
    'Capacity failover: every refusal along the chain, at dispatch or when a poll sees a run fail for capacity.',
  );

export const CapacityWaitSchema = z
  .looseObject({
    reason: z.enum(['concurrency-cap', 'rate-cap', 'no-capacity']),
    provider: z.string(),
    detail: z.string(),
    since: timestamp,
    nextCheckAt: timestamp,
    round: z.number().int().optional(),
  })
  .describe('Set while a queued job waits for capacity; it is never failed for a cap.');

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
    failover: FailoverSchema.optional(),

    costEstimates: z
      .looseObject({
        currency: z.string(),
        runtimeSec: z.number().describe('The runtime every estimate assumes (estimated_runtime_sec)'),
        priceTableAsOf: z.string(),
        chosen: z.number().nullable().describe('Estimate for the chosen target; null when its price is unknown'),
        candidates: z.array(
          z.looseObject({
            queue: z.string(),
            provider: z.string(),
            instances: z.array(
              z.looseObject({ instanceType: z.string(), count: z.number().int(), hourly: z.number().nullable() }),
            ),
            billedSec: z.number().describe('Runtime rounded up to the provider billing increment and minimum'),
            estimatedCost: z.number().nullable(),
            missingPrice: z.string().optional().describe('provider/instance type the price table lacks'),
            chosen: z.boolean(),
            basis: z.enum(['spec', 'default']).describe("Instances from the job's spec or the provider's default size"),
          }),
        ),
      })
      .optional()
      .describe('Estimated cost per candidate target: runtime estimate × price × instance count'),
  })
  .describe('Why the job went where it went.');

const PricedGroupSchema = z.looseObject({
  instanceType: z.string(),
  count: z.number().int(),
  hourly: z.number().nullable(),
});

export const JobCostSchema = z
  .looseObject({
    currency: z.string(),
    actual: z.number().nullable().describe('null when the price table has no price for the instances'),
    estimated: z.number().nullable(),
    runtimeSec: z.number(),
    billedSec: z.number(),
    instances: z.array(PricedGroupSchema),
    basis: z
      .enum(['provider-billable', 'provider-times', 'orchestrator-times', 'not-started'])
      .describe("Where the billed runtime came from: the provider's billable time or timestamps, else ours"),
    missingPrice: z.string().optional(),
    priceTableAsOf: z.string(),
  })
  .describe('Actual cost of a finished job: billed runtime × instances × price.');

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
    cost: JobCostSchema.optional(),
    budgetHold: z
      .looseObject({
        budget: z.string(),
        since: timestamp,
        checkedAt: timestamp,
        checks: z.number().int(),
        spent: z.number(),
        limit: z.number(),
        estimate: z.number().nullable(),
      })
      .optional()
      .describe('Set while a `wait` budget holds the job before classification'),
    attempts: z.number().int().optional(),
    resends: z.number().int().optional(),
    waitingForCapacity: CapacityWaitSchema.optional(),
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
  capacity: z
    .looseObject({
      concurrent: z.number().int().nullable().describe('Concurrency cap (CAPACITY_LIMITS); null: none'),
      createsPerMin: z.number().nullable().describe('Create-rate cap per minute; null: none'),
      inUse: z.number().int().nullable().describe('Jobs holding a place under the concurrency cap'),
      tokens: z.number().int().nullable().describe('Creations allowed right now by the rate cap'),
      waiting: z.number().int().nullable().describe('Jobs waiting in their queue for this provider'),
      lastRefusal: z
        .looseObject({ at: timestamp, jobId: z.string(), code: z.string(), message: z.string() })
        .nullable(),
      backingOffUntil: timestamp.nullable().describe('Jobs refused for capacity wait until then'),
      instanceTypes: z
        .record(
          z.string(),
          z.looseObject({
            concurrent: z.number().int().nullable(),
            createsPerMin: z.number().nullable(),
            inUse: z.number().int().nullable(),
            tokens: z.number().int().nullable(),
          }),
        )
        .describe('Caps per instance type, VM size or accelerator (CAPACITY_LIMITS "<provider>/<type>" keys)'),
    })
    .nullable()
    .describe('Admission control, shared by all instances; null for the workers'),
});

const CostTotalsShape = {
  cost: z.number(),
  estimated: z.number(),
  jobs: z.number().int(),
  billedSec: z.number(),
  unpriced: z.number().int().describe('Jobs whose instances had no price (not in cost)'),
};

export const CostReportSchema = z
  .looseObject({
    currency: z.string(),
    from: timestamp,
    to: timestamp,
    labels: z.record(z.string(), z.string()),
    groupBy: z.array(z.string()),
    total: z.looseObject(CostTotalsShape),
    groups: z.array(z.looseObject({ key: z.record(z.string(), z.string()), ...CostTotalsShape })),
    groupsOmitted: z.number().int().optional(),
    otherCurrencyJobs: z.number().int().optional(),
    priceTable: z.looseObject({ asOf: z.string(), source: z.string() }),
  })
  .describe('Actual costs of jobs finished in [from, to), from the cost ledger, grouped, most expensive first.');

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
