import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Reads `local.settings.json` (or, on a fresh clone, `local.settings.example.json`) the way Core
 * Tools does: its `Values` become settings, and real environment variables win over them.
 */
export function loadLocalSettings(
  dir = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): { values: Record<string, string | undefined>; source: string } {
  const candidates = ['local.settings.json', 'local.settings.example.json'].map((f) => resolve(dir, f));
  const source = candidates.find((f) => existsSync(f));
  const values: Record<string, string | undefined> = {};
  if (source) {
    const parsed = JSON.parse(readFileSync(source, 'utf8')) as { Values?: Record<string, unknown> };
    for (const [k, v] of Object.entries(parsed.Values ?? {}))
      values[k] = v === null || v === undefined ? undefined : String(v);
  }
  return { values: { ...values, ...env }, source: source ?? '(none)' };
}
