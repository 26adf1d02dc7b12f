import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SettingInfo } from '../../src/lib/config.js';
import { ALL_SETTINGS } from '../../src/lib/settings-catalog.js';
import { REPO_ROOT } from './bicep-tree.js';

/**
 * The settings the code reads, gathered at test time: the catalogue (ALL_SETTINGS) plus every
 * `*_SETTINGS` list a provider exports from src/lib/providers/<name>/settings.ts, so a provider's
 * settings count as known even before they are aggregated into the catalogue.
 */
export async function knownSettings(): Promise<Map<string, SettingInfo>> {
  const out = new Map<string, SettingInfo>();
  for (const s of ALL_SETTINGS) out.set(s.name, s);
  const dir = join(REPO_ROOT, 'src/lib/providers');
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    const file = join(dir, e.name, 'settings.ts');
    if (!e.isDirectory() || !existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(mod)) {
      if (!exportName.endsWith('_SETTINGS') || !Array.isArray(value)) continue;
      for (const s of value as SettingInfo[]) if (typeof s?.name === 'string' && !out.has(s.name)) out.set(s.name, s);
    }
  }
  return out;
}

export { ALL_SETTINGS };
