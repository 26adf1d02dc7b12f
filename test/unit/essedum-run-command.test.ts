import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_KEYS, type EssedumCommandSpec } from '../../src/lib/app/essedum/execute-spec.js';
import { getObject, S3Error } from '../../src/lib/app/essedum/s3.js';
import { parseEndpointAllowlist } from '../../src/lib/core/endpoint-allowlist.js';
import { redact, runCommand, type RunCommandInput } from '../../src/worker/run-command.js';
import { FakeS3 } from '../fakes/s3/fake-s3.js';
import { canSwitchUser, createCommandSandbox } from '../../src/worker/command-sandbox.js';
import { parseCommandSandboxSettings } from '../../src/lib/command-sandbox-settings.js';

// The sandbox this machine supports: a uid of its own per command where the tests run as root (CI),
// the unsandboxed mode elsewhere (the sandbox's own tests cover both).
const sandbox = createCommandSandbox(
  parseCommandSandboxSettings({ COMMAND_SANDBOX: canSwitchUser() ? 'uid' : 'none' }),
  { warn: () => undefined },
);

const spec = (over: Partial<EssedumCommandSpec> = {}): EssedumCommandSpec => ({
  command: 'true',
  storage: 'local',
  bucket: '',
  input_artifacts: [],
  project_id: 'p',
  name: 'n',
  version: '1',
  environment: {},
  ...over,
});

/** The fake S3 listens on loopback, which only an explicit IP entry admits. */
const LOOPBACK_S3 = parseEndpointAllowlist('127.0.0.1').entries;

const input = (over: Partial<RunCommandInput>): RunCommandInput => ({
  jobId: 'j-test',
  spec: spec(),
  secrets: {},
  workDir: mkdtempSync(join(tmpdir(), 'cjo-rc-')),
  maxLogBytes: 64 * 1024,
  storageEndpointAllowlist: LOOPBACK_S3,
  shouldStop: () => undefined,
  killGraceMs: 500,
  sandbox,
  ...over,
});

describe('runCommand', () => {
  const s3 = new FakeS3({ AKIDTEST: 'secret-key-value-123' });
  beforeAll(async () => {
    await s3.start();
    s3.put('bucket1', 'data/in put.csv', 'a,b\n1,2\n');
  });
  afterAll(() => s3.stop());

  it('runs the command in its own folder and returns its output as the log', async () => {
    const i = input({
      spec: spec({ command: 'echo out; echo err >&2; pwd; mkdir -p outputs/m && echo 42 > outputs/m/x.txt' }),
    });
    const seen: string[] = [];
    const r = await runCommand({ ...i, onOutputs: async (files) => void seen.push(...files.map((f) => f.name)) });
    expect(r.kind).toBe('succeeded');
    expect(r.log).toContain('out\n');
    expect(r.log).toContain('err\n');
    expect(r.log).toContain(i.workDir);
    expect(seen).toEqual(['m/x.txt']);
    expect(existsSync(i.workDir)).toBe(false);
  });

  it('reports a non-zero exit as failed with the exit code', async () => {
    const r = await runCommand(input({ spec: spec({ command: 'echo before; exit 3' }) }));
    expect(r).toMatchObject({ kind: 'failed', code: 'EXIT_3', exitCode: 3 });
    expect(r.log).toContain('before');
  });

  it('gives the command a clean environment: the caller’s variables, never the worker’s settings', async () => {
    process.env.CJO_TEST_WORKER_SETTING = 'must-not-leak';
    try {
      const r = await runCommand(input({ spec: spec({ command: 'env', environment: { MY_VAR: 'mine' } }) }));
      expect(r.log).toContain('MY_VAR=mine');
      expect(r.log).toContain('ESSEDUM_TASK_ID=j-test');
      expect(r.log).not.toContain('must-not-leak');
    } finally {
      delete process.env.CJO_TEST_WORKER_SETTING;
    }
  });

  it('stops the whole process group on a stop request', async () => {
    let stop = false;
    const marker = join(tmpdir(), `cjo-rc-marker-${process.pid}-${Date.now()}`);
    const i = input({
      spec: spec({ command: `(sleep 2; touch ${marker}) & sleep 30` }),
      shouldStop: () => (stop ? 'cancel' : undefined),
    });
    const running = runCommand(i);
    setTimeout(() => (stop = true), 300);
    const r = await running;
    expect(r).toMatchObject({ kind: 'stopped', reason: 'cancel' });
    // The background child was killed with its group: it never gets to write the marker.
    await new Promise((res) => setTimeout(res, 2500));
    expect(existsSync(marker)).toBe(false);
  });

  it('fetches S3 artifacts with SigV4 and removes secrets from the log even when the command prints them', async () => {
    const secrets = {
      [SECRET_KEYS.endpoint]: s3.url,
      [SECRET_KEYS.accessKey]: 'AKIDTEST',
      [SECRET_KEYS.secretKey]: 'secret-key-value-123',
    };
    const r = await runCommand(
      input({
        spec: spec({
          storage: 'minio',
          bucket: 'bucket1',
          input_artifacts: ['data/in put.csv'],
          command: 'cat "inputs/data/in put.csv"; echo "key=$ESSEDUM_STORAGE_SECRET_KEY"',
        }),
        secrets,
      }),
    );
    expect(r.kind).toBe('succeeded');
    expect(r.log).toContain('a,b\n1,2');
    expect(r.log).toContain('key=****');
    expect(r.log).not.toContain('secret-key-value-123');
    expect(s3.requests.at(-1)).toMatchObject({
      outcome: 'OK',
      accessKey: 'AKIDTEST',
      path: '/bucket1/data/in%20put.csv',
    });
  });

  it('fails with ARTIFACT_FETCH_FAILED when S3 refuses, without running the command', async () => {
    const secrets = {
      [SECRET_KEYS.endpoint]: s3.url,
      [SECRET_KEYS.accessKey]: 'AKIDTEST',
      [SECRET_KEYS.secretKey]: 'wrong-secret-xyz',
    };
    const r = await runCommand(
      input({
        spec: spec({ storage: 's3', bucket: 'bucket1', input_artifacts: ['data/in put.csv'], command: 'echo ran' }),
        secrets,
      }),
    );
    expect(r).toMatchObject({ kind: 'failed', code: 'ARTIFACT_FETCH_FAILED' });
    expect(r.log).toContain('SignatureDoesNotMatch');
    expect(r.log).not.toContain('ran\n');
    expect(r.log).not.toContain('wrong-secret-xyz');
  });

  it('getObject reports S3 error codes', async () => {
    await expect(
      getObject({ endpoint: s3.url, accessKey: 'AKIDTEST', secretKey: 'secret-key-value-123' }, 'bucket1', 'nope', {
        allowlist: LOOPBACK_S3,
      }),
    ).rejects.toMatchObject({ s3Code: 'NoSuchKey', status: 404 });
    await expect(
      getObject({ endpoint: s3.url, accessKey: 'OTHER', secretKey: 'x' }, 'bucket1', 'nope', {
        allowlist: LOOPBACK_S3,
      }),
    ).rejects.toBeInstanceOf(S3Error);
  });

  it('redact replaces every secret occurrence, longest first', () => {
    expect(redact('a abcdef b abcd', { x: 'abcd', y: 'abcdef' })).toBe('a **** b ****');
    expect(redact('abc', { short: 'abc' })).toBe('abc');
  });
});
