import { json, jobView } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** POST /api/jobs/{id}/cancel — 202; `cancelled` at once before dispatch, else `cancelling` until confirmed. */
export const jobsCancel = httpFunction({
  name: 'jobsCancel',
  route: 'jobs/{id}/cancel',
  methods: ['POST'],
  handler: async (request) => {
    const [{ cancelJob }, d] = await Promise.all([import('../lib/app/cancel-job.js'), deps()]);
    return json(202, jobView(await cancelJob(d, request.params.id ?? '')));
  },
});
