import { json, jobView } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/jobs?status=&queue=&provider=&limit=&continuationToken= — newest first, paged. */
export const jobsList = httpFunction({
  name: 'jobsList',
  route: 'jobs',
  methods: ['GET'],
  handler: async (request) => {
    const [{ listJobs }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    const page = await listJobs(d, Object.fromEntries(request.query.entries()));
    return json(200, { jobs: page.jobs.map(jobView), ...(page.continuationToken && { continuationToken: page.continuationToken }) });
  },
});
