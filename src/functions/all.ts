import { classify } from './classify.js';
import { deadLetterActor, deadLetterBatch, deadLetterIntake, deadLetterMl, deadLetterSpark } from './dead-letter.js';
import type { FunctionDefinition } from './define.js';
import {
  essedumExecuteCreate,
  essedumExecuteList,
  essedumExecuteLog,
  essedumExecuteStatus,
  essedumExecuteStop,
} from './essedum-execute.js';
import {
  essedumInferenceCancel,
  essedumInferenceCreate,
  essedumInferenceDelete,
  essedumInferenceGet,
  essedumInferenceList,
  essedumProjectPipelineDelete,
  essedumTrainingCancel,
  essedumTrainingCreate,
  essedumTrainingDelete,
  essedumTrainingGet,
  essedumTrainingList,
} from './essedum-pipelines.js';
import { costsReport } from './costs.js';
import { dashboard, dashboardAsset } from './dashboard.js';
import { endpointsList } from './endpoints.js';
import { ESSEDUM_ASSET_FUNCTIONS } from './essedum-assets.js';
import { dispatchBatch, dispatchMl } from './dispatch.js';
import { healthCheck } from './health.js';
import { jobsCancel } from './jobs-cancel.js';
import { jobsCreate } from './jobs-create.js';
import { jobsEvents } from './jobs-events.js';
import { jobsGet } from './jobs-get.js';
import { jobsList } from './jobs-list.js';
import { jobsLogs } from './jobs-logs.js';
import { jobsResult } from './jobs-result.js';
import { openApi } from './openapi.js';
import { POLLERS, reconcile } from './poll.js';
import { providersList } from './providers.js';
import { queuesStatus } from './queues-status.js';
import { submitJobSeed } from './submit-job.js';
import {
  jobsDeliveries,
  subscriptionsCreate,
  subscriptionsDelete,
  subscriptionsDeliveries,
  subscriptionsGet,
  subscriptionsList,
} from './subscriptions.js';
import { deliverWebhook } from './webhooks.js';

/**
 * The one list of functions. The Azure Functions registration (index.ts) and the local runner both
 * read it, so what runs locally is what runs in Azure.
 */
export const FUNCTIONS: readonly FunctionDefinition[] = [
  jobsCreate,
  jobsList,
  jobsGet,
  jobsCancel,
  jobsEvents,
  jobsResult,
  jobsLogs,
  jobsDeliveries,
  subscriptionsCreate,
  subscriptionsList,
  subscriptionsGet,
  subscriptionsDelete,
  subscriptionsDeliveries,
  submitJobSeed,
  queuesStatus,
  healthCheck,
  openApi,
  providersList,
  costsReport,
  endpointsList,
  dashboard,
  dashboardAsset,
  essedumExecuteCreate,
  essedumExecuteList,
  essedumExecuteStatus,
  essedumExecuteLog,
  essedumExecuteStop,
  // Literal routes (`…/list`) before the parameterised ones of the same depth.
  essedumTrainingList,
  essedumTrainingCreate,
  essedumTrainingGet,
  essedumTrainingCancel,
  essedumTrainingDelete,
  essedumProjectPipelineDelete,
  essedumInferenceList,
  essedumInferenceCreate,
  essedumInferenceGet,
  essedumInferenceCancel,
  essedumInferenceDelete,
  ...ESSEDUM_ASSET_FUNCTIONS,
  classify,
  dispatchMl,
  dispatchBatch,
  deliverWebhook,
  deadLetterIntake,
  deadLetterMl,
  deadLetterBatch,
  deadLetterActor,
  deadLetterSpark,
  ...POLLERS,
  reconcile,
];
