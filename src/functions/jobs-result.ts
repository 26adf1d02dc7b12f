import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** GET /api/jobs/{id}/result — the result document once the job finished (409 before). */
export const jobsResult = httpFunction({
  name: 'jobsResult',
  route: 'jobs/{id}/result',
  methods: ['GET'],
  load: () => import('../lib/app/queries.js'),
  handler: async ({ use, deps, request }) => json(200, await use.jobResult(deps, request.params.id ?? '')),
});
