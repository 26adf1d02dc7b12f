import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Static (non-type, non-dynamic) imports of a source file. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*import\s+(?!type\b)([^'"]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    const clause = m[1]!;
    // `import { type A, type B } from 'x'` erases entirely.
    if (
      /^\{[^}]*\}$/.test(clause) &&
      clause
        .slice(1, -1)
        .split(',')
        .every((p) => p.trim() === '' || p.trim().startsWith('type '))
    )
      continue;
    out.push(m[2]!);
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*export\s+(?!type\b)[^'"]*?from\s*['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  return out;
}

/** Every package reachable from the entry through static imports. */
function reachablePackages(entry: string): { packages: Set<string>; via: Map<string, string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const via = new Map<string, string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) stack.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        packages.add(pkg);
        if (!via.has(pkg)) via.set(pkg, file.slice(root.length + 1));
      }
    }
  }
  return { packages, via };
}

describe('cold start', () => {
  it('loads nothing but @azure/functions when the Functions host imports the entry module', () => {
    // zod alone costs more than @azure/functions; use cases and SDKs load on first invocation.
    const { packages, via } = reachablePackages(resolve(root, 'src/functions/index.ts'));
    const extra = [...packages].filter((p) => p !== '@azure/functions').map((p) => `${p} (imported by ${via.get(p)})`);
    expect(extra).toEqual([]);
  });

  it('keeps cloud SDKs off the submit path', () => {
    const { packages } = reachablePackages(resolve(root, 'src/lib/app/submit-job.ts'));
    const sdks = [...packages].filter((p) => /^@(azure|aws-sdk|google-cloud)\//.test(p) || p === 'rhea');
    expect(sdks).toEqual([]);
  });
});
