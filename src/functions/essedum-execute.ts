import type { HttpResponseInit } from '@azure/functions';
import { json, readJsonBody } from '../lib/http/http.js';
import { type HttpCall, httpFunction } from './define.js';

/** The use cases load on first invocation (zod and friends stay off the cold-start path). */
const useCases = () => import('../lib/app/essedum/execute.js');
type ExecuteCall = HttpCall<Awaited<ReturnType<typeof useCases>>>;

/**
 * The Essedum executors' generic job API (`/execute…`), so the Essedum backend can use this
 * deployment as its executor. Reply shapes are the executors' (docs/essedum.md); an unknown task id
 * gets their 404 body `{"error": "Not found - The requested resource does not exists"}` (wording kept,
 * typo included, for clients that match on it), other errors are our problem documents.
 */
export const ESSEDUM_NOT_FOUND = { error: 'Not found - The requested resource does not exists' } as const;

function withTaskNotFound(handler: (call: ExecuteCall) => Promise<HttpResponseInit>) {
  return async (call: ExecuteCall): Promise<HttpResponseInit> => {
    try {
      return await handler(call);
    } catch (error) {
      if (error instanceof call.use.EssedumTaskNotFoundError) return json(404, ESSEDUM_NOT_FOUND);
      throw error;
    }
  };
}

/** POST /api/execute — run a command (off unless ESSEDUM_EXECUTE_ENABLED); 201 `{task_id, task_status, log_path}`. */
export const essedumExecuteCreate = httpFunction({
  name: 'essedumExecuteCreate',
  route: 'execute',
  methods: ['POST'],
  load: useCases,
  handler: async ({ use, deps, request }) =>
    json(201, await use.submitExecute(deps, await readJsonBody(request, deps.config))),
});

/** GET /api/execute — the last 100 tasks `[{id, pid, status, submitted}]`. */
export const essedumExecuteList = httpFunction({
  name: 'essedumExecuteList',
  route: 'execute',
  methods: ['GET'],
  load: useCases,
  handler: async ({ use, deps }) => json(200, await use.executeList(deps)),
});

/** GET /api/execute/{id}/getStatus */
export const essedumExecuteStatus = httpFunction({
  name: 'essedumExecuteStatus',
  route: 'execute/{id}/getStatus',
  methods: ['GET'],
  load: useCases,
  handler: withTaskNotFound(async ({ use, deps, request }) =>
    json(200, await use.executeStatus(deps, request.params.id ?? '')),
  ),
});

/** GET /api/execute/{id}/getLog — `{"logs": {"content": "…"}}`. */
export const essedumExecuteLog = httpFunction({
  name: 'essedumExecuteLog',
  route: 'execute/{id}/getLog',
  methods: ['GET'],
  load: useCases,
  handler: withTaskNotFound(async ({ use, deps, request }) =>
    json(200, await use.executeLog(deps, request.params.id ?? '')),
  ),
});

/** GET /api/execute/{id}/stop — `{"Task cancelled": true|false}`. */
export const essedumExecuteStop = httpFunction({
  name: 'essedumExecuteStop',
  route: 'execute/{id}/stop',
  methods: ['GET'],
  load: useCases,
  handler: withTaskNotFound(async ({ use, deps, request }) =>
    json(200, await use.executeStop(deps, request.params.id ?? '')),
  ),
});

export const ESSEDUM_EXECUTE_FUNCTIONS = [
  essedumExecuteCreate,
  essedumExecuteList,
  essedumExecuteStatus,
  essedumExecuteLog,
  essedumExecuteStop,
] as const;
