import { json, jobView } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** POST /api/jobs/{id}/cancel — 202; `cancelled` at once before dispatch, else `cancelling` until confirmed. */
export const jobsCancel = httpFunction({
  name: 'jobsCancel',
  route: 'jobs/{id}/cancel',
  methods: ['POST'],
  load: () => import('../lib/app/cancel-job.js'),
  handler: async ({ use, deps, request }) => json(202, jobView(await use.cancelJob(deps, request.params.id ?? ''))),
});
