import { createServer, type Server } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEndpointAllowlist } from '../../src/lib/core/endpoint-allowlist.js';
import { runCommand } from '../../src/worker/run-command.js';
import { canSwitchUser, createCommandSandbox } from '../../src/worker/command-sandbox.js';
import { parseCommandSandboxSettings } from '../../src/lib/command-sandbox-settings.js';
import { SECRET_KEYS } from '../../src/lib/app/essedum/execute-spec.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

const KEY = 'key-for-the-endpoint-tests';

/** A TCP listener that only counts who connects: any connection is a failed SSRF test. */
async function trap(host: string): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, connections: () => count };
}

describe('SSRF: credentials.endpoint must pass ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST', () => {
  let r: TestRunner;
  let v4: Awaited<ReturnType<typeof trap>>;
  let v6: Awaited<ReturnType<typeof trap>>;
  // Loopback addresses the allow-list does not include (127.0.0.1 is listed, 127.0.0.2 and ::1 are not).
  const ALLOWLIST = '*.example.com,127.0.0.1';

  beforeAll(async () => {
    [v4, v6] = await Promise.all([trap('127.0.0.2'), trap('::1')]);
    r = await startTestRunner(
      { ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY, ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST: ALLOWLIST },
      { workers: false },
    );
  });
  afterAll(async () => {
    await r?.stop();
    v4?.server.close();
    v6?.server.close();
  });

  const execute = (endpoint: string) =>
    r.post(
      '/api/execute',
      {
        command: 'cat inputs/a.csv',
        storage: 'minio',
        bucket: 'b',
        input_artifacts: 'a.csv',
        credentials: { endpoint, access_key: 'AKIA-SSRF', secret_key: 'ssrf-secret-123' },
      },
      { 'x-functions-key': KEY },
    );

  it('refuses endpoints on loopback addresses the allow-list excludes (127.0.0.2, [::1]) with a 400 naming credentials.endpoint, and never connects', async () => {
    for (const endpoint of [
      `http://127.0.0.2:${v4.port}`,
      `http://[::1]:${v6.port}`,
      `[::1]:${v6.port}`,
      `http://[::ffff:127.0.0.2]:${v4.port}`,
    ]) {
      const res = await execute(endpoint);
      expect(res.status, endpoint).toBe(400);
      const problem = (await res.json()) as { errors: Array<{ field: string }> };
      expect(problem.errors.map((e) => e.field)).toEqual(['credentials.endpoint']);
    }
    expect((await r.deps.store.list({ limit: 10 })).jobs).toEqual([]);
    expect(v4.connections()).toBe(0);
    expect(v6.connections()).toBe(0);
  });

  it('refuses host names outside the allow-list before any DNS lookup (localhost, a metadata name)', async () => {
    for (const endpoint of [
      `http://localhost:${v4.port}`,
      'http://metadata.google.internal',
      `http://127.0.0.2.example.org:${v4.port}`,
    ]) {
      const res = await execute(endpoint);
      expect(res.status, endpoint).toBe(400);
    }
    expect(v4.connections()).toBe(0);
  });

  it('checks again where the artifact is fetched: a worker with a narrower allow-list fails the job and connects nowhere', async () => {
    const secrets = {
      [SECRET_KEYS.endpoint]: `http://127.0.0.2:${v4.port}`,
      [SECRET_KEYS.accessKey]: 'AKIA-SSRF',
      [SECRET_KEYS.secretKey]: 'ssrf-secret-123',
    };
    for (const endpoint of [secrets[SECRET_KEYS.endpoint], `http://[::1]:${v6.port}`]) {
      const outcome = await runCommand({
        jobId: 'j-ssrf',
        spec: {
          command: 'echo ran',
          storage: 'minio',
          bucket: 'b',
          input_artifacts: ['a.csv'],
          project_id: '',
          name: '',
          version: '',
          environment: {},
        },
        secrets: { ...secrets, [SECRET_KEYS.endpoint]: endpoint },
        workDir: mkdtempSync(join(tmpdir(), 'cjo-ssrf-')),
        maxLogBytes: 64 * 1024,
        storageEndpointAllowlist: parseEndpointAllowlist(ALLOWLIST).entries,
        sandbox: createCommandSandbox(
          parseCommandSandboxSettings({ COMMAND_SANDBOX: canSwitchUser() ? 'uid' : 'none' }),
          { warn: () => undefined },
        ),
        shouldStop: () => undefined,
      });
      expect(outcome.kind).toBe('failed');
      expect(outcome.log).toContain('ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST');
      expect(outcome.log).not.toContain('ran\n');
    }
    expect(v4.connections()).toBe(0);
    expect(v6.connections()).toBe(0);
  });
});
