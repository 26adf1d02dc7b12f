import { json, jobView } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** GET /api/jobs/{id} — the job, where it went and why (`decision`). */
export const jobsGet = httpFunction({
  name: 'jobsGet',
  route: 'jobs/{id}',
  methods: ['GET'],
  load: () => import('../lib/app/queries.js'),
  handler: async ({ use, deps, request }) => json(200, jobView(await use.getJob(deps, request.params.id ?? ''))),
});
