import type { HttpResponseInit } from '@azure/functions';
import { json, readJsonBody } from '../lib/http/http.js';
import { deps, httpFunction, type HttpHandler } from './define.js';

/** The use cases load on first invocation (zod and friends stay off the cold-start path). */
const useCases = () => import('../lib/app/essedum/execute.js');

/**
 * The Essedum executors' generic job API (`/execute…`), so the Essedum backend can use this
 * deployment as its executor. Reply shapes are the executors' (docs/essedum.md); an unknown task id
 * gets their 404 body `{"error": "Not found - The requested resource does not exists"}` (wording kept,
 * typo included, for clients that match on it), other errors are our problem documents.
 */
export const ESSEDUM_NOT_FOUND = { error: 'Not found - The requested resource does not exists' } as const;

function withTaskNotFound(handler: HttpHandler): HttpHandler {
  return async (request, context): Promise<HttpResponseInit> => {
    try {
      return await handler(request, context);
    } catch (error) {
      // By name: the error class lives in the lazily loaded use-case module.
      if (error instanceof Error && error.name === 'EssedumTaskNotFoundError') return json(404, ESSEDUM_NOT_FOUND);
      throw error;
    }
  };
}

/** POST /api/execute — run a command (off unless ESSEDUM_EXECUTE_ENABLED); 201 `{task_id, task_status, log_path}`. */
export const essedumExecuteCreate = httpFunction({
  name: 'essedumExecuteCreate',
  route: 'execute',
  methods: ['POST'],
  handler: async (request) => {
    const [{ submitExecute }, d] = await Promise.all([useCases(), deps()]);
    return json(201, await submitExecute(d, await readJsonBody(request, d.config)));
  },
});

/** GET /api/execute — the last 100 tasks `[{id, pid, status, submitted}]`. */
export const essedumExecuteList = httpFunction({
  name: 'essedumExecuteList',
  route: 'execute',
  methods: ['GET'],
  handler: async () => json(200, await (await useCases()).executeList(await deps())),
});

/** GET /api/execute/{id}/getStatus */
export const essedumExecuteStatus = httpFunction({
  name: 'essedumExecuteStatus',
  route: 'execute/{id}/getStatus',
  methods: ['GET'],
  handler: withTaskNotFound(async (request) => json(200, await (await useCases()).executeStatus(await deps(), request.params.id ?? ''))),
});

/** GET /api/execute/{id}/getLog — `{"logs": {"content": "…"}}`. */
export const essedumExecuteLog = httpFunction({
  name: 'essedumExecuteLog',
  route: 'execute/{id}/getLog',
  methods: ['GET'],
  handler: withTaskNotFound(async (request) => json(200, await (await useCases()).executeLog(await deps(), request.params.id ?? ''))),
});

/** GET /api/execute/{id}/stop — `{"Task cancelled": true|false}`. */
export const essedumExecuteStop = httpFunction({
  name: 'essedumExecuteStop',
  route: 'execute/{id}/stop',
  methods: ['GET'],
  handler: withTaskNotFound(async (request) => json(200, await (await useCases()).executeStop(await deps(), request.params.id ?? ''))),
});

export const ESSEDUM_EXECUTE_FUNCTIONS = [essedumExecuteCreate, essedumExecuteList, essedumExecuteStatus, essedumExecuteLog, essedumExecuteStop] as const;
