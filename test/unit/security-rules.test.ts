import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkStorageEndpoint } from '../../src/lib/app/essedum/endpoint-guard.js';
import { commandRunRefusal, parseExecuteBody, refuseCommandKind } from '../../src/lib/app/essedum/execute-spec.js';
import {
  addressAllowed,
  isPublicAddress,
  matchAllowEntry,
  parseEndpointAllowlist,
} from '../../src/lib/core/endpoint-allowlist.js';
import { environmentNameProblem } from '../../src/lib/core/environment-names.js';
import { SPEC_DEFAULTS, type JobRecord } from '../../src/lib/core/job.js';
import { oneShotSpecDocument } from '../../src/lib/core/one-shot-spec.js';
import { ConfigurationError, ValidationError } from '../../src/lib/errors.js';
import { parseEssedumSettings } from '../../src/lib/essedum-settings.js';
import { validateProviderSpec } from '../../src/lib/providers/registry.js';
import { runOnce } from '../../src/worker/one-shot.js';

const fieldsOf = async (work: () => unknown): Promise<string[]> => {
  try {
    await work();
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).issues.map((i) => i.field);
  }
};

describe('the command kind belongs to /execute', () => {
  it('refuses the command kind, in any spelling, from every other route', () => {
    for (const source of ['api', 'submit-job', 'essedum-pipeline'] as const) {
      for (const kind of ['essedum-execute', 'ESSEDUM-EXECUTE', ' essedum-execute ']) {
        expect(() => refuseCommandKind(source, { kind }), `${source} ${kind}`).toThrow(ValidationError);
      }
      expect(() => refuseCommandKind(source, { kind: 'training' })).not.toThrow();
    }
    expect(() => refuseCommandKind('essedum-execute', { kind: 'essedum-execute' })).not.toThrow();
  });

  it('lets a runner run a command only for a record from /execute while /execute is on', () => {
    expect(commandRunRefusal('essedum-execute', true)).toBeUndefined();
    expect(commandRunRefusal('essedum-execute', false)?.code).toBe('EXECUTE_DISABLED');
    for (const origin of ['api', 'submit-job', undefined, 'essedum-execute '])
      expect(commandRunRefusal(origin, true)?.code).toBe('COMMAND_NOT_FROM_EXECUTE');
  });
});

describe('one-shot runs (local provider, Azure Batch task) re-check the gate', () => {
  const commandJob = (source: JobRecord['source'], marker: string): JobRecord => ({
    id: 'j-oneshot-gate',
    status: 'dispatched',
    source,
    spec: {
      ...SPEC_DEFAULTS,
      data: {},
      labels: {},
      kind: 'essedum-execute',
      spec: { command: `touch ${marker}`, storage: 'local' },
    },
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    attempts: 1,
    eventSeq: 1,
  });
  const run = async (doc: string, enabled: string | undefined) => {
    const dir = mkdtempSync(join(tmpdir(), 'cjo-oneshot-gate-'));
    writeFileSync(join(dir, 'spec.json'), doc);
    const saved = process.env.ESSEDUM_EXECUTE_ENABLED;
    if (enabled === undefined) delete process.env.ESSEDUM_EXECUTE_ENABLED;
    else process.env.ESSEDUM_EXECUTE_ENABLED = enabled;
    try {
      const exit = await runOnce(join(dir, 'spec.json'), dir, 0.001);
      return {
        exit,
        status: JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as {
          state: string;
          error?: { code: string };
        },
      };
    } finally {
      if (saved === undefined) delete process.env.ESSEDUM_EXECUTE_ENABLED;
      else process.env.ESSEDUM_EXECUTE_ENABLED = saved;
    }
  };

  it('refuses a spec document without the /execute origin (a forged or tampered staging blob)', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'cjo-m-')), 'ran');
    const forged = JSON.parse(oneShotSpecDocument(commandJob('api', marker))) as Record<string, unknown>;
    const withoutOrigin = { ...forged };
    delete withoutOrigin.origin;
    for (const doc of [forged, withoutOrigin]) {
      const { exit, status } = await run(JSON.stringify(doc), 'true');
      expect(exit).toBe(1);
      expect(status).toMatchObject({ state: 'failed', error: { code: 'COMMAND_NOT_FROM_EXECUTE' } });
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses an /execute job when the run was not told /execute is on', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'cjo-m-')), 'ran');
    const { status } = await run(oneShotSpecDocument(commandJob('essedum-execute', marker)), undefined);
    expect(status).toMatchObject({ state: 'failed', error: { code: 'EXECUTE_DISABLED' } });
    expect(existsSync(marker)).toBe(false);
  });
});

describe('environment names a job may set', () => {
  it('refuses variables that hijack interpreters, the loader or the shell, and reserved ones, in any case', () => {
    const hostile = [
      'NODE_OPTIONS',
      'node_options',
      'NODE_PATH',
      'LD_PRELOAD',
      'LD_LIBRARY_PATH',
      'PATH',
      'Path',
      'BASH_ENV',
      'ENV',
      'PYTHONSTARTUP',
      'PYTHONPATH',
      'PERL5OPT',
      'PERLLIB',
      'RUBYOPT',
      'JAVA_TOOL_OPTIONS',
      '_JAVA_OPTIONS',
      'DYLD_INSERT_LIBRARIES',
      'IFS',
      'SHELLOPTS',
      'PS4',
      'HOME',
      'ESSEDUM_EXECUTE_ENABLED',
      'CJO_JOB_ID',
      'AZ_BATCH_NODE_ID',
      'IDENTITY_ENDPOINT',
      'HTTPS_PROXY',
      'GLIBC_TUNABLES',
      'SIMULATION_TIME_SCALE',
      '1ABC',
      'A-B',
      'A B',
      '',
      'A'.repeat(65),
    ];
    for (const name of hostile) expect(environmentNameProblem(name), name).toBeDefined();
    for (const name of ['MY_VAR', 'model_dir', 'TRAINING_EPOCHS', 'A', 'NODEJS_LIKE_BUT_NOT', 'PATHX'])
      expect(environmentNameProblem(name), name).toBeUndefined();
  });

  it('answers a Batch job setting NODE_OPTIONS with a 400 naming the variable, at submission', async () => {
    expect(
      await fieldsOf(() =>
        validateProviderSpec('azure-batch', undefined, { environment: { NODE_OPTIONS: '--require /tmp/x.js' } }),
      ),
    ).toEqual(['spec.environment.NODE_OPTIONS']);
    expect(
      await fieldsOf(() =>
        validateProviderSpec('azure-batch', undefined, { environment: { LD_PRELOAD: '/tmp/x.so', OK_NAME: '1' } }),
      ),
    ).toEqual(['spec.environment.LD_PRELOAD']);
    expect(
      await fieldsOf(() => validateProviderSpec('azure-batch', undefined, { environment: { EPOCHS: '3' } })),
    ).toEqual([]);
  });

  it('applies the same rule to an /execute environment', async () => {
    const body = { command: 'env', storage: 'local', environment: { BASH_ENV: '/tmp/evil', FINE: 'ok' } };
    expect(await fieldsOf(() => parseExecuteBody(body, 'essedum-artifacts'))).toEqual(['environment.BASH_ENV']);
  });
});

describe('storage "local" artifacts come from one container', () => {
  const body = (bucket: string) => ({ command: 'cat inputs/x', storage: 'local', bucket, input_artifacts: 'x' });

  it('refuses any other container (other jobs’ results, the Functions host secrets) with a 400 naming bucket', async () => {
    for (const bucket of ['job-results', 'azure-webjobs-secrets', 'job-payloads', 'essedum-artifacts2']) {
      expect(await fieldsOf(() => parseExecuteBody(body(bucket), 'essedum-artifacts')), bucket).toEqual(['bucket']);
    }
  });

  it('reads from the configured container when the body names it or none', () => {
    expect(parseExecuteBody(body(''), 'essedum-artifacts').spec.bucket).toBe('essedum-artifacts');
    expect(parseExecuteBody(body('essedum-artifacts'), 'essedum-artifacts').spec.bucket).toBe('essedum-artifacts');
  });

  it('has a default, and refuses a bad container name at start-up', () => {
    expect(parseEssedumSettings({}).artifactsContainer).toBe('essedum-artifacts');
    expect(() => parseEssedumSettings({ ESSEDUM_ARTIFACTS_CONTAINER: 'Bad_Name' })).toThrow(ConfigurationError);
  });
});

describe('storage endpoint allow-list', () => {
  it('parses host, wildcard, IPv4 and IPv6 entries with optional ports, and names bad ones', () => {
    const { entries, problems } = parseEndpointAllowlist(
      'minio.corp:9000, *.s3.amazonaws.com 10.1.2.3:9000,[::1]:9000',
    );
    expect(problems).toEqual([]);
    expect(entries).toEqual([
      { host: 'minio.corp', wildcard: false, port: 9000 },
      { host: 's3.amazonaws.com', wildcard: true },
      { host: '10.1.2.3', wildcard: false, port: 9000 },
      { host: '::1', wildcard: false, port: 9000 },
    ]);
    expect(parseEndpointAllowlist('http://x, a:99999, *').problems).toHaveLength(3);
    expect(() => parseEssedumSettings({ ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST: 'http://x' })).toThrow(ConfigurationError);
  });

  it('matches host and port; a wildcard covers sub-domains only', () => {
    const { entries } = parseEndpointAllowlist('minio.corp:9000,*.example.com');
    expect(matchAllowEntry(entries, 'MINIO.corp', 9000)?.host).toBe('minio.corp');
    expect(matchAllowEntry(entries, 'minio.corp', 9001)).toBeUndefined();
    expect(matchAllowEntry(entries, 'a.b.example.com', 443)?.wildcard).toBe(true);
    expect(matchAllowEntry(entries, 'example.com', 443)).toBeUndefined();
    expect(matchAllowEntry(entries, 'evilexample.com', 443)).toBeUndefined();
  });

  it('classifies metadata, link-local, loopback, private and unspecified addresses as not public (strings only, never contacted)', () => {
    for (const a of [
      '169.254.169.254',
      '127.0.0.1',
      '127.0.0.2',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.1.1',
      '100.100.100.200',
      '0.0.0.0',
      '::',
      '::1',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:169.254.169.254',
      '::ffff:127.0.0.1',
      '224.0.0.1',
      '255.255.255.255',
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['93.184.216.34', '2606:4700:4700::1111']) expect(isPublicAddress(a), a).toBe(true);
  });

  it('lets an exact IP entry admit that address only, an exact host name private networks, a wildcard public addresses only', () => {
    const [ip, name, wild] = parseEndpointAllowlist('127.0.0.1:9000,minio.corp,*.example.com').entries;
    expect(addressAllowed(ip!, '127.0.0.1')).toBe(true);
    expect(addressAllowed(ip!, '::ffff:127.0.0.1')).toBe(true);
    expect(addressAllowed(ip!, '127.0.0.2')).toBe(false);
    expect(addressAllowed(name!, '10.1.2.3')).toBe(true);
    expect(addressAllowed(name!, '127.0.0.1')).toBe(false);
    expect(addressAllowed(name!, '169.254.169.254')).toBe(false);
    expect(addressAllowed(wild!, '10.1.2.3')).toBe(false);
    expect(addressAllowed(wild!, '93.184.216.34')).toBe(true);
  });

  it('refuses a listed name whose DNS answers with a metadata address, even beside a public one (fake resolver, nothing contacted)', async () => {
    const entries = parseEndpointAllowlist('*.example.com').entries;
    const resolver = (answers: string[]) => async () =>
      answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    expect(
      await fieldsOf(() =>
        checkStorageEndpoint('https://files.example.com', entries, resolver(['93.184.216.34', '169.254.169.254'])),
      ),
    ).toEqual(['credentials.endpoint']);
    expect(
      await fieldsOf(() => checkStorageEndpoint('https://files.example.com', entries, resolver(['::ffff:a9fe:a9fe']))),
    ).toEqual(['credentials.endpoint']);
    expect(
      await fieldsOf(() => checkStorageEndpoint('ftp://files.example.com', entries, resolver(['93.184.216.34']))),
    ).toEqual(['credentials.endpoint']);
    expect(
      await fieldsOf(() =>
        checkStorageEndpoint('https://user:pw@files.example.com', entries, resolver(['93.184.216.34'])),
      ),
    ).toEqual(['credentials.endpoint']);
    const ok = await checkStorageEndpoint('files.example.com', entries, resolver(['93.184.216.34']));
    expect(ok).toMatchObject({ address: '93.184.216.34', family: 4 });
    expect(ok.url.protocol).toBe('https:');
  });

  it('allows no endpoint at all by default', async () => {
    expect(parseEssedumSettings({}).storageEndpointAllowlist).toEqual([]);
    expect(
      await fieldsOf(() =>
        checkStorageEndpoint('https://s3.amazonaws.com', [], async () => [{ address: '93.184.216.34', family: 4 }]),
      ),
    ).toEqual(['credentials.endpoint']);
  });
});
