import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/jobs/{id}/result — the result document once the job finished (409 before). */
export const jobsResult = httpFunction({
  name: 'jobsResult',
  route: 'jobs/{id}/result',
  methods: ['GET'],
  handler: async (request) => {
    const [{ jobResult }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    return json(200, await jobResult(d, request.params.id ?? ''));
  },
});
