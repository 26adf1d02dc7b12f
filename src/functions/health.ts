import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** GET /api/health — `{"status":"healthy"}` plus which dependencies answer; 503 when one is down. Cached for HEALTH_CACHE_SEC. */
export const healthCheck = httpFunction({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  load: () => import('../lib/app/health.js'),
  handler: async ({ use, deps, context }) => {
    const report = await use.health(deps, (dependency, message) =>
      context.warn(`health: ${dependency} is down: ${message}`),
    );
    const headers = { 'cache-control': `max-age=${deps.config.healthCacheSec}` };
    return json(report.status === 'healthy' ? 200 : 503, report, headers);
  },
});
