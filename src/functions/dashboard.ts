import { httpFunction } from './define.js';

/**
 * GET /api/ui — the dashboard page, and GET /api/ui/assets/{file} — its scripts and styles. Anonymous:
 * a browser cannot send a key when it opens a page; the page asks for the key and sends it as
 * x-functions-key on every API call, so it can do nothing the key does not allow.
 */
export const dashboard = httpFunction({
  name: 'dashboard',
  route: 'ui',
  methods: ['GET'],
  authLevel: 'anonymous',
  load: () => import('../lib/http/dashboard-assets.js'),
  deps: false,
  handler: async ({ use }) => use.dashboardPage(),
});

export const dashboardAsset = httpFunction({
  name: 'dashboardAsset',
  route: 'ui/assets/{file}',
  methods: ['GET'],
  authLevel: 'anonymous',
  load: () => import('../lib/http/dashboard-assets.js'),
  deps: false,
  handler: async ({ use, request }) => use.dashboardAsset(request.params.file ?? ''),
});
