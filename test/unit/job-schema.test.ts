import { describe, expect, it } from 'vitest';
import { LIMITS, parseSubmission } from '../../src/lib/core/job.js';
import { ValidationError } from '../../src/lib/errors.js';

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((i) => i.field);
  }
  throw new Error('expected a validation error');
}

describe('parseSubmission', () => {
  it("fills the seed's defaults", () => {
    expect(parseSubmission({})).toEqual({
      rows: 1000,
      estimated_runtime_sec: 10,
      priority: 'normal',
      latency_sensitive: false,
      data: {},
      labels: {},
    });
  });

  it("accepts the seed's alias spellings", () => {
    const spec = parseSubmission({
      nr_of_rows: 7,
      estimated_runtime: 3.5,
      latency_sensitivity: true,
      priority: 'high',
    });
    expect(spec).toMatchObject({ rows: 7, estimated_runtime_sec: 3.5, latency_sensitive: true, priority: 'high' });
  });

  it('rejects an alias that contradicts the canonical field, naming the alias', () => {
    expect(fieldsOf(() => parseSubmission({ rows: 1, nr_of_rows: 2 }))).toEqual(['nr_of_rows']);
    expect(parseSubmission({ rows: 2, nr_of_rows: 2 }).rows).toBe(2);
  });

  it('names each invalid field', () => {
    expect(fieldsOf(() => parseSubmission({ rows: -1 }))).toEqual(['rows']);
    expect(fieldsOf(() => parseSubmission({ rows: 1.5 }))).toEqual(['rows']);
    expect(fieldsOf(() => parseSubmission({ estimated_runtime_sec: 'ten' }))).toEqual(['estimated_runtime_sec']);
    expect(fieldsOf(() => parseSubmission({ priority: 'urgent' }))).toEqual(['priority']);
    expect(fieldsOf(() => parseSubmission({ data: [1, 2] }))).toEqual(['data']);
    expect(fieldsOf(() => parseSubmission({ max_runtime_sec: 0 }))).toEqual(['max_runtime_sec']);
  });

  it('rejects non-finite numbers (JSON cannot carry them, but callers can)', () => {
    expect(fieldsOf(() => parseSubmission({ rows: Number.POSITIVE_INFINITY }))).toEqual(['rows']);
    expect(fieldsOf(() => parseSubmission({ estimated_runtime_sec: Number.NaN }))).toEqual(['estimated_runtime_sec']);
  });

  it('bounds labels in count, key shape and value length', () => {
    const many = Object.fromEntries(Array.from({ length: LIMITS.maxLabels + 1 }, (_, i) => [`k${i}`, 'v']));
    expect(fieldsOf(() => parseSubmission({ labels: many }))).toEqual(['labels']);
    expect(fieldsOf(() => parseSubmission({ labels: { 'bad key': 'v' } }))).toEqual(['labels.bad key']);
    expect(fieldsOf(() => parseSubmission({ labels: { ok: 'x'.repeat(LIMITS.maxLabelValueLength + 1) } }))).toEqual([
      'labels.ok',
    ]);
  });

  it('rejects unknown fields by name in strict mode and ignores them in lenient mode', () => {
    expect(fieldsOf(() => parseSubmission({ row: 5 }, 'strict'))).toEqual(['row']);
    expect(parseSubmission({ row: 5 }, 'lenient').rows).toBe(1000);
  });

  it('rejects a body that is not an object', () => {
    expect(fieldsOf(() => parseSubmission([1]))).toEqual(['']);
    expect(fieldsOf(() => parseSubmission('rows=5'))).toEqual(['']);
  });
});
