import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const INDEX = join(ROOT, 'src/lib/providers/azure-batch/index.ts');
const CONFIG = join(ROOT, 'src/lib/config.ts');

describe('azure-batch provider module loading', () => {
  it('does not load @azure/batch until a provider is created (cold start)', () => {
    // A fresh process: the test runner's own module cache would hide what the module loads.
    const dir = mkdtempSync(join(tmpdir(), 'batch-lazy-'));
    const script = join(dir, 'probe.mts');
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).some((k) => k.includes('@azure/batch'));
const mod = await import(${JSON.stringify(INDEX)});
const atImport = loaded();
const { loadConfig, azuriteConnectionString } = await import(${JSON.stringify(CONFIG)});
const env = { JobsStorage: azuriteConnectionString({ blob: 1, queue: 2, table: 3 }), AZURE_BATCH_ACCOUNT_URL: 'https://acct.westeurope.batch.azure.com',
  AZURE_BATCH_ACCOUNT_NAME: 'acct', AZURE_BATCH_ACCOUNT_KEY: Buffer.from('k'.repeat(32)).toString('base64') };
const configured = mod.isConfigured(env);
const provider = await mod.createProvider({ config: loadConfig(env), blobs: {} });
console.log(JSON.stringify({ atImport, configured, afterCreate: loaded(), name: provider.name }));
`,
    );
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' });
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ atImport: false, configured: true, afterCreate: true, name: 'azure-batch' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
