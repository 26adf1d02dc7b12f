import { httpFunction } from './define.js';

/** GET /api/openapi.json — the OpenAPI 3.1 document; anonymous and cacheable (ETag, If-None-Match → 304). */
export const openApi = httpFunction({
  name: 'openApi',
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  load: () => import('../lib/http/openapi.js'),
  deps: false,
  handler: async ({ use, request }) => {
    const { text, etag } = use.openApiDocument();
    const cache = { etag, 'cache-control': 'public, max-age=300, must-revalidate' };
    if (
      request.headers
        .get('if-none-match')
        ?.split(',')
        .some((t) => t.trim() === etag)
    )
      return { status: 304, headers: cache };
    return { status: 200, body: text, headers: { 'content-type': 'application/json; charset=utf-8', ...cache } };
  },
});
