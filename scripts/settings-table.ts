/**
 * Prints the README's settings table from the one settings catalogue, so the README cannot drift:
 * `npx tsx scripts/settings-table.ts`. A test checks that README lists every setting.
 */
import { ALL_SETTINGS } from '../src/lib/settings-catalog.js';

const escapeCell = (s: string) => s.replace(/\|/g, '\\|');
const lines = ['| Setting | Default | Used by | Meaning |', '| --- | --- | --- | --- |'];
for (const s of ALL_SETTINGS) {
  const def = s.default === undefined ? '—' : `\`${escapeCell(s.default)}\``;
  lines.push(
    `| \`${s.name}\`${s.secret ? ' (secret)' : ''} | ${def} | ${s.scope.join(', ')} | ${escapeCell(s.description)} |`,
  );
}
console.log(lines.join('\n'));
