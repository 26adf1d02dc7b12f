import { json, readJsonBody } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** POST /api/submit-job — the seed orchestrator's route and reply, for existing clients. */
export const submitJobSeed = httpFunction({
  name: 'submitJob',
  route: 'submit-job',
  methods: ['POST'],
  handler: async (request) => {
    const [{ submitJob }, d] = await Promise.all([import('../lib/app/submit-job.js'), deps()]);
    const body = await readJsonBody(request, d.config);
    const { job, notifySecret } = await submitJob(d, { body, mode: 'lenient', source: 'submit-job', idempotencyKey: request.headers.get('idempotency-key') });
    // The seed's reply, plus the notify webhook's secret when the body asked for one.
    return json(200, { status: 'submitted', job_id: job.id, ...(notifySecret && { notify_secret: notifySecret }) }, { location: `/api/jobs/${job.id}` });
  },
});
