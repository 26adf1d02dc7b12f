import { json, readJsonBody } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** POST /api/submit-job — the seed orchestrator's route and reply, for existing clients. */
export const submitJobSeed = httpFunction({
  name: 'submitJob',
  route: 'submit-job',
  methods: ['POST'],
  load: () => import('../lib/app/submit-job.js'),
  handler: async ({ use, deps, request }) => {
    const body = await readJsonBody(request, deps.config);
    const idempotencyKey = request.headers.get('idempotency-key');
    const { job, notifySecret } = await use.submitJob(deps, {
      body,
      mode: 'lenient',
      source: 'submit-job',
      idempotencyKey,
    });
    // The seed's reply, plus the notify webhook's secret when the body asked for one.
    return json(
      200,
      { status: 'submitted', job_id: job.id, ...(notifySecret && { notify_secret: notifySecret }) },
      { location: `/api/jobs/${job.id}` },
    );
  },
});
