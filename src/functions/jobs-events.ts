import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/jobs/{id}/events — the job's history: every transition with time, from, to and reason. */
export const jobsEvents = httpFunction({
  name: 'jobsEvents',
  route: 'jobs/{id}/events',
  methods: ['GET'],
  handler: async (request) => {
    const id = request.params.id ?? '';
    const [{ jobEvents }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    return json(200, { jobId: id, events: await jobEvents(d, id) });
  },
});
