import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/lib/errors.js';
import { FUNCTIONS } from '../../../src/functions/all.js';
import { PROVIDER_NAMES, PROVIDERS } from '../../../src/lib/providers/all.js';
import { requiredJobKinds, validateProviderSpec } from '../../../src/lib/providers/registry.js';
import { ALL_SETTINGS } from '../../../src/lib/settings-catalog.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const PROVIDERS_DIR = join(ROOT, 'src/lib/providers');

describe('provider descriptors', () => {
  it('lists every provider folder once, each exporting its descriptor from index.ts', async () => {
    const folders = readdirSync(PROVIDERS_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect([...PROVIDER_NAMES].sort()).toEqual(folders.sort());
    for (const name of folders) {
      const { descriptor } = (await import(join(PROVIDERS_DIR, name, 'index.ts'))) as { descriptor: { name: string } };
      expect(descriptor.name).toBe(name);
    }
  });

  it('gives the same role the same file name in every provider', () => {
    for (const p of PROVIDERS) {
      const has = (file: string) => existsSync(join(PROVIDERS_DIR, p.name, file));
      expect(has('index.ts') && has('provider.ts'), p.name).toBe(true);
      // Providers with settings keep the light list in catalog.ts and the parser in settings.ts.
      if (p.settings.length > 0) expect(has('catalog.ts') && has('settings.ts'), p.name).toBe(true);
      // Providers with job kinds keep their schemas in spec.ts.
      if (p.jobKinds) expect(has('spec.ts'), p.name).toBe(true);
    }
  });

  it('derives one poll function per provider, on the provider’s schedule setting', () => {
    const timers = FUNCTIONS.filter((f) => f.kind === 'timer' && f.name !== 'reconcile');
    expect(timers.map((f) => [f.name, f.kind === 'timer' && f.scheduleSetting])).toEqual(
      PROVIDERS.map((p) => [p.pollFunction, p.pollSchedule.name]),
    );
    expect(new Set(PROVIDERS.map((p) => p.pollFunction)).size).toBe(PROVIDERS.length);
  });

  it('puts each provider’s schedule and settings into the settings catalogue', () => {
    const catalogued = new Set(ALL_SETTINGS.map((s) => s.name));
    for (const p of PROVIDERS) {
      expect(catalogued.has(p.pollSchedule.name)).toBe(true);
      expect(p.pollSchedule.scope).toEqual(['app']);
      for (const s of p.settings) expect(catalogued.has(s.name), s.name).toBe(true);
    }
    expect(new Set(ALL_SETTINGS.map((s) => s.name)).size).toBe(ALL_SETTINGS.length);
  });

  it('checks job kinds and specs at submission through the descriptor, naming the field', async () => {
    for (const p of PROVIDERS) {
      expect(await requiredJobKinds(p.name)).toBe(p.jobKinds);
      if (!p.jobKinds) continue;
      const error = await validateProviderSpec(p.name, 'no-such-kind', {}).catch((e: unknown) => e);
      expect(error, p.name).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.field).join(' ')).toMatch(/kind/);
    }
    await expect(validateProviderSpec('local', 'anything', { any: 'thing' })).resolves.toBeUndefined();
    await expect(validateProviderSpec('azure-batch', undefined, { vmSize: 42 })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('loads no cloud SDK with the descriptors, and each SDK only when its provider is created (fresh process)', () => {
    // A fresh process: the test runner's own module cache would hide what the modules load.
    const dir = mkdtempSync(join(tmpdir(), 'descriptor-lazy-'));
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const script = join(dir, 'probe.mts');
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const loaded = (pkg) => Object.keys(require.cache).some((k) => k.includes(pkg));
const { PROVIDERS } = await import(${JSON.stringify(join(PROVIDERS_DIR, 'all.ts'))});
const atImport = { batch: loaded('@azure/batch'), vertex: loaded('@google-cloud/aiplatform') };
const { loadConfig, azuriteConnectionString } = await import(${JSON.stringify(join(ROOT, 'src/lib/config.ts'))});
const env = { JobsStorage: azuriteConnectionString({ blob: 1, queue: 2, table: 3 }),
  AZURE_BATCH_ACCOUNT_URL: 'https://acct.westeurope.batch.azure.com', AZURE_BATCH_ACCOUNT_NAME: 'acct', AZURE_BATCH_ACCOUNT_KEY: Buffer.from('k'.repeat(32)).toString('base64'),
  VERTEX_PROJECT: 'test-project', VERTEX_LOCATION: 'us-central1',
  VERTEX_CREDENTIALS_JSON: ${JSON.stringify(JSON.stringify({ client_email: 'a@test-project.iam.gserviceaccount.com', private_key: key }))} };
const ctx = { config: loadConfig(env), blobs: {} };
const byName = Object.fromEntries(PROVIDERS.map((p) => [p.name, p]));
const configured = PROVIDERS.filter((p) => p.isConfigured(env)).map((p) => p.name);
const batch = await (await byName['azure-batch'].load()).createProvider(ctx);
const afterBatch = { batch: loaded('@azure/batch'), vertex: loaded('@google-cloud/aiplatform') };
const vertex = await (await byName.vertex.load()).createProvider(ctx);
const afterVertex = { batch: loaded('@azure/batch'), vertex: loaded('@google-cloud/aiplatform') };
console.log(JSON.stringify({ atImport, configured, afterBatch, afterVertex, names: [batch.name, vertex.name] }));
await vertex.close();
`,
    );
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' });
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
        atImport: { batch: false, vertex: false },
        configured: ['local', 'azure-batch', 'vertex'],
        afterBatch: { batch: true, vertex: false },
        afterVertex: { batch: true, vertex: true },
        names: ['azure-batch', 'vertex'],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A cold process that loads two SDKs takes seconds on a busy machine.
  }, 120_000);
});
