import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FUNCTIONS } from '../../functions/all.js';
import type { HttpFunction } from '../../functions/define.js';
import { ExecuteBodySchema } from '../app/essedum/execute-spec.js';
import { CostsQuerySchema } from '../app/costs/query-costs.js';

import { EndpointsQuerySchema } from '../app/endpoints.js';
import { ListQuerySchema, LogsQuerySchema, StatusQuerySchema } from '../app/queries.js';
import { DeliveriesQuerySchema } from '../app/webhooks/subscriptions.js';
import { SubscriptionRequestSchema } from '../core/webhooks.js';
import { LenientSubmissionSchema, StrictSubmissionSchema } from '../core/job.js';
import * as S from './api-schemas.js';

/**
 * The OpenAPI 3.1 document of the HTTP API, built from the zod schemas the handlers validate with
 * (requests) and the reply schemas in api-schemas.ts (responses), through zod's own JSON Schema
 * output. One entry per HTTP function in the function list; building fails if one is missing, so a
 * new route cannot ship undocumented.
 */

type Json = Record<string, unknown>;
type ExampleSet = Record<string, { summary?: string; value: unknown }>;

interface Reply {
  readonly description: string;
  /** Component name of the body schema, or a content type with no JSON body. */
  readonly schema?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, Json>;
}

interface Operation {
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly query?: z.ZodObject;
  /** Example values of query parameters, by parameter name. */
  readonly queryExamples?: Record<string, string | number | boolean>;
  /** Example values of path parameters. Ids are placeholders; the docs test substitutes real ones. */
  readonly pathExamples?: Record<string, string>;
  readonly idempotencyKey?: boolean;
  readonly body?: { readonly schema: string; readonly examples: ExampleSet };
  readonly replies: Record<number, Reply>;
  /** Problem statuses this route can answer (besides 401, added to every keyed route). */
  readonly problems?: readonly number[];
  readonly anonymous?: boolean;
}

const JOB_ID = 'j-01KBVZ3R6A0000000000000000';
const SUBSCRIPTION_ID = 'sub_AAAAAAAAAAAAAAAA';

const SUBSCRIPTION_EXAMPLES: ExampleSet = {
  endings: {
    summary: 'Tell a receiver when forecasting jobs end',
    value: {
      url: 'https://hooks.example.com/cjo',
      events: ['succeeded', 'failed', 'cancelled'],
      labels: { team: 'forecasting' },
      description: 'forecasting alerts',
    },
  },
};
const WEBHOOK_DOC =
  'Deliveries follow Standard Webhooks: a POST with `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` keyed with the secret) and a body `{type: "job.<state>", timestamp, data}`; retried with back-off (WEBHOOK_RETRY_SCHEDULE_SEC), then dead-lettered. URLs must be https (http only with WEBHOOK_ALLOW_HTTP), on a host WEBHOOK_HOST_ALLOWLIST admits, resolving to public addresses only unless WEBHOOK_ALLOWED_CIDRS admits them.';

const README_EXAMPLES: ExampleSet = {
  everyField: {
    summary: 'A job with every field (README)',
    value: {
      rows: 2000000,
      estimated_runtime_sec: 30,
      priority: 'high',
      latency_sensitive: false,
      data: { table: 'sales' },
      max_runtime_sec: 3600,
      labels: { team: 'forecasting' },
    },
  },
};

const SEED_EXAMPLES: ExampleSet = {
  latencySensitive: {
    summary: 'Latency-sensitive → actor-jobs',
    value: { latency_sensitive: true, rows: 100, estimated_runtime_sec: 1 },
  },
  bigHigh: {
    summary: 'Big, high priority → spark-jobs',
    value: { rows: 50000000, estimated_runtime_sec: 300, priority: 'high' },
  },
  medium: {
    summary: '5 M rows, 100 s → spark-jobs under the README formula',
    value: { rows: 5000000, estimated_runtime_sec: 100, priority: 'normal' },
  },
};

const EXECUTE_EXAMPLES: ExampleSet = {
  echo: {
    summary: 'Run a command with no input artifacts',
    value: {
      bucket: '',
      project_id: 'demo',
      name: 'hello',
      version: '1',
      input_artifacts: '',
      command: 'echo hello',
      storage: 'local',
      configs: { estimated_runtime_sec: 1 },
    },
  },
};

const TRAINING_EXAMPLES: ExampleSet = {
  sagemakerTrain: {
    summary: 'SageMaker Autopilot training, as the Essedum UI sends it',
    value: {
      RoleArn: 'arn:aws:iam::123456789012:role/SageMakerExecution',
      Bucket: 'ml-bucket',
      S3Prefix: 'churn',
      inputs: 's3://ml-bucket/churn/train.csv',
      target_attribute_name: 'churned',
      content_type: 'text/csv',
    },
  },
};

const INFERENCE_EXAMPLES: ExampleSet = {
  sagemakerTransform: {
    summary: 'SageMaker batch transform (native CreateTransformJob fields)',
    value: {
      TransformJobName: 'nightly-scoring',
      ModelName: 'churn-model',
      TransformInput: {
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://ml-bucket/score/in/' } },
        ContentType: 'text/csv',
      },
      TransformOutput: { S3OutputPath: 's3://ml-bucket/score/out/' },
      TransformResources: { InstanceType: 'ml.m5.large', InstanceCount: 1 },
    },
  },
};

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } };
const jobOk = (description: string): Reply => ({ description, schema: 'Job' });
const essedumNotFound: Reply = { description: 'Unknown id (the executors’ own body)', schema: 'EssedumNotFound' };

/** Every HTTP function, by its function name. */
const OPERATIONS: Record<string, Operation> = {
  jobsCreate: {
    summary: 'Submit a job',
    description:
      'Validates, classifies and queues the job. The same Idempotency-Key with the same body returns the same job.',
    tags: ['jobs'],
    idempotencyKey: true,
    body: { schema: 'JobSubmission', examples: { ...README_EXAMPLES, ...SEED_EXAMPLES } },
    replies: {
      202: {
        ...jobOk('Accepted: the job, with its routing decision'),
        headers: {
          Location: { description: 'URL of the job', schema: { type: 'string' } },
          'idempotent-replayed': {
            description: '`true` when an earlier submission with this key was returned',
            schema: { type: 'string' },
          },
        },
      },
    },
    problems: [400, 402, 413, 415, 422],
  },
  jobsList: {
    summary: 'List jobs, newest first',
    tags: ['jobs'],
    query: ListQuerySchema,
    queryExamples: { status: 'running', limit: 20 },
    replies: { 200: { description: 'One page of jobs', schema: 'JobPage' } },
    problems: [400],
  },
  jobsGet: {
    summary: 'Get a job',
    tags: ['jobs'],
    pathExamples: { id: JOB_ID },
    replies: { 200: jobOk('The job: status, decision, provider handle, progress, result summary, error') },
    problems: [404],
  },
  jobsCancel: {
    summary: 'Cancel a job',
    description: '`cancelled` at once before dispatch, else `cancelling` until the provider or worker confirms.',
    tags: ['jobs'],
    pathExamples: { id: JOB_ID },
    replies: { 202: jobOk('The job after the request') },
    problems: [404, 409],
  },
  jobsEvents: {
    summary: 'The job’s history',
    tags: ['jobs'],
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: 'Every transition and note, oldest first', schema: 'JobEvents' } },
    problems: [404],
  },
  jobsResult: {
    summary: 'The job’s result document',
    tags: ['jobs'],
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: 'The result', schema: 'JobResult' } },
    problems: [404, 409],
  },
  jobsLogs: {
    summary: 'Tail of the job’s stdout and stderr',
    tags: ['jobs'],
    query: LogsQuerySchema,
    queryExamples: { tail: 4096 },
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: 'Log tails and where they came from', schema: 'JobLogs' } },
    problems: [400, 404],
  },
  jobsDeliveries: {
    summary: 'Webhook deliveries about the job',
    description:
      'Every attempt (its own `notify` and every subscription’s), newest first: outcome, status code, error, duration, next retry.',
    tags: ['webhooks'],
    query: DeliveriesQuerySchema,
    queryExamples: { limit: 50 },
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: 'Attempts, newest first', schema: 'Deliveries' } },
    problems: [400, 404],
  },
  subscriptionsCreate: {
    summary: 'Subscribe a webhook to job events',
    description: `${WEBHOOK_DOC} The reply carries the signing secret; it is never shown again.`,
    tags: ['webhooks'],
    body: { schema: 'SubscriptionRequest', examples: SUBSCRIPTION_EXAMPLES },
    replies: {
      201: {
        description: 'Created, with its secret',
        schema: 'SubscriptionCreated',
        headers: { Location: { description: 'URL of the subscription', schema: { type: 'string' } } },
      },
    },
    problems: [400, 413, 415],
  },
  subscriptionsList: {
    summary: 'List webhook subscriptions',
    tags: ['webhooks'],
    replies: { 200: { description: 'Every subscription, oldest first (no secrets)', schema: 'SubscriptionList' } },
  },
  subscriptionsGet: {
    summary: 'Get a webhook subscription',
    tags: ['webhooks'],
    pathExamples: { id: SUBSCRIPTION_ID },
    replies: { 200: { description: 'The subscription (no secret)', schema: 'Subscription' } },
    problems: [404],
  },
  subscriptionsDelete: {
    summary: 'Delete a webhook subscription',
    description: 'Deliveries already queued for it are dropped (and recorded as such).',
    tags: ['webhooks'],
    pathExamples: { id: SUBSCRIPTION_ID },
    replies: { 204: { description: 'Deleted' } },
    problems: [404],
  },
  subscriptionsDeliveries: {
    summary: 'Delivery attempts of a subscription',
    tags: ['webhooks'],
    query: DeliveriesQuerySchema,
    queryExamples: { limit: 50 },
    pathExamples: { id: SUBSCRIPTION_ID },
    replies: { 200: { description: 'Attempts, newest first', schema: 'Deliveries' } },
    problems: [400, 404],
  },
  submitJob: {
    summary: 'Submit a job (the original orchestrator’s route)',
    description: 'Same body as POST /api/jobs; unknown fields are ignored here.',
    tags: ['compatibility'],
    idempotencyKey: true,
    body: { schema: 'SeedSubmission', examples: SEED_EXAMPLES },
    replies: {
      200: {
        description: 'Submitted',
        schema: 'SeedSubmitReply',
        headers: { Location: { description: 'URL of the job', schema: { type: 'string' } } },
      },
    },
    problems: [400, 402, 413, 415, 422],
  },
  queuesStatus: {
    summary: 'Waiting messages per queue',
    tags: ['queues'],
    query: StatusQuerySchema,
    queryExamples: { detail: 'true' },
    replies: { 200: { description: 'Queue name → count (or → depth detail)', schema: 'QueueStatus' } },
    problems: [400],
  },
  health: {
    summary: 'Health of the app and its dependencies',
    tags: ['operations'],
    anonymous: true,
    replies: {
      200: { description: 'Healthy', schema: 'Health' },
      503: { description: 'A dependency is down', schema: 'Health' },
    },
  },
  openApi: {
    summary: 'This document',
    tags: ['operations'],
    anonymous: true,
    replies: {
      200: {
        description: 'The OpenAPI 3.1 document',
        contentType: 'application/json',
        headers: { ETag: { schema: { type: 'string' } } },
      },
      304: { description: 'Not modified (If-None-Match matched the ETag)' },
    },
  },
  providersList: {
    summary: 'Providers: configured, active jobs, last poll and back-off',
    tags: ['operations'],
    replies: { 200: { description: 'Every provider the registry knows', schema: 'Providers' } },
  },
  costsReport: {
    summary: 'Costs of finished jobs, grouped',
    description:
      'Actual costs (billed runtime × instances × price-table price) of jobs that finished in [from, to), optionally only those carrying the given labels, grouped by provider, queue, status, day or a label’s value, most expensive first. Read from the cost ledger (one row per finished job, committed with its terminal state and keyed by the day it finished), never from the job records; a range spans at most 366 days.',
    tags: ['costs'],
    query: CostsQuerySchema,
    queryExamples: { groupBy: 'provider,queue' },
    replies: { 200: { description: 'Totals and groups', schema: 'CostReport' } },
    problems: [400],
  },
  endpointsList: {
    summary: 'Money guard: live endpoints the orchestrator created',
    description:
      'Endpoints created through the Essedum endpoint routes and not (confirmed) deleted, newest first: provider, instance type and count, age, deployed models, last infer/explain call and — when ENDPOINT_IDLE_TTL_SEC is set — when the idle check undeploys them. Reads the newest 2 000 asset jobs.',
    tags: ['operations'],
    query: EndpointsQuerySchema,
    queryExamples: { provider: 'sagemaker', limit: 50 },
    replies: { 200: { description: 'Live endpoints', schema: 'LiveEndpoints' } },
    problems: [400],
  },
  dashboard: {
    summary: 'The dashboard (HTML page)',
    description: 'The page itself is anonymous; it asks for the function key and sends it on every API call.',
    tags: ['dashboard'],
    anonymous: true,
    replies: { 200: { description: 'The dashboard page', contentType: 'text/html' } },
  },
  dashboardAsset: {
    summary: 'A dashboard asset (script, style sheet)',
    tags: ['dashboard'],
    anonymous: true,
    pathExamples: { file: 'index.js' },
    replies: {
      200: { description: 'The asset', contentType: 'application/octet-stream' },
      404: { description: 'No such asset', schema: 'Problem', contentType: 'application/problem+json' },
    },
  },
  essedumExecuteCreate: {
    summary: 'Essedum: run a command',
    description: 'Off unless ESSEDUM_EXECUTE_ENABLED (403). See docs/essedum.md.',
    tags: ['essedum'],
    body: { schema: 'ExecuteBody', examples: EXECUTE_EXAMPLES },
    replies: { 201: { description: 'Submitted', schema: 'ExecuteAccepted' } },
    problems: [400, 403, 413, 415],
  },
  essedumExecuteList: {
    summary: 'Essedum: the last 100 tasks',
    tags: ['essedum'],
    replies: { 200: { description: 'Tasks, newest first', schema: 'ExecuteList' } },
  },
  essedumExecuteStatus: {
    summary: 'Essedum: task status',
    tags: ['essedum'],
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: 'Status', schema: 'ExecuteStatus' }, 404: essedumNotFound },
  },
  essedumExecuteLog: {
    summary: 'Essedum: task log',
    tags: ['essedum'],
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: 'Log', schema: 'ExecuteLog' }, 404: essedumNotFound },
  },
  essedumExecuteStop: {
    summary: 'Essedum: stop a task',
    tags: ['essedum'],
    pathExamples: { id: JOB_ID },
    replies: { 200: { description: '`true` when the stop is under way', schema: 'ExecuteStop' }, 404: essedumNotFound },
  },
};

const MLOPS_QUERY = z.object({
  adapter_instance: z
    .string()
    .optional()
    .describe('Essedum adapter instance; mapped to a provider by ESSEDUM_ADAPTERS'),
  project: z.string().optional(),
  isCached: z.string().optional(),
  isInstance: z.string().optional(),
});

function pipelineOps(): Record<string, Operation> {
  const tags = ['essedum'];
  const rec = (description: string): Reply => ({ description, schema: 'PipelineRecord' });
  const byId = { pathExamples: { id: JOB_ID }, replies: { 200: rec('The pipeline record'), 404: essedumNotFound } };
  const create = (summary: string, examples: ExampleSet): Operation => ({
    summary,
    tags,
    query: MLOPS_QUERY,
    queryExamples: { adapter_instance: 'sm-prod', project: 'churn' },
    body: { schema: 'PipelineBody', examples },
    replies: { 200: rec('The new pipeline record') },
    problems: [400, 413, 415, 501],
  });
  const list = (summary: string): Operation => ({
    summary,
    tags,
    query: MLOPS_QUERY,
    queryExamples: { adapter_instance: 'sm-prod', project: 'churn' },
    replies: { 200: { description: 'Records, newest first', schema: 'PipelineList' } },
    problems: [400],
  });
  return {
    essedumTrainingCreate: {
      ...create('Essedum: start a training pipeline', TRAINING_EXAMPLES),
      pathExamples: { trainingType: 'train' },
      replies: { 200: rec('The new pipeline record'), 404: essedumNotFound },
    },
    essedumTrainingList: list('Essedum: training pipelines'),
    essedumTrainingGet: { summary: 'Essedum: a training pipeline', tags, ...byId },
    essedumTrainingCancel: { summary: 'Essedum: cancel a training pipeline', tags, ...byId },
    essedumTrainingDelete: {
      summary: 'Essedum: stop and delete a training pipeline (the record is kept)',
      tags,
      ...byId,
    },
    essedumProjectPipelineDelete: { summary: 'Essedum: stop and delete a pipeline of either type', tags, ...byId },
    essedumInferenceCreate: create('Essedum: start an inference (batch prediction) pipeline', INFERENCE_EXAMPLES),
    essedumInferenceList: list('Essedum: inference pipelines'),
    essedumInferenceGet: { summary: 'Essedum: an inference pipeline', tags, ...byId },
    essedumInferenceCancel: { summary: 'Essedum: cancel an inference pipeline', tags, ...byId },
    essedumInferenceDelete: {
      summary: 'Essedum: stop and delete an inference pipeline (the record is kept)',
      tags,
      ...byId,
    },
  };
}

const ASSET_EXAMPLES: Record<'dataset' | 'model' | 'endpoint' | 'deploy' | 'infer', ExampleSet> = {
  dataset: {
    sagemakerDataset: {
      summary: 'A dataset (provider-native fields, as the Essedum UI sends them)',
      value: { name: 'churn-train', description: 'training split', uri: 's3://ml-bucket/churn/train.csv' },
    },
  },
  model: {
    sagemakerModel: {
      summary: 'Register a model from its artifacts',
      value: {
        name: 'churn-model',
        image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1',
        model_data_url: 's3://ml-bucket/churn/model.tar.gz',
      },
    },
  },
  endpoint: {
    sagemakerEndpoint: {
      summary: 'An endpoint',
      value: { name: 'churn-endpoint', instance_type: 'ml.m5.large', instance_count: 1 },
    },
  },
  deploy: {
    deployModel: { summary: 'Deploy a registered model (its record id)', value: { model_id: JOB_ID } },
  },
  infer: {
    instances: { summary: 'Rows to score', value: { instances: [[0.1, 2, 'a']] } },
  },
};

function assetOps(): Record<string, Operation> {
  const tags = ['essedum'];
  const rec = (description: string): Reply => ({ description, schema: 'AssetRecord' });
  const byId = (summary: string, description?: string): Operation => ({
    summary,
    ...(description && { description }),
    tags,
    pathExamples: { id: JOB_ID },
    replies: { 200: rec('The asset record'), 404: essedumNotFound },
    problems: [409, 501],
  });
  const create = (summary: string, examples: ExampleSet): Operation => ({
    summary,
    description:
      'The body is the provider’s own form; it becomes a job of the provider’s asset kind. The reply is the new record at once; `…/{id}` follows its progress.',
    tags,
    query: MLOPS_QUERY,
    queryExamples: { adapter_instance: 'sm-prod', project: 'churn' },
    body: { schema: 'PipelineBody', examples },
    replies: { 200: rec('The new record') },
    problems: [400, 404, 409, 413, 415, 501],
  });
  const list = (summary: string): Operation => ({
    summary,
    tags,
    query: MLOPS_QUERY,
    queryExamples: { adapter_instance: 'sm-prod', project: 'churn' },
    replies: { 200: { description: 'Records, newest first (deleted ones left out)', schema: 'AssetList' } },
    problems: [400],
  });
  const del =
    'Starts the delete at the provider; the record says DELETED only once the provider confirmed it. 409 while another operation on the asset runs.';
  const exp = 'Starts an export job; its destination shows in the record’s `artifacts.exports` once done.';
  return {
    essedumDatasetCreate: create('Essedum: create a dataset', ASSET_EXAMPLES.dataset),
    essedumDatasetList: list('Essedum: datasets'),
    essedumDatasetGet: byId('Essedum: a dataset'),
    essedumDatasetDelete: byId('Essedum: delete a dataset', del),
    essedumDatasetExport: byId('Essedum: export a dataset', exp),
    essedumModelRegister: create('Essedum: register a model', ASSET_EXAMPLES.model),
    essedumModelList: list('Essedum: models'),
    essedumModelGet: byId('Essedum: a model'),
    essedumModelDelete: byId('Essedum: delete a model', del),
    essedumModelExport: byId('Essedum: export a model', exp),
    essedumEndpointCreate: create('Essedum: create an endpoint', ASSET_EXAMPLES.endpoint),
    essedumEndpointList: list('Essedum: endpoints'),
    essedumEndpointGet: byId('Essedum: an endpoint'),
    essedumEndpointDelete: byId('Essedum: delete an endpoint', del),
    essedumEndpointAction: {
      summary: 'Essedum: deploy_model, undeploy_models, infer or explain on an endpoint',
      description:
        '`deploy_model` / `undeploy_models` start a job (the record’s `deployment.deployedModels` changes once the provider confirmed it; 409 while another operation runs). `infer` / `explain` call the live endpoint through the provider and answer what it answered (501 when the provider cannot).',
      tags,
      pathExamples: { id: JOB_ID, action: 'infer' },
      body: { schema: 'PipelineBody', examples: { ...ASSET_EXAMPLES.infer, ...ASSET_EXAMPLES.deploy } },
      replies: {
        200: {
          description: 'The record (deploy/undeploy) or the endpoint’s answer (infer/explain)',
          schema: 'AssetReply',
        },
        404: essedumNotFound,
      },
      problems: [400, 409, 413, 415, 501, 502],
    },
  };
}

const PROBLEM_TEXT: Record<number, string> = {
  400: 'Malformed JSON or invalid fields (each named in `errors`)',
  401: 'Missing or wrong function key',
  402: 'A `refuse` budget covering the job’s labels would be exceeded (the problem names the budget, its limit, spend and the estimate)',
  403: 'Feature disabled',
  404: 'Not found',
  409: 'Conflict with the job state',
  413: 'Body larger than MAX_BODY_BYTES',
  415: 'Body is not JSON',
  422: 'Idempotency-Key reused with another body',
  501: 'Provider not configured, or without this operation',
  502: 'The provider or its endpoint refused the call',
  503: 'Temporarily unavailable (retry after Retry-After)',
};

/** Request schemas come from the handlers' own zod schemas; converted with io 'input' (defaults optional). */
function requestComponents(): Record<string, Json> {
  const reg = z.registry<{ id: string }>();
  reg.add(StrictSubmissionSchema, { id: 'JobSubmission' });
  reg.add(LenientSubmissionSchema, { id: 'SeedSubmission' });
  reg.add(ExecuteBodySchema, { id: 'ExecuteBody' });
  reg.add(S.PipelineBodySchema, { id: 'PipelineBody' });
  reg.add(SubscriptionRequestSchema, { id: 'SubscriptionRequest' });
  return convert(reg, 'input');
}

function responseComponents(): Record<string, Json> {
  const reg = z.registry<{ id: string }>();
  const all: Record<string, z.ZodType> = {
    Problem: S.ProblemSchema,
    RoutingDecision: S.DecisionSchema,
    Job: S.JobSchema,
    JobPage: S.JobPageSchema,
    JobEvent: S.JobEventSchema,
    JobEvents: S.JobEventsSchema,
    JobLogs: S.JobLogsSchema,
    JobResult: S.JobResultSchema,
    SeedSubmitReply: S.SeedSubmitReplySchema,
    Subscription: S.SubscriptionSchema,
    SubscriptionCreated: S.SubscriptionCreatedSchema,
    SubscriptionList: S.SubscriptionListSchema,
    DeliveryAttempt: S.DeliveryAttemptSchema,
    Deliveries: S.DeliveriesSchema,
    QueueDepth: S.QueueDepthSchema,
    QueueStatus: S.QueueStatusSchema,
    Health: S.HealthSchema,
    ProviderState: S.ProviderStateSchema,
    Providers: S.ProvidersSchema,
    JobCost: S.JobCostSchema,
    CostReport: S.CostReportSchema,
    EssedumNotFound: S.EssedumNotFoundSchema,
    ExecuteAccepted: S.ExecuteAcceptedSchema,
    ExecuteStatus: S.ExecuteStatusSchema,
    ExecuteLog: S.ExecuteLogSchema,
    ExecuteStop: S.ExecuteStopSchema,
    ExecuteList: S.ExecuteListSchema,
    PipelineRecord: S.PipelineRecordSchema,
    PipelineList: S.PipelineListSchema,
    AssetRecord: S.AssetRecordSchema,
    AssetList: S.AssetListSchema,
    Invocation: S.InvocationSchema,
    AssetReply: z.union([S.AssetRecordSchema, S.InvocationSchema]),
    LiveEndpoints: S.LiveEndpointsSchema,
  };
  for (const [id, schema] of Object.entries(all)) reg.add(schema, { id });
  return convert(reg, 'output');
}

function convert(reg: z.core.$ZodRegistry<{ id: string }>, io: 'input' | 'output'): Record<string, Json> {
  const out = z.toJSONSchema(reg, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(Object.entries(out.schemas).map(([id, s]) => [id, stripMeta(s as Json)]));
}

/** Component schemas live inside the document: no `$schema`/`$id` of their own. */
function stripMeta(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function querySchema(schema: z.ZodObject): Record<string, { schema: Json; required: boolean }> {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.fromEntries(
    Object.entries(json.properties ?? {}).map(([name, s]) => [
      name,
      { schema: s, required: json.required?.includes(name) ?? false },
    ]),
  );
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function operationObject(fn: HttpFunction, method: string, op: Operation): Json {
  const parameters: Json[] = [];
  for (const name of [...fn.route.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)) {
    const example = op.pathExamples?.[name];
    const schema: Json =
      name === 'trainingType'
        ? { type: 'string', enum: ['automl', 'custom_script', 'train'] }
        : name === 'action'
          ? { type: 'string', enum: ['deploy_model', 'undeploy_models', 'infer', 'explain'] }
          : { type: 'string' };
    parameters.push({ name, in: 'path', required: true, schema, ...(example !== undefined && { example }) });
  }
  if (op.query) {
    for (const [name, { schema, required }] of Object.entries(querySchema(op.query))) {
      const example = op.queryExamples?.[name];
      parameters.push({ name, in: 'query', required, schema, ...(example !== undefined && { example }) });
    }
  }
  if (op.idempotencyKey) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Same key and same body → the same job; same key, other body → 422.',
      schema: { type: 'string', maxLength: 256 },
      example: 'nightly-2026-11-23',
    });
  }
  if (fn.route.startsWith('service/v1/')) {
    parameters.push({
      name: 'Referer',
      in: 'header',
      required: false,
      description: 'Sent by the Essedum backend; accepted and never dereferenced.',
      schema: { type: 'string' },
    });
  }

  const responses: Json = {};
  for (const [status, reply] of Object.entries(op.replies)) {
    const contentType = reply.contentType ?? 'application/json';
    responses[status] = {
      description: reply.description,
      ...(reply.headers && { headers: reply.headers }),
      ...((reply.schema || reply.contentType) && {
        content: { [contentType]: { schema: reply.schema ? ref(reply.schema) : {} } },
      }),
    };
  }
  const problems = new Set(op.problems ?? []);
  if (!op.anonymous) problems.add(401);
  if (op.body) problems.add(503);
  if (!op.anonymous) problems.add(500);
  for (const status of [...problems].sort()) {
    if (responses[status]) continue;
    responses[status] = {
      description: PROBLEM_TEXT[status] ?? 'Server error (the detail names no internals)',
      ...(status === 503 && { headers: retryAfter }),
      content: { 'application/problem+json': { schema: ref('Problem') } },
    };
  }
  responses['405'] = {
    description: 'Method not allowed on this path',
    content: { 'application/problem+json': { schema: ref('Problem') } },
  };

  return {
    operationId: `${fn.name}${fn.methods.length > 1 ? method[0]!.toUpperCase() + method.slice(1).toLowerCase() : ''}`,
    summary: op.summary,
    ...(op.description && { description: op.description }),
    tags: [...op.tags],
    ...(op.anonymous ? { security: [] } : {}),
    ...(parameters.length > 0 && { parameters }),
    ...(op.body && {
      requestBody: {
        required: true,
        content: { 'application/json': { schema: ref(op.body.schema), examples: op.body.examples } },
      },
    }),
    responses,
  };
}

/** Builds the document for the function list (by default the app's own). */
export function buildOpenApi(functions: readonly { kind: string }[] = FUNCTIONS): Json {
  const ops = { ...OPERATIONS, ...pipelineOps(), ...assetOps() };
  const paths: Record<string, Json> = {};
  for (const fn of functions.filter((f): f is HttpFunction => f.kind === 'http')) {
    const op = ops[fn.name];
    if (!op)
      throw new Error(`OpenAPI: HTTP function '${fn.name}' (${fn.route}) is not documented in src/lib/http/openapi.ts`);
    const path = `/api/${fn.route}`;
    paths[path] ??= {};
    const item = paths[path];
    for (const method of fn.methods) item[method.toLowerCase()] = operationObject(fn, method, op);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Cloud Job Orchestrator',
      version: '0.1.0',
      description:
        'Submit ML and data jobs; the orchestrator classifies them, routes them to the most cost-effective place to run, tracks them to the end and shows why they went where they went. Errors are RFC 9457 problem documents.',
    },
    servers: [{ url: '/', description: 'This deployment (all routes are under /api)' }],
    security: [{ functionKey: [] }],
    tags: [
      { name: 'jobs', description: 'Submit, track and cancel jobs' },
      { name: 'webhooks', description: 'Webhook subscriptions and delivery records (Standard Webhooks)' },
      { name: 'queues', description: 'Queue depths and dead letters' },
      { name: 'operations', description: 'Health, providers and this document' },
      { name: 'costs', description: 'Costs of finished jobs from the cost ledger' },
      { name: 'dashboard', description: 'The browser dashboard served by the app' },
      { name: 'compatibility', description: 'The original orchestrator’s routes' },
      { name: 'essedum', description: 'The Essedum executors’ routes (docs/essedum.md)' },
    ],
    paths,
    components: {
      securitySchemes: {
        functionKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-functions-key',
          description: 'Azure Functions key (or the local runner’s LOCAL_API_KEY); `?code=` works too.',
        },
      },
      schemas: { ...requestComponents(), ...responseComponents() },
    },
  };
}

let cached: { text: string; etag: string } | undefined;

/** The document as served: serialised once per process, with a strong ETag of its bytes. */
export function openApiDocument(): { text: string; etag: string } {
  if (!cached) {
    const text = `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
    cached = { text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
  }
  return cached;
}
