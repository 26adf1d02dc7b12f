import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonLimitError, ValidationError } from '../../src/lib/errors.js';
import { checkJsonShape, MAX_LISTED_ISSUES, problemResponse } from '../../src/lib/http/http.js';

/** Reference measures, recursive (fine for the shallow values generated here). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}
function itemsOf(v: unknown): number {
  if (Array.isArray(v)) return v.length + v.reduce((n: number, x) => n + itemsOf(x), 0);
  if (v && typeof v === 'object')
    return Object.keys(v).length + Object.values(v).reduce((n: number, x) => n + itemsOf(x), 0);
  return 0;
}
const limitOf = (text: string, depth: number, items: number) => {
  try {
    checkJsonShape(text, depth, items);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(JsonLimitError);
    return (error as JsonLimitError).setting;
  }
};

describe('checkJsonShape', () => {
  it('refuses exactly the values nested deeper than the limit, whatever the strings inside hold', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 8 }),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        (value, limit, pretty) => {
          const text = JSON.stringify(value, null, pretty ? 2 : undefined);
          expect(limitOf(text, limit, 1e9)).toBe(depthOf(value) > limit ? 'MAX_JSON_DEPTH' : undefined);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts object keys plus array items exactly', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.integer({ min: 0, max: 60 }), (value, limit) => {
        const text = JSON.stringify(value);
        expect(limitOf(text, 100, limit)).toBe(itemsOf(value) > limit ? 'MAX_JSON_ITEMS' : undefined);
      }),
      { numRuns: 500 },
    );
  });

  it('scans 10 000 levels without recursion and ignores brackets inside strings', () => {
    expect(limitOf('['.repeat(10_000) + ']'.repeat(10_000), 64, 1e9)).toBe('MAX_JSON_DEPTH');
    expect(limitOf(JSON.stringify({ s: '[[[[{{{{\\"[[[[' }), 2, 1e9)).toBeUndefined();
  });
});

describe('problemResponse', () => {
  it('stays small whatever the number and size of the issues', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ field: fc.string({ maxLength: 5000 }), message: fc.string({ maxLength: 5000 }) }), {
          maxLength: 300,
        }),
        fc.string({ maxLength: 20_000 }),
        (issues, instance) => {
          const reply = problemResponse(new ValidationError(issues), instance);
          const body = JSON.parse(String(reply.body)) as { errors: unknown[]; errorsOmitted?: number };
          expect(body.errors.length).toBe(Math.min(issues.length, MAX_LISTED_ISSUES));
          expect(body.errorsOmitted ?? 0).toBe(Math.max(0, issues.length - MAX_LISTED_ISSUES));
          // 20 issues × 2 strings × (240 + note) plus a 2 000-character detail, with JSON escaping.
          expect(String(reply.body).length).toBeLessThan(80_000);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('names no internals for an unknown error', () => {
    const reply = problemResponse(
      new Error('ENOENT: /work/secret/path at Object.<anonymous> (/home/x/y.ts:1:2)'),
      '/api/jobs',
    );
    expect(reply.status).toBe(500);
    expect(String(reply.body)).not.toMatch(/ENOENT|\/work\/|\/home\//);
  });
});
