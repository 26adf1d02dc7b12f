import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/health — `{"status":"healthy"}` plus which dependencies answer; 503 when one is down. Cached for HEALTH_CACHE_SEC. */
export const healthCheck = httpFunction({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (_request, context) => {
    const [{ health }, d] = await Promise.all([import('../lib/app/health.js'), deps()]);
    const report = await health(d, (dependency, message) => context.warn(`health: ${dependency} is down: ${message}`));
    return json(report.status === 'healthy' ? 200 : 503, report, { 'cache-control': `max-age=${d.config.healthCacheSec}` });
  },
});
