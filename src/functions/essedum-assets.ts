import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Deps } from '../lib/deps.js';
import { json, readJsonBody } from '../lib/http/http.js';
import { type HttpCall, httpFunction } from './define.js';
import { ESSEDUM_NOT_FOUND } from './essedum-execute.js';
import { mlops } from './essedum-pipelines.js';

/**
 * The Essedum executors' MLOps asset routes (datasets, models, endpoints) on our providers
 * (docs/essedum.md). The adapter comes from the `adapter_instance` query parameter through
 * ESSEDUM_ADAPTERS; the Referer header is accepted and never dereferenced. Unknown ids answer the
 * executors' 404 body; everything else that goes wrong is a problem document.
 */

const useCases = () => import('../lib/app/essedum/assets.js');
type AssetCall = HttpCall<Awaited<ReturnType<typeof useCases>>>;
type AssetType = 'dataset' | 'model' | 'endpoint';

/** Kept here (not imported) so the route table needs no use-case module. */
export const ENDPOINT_ACTIONS = ['deploy_model', 'undeploy_models', 'infer', 'explain'] as const;

function withAssetNotFound(handler: (call: AssetCall) => Promise<HttpResponseInit>) {
  return async (call: AssetCall): Promise<HttpResponseInit> => {
    try {
      return await handler(call);
    } catch (error) {
      if (error instanceof call.use.AssetNotFoundError) return json(404, ESSEDUM_NOT_FOUND);
      throw error;
    }
  };
}

/** Export and undeploy calls may come without a body (no content type, nothing declared): that is `{}`. */
async function bodyOrEmpty(request: HttpRequest, deps: Deps): Promise<unknown> {
  const length = request.headers.get('content-length');
  if (!request.headers.get('content-type') && (length === null || length.trim() === '0')) return {};
  return readJsonBody(request, deps.config);
}

const BASE = 'service/v1';
const id = (request: HttpRequest) => request.params.id ?? '';

function createRoute(name: string, route: string, type: AssetType) {
  return httpFunction({
    name,
    route: `${BASE}/${route}`,
    methods: ['POST'],
    load: useCases,
    handler: withAssetNotFound(async ({ use, deps, request }) => {
      const body = await readJsonBody(request, deps.config);
      return json(200, use.assetRecord(await use.createAsset(deps, mlops(request), type, body)));
    }),
  });
}

function listRoute(name: string, plural: string, type: AssetType) {
  return httpFunction({
    name,
    route: `${BASE}/${plural}/list`,
    methods: ['GET'],
    load: useCases,
    handler: async ({ use, deps, request }) => json(200, await use.listAssets(deps, mlops(request), type)),
  });
}

function getRoute(name: string, plural: string, type: AssetType) {
  return httpFunction({
    name,
    route: `${BASE}/${plural}/{id}`,
    methods: ['GET'],
    load: useCases,
    handler: withAssetNotFound(async ({ use, deps, request }) =>
      json(200, await use.getAsset(deps, type, id(request))),
    ),
  });
}

function deleteRoute(name: string, route: string, type: AssetType) {
  return httpFunction({
    name,
    route: `${BASE}/${route}`,
    methods: ['DELETE'],
    load: useCases,
    handler: withAssetNotFound(async ({ use, deps, request }) =>
      json(200, await use.deleteAsset(deps, type, id(request))),
    ),
  });
}

function exportRoute(name: string, plural: string, type: 'dataset' | 'model') {
  return httpFunction({
    name,
    route: `${BASE}/${plural}/{id}/export`,
    methods: ['POST'],
    load: useCases,
    handler: withAssetNotFound(async ({ use, deps, request }) => {
      const body = await bodyOrEmpty(request, deps);
      const op = type === 'dataset' ? 'dataset-export' : 'model-export';
      const { record } = await use.operateAsset(deps, type, id(request), op, body);
      return json(200, use.assetRecord(record));
    }),
  });
}

/** POST /api/service/v1/datasets */
export const essedumDatasetCreate = createRoute('essedumDatasetCreate', 'datasets', 'dataset');
/** GET /api/service/v1/datasets/list */
export const essedumDatasetList = listRoute('essedumDatasetList', 'datasets', 'dataset');
/** GET /api/service/v1/datasets/{id} */
export const essedumDatasetGet = getRoute('essedumDatasetGet', 'datasets', 'dataset');
/** DELETE /api/service/v1/datasets/{id} */
export const essedumDatasetDelete = deleteRoute('essedumDatasetDelete', 'datasets/{id}', 'dataset');
/** POST /api/service/v1/datasets/{id}/export */
export const essedumDatasetExport = exportRoute('essedumDatasetExport', 'datasets', 'dataset');

/** POST /api/service/v1/models/register */
export const essedumModelRegister = createRoute('essedumModelRegister', 'models/register', 'model');
/** GET /api/service/v1/models/list */
export const essedumModelList = listRoute('essedumModelList', 'models', 'model');
/** GET /api/service/v1/models/{id} */
export const essedumModelGet = getRoute('essedumModelGet', 'models', 'model');
/** DELETE /api/service/v1/models/{id} */
export const essedumModelDelete = deleteRoute('essedumModelDelete', 'models/{id}', 'model');
/** POST /api/service/v1/models/{id}/export */
export const essedumModelExport = exportRoute('essedumModelExport', 'models', 'model');

/** POST /api/service/v1/endpoints/register */
export const essedumEndpointCreate = createRoute('essedumEndpointCreate', 'endpoints/register', 'endpoint');
/** GET /api/service/v1/endpoints/list */
export const essedumEndpointList = listRoute('essedumEndpointList', 'endpoints', 'endpoint');
/** GET /api/service/v1/endpoints/{id} */
export const essedumEndpointGet = getRoute('essedumEndpointGet', 'endpoints', 'endpoint');
/** DELETE /api/service/v1/endpoints/{id}/delete */
export const essedumEndpointDelete = deleteRoute('essedumEndpointDelete', 'endpoints/{id}/delete', 'endpoint');

/** POST /api/service/v1/endpoints/{id}/{deploy_model|undeploy_models|infer|explain} */
export const essedumEndpointAction = httpFunction({
  name: 'essedumEndpointAction',
  route: `${BASE}/endpoints/{id}/{action}`,
  methods: ['POST'],
  load: useCases,
  handler: withAssetNotFound(async ({ use, deps, request }) => {
    const action = request.params.action ?? '';
    switch (action) {
      case 'infer':
      case 'explain':
        return json(200, await use.invokeAsset(deps, id(request), action, await readJsonBody(request, deps.config)));
      case 'deploy_model': {
        const body = await readJsonBody(request, deps.config);
        const { record } = await use.operateAsset(deps, 'endpoint', id(request), 'endpoint-deploy', body);
        return json(200, use.assetRecord(record));
      }
      case 'undeploy_models': {
        const body = await bodyOrEmpty(request, deps);
        const { record } = await use.operateAsset(deps, 'endpoint', id(request), 'endpoint-undeploy', body);
        return json(200, use.assetRecord(record));
      }
      default:
        return json(404, ESSEDUM_NOT_FOUND);
    }
  }),
});

/** In the order the function list needs: literal routes before parameterised ones of the same depth. */
export const ESSEDUM_ASSET_FUNCTIONS = [
  essedumDatasetList,
  essedumDatasetCreate,
  essedumDatasetGet,
  essedumDatasetDelete,
  essedumDatasetExport,
  essedumModelList,
  essedumModelRegister,
  essedumModelGet,
  essedumModelDelete,
  essedumModelExport,
  essedumEndpointList,
  essedumEndpointCreate,
  essedumEndpointGet,
  essedumEndpointDelete,
  essedumEndpointAction,
] as const;
