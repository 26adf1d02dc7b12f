/**
 * Prints the README's settings table from the one settings catalogue, so the README cannot drift:
 * `npx tsx scripts/settings-table.ts`. A test checks that README lists every setting.
 */
import { ALL_SETTINGS } from '../src/lib/settings-catalog.js';

const escape = (s: string) => s.replace(/\|/g, '\\|');
const lines = ['| Setting | Default | Used by | Meaning |', '| --- | --- | --- | --- |'];
for (const s of ALL_SETTINGS) {
  const def = s.default === undefined ? '—' : `\`${escape(s.default)}\``;
  lines.push(`| \`${s.name}\`${s.secret ? ' (secret)' : ''} | ${def} | ${s.scope.join(', ')} | ${escape(s.description)} |`);
}
console.log(lines.join('\n'));
