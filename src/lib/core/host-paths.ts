/**
 * Replies never show where on the host something lives (a worker's temp folder, the local
 * provider's run folder): messages that reach a job record, a log or an HTTP reply pass through
 * this. Pure.
 */
export function hideHostPaths(text: string, paths: Readonly<Record<string, string>>): string {
  let out = text;
  // Longest first, so a folder inside another is named by the inner name.
  for (const [path, name] of Object.entries(paths).sort(([a], [b]) => b.length - a.length)) {
    if (path.length > 1) out = out.split(path).join(name);
  }
  return out;
}
