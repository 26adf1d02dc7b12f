import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** GET /api/jobs/{id}/logs?tail=bytes — stdout/stderr tail, wherever the job ran. */
export const jobsLogs = httpFunction({
  name: 'jobsLogs',
  route: 'jobs/{id}/logs',
  methods: ['GET'],
  load: () => import('../lib/app/queries.js'),
  handler: async ({ use, deps, request }) => {
    const id = request.params.id ?? '';
    const tail = use.parseLogsQuery(Object.fromEntries(request.query.entries()));
    return json(200, { jobId: id, ...(await use.jobLogs(deps, id, tail)) });
  },
});
