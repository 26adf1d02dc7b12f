import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConfig, lintDocument, makeDocumentFromString } from '@redocly/openapi-core';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../src/functions/all.js';
import { httpFunction } from '../../src/functions/define.js';
import { buildOpenApi, openApiDocument } from '../../src/lib/http/openapi.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
type Doc = {
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, unknown>; security?: unknown[]; parameters?: Array<{ name: string; in: string }> }
    >
  >;
};

describe('OpenAPI document', () => {
  it('is the committed docs/openapi.json (run `npm run openapi` after changing a route or schema)', () => {
    expect(readFileSync(resolve(root, 'docs/openapi.json'), 'utf8')).toBe(openApiDocument().text);
  });

  it('passes the Redocly validator with its recommended rules', async () => {
    // A private app has no licence to state; every other recommended rule applies.
    const config = await createConfig({ extends: ['recommended'], rules: { 'info-license': 'off' } });
    const document = makeDocumentFromString(openApiDocument().text, 'openapi.json');
    const problems = await lintDocument({ document, config, externalRefResolver: undefined as never });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });

  it('documents every HTTP function, method by method, and only those', () => {
    const doc = buildOpenApi() as Doc;
    const expected = FUNCTIONS.filter((f) => f.kind === 'http').flatMap((f) =>
      f.methods.map((m) => `${m.toLowerCase()} /api/${f.route}`),
    );
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m} ${path}`),
    );
    expect(documented.sort()).toEqual(expected.sort());
    expect(expected).toContain('get /api/service/v1/pipelines/training/{id}/get');
    expect(expected).toContain('post /api/execute');
  });

  it('marks keyed routes with 401 and anonymous ones with no security, and names Idempotency-Key', () => {
    const doc = buildOpenApi() as Doc;
    expect(doc.paths['/api/health']!.get!.security).toEqual([]);
    expect(doc.paths['/api/openapi.json']!.get!.security).toEqual([]);
    expect(doc.paths['/api/jobs']!.get!.responses['401']).toBeDefined();
    expect(
      doc.paths['/api/jobs']!.post!.parameters?.some((p) => p.name === 'Idempotency-Key' && p.in === 'header'),
    ).toBe(true);
    expect(doc.paths['/api/jobs']!.get!.parameters?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['status', 'queue', 'provider', 'limit', 'continuationToken']),
    );
  });

  it('refuses to build while a route is undocumented', () => {
    const stray = httpFunction({
      name: 'strayRoute',
      route: 'stray',
      methods: ['GET'],
      load: async () => ({}),
      deps: false,
      handler: async () => ({ status: 204 }),
    });
    expect(() => buildOpenApi([...FUNCTIONS, stray])).toThrow(/strayRoute/);
  });
});
