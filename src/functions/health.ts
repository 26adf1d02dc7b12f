import { health } from '../lib/app/queries.js';
import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/health — `{"status":"healthy"}` plus dependency checks; 503 when a dependency is down. */
export const healthCheck = httpFunction({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => {
    const report = await health(await deps());
    return json(report.status === 'healthy' ? 200 : 503, report);
  },
});
