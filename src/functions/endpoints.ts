import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/**
 * GET /api/endpoints?provider=&adapter=&project=&limit= — the money guard: live endpoints the
 * orchestrator created (not deleted), with provider, instance type and count, age and last call.
 */
export const endpointsList = httpFunction({
  name: 'endpointsList',
  route: 'endpoints',
  methods: ['GET'],
  load: () => import('../lib/app/endpoints.js'),
  handler: async ({ use, deps, request }) =>
    json(200, await use.listLiveEndpoints(deps, Object.fromEntries(request.query.entries()))),
});
