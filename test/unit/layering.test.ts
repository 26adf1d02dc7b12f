import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const APP = fileURLToPath(new URL('../../src/lib/app', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('use cases (src/lib/app)', () => {
  it('import no adapter: claim checks and transports are resolved by the host that wires them', () => {
    const files = sources(APP);
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.filter((f) =>
      /from\s+['"][./]*\/adapters\/|import\(\s*['"][./]*\/adapters\//.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
