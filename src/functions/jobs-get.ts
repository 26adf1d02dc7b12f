import { json, jobView } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/jobs/{id} — the job, where it went and why (`decision`). */
export const jobsGet = httpFunction({
  name: 'jobsGet',
  route: 'jobs/{id}',
  methods: ['GET'],
  handler: async (request) => {
    const [{ getJob }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    return json(200, jobView(await getJob(d, request.params.id ?? '')));
  },
});
