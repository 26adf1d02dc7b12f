import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/**
 * GET /api/queues/status — the seed's flat map (queue → waiting messages); with `?detail=true`,
 * active, dead-letter (poison) and scheduled counts per queue.
 */
export const queuesStatus = httpFunction({
  name: 'queuesStatus',
  route: 'queues/status',
  methods: ['GET'],
  load: () => import('../lib/app/queries.js'),
  handler: async ({ use, deps, request }) =>
    json(200, await use.queueStatus(deps, Object.fromEntries(request.query.entries()))),
});
