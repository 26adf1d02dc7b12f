import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SettingInfo } from '../../src/lib/config.js';
import { ALL_SETTINGS } from '../../src/lib/settings-catalog.js';
import { REPO_ROOT } from './bicep-tree.js';

/**
 * The settings the code reads, gathered at test time: the catalogue (ALL_SETTINGS) plus every
 * `*_SETTINGS` list exported by a settings module under src/lib (`settings.ts` or `*-settings.ts`,
 * e.g. src/lib/providers/<name>/settings.ts, src/lib/adapters/servicebus-settings.ts), so an adapter's
 * or provider's settings count even before they are aggregated into the catalogue.
 */
export async function knownSettings(): Promise<Map<string, SettingInfo>> {
  const out = new Map<string, SettingInfo>();
  for (const s of ALL_SETTINGS) out.set(s.name, s);
  for (const file of settingsModules(join(REPO_ROOT, 'src/lib'))) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(mod)) {
      if (!exportName.endsWith('_SETTINGS') || !Array.isArray(value)) continue;
      for (const s of value as SettingInfo[]) if (typeof s?.name === 'string' && !out.has(s.name)) out.set(s.name, s);
    }
  }
  return out;
}

function settingsModules(dir: string): string[] {
  const out: string[] = [];
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...settingsModules(p));
    else if (e.name === 'settings.ts' || e.name.endsWith('-settings.ts')) out.push(p);
  }
  return out;
}

export { ALL_SETTINGS };
