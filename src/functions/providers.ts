import { json } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

/** GET /api/providers — every provider: configured or not, active jobs, last poll and back-off (this instance). */
export const providersList = httpFunction({
  name: 'providersList',
  route: 'providers',
  methods: ['GET'],
  handler: async () => {
    const [{ providerStates }, d] = await Promise.all([import('../lib/app/provider-states.js'), deps()]);
    return json(200, { providers: await providerStates(d) });
  },
});
