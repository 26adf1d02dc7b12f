import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
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
  const azure = parseYaml(read('azure.yaml')) as { services: Record<string, { host: string; remoteBuild?: boolean }> };
  const ignored = new Set(lines('.funcignore').map((l) => l.replace(/\/$/, '')));

  it('keeps the worker image files, infra, tests and benchmarks out', () => {
    for (const entry of ['Dockerfile', '.dockerignore', 'infra', 'test', 'bench', 'local.settings.json']) {
      expect(ignored.has(entry), `.funcignore should exclude ${entry}`).toBe(true);
    }
    for (const kept of ['host.json', 'package.json', 'package-lock.json'])
      expect(ignored.has(kept), `.funcignore must not exclude ${kept}`).toBe(false);
  });

  it('matches the build mode of the api service (remote: sources in, node_modules out; local: the reverse)', () => {
    const api = azure.services.api;
    expect(api?.host).toBe('function');
    expect(typeof api?.remoteBuild, 'azure.yaml should state remoteBuild for api explicitly').toBe('boolean');
    if (api!.remoteBuild) {
      // The platform runs npm install + npm run build (tsc -p .): it needs the sources and tsconfig,
      // and uploading a node_modules built on another OS breaks it.
      expect(ignored.has('node_modules'), 'remote build: .funcignore must exclude node_modules').toBe(true);
      for (const needed of ['src', 'tsconfig.json', 'tsconfig*.json', '*.ts'])
        expect(ignored.has(needed), `remote build needs ${needed} in the package`).toBe(false);
    } else {
      for (const needed of ['node_modules', 'dist'])
        expect(ignored.has(needed), `local build ships ${needed}`).toBe(false);
    }
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

  it('runs production dependencies only, as root (to give each command a uid of its own), with an exec-form CMD of the queue worker', () => {
    const runtime = stages[stages.length - 1]!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    // Commands never run as this user: COMMAND_SANDBOX=uid (the default) runs each under a pool uid,
    // which needs CAP_SETUID/CAP_SETGID; a non-root worker would refuse every command.
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    expect(['root', '0']).toContain(user);
    expect(runtime).toMatch(/^CMD \["node", "dist\/src\/worker\/main\.js"\]$/m);
    expect(/^WORKDIR (\S+)$/m.exec(runtime)?.[1]).toBe('/app');
  });

  it('puts the worker where the Batch provider runs it (AZURE_BATCH_WORKER_ENTRY)', async () => {
    const entry = (await knownSettings()).get('AZURE_BATCH_WORKER_ENTRY');
    expect(entry?.default, 'the azure-batch provider should declare AZURE_BATCH_WORKER_ENTRY').toBeDefined();
    expect(entry!.default).toBe('/app/dist/src/worker/main.js');
  });
});
