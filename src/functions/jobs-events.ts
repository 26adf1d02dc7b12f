import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** GET /api/jobs/{id}/events — the job's history: every transition with time, from, to and reason. */
export const jobsEvents = httpFunction({
  name: 'jobsEvents',
  route: 'jobs/{id}/events',
  methods: ['GET'],
  load: () => import('../lib/app/queries.js'),
  handler: async ({ use, deps, request }) => {
    const id = request.params.id ?? '';
    return json(200, { jobId: id, events: await use.jobEvents(deps, id) });
  },
});
