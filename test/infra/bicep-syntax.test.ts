import { describe, expect, it } from 'vitest';
import { bicepPaths, parseBicep, syntaxProblems, type BicepFile } from './bicep-tree.js';

describe('Bicep syntax (tree-sitter-bicep)', () => {
  const paths = bicepPaths();

  it('finds main.bicep and its modules', () => {
    expect(paths.some((p) => p.endsWith('infra/bicep/main.bicep'))).toBe(true);
    expect(paths.filter((p) => p.includes('/modules/')).length).toBeGreaterThanOrEqual(8);
  });

  it.each(paths.map((p) => [p.slice(p.indexOf('infra/')), p]))(
    '%s parses without ERROR or MISSING nodes',
    async (_name, path) => {
      const file = await parseBicep(path);
      expect(syntaxProblems(file), `syntax problems:\n${syntaxProblems(file).join('\n')}`).toEqual([]);
    },
  );

  it('reports a broken template with file and line (the check can fail)', async () => {
    const broken = await parseBicepSource(
      "param a string\nresource x 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n}\n",
      'broken.bicep',
    );
    const problems = syntaxProblems(broken);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/^broken\.bicep:\d+:\d+: /);
  });
});

/** Parses Bicep text that is not a file in the repository (for the negative control above). */
async function parseBicepSource(source: string, path: string): Promise<BicepFile> {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'bicep-'));
  try {
    const file = join(dir, path);
    writeFileSync(file, source);
    const parsed = await parseBicep(file);
    return { ...parsed, path };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
