import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/** GET /api/providers — every provider: configured or not, active jobs, last poll and back-off (this instance). */
export const providersList = httpFunction({
  name: 'providersList',
  route: 'providers',
  methods: ['GET'],
  load: () => import('../lib/app/provider-states.js'),
  handler: async ({ use, deps }) => json(200, { providers: await use.providerStates(deps) }),
});
