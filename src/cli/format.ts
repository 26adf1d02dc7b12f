/** Text output of the `cjo` command line: tables, progress bars, relative times. */

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function bar(done: number, total: number, width = 24): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(ratio * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export function relative(iso: string, now = Date.now()): string {
  const sec = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(sec)) return iso;
  const abs = Math.abs(sec);
  const [n, unit] =
    abs < 60
      ? [abs, 's']
      : abs < 3600
        ? [Math.floor(abs / 60), 'm']
        : abs < 86_400
          ? [Math.floor(abs / 3600), 'h']
          : [Math.floor(abs / 86_400), 'd'];
  return sec >= 0 ? `${n}${unit} ago` : `in ${n}${unit}`;
}

export function formatDecision(d: {
  queue: string;
  provider: string;
  explanation: string;
  cost: number | null;
  rule: string;
}): string {
  return [
    `  routed    ${d.queue} → ${d.provider} (rule ${d.rule}${d.cost === null ? '' : `, cost ${Math.round(d.cost * 1000) / 1000}`})`,
    `  why       ${d.explanation}`,
  ].join('\n');
}
