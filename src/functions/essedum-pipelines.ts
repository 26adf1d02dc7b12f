import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { MlopsContext, TrainingType } from '../lib/app/essedum/pipelines.js';
import { json, readJsonBody } from '../lib/http/http.js';
import { type HttpCall, httpFunction } from './define.js';
import { ESSEDUM_NOT_FOUND } from './essedum-execute.js';

/**
 * The Essedum executors' MLOps pipeline routes (training and inference) on our providers. The
 * backend's query parameters (`adapter_instance`, `project`, `isCached`, `isInstance`) are read;
 * the Referer header is accepted and never dereferenced. Unknown ids answer the executors' 404 body.
 */

/** The use cases load on first invocation (zod and friends stay off the cold-start path). */
const useCases = () => import('../lib/app/essedum/pipelines.js');
type PipelineCall = HttpCall<Awaited<ReturnType<typeof useCases>>>;

/** Kept here (not imported) so the route table needs no use-case module; a unit test pins it to TRAINING_TYPES. */
export const ROUTE_TRAINING_TYPES: readonly TrainingType[] = ['automl', 'custom_script', 'train'];

export function mlops(request: HttpRequest): MlopsContext {
  const q = (k: string) => request.query.get(k) ?? undefined;
  const referer = request.headers.get('referer') ?? undefined;
  return {
    ...(q('adapter_instance') !== undefined && { adapterInstance: q('adapter_instance') }),
    ...(q('project') !== undefined && { project: q('project') }),
    ...(q('isCached') !== undefined && { isCached: q('isCached') }),
    ...(q('isInstance') !== undefined && { isInstance: q('isInstance') }),
    ...(referer !== undefined && { referer }),
  };
}

function withPipelineNotFound(handler: (call: PipelineCall) => Promise<HttpResponseInit>) {
  return async (call: PipelineCall): Promise<HttpResponseInit> => {
    try {
      return await handler(call);
    } catch (error) {
      if (error instanceof call.use.PipelineNotFoundError) return json(404, ESSEDUM_NOT_FOUND);
      throw error;
    }
  };
}

const BASE = 'service/v1/pipelines';

/** POST /api/service/v1/pipelines/training/{automl|custom_script|train} */
export const essedumTrainingCreate = httpFunction({
  name: 'essedumTrainingCreate',
  route: `${BASE}/training/{trainingType}`,
  methods: ['POST'],
  load: useCases,
  handler: async ({ use, deps, request }) => {
    const type = request.params.trainingType ?? '';
    if (!(ROUTE_TRAINING_TYPES as readonly string[]).includes(type)) return json(404, ESSEDUM_NOT_FOUND);
    const body = await readJsonBody(request, deps.config);
    const job = await use.submitPipeline(deps, mlops(request), 'training', type as TrainingType, body);
    return json(200, use.pipelineRecord(job));
  },
});

/** GET /api/service/v1/pipelines/training/list */
export const essedumTrainingList = httpFunction({
  name: 'essedumTrainingList',
  route: `${BASE}/training/list`,
  methods: ['GET'],
  load: useCases,
  handler: async ({ use, deps, request }) => json(200, await use.listPipelines(deps, mlops(request), 'training')),
});

/** GET /api/service/v1/pipelines/training/{id}/get */
export const essedumTrainingGet = httpFunction({
  name: 'essedumTrainingGet',
  route: `${BASE}/training/{id}/get`,
  methods: ['GET'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.getPipeline(deps, request.params.id ?? '', 'training')),
  ),
});

/** GET /api/service/v1/pipelines/training/{id}/cancel */
export const essedumTrainingCancel = httpFunction({
  name: 'essedumTrainingCancel',
  route: `${BASE}/training/{id}/cancel`,
  methods: ['GET'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.cancelPipeline(deps, request.params.id ?? '', 'training')),
  ),
});

/** DELETE /api/service/v1/pipelines/training/{id}/delete */
export const essedumTrainingDelete = httpFunction({
  name: 'essedumTrainingDelete',
  route: `${BASE}/training/{id}/delete`,
  methods: ['DELETE'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.deletePipeline(deps, request.params.id ?? '', 'training')),
  ),
});

/** DELETE /api/service/v1/projects_pipelines/{id}/delete — a pipeline of either type. */
export const essedumProjectPipelineDelete = httpFunction({
  name: 'essedumProjectPipelineDelete',
  route: 'service/v1/projects_pipelines/{id}/delete',
  methods: ['DELETE'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.deletePipeline(deps, request.params.id ?? '')),
  ),
});

/** POST /api/service/v1/pipelines/inference */
export const essedumInferenceCreate = httpFunction({
  name: 'essedumInferenceCreate',
  route: `${BASE}/inference`,
  methods: ['POST'],
  load: useCases,
  handler: async ({ use, deps, request }) => {
    const body = await readJsonBody(request, deps.config);
    const job = await use.submitPipeline(deps, mlops(request), 'inference', undefined, body);
    return json(200, use.pipelineRecord(job));
  },
});

/** GET /api/service/v1/pipelines/inference/list */
export const essedumInferenceList = httpFunction({
  name: 'essedumInferenceList',
  route: `${BASE}/inference/list`,
  methods: ['GET'],
  load: useCases,
  handler: async ({ use, deps, request }) => json(200, await use.listPipelines(deps, mlops(request), 'inference')),
});

/** POST|GET /api/service/v1/pipelines/inference/{id}/get */
export const essedumInferenceGet = httpFunction({
  name: 'essedumInferenceGet',
  route: `${BASE}/inference/{id}/get`,
  methods: ['GET', 'POST'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.getPipeline(deps, request.params.id ?? '', 'inference')),
  ),
});

/** POST|GET /api/service/v1/pipelines/inference/{id}/cancel */
export const essedumInferenceCancel = httpFunction({
  name: 'essedumInferenceCancel',
  route: `${BASE}/inference/{id}/cancel`,
  methods: ['GET', 'POST'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.cancelPipeline(deps, request.params.id ?? '', 'inference')),
  ),
});

/** DELETE /api/service/v1/pipelines/inference/{id} */
export const essedumInferenceDelete = httpFunction({
  name: 'essedumInferenceDelete',
  route: `${BASE}/inference/{id}`,
  methods: ['DELETE'],
  load: useCases,
  handler: withPipelineNotFound(async ({ use, deps, request }) =>
    json(200, await use.deletePipeline(deps, request.params.id ?? '', 'inference')),
  ),
});
