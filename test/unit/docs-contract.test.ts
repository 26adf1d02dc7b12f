import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_SETTINGS } from '../../src/lib/settings-catalog.js';
import { FUNCTIONS } from '../../src/functions/all.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const example = JSON.parse(readFileSync(new URL('../../local.settings.example.json', import.meta.url), 'utf8')) as {
  Values: Record<string, string>;
};
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
};

describe('README, local.settings.example.json and the code agree', () => {
  it('lists every setting in the README settings table', () => {
    const missing = ALL_SETTINGS.filter((s) => !readme.includes(`| \`${s.name}\``)).map((s) => s.name);
    expect(missing, 'run `npx tsx scripts/settings-table.ts` and paste the table into README').toEqual([]);
  });

  it('lists every app, worker and local setting in local.settings.example.json', () => {
    const missing = ALL_SETTINGS.filter(
      (s) => s.scope.some((x) => x !== 'provider') && !(s.name in example.Values),
    ).map((s) => s.name);
    expect(missing).toEqual([]);
  });

  it('documents every HTTP route in the README', () => {
    const undocumented = FUNCTIONS.filter(
      (f) => f.kind === 'http' && !f.route.startsWith('execute') && !f.route.startsWith('service/'),
    )
      .map((f) => (f.kind === 'http' ? `/api/${f.route.split('{')[0]}` : ''))
      .filter((route) => !readme.includes(route));
    expect(undocumented).toEqual([]);
  });

  it('shows the two commands and points package.json main at the built entry', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    expect(pkg.main).toBe('dist/src/functions/index.js');
    expect(pkg.scripts.test).toContain('vitest');
  });
});
