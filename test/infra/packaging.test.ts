import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './bicep-tree.js';
import { knownSettings } from './settings-source.js';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');
const lines = (p: string) =>
  read(p)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

describe('.funcignore (Function App package)', () => {
  it('keeps the worker image files, infra, tests, benchmarks and TypeScript sources out', () => {
    const ignored = new Set(lines('.funcignore'));
    for (const entry of ['Dockerfile', '.dockerignore', 'infra/', 'test/', 'bench/', 'src/', 'local.settings.json']) {
      expect(ignored.has(entry), `.funcignore should exclude ${entry}`).toBe(true);
    }
    for (const kept of ['dist/', 'dist', 'host.json', 'package.json', 'node_modules/', 'node_modules']) {
      expect(ignored.has(kept), `.funcignore must not exclude ${kept}`).toBe(false);
    }
  });

  it('strips only development-only packages from node_modules', () => {
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean }> };
    const stripped = lines('.funcignore')
      .filter((l) => l.startsWith('node_modules/'))
      .map((l) => l.replace(/\/$/, ''));
    expect(stripped.length).toBeGreaterThan(0);
    const production = stripped.filter((p) => {
      const entries = Object.entries(lock.packages).filter(([k]) => k === p || k.startsWith(`${p}/`));
      return entries.length === 0 || entries.some(([, v]) => !v.dev);
    });
    expect(production, `.funcignore strips packages the app needs at run time (or unknown ones): ${production.join(', ')}`).toEqual([]);
  });
});

describe('worker Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('is multi-stage on node 22 slim/alpine, building with npm ci + npm run build', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=22$/m);
    for (const s of stages) expect(s).toMatch(/^node:\$\{NODE_VERSION\}-(slim|alpine)/);
    expect(stages[0]).toMatch(/RUN npm ci\b/);
    expect(stages[0]).toMatch(/RUN npm run build/);
  });

  it('runs production dependencies only, as a non-root user, with an exec-form CMD of the queue worker', () => {
    const runtime = stages[stages.length - 1]!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    expect(user, 'the runtime stage must switch to a non-root USER').toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime).toMatch(/^CMD \["node", "dist\/src\/worker\/main\.js"\]$/m);
    expect(/^WORKDIR (\S+)$/m.exec(runtime)?.[1]).toBe('/app');
  });

  it('puts the worker where the Batch provider runs it (AZURE_BATCH_WORKER_ENTRY)', async () => {
    const entry = (await knownSettings()).get('AZURE_BATCH_WORKER_ENTRY');
    expect(entry?.default, 'the azure-batch provider should declare AZURE_BATCH_WORKER_ENTRY').toBeDefined();
    expect(entry!.default).toBe('/app/dist/src/worker/main.js');
  });
});
