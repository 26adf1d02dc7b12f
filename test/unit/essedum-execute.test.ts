import { describe, expect, it } from 'vitest';
import { formatEssedumDate } from '../../src/lib/app/essedum/dates.js';
import { commandTarget, statusReply, taskStatus } from '../../src/lib/app/essedum/execute.js';
import { loadConfig } from '../../src/lib/config.js';
import { ESSEDUM_EXECUTE_KIND, parseExecuteBody, SECRET_KEYS } from '../../src/lib/app/essedum/execute-spec.js';
import { signV4, uriEncode } from '../../src/lib/app/essedum/s3.js';
import { JOB_STATUSES, type JobRecord } from '../../src/lib/core/job.js';
import { ValidationError } from '../../src/lib/errors.js';
import { parseEssedumSettings } from '../../src/lib/essedum-settings.js';
import { ContractError, parseJavaDate } from '../support/essedum-client.js';

const job = (over: Partial<JobRecord>): JobRecord => ({
  id: 'j-01jd3m2x00000000000000000a',
  status: 'submitted',
  source: 'essedum-execute',
  spec: {
    rows: 1,
    estimated_runtime_sec: 1,
    priority: 'normal',
    latency_sensitive: false,
    data: {},
    labels: {},
    kind: ESSEDUM_EXECUTE_KIND,
    spec: { command: 'true' },
  },
  createdAt: '2026-11-23T10:00:00.000Z',
  updatedAt: '2026-11-23T10:00:00.000Z',
  attempts: 0,
  eventSeq: 1,
  ...over,
});

describe('Essedum task states', () => {
  it('maps every job state, keeping cancelling RUNNING until the stop is confirmed', () => {
    const mapped = Object.fromEntries(JOB_STATUSES.map((s) => [s, taskStatus(s)]));
    expect(mapped).toEqual({
      submitted: 'WAITING',
      queued: 'WAITING',
      dispatched: 'RUNNING',
      running: 'RUNNING',
      cancelling: 'RUNNING',
      succeeded: 'COMPLETED',
      failed: 'ERROR',
      cancelled: 'CANCELLED',
    });
  });
});

describe('Essedum dates', () => {
  it('writes yyyy-MM-dd HH:mm:ss.SSSSSS+00:00 in UTC, which the strict Java-pattern parser reads back', () => {
    const s = formatEssedumDate('2026-11-23T10:00:00.123Z');
    expect(s).toBe('2026-11-23 10:00:00.123000+00:00');
    expect(parseJavaDate(s).epochMs).toBe(Date.parse('2026-11-23T10:00:00.123Z'));
    // A non-UTC input instant is converted, not re-labelled.
    expect(formatEssedumDate(new Date('2026-01-01T01:30:00.005+02:00'))).toBe('2025-12-31 23:30:00.005000+00:00');
  });

  it('the test parser rejects what the Java pattern rejects', () => {
    for (const bad of [
      '2026-11-23T10:00:00.123456+00:00',
      '2026-11-23 10:00:00.123+00:00',
      '2026-11-23 10:00:00.123456',
      '2026-11-23 10:00:00.123456+0000',
      '2026-02-30 10:00:00.000000Z',
      '2026-11-23 24:00:00.000000Z',
      1700000000,
    ]) {
      expect(() => parseJavaDate(bad), String(bad)).toThrow(ContractError);
    }
    expect(parseJavaDate('2026-11-23 12:00:00.500000+02:00').epochMs).toBe(Date.parse('2026-11-23T10:00:00.500Z'));
    expect(parseJavaDate('2026-11-23 10:00:00.000001Z').micros).toBe(1);
  });
});

describe('getStatus reply', () => {
  it('gives a finished job started, finished and timestamp (elapsed seconds, a number)', () => {
    const r = statusReply(
      job({ status: 'succeeded', startedAt: '2026-11-23T10:00:01.000Z', finishedAt: '2026-11-23T10:00:03.250Z' }),
      'c/x',
    );
    expect(r).toMatchObject({
      task_status: 'COMPLETED',
      started: '2026-11-23 10:00:01.000000+00:00',
      finished: '2026-11-23 10:00:03.250000+00:00',
      timestamp: 2.25,
      pid: null,
      log_path: 'c/x',
    });
  });

  it('never leaves started or timestamp empty on a job that failed before it ran', () => {
    const r = statusReply(
      job({ status: 'failed', dispatchedAt: '2026-11-23T10:00:02.000Z', finishedAt: '2026-11-23T10:00:05.000Z' }),
      'c/x',
    );
    expect(r.task_status).toBe('ERROR');
    expect(r.started).toBe('2026-11-23 10:00:02.000000+00:00');
    expect(r.timestamp).toBe(3);
    const never = statusReply(job({ status: 'cancelled', finishedAt: '2026-11-23T10:00:01.000Z' }), 'c/x');
    expect(never.started).toBe('2026-11-23 10:00:00.000000+00:00');
    expect(never.timestamp).toBe(1);
  });

  it('leaves finished and timestamp null while the job runs', () => {
    const r = statusReply(job({ status: 'running', startedAt: '2026-11-23T10:00:01.000Z' }), 'c/x');
    expect(r).toMatchObject({
      task_status: 'RUNNING',
      finished: null,
      timestamp: null,
      started: '2026-11-23 10:00:01.000000+00:00',
    });
  });
});

const ARTIFACTS = 'essedum-artifacts';

describe('/execute body', () => {
  const body = {
    bucket: 'b',
    project_id: 'p',
    name: 'n',
    version: '1',
    input_artifacts: 'data/a.csv, data/b.csv',
    command: 'python run.py',
    storage: 'minio',
    credentials: { endpoint: 'http://minio:9000', access_key: 'AKIA-TEST', secret_key: 's3cr3t-value' },
    configs: { rows: '2000', latency_sensitive: 'true', target: 'local' },
    environment: { A: 1 },
  };

  it('keeps the credentials out of the spec and returns them as secrets', () => {
    const p = parseExecuteBody(body, ARTIFACTS);
    expect(JSON.stringify(p.spec)).not.toContain('s3cr3t-value');
    expect(JSON.stringify(p.spec)).not.toContain('AKIA-TEST');
    expect(JSON.stringify(p.spec)).not.toContain('minio:9000');
    expect(p.secrets).toEqual({
      [SECRET_KEYS.endpoint]: 'http://minio:9000',
      [SECRET_KEYS.accessKey]: 'AKIA-TEST',
      [SECRET_KEYS.secretKey]: 's3cr3t-value',
    });
    expect(p.spec.input_artifacts).toEqual(['data/a.csv', 'data/b.csv']);
    expect(p.spec.environment).toEqual({ A: '1' });
    expect(p.routing).toMatchObject({ rows: 2000, latency_sensitive: true, target: 'local' });
  });

  it('turns a string environment into {} as the executors did', () => {
    expect(parseExecuteBody({ ...body, environment: '' }, ARTIFACTS).spec.environment).toEqual({});
  });

  it('refuses minio artifacts without credentials, a missing command and ".." keys', () => {
    const fields = (b: unknown) => {
      try {
        parseExecuteBody(b, ARTIFACTS);
        return [];
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).issues.map((i) => i.field);
      }
    };
    expect(fields({ ...body, credentials: { endpoint: 'http://x', access_key: '', secret_key: '' } })).toEqual([
      'credentials.access_key',
      'credentials.secret_key',
    ]);
    expect(fields({ ...body, command: ' ' })).toEqual(['command']);
    expect(fields({ ...body, input_artifacts: 'a/../../etc/passwd' })).toEqual(['input_artifacts.0']);
    expect(fields({ ...body, storage: 'local', bucket: ARTIFACTS, credentials: '' })).toEqual([]);
  });
});

describe('SigV4', () => {
  it('matches the GET Object example of the S3 SigV4 documentation', () => {
    const h = signV4({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      headers: { Range: 'bytes=0-9' },
      region: 'us-east-1',
      accessKey: 'AKIAIOSFODNN7EXAMPLE',
      secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      date: new Date('2013-05-24T00:00:00Z'),
    });
    expect(h.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(h['x-amz-date']).toBe('20130524T000000Z');
  });

  it('encodes keys the SigV4 way (spaces %20, slashes kept in paths)', () => {
    expect(uriEncode('a b/c+d~e', true)).toBe('a%20b/c%2Bd~e');
    expect(uriEncode('a/b')).toBe('a%2Fb');
  });
});

describe('Essedum settings', () => {
  it('defaults to execute disabled and no adapters, and names bad settings', () => {
    expect(parseEssedumSettings({})).toMatchObject({ executeEnabled: false, adapters: {}, commandTimeoutSec: 3600 });
    expect(
      parseEssedumSettings({ ESSEDUM_EXECUTE_ENABLED: 'true', ESSEDUM_ADAPTERS: '{"sm":{"provider":"sagemaker"}}' }),
    ).toMatchObject({ executeEnabled: true, adapters: { sm: { provider: 'sagemaker' } } });
    expect(() => parseEssedumSettings({ ESSEDUM_ADAPTERS: '{"x":{"provider":"aws"}}' })).toThrow(/ESSEDUM_ADAPTERS/);
    expect(() => parseEssedumSettings({ ESSEDUM_ADAPTERS: 'not json' })).toThrow(/not JSON/);
    expect(() => parseEssedumSettings({ ESSEDUM_EXECUTE_ENABLED: 'yes' })).toThrow(/ESSEDUM_EXECUTE_ENABLED/);
  });
});

describe('where an /execute command runs', () => {
  const cfg = (env: Record<string, string>) => loadConfig(env).classifier;
  const spec = (over: Partial<JobRecord['spec']> = {}): JobRecord['spec'] => ({ ...job({}).spec, ...over });
  const big = { rows: 6_000_000, estimated_runtime_sec: 0 }; // cost 6: the ml-jobs class

  it('keeps the classifier’s choice when it is a worker, local or Azure Batch', () => {
    expect(commandTarget(spec(), cfg({}), 'none')).toBeUndefined();
    expect(commandTarget(spec({ latency_sensitive: true }), cfg({}), 'credentials')).toBeUndefined();
    expect(commandTarget(spec(), cfg({ BATCH_JOBS_PROVIDER: 'azure-batch' }), 'none')).toBeUndefined();
  });

  it('moves a command off an ML provider: to the batch provider, else the spark workers', () => {
    expect(commandTarget(spec(big), cfg({ ML_JOBS_PROVIDER: 'sagemaker' }), 'none')).toBe('batch-jobs');
    expect(
      commandTarget(
        spec(big),
        cfg({ ML_JOBS_PROVIDER: 'sagemaker', BATCH_JOBS_PROVIDER: 'azure-batch' }),
        'credentials',
      ),
    ).toBe('spark-jobs');
  });

  it('runs commands reading Blob Storage artifacts on the queue workers only', () => {
    expect(commandTarget(spec(), cfg({}), 'blob-store')).toBe('spark-jobs');
    expect(commandTarget(spec({ latency_sensitive: true }), cfg({}), 'blob-store')).toBeUndefined();
  });

  it('keeps commands that need storage credentials off Azure Batch, which never receives them', () => {
    expect(commandTarget(spec(), cfg({ BATCH_JOBS_PROVIDER: 'azure-batch' }), 'credentials')).toBe('spark-jobs');
  });

  it('refuses an explicit target that cannot run the command, naming configs.target', () => {
    for (const [target, needs] of [
      ['sagemaker', 'none'],
      ['azure-batch', 'credentials'],
      ['local', 'blob-store'],
      ['nowhere', 'none'],
    ] as const) {
      expect(() => commandTarget(spec({ target }), cfg({}), needs), target).toThrow(ValidationError);
    }
    expect(commandTarget(spec({ target: 'azure-batch' }), cfg({}), 'none')).toBe('azure-batch');
    expect(commandTarget(spec({ target: 'local' }), cfg({}), 'credentials')).toBe('local');
  });
});
