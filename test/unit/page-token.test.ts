import { describe, expect, it } from 'vitest';
import { decodePageToken, encodePageToken, parsePageToken } from '../../src/lib/core/page-token.js';
import { ValidationError } from '../../src/lib/errors.js';

describe('page tokens', () => {
  it('round-trips a cursor through an opaque, URL-safe token', () => {
    const cursor = { t: Date.parse('2026-12-04T10:00:00.123Z'), id: 'j-01jabcdefghjkmnpqrstvwxyz0' };
    const token = encodePageToken(cursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token)).toEqual(cursor);
  });

  it('refuses anything it did not issue, naming continuationToken', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const bad = [
      '',
      'junk',
      'a+b/c=',
      b64('null'),
      b64('1'),
      b64('[]'),
      b64('{"nextPartitionKey":{}}'),
      b64('{"v":2,"t":1,"id":"j-x"}'),
      b64('{"v":1,"t":1.5,"id":"j-x"}'),
      b64('{"v":1,"t":1,"id":"a/b"}'),
      b64('{"v":1,"t":1,"id":"j-x","extra":true}'),
      b64(`{"v":1,"t":1,"id":"${'a'.repeat(600)}"}`),
    ];
    for (const token of bad) {
      expect(decodePageToken(token), token).toBeUndefined();
      const error = (() => {
        try {
          parsePageToken(token);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]?.field).toBe('continuationToken');
    }
  });
});
