import { z } from 'zod';
import { queueStatus } from '../lib/app/queries.js';
import { parseOrThrow } from '../lib/core/job.js';
import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

const StatusQuery = z.object({ detail: z.enum(['true', 'false']).optional() });

/**
 * GET /api/queues/status — the seed's flat map (queue → waiting messages); with `?detail=true`,
 * active, dead-letter (poison) and scheduled counts per queue.
 */
export const queuesStatus = httpFunction({
  name: 'queuesStatus',
  route: 'queues/status',
  methods: ['GET'],
  handler: async (request) => {
    const { detail } = parseOrThrow(StatusQuery, Object.fromEntries(request.query.entries()));
    const depths = await queueStatus(await deps());
    if (detail === 'true') return json(200, depths);
    return json(200, Object.fromEntries(Object.entries(depths).map(([q, d]) => [q, d.active])));
  },
});
