import { json, jobView, readJsonBody } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** POST /api/jobs — submit a job; 202 with the job and its Location. Idempotency-Key replays. */
export const jobsCreate = httpFunction({
  name: 'jobsCreate',
  route: 'jobs',
  methods: ['POST'],
  handler: async (request) => {
    const [{ submitJob }, d] = await Promise.all([import('../lib/app/submit-job.js'), deps()]);
    const body = await readJsonBody(request, d.config);
    const { job, replayed, notifySecret } = await submitJob(d, { body, mode: 'strict', source: 'api', idempotencyKey: request.headers.get('idempotency-key') });
    return json(202, { ...jobView(job), ...(notifySecret && { notifySecret }) }, { location: `/api/jobs/${job.id}`, ...(replayed && { 'idempotent-replayed': 'true' }) });
  },
});
