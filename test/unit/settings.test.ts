import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/lib/config.js';
import { ConfigurationError } from '../../src/lib/errors.js';
import { SettingsReader } from '../../src/lib/settings.js';

const CATALOGUE = [
  { name: 'A_INT', scope: ['app'], default: '5', description: 'an int' },
  { name: 'A_FLOAT', scope: ['app'], default: '0.5', description: 'a float' },
  { name: 'A_BOOL', scope: ['app'], default: 'false', description: 'a flag' },
  { name: 'A_MODE', scope: ['app'], default: 'uid', description: 'an enum' },
  { name: 'A_LIST', scope: ['app'], default: '', description: 'a list' },
  { name: 'A_NAME', scope: ['app'], description: 'required text' },
  { name: 'A_OPT', scope: ['app'], description: 'optional number' },
] as const;
type Name = (typeof CATALOGUE)[number]['name'];

const reader = (env: Record<string, string | undefined>) => new SettingsReader<Name>(env, CATALOGUE);

describe('SettingsReader', () => {
  it('applies catalogue defaults to unset and blank settings, and trims what is set', () => {
    const r = reader({ A_INT: '  ', A_FLOAT: ' 2.5 ', A_NAME: ' x ' });
    expect(r.int('A_INT', { min: 1 })).toBe(5);
    expect(r.float('A_FLOAT')).toBe(2.5);
    expect(r.bool('A_BOOL')).toBe(false);
    expect(r.oneOf('A_MODE', ['uid', 'none'])).toBe('uid');
    expect(r.list('A_LIST')).toEqual([]);
    expect(r.string('A_NAME')).toBe('x');
    expect(r.optionalFloat('A_OPT')).toBeUndefined();
    expect(r.isSet('A_INT')).toBe(false);
    expect(r.issues).toEqual([]);
    expect(() => r.check('Area')).not.toThrow();
  });

  it('parses bools, enums (case-insensitively when asked) and lists', () => {
    const r = reader({ A_BOOL: 'TRUE', A_MODE: 'None', A_LIST: ' a, ,b ,c' });
    expect(r.bool('A_BOOL')).toBe(true);
    expect(r.oneOf('A_MODE', ['uid', 'none'], { ignoreCase: true })).toBe('none');
    expect(r.list('A_LIST')).toEqual(['a', 'b', 'c']);
    expect(reader({ A_BOOL: '1' }).bool('A_BOOL')).toBe(true);
  });

  it('names every bad setting at once, with its bound and the value given', () => {
    const r = reader({ A_INT: '1.5', A_FLOAT: '-1', A_BOOL: 'yes', A_MODE: 'root', A_OPT: 'many' });
    r.int('A_INT', { min: 1, max: 10 });
    r.float('A_FLOAT', { min: 0 });
    r.bool('A_BOOL');
    r.oneOf('A_MODE', ['uid', 'none']);
    r.optionalFloat('A_OPT', { max: 3 });
    r.string('A_NAME');
    r.parse('A_LIST', z.string().min(1, 'A_LIST must not be empty'));
    expect(r.issues).toEqual([
      "A_INT must be a whole number from 1 to 10, got '1.5'",
      "A_FLOAT must be a number ≥ 0, got '-1'",
      "A_BOOL must be true or false, got 'yes'",
      "A_MODE must be 'uid' or 'none', got 'root'",
      "A_OPT must be a number ≤ 3, got 'many'",
      'A_NAME is required',
      'A_LIST: A_LIST must not be empty',
    ]);
    expect(() => r.check('Area settings')).toThrow(ConfigurationError);
    expect(() => r.check('Area settings')).toThrow(/^Area settings: A_INT must be/);
  });

  it('is what loadConfig reports bad settings through', () => {
    const bad = () => loadConfig({ WORKER_CONCURRENCY: '0', WORKER_MODE: 'both' });
    expect(bad).toThrow(/^Invalid settings: /);
    expect(bad).toThrow(/WORKER_CONCURRENCY must be a whole number from 1 to 256, got '0'/);
    expect(bad).toThrow(/WORKER_MODE must be 'actor' or 'spark', got 'both'/);
    expect(() => loadConfig({ QUEUE_TRANSPORT: 'kafka' })).toThrow(/QUEUE_TRANSPORT must be 'storage' or 'servicebus'/);
    expect(loadConfig({ WORKER_HEARTBEAT_SEC: ' 0.2 ' }).worker.heartbeatSec).toBe(0.2);
  });
});
