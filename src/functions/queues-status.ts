import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/**
 * GET /api/queues/status — the seed's flat map (queue → waiting messages); with `?detail=true`,
 * active, dead-letter (poison) and scheduled counts per queue.
 */
export const queuesStatus = httpFunction({
  name: 'queuesStatus',
  route: 'queues/status',
  methods: ['GET'],
  handler: async (request) => {
    const [{ queueStatus }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    return json(200, await queueStatus(d, Object.fromEntries(request.query.entries())));
  },
});
