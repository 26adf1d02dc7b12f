import { z } from 'zod';
import { jobLogs } from '../lib/app/queries.js';
import { parseOrThrow } from '../lib/core/job.js';
import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

const LogsQuery = z.object({ tail: z.coerce.number().int().min(1).max(1_048_576).default(65_536) });

/** GET /api/jobs/{id}/logs?tail=bytes — stdout/stderr tail, wherever the job ran. */
export const jobsLogs = httpFunction({
  name: 'jobsLogs',
  route: 'jobs/{id}/logs',
  methods: ['GET'],
  handler: async (request) => {
    const { tail } = parseOrThrow(LogsQuery, Object.fromEntries(request.query.entries()));
    const id = request.params.id ?? '';
    return json(200, { jobId: id, ...(await jobLogs(await deps(), id, tail)) });
  },
});
