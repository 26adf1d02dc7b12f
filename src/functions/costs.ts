import { json } from '../lib/http/http.js';
import { httpFunction } from './define.js';

/**
 * GET /api/costs?label=k=v&from=&to=&groupBy= — actual costs of finished jobs, from the cost ledger,
 * grouped by provider, queue, status, day or a label.
 */
export const costsReport = httpFunction({
  name: 'costsReport',
  route: 'costs',
  methods: ['GET'],
  load: () => import('../lib/app/costs/query-costs.js'),
  handler: async ({ use, deps, request }) => {
    const input: Record<string, string | string[]> = {};
    for (const key of new Set(request.query.keys())) {
      const values = request.query.getAll(key);
      input[key] = values.length === 1 && key !== 'label' ? values[0]! : values;
    }
    return json(200, await use.queryCosts(deps, input));
  },
});
