import { describe, expect, it } from 'vitest';
import {
  isValidJobName,
  namePrefixFor,
  NAME_MAX_LENGTH,
  sageMakerJobName,
  SAGEMAKER_KINDS,
} from '../../../src/lib/providers/sagemaker/names.js';

const ID = 'j-01jd3m2x7k9q8w4e5r6t7y8u9i';

describe('sageMakerJobName', () => {
  it('keeps a standard job id visible: prefix, kind letter and the ULID', () => {
    expect(sageMakerJobName('cjo', 'training', ID)).toBe('cjo-t-01jd3m2x7k9q8w4e5r6t7y8u9i');
    expect(sageMakerJobName('cjo', 'transform', ID)).toBe('cjo-b-01jd3m2x7k9q8w4e5r6t7y8u9i');
  });

  it('fits the 32-character AutoML limit with the default prefix', () => {
    const name = sageMakerJobName('cjo', 'automl', ID);
    expect(name).toBe('cjo-a-01jd3m2x7k9q8w4e5r6t7y8u9i');
    expect(name).toHaveLength(32);
    expect(isValidJobName('automl', name)).toBe(true);
  });

  it('is deterministic, so a redelivery derives the same name', () => {
    expect(sageMakerJobName('cjo', 'automl', ID)).toBe(sageMakerJobName('cjo', 'automl', ID));
  });

  it('hashes ids that are not standard or do not fit, staying valid and distinct', () => {
    const odd = ['job_with_underscores', 'J-UPPER', 'x'.repeat(200), 'j-01jd3m2x7k9q8w4e5r6t7y8u9', 'ü-ñ'];
    for (const kind of SAGEMAKER_KINDS) {
      const names = odd.map((id) => sageMakerJobName('cjo', kind, id));
      expect(new Set(names).size).toBe(odd.length);
      for (const n of names) {
        expect(isValidJobName(kind, n)).toBe(true);
        expect(n.startsWith(`${namePrefixFor('cjo', kind)}h`)).toBe(true);
      }
    }
  });

  it('falls back to a hash when a long prefix leaves no room for the ULID in an AutoML name', () => {
    const name = sageMakerJobName('longpref', 'automl', ID);
    expect(name.length).toBeLessThanOrEqual(NAME_MAX_LENGTH.automl);
    expect(name).toMatch(/^longpref-a-h[0-9a-f]{20}$/);
    expect(sageMakerJobName('longpref', 'training', ID)).toBe('longpref-t-01jd3m2x7k9q8w4e5r6t7y8u9i');
  });

  it('never collides between the ULID form and the hashed form', () => {
    // The ULID part is always 26 characters, the hashed part ("h" + ≤ 24 hex) never is.
    const hashed = sageMakerJobName('cjo', 'training', 'h0123456789abcdef012345678');
    expect(hashed.length - namePrefixFor('cjo', 'training').length).not.toBe(26);
  });

  it('gives each kind a prefix that cannot occur inside another kind’s names', () => {
    const prefixes = SAGEMAKER_KINDS.map((k) => namePrefixFor('cjo', k));
    for (const p of prefixes) {
      for (const kind of SAGEMAKER_KINDS) {
        const other = sageMakerJobName('cjo', kind, ID);
        expect(other.includes(p)).toBe(other.startsWith(p));
      }
    }
  });
});

describe('isValidJobName', () => {
  it('applies SageMaker’s pattern and per-kind length limits', () => {
    expect(isValidJobName('training', 'a'.repeat(63))).toBe(true);
    expect(isValidJobName('training', 'a'.repeat(64))).toBe(false);
    expect(isValidJobName('automl', 'a'.repeat(33))).toBe(false);
    expect(isValidJobName('training', '-leading')).toBe(false);
    expect(isValidJobName('training', 'trailing-')).toBe(false);
    expect(isValidJobName('training', 'under_score')).toBe(false);
  });
});
