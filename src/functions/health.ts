import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/health — `{"status":"healthy"}` plus dependency checks; 503 when a dependency is down. */
export const healthCheck = httpFunction({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => {
    const [{ health }, d] = await Promise.all([import('../lib/app/queries.js'), deps()]);
    const report = await health(d);
    return json(report.status === 'healthy' ? 200 : 503, report);
  },
});
