import { json, jobView, readJsonBody } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** POST /api/jobs — submit a job; 202 with the job and its Location. Idempotency-Key replays. */
export const jobsCreate = httpFunction({
  name: 'jobsCreate',
  route: 'jobs',
  methods: ['POST'],
  load: () => import('../lib/app/submit-job.js'),
  handler: async ({ use, deps, request }) => {
    const body = await readJsonBody(request, deps.config);
    const idempotencyKey = request.headers.get('idempotency-key');
    const { job, replayed, notifySecret } = await use.submitJob(deps, {
      body,
      mode: 'strict',
      source: 'api',
      idempotencyKey,
    });
    return json(
      202,
      { ...jobView(job), ...(notifySecret && { notifySecret }) },
      {
        location: `/api/jobs/${job.id}`,
        ...(replayed && { 'idempotent-replayed': 'true' }),
      },
    );
  },
});
