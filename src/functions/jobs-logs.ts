import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/jobs/{id}/logs?tail=bytes — stdout/stderr tail, wherever the job ran. */
export const jobsLogs = httpFunction({
  name: 'jobsLogs',
  route: 'jobs/{id}/logs',
  methods: ['GET'],
  handler: async (request) => {
    const [{ jobLogs, parseLogsQuery }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    const id = request.params.id ?? '';
    const tail = parseLogsQuery(Object.fromEntries(request.query.entries()));
    return json(200, { jobId: id, ...(await jobLogs(d, id, tail)) });
  },
});
