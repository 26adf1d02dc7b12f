import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const INDEX = resolve(import.meta.dirname, '../../../src/lib/providers/vertex/index.ts');

describe('vertex provider module loading', () => {
  it('does not load @google-cloud/aiplatform until a provider is created (cold start)', () => {
    // A fresh process: the test runner's own module cache would hide what the module loads.
    const dir = mkdtempSync(join(tmpdir(), 'vertex-lazy-'));
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const script = join(dir, 'probe.mts');
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).some((k) => k.includes('@google-cloud/aiplatform'));
const mod = await import(${JSON.stringify(INDEX)});
const atImport = loaded();
const configured = mod.isConfigured({ VERTEX_PROJECT: 'test-project', VERTEX_LOCATION: 'us-central1' });
const settings = mod.parseVertexSettings({ VERTEX_PROJECT: 'test-project', VERTEX_LOCATION: 'us-central1',
  VERTEX_CREDENTIALS_JSON: ${JSON.stringify(JSON.stringify({ client_email: 'a@test-project.iam.gserviceaccount.com', private_key: key }))} });
const provider = await mod.createVertexProvider(settings);
console.log(JSON.stringify({ atImport, configured, afterCreate: loaded() }));
await provider.close();
`,
    );
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: resolve(import.meta.dirname, '../../..'), encoding: 'utf8' });
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ atImport: false, configured: true, afterCreate: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A cold process that loads the SDK takes seconds on a busy machine.
  }, 120_000);
});
