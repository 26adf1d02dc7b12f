import { json, jobSummaryView, jobView } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/**
 * GET /api/jobs?status=&queue=&provider=&view=summary|full&limit=&continuationToken= — newest
 * first, paged; summaries unless `view=full`.
 */
export const jobsList = httpFunction({
  name: 'jobsList',
  route: 'jobs',
  methods: ['GET'],
  load: () => import('../lib/app/queries.js'),
  handler: async ({ use, deps, request }) => {
    const listing = await use.listJobs(deps, Object.fromEntries(request.query.entries()));
    const jobs = listing.view === 'full' ? listing.page.jobs.map(jobView) : listing.page.jobs.map(jobSummaryView);
    return json(200, {
      jobs,
      ...(listing.page.continuationToken && { continuationToken: listing.page.continuationToken }),
    });
  },
});
