import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grpc } from 'google-gax';
import { ProviderThrottledError, ProviderUnavailableError } from '../../../src/lib/errors.js';
import { fromEssedumTrainingPipeline } from '../../../src/lib/app/essedum/translate/vertex.js';
import { createVertexProvider, type VertexProvider } from '../../../src/lib/providers/vertex/provider.js';
import { parseVertexSettings } from '../../../src/lib/providers/vertex/settings.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { VertexGrpcFake } from '../../fakes/vertex/vertex-grpc-fake.js';
import {
  AUTOML_BODY,
  CUSTOM_SPEC,
  TEST_TOKEN,
  applied,
  makeJob,
  staticAuthClient,
} from '../../fakes/vertex/fixtures.js';

/**
 * The production transport (gRPC) against a grpc-js server built from the package's own .proto
 * files: codes are canonical numbers, Struct fields travel as protobuf Values, timestamps as
 * {seconds, nanos}.
 */
describe('VertexProvider over gRPC (real client, fake built from the shipped .proto files)', () => {
  let fake: VertexGrpcFake;
  let provider: VertexProvider;

  function settings(extra: Record<string, string> = {}) {
    return parseVertexSettings({
      VERTEX_PROJECT: fake.service.project,
      VERTEX_LOCATION: fake.service.location,
      VERTEX_API_ENDPOINT: '127.0.0.1',
      VERTEX_API_PORT: String(fake.port),
      VERTEX_TRANSPORT: 'grpc',
      VERTEX_RETRY_BASE_MS: '1',
      VERTEX_THROTTLE_BACKOFF_MS: '4321',
      ...extra,
    });
  }

  beforeEach(async () => {
    fake = await new VertexGrpcFake().start();
    provider = await createVertexProvider(settings(), {
      authClient: staticAuthClient(),
      sslCreds: grpc.credentials.createInsecure(),
    });
  });
  afterEach(async () => {
    await provider.close();
    await fake.stop();
  });

  async function submitted(job: JobRecord): Promise<JobRecord> {
    const out = await provider.submit(job);
    return applied(job, out.status, out.ref);
  }

  it('creates a CustomJob with enums, durations and labels as the service expects them', async () => {
    const base = makeJob('custom', CUSTOM_SPEC);
    const job = { ...base, spec: { ...base.spec, max_runtime_sec: 3600 } };

    const out = await provider.submit(job);

    expect(out).toMatchObject({ attached: false, status: 'dispatched', ref: { kind: 'custom' } });
    const create = fake.service.calls.find((c) => c.verb === 'create')!;
    expect(create.transport).toBe('grpc');
    expect(create.body).toMatchObject({
      displayName: 'train-resnet',
      labels: { cjo_job_id: job.id },
      jobSpec: {
        workerPoolSpecs: [
          {
            machineSpec: { machineType: 'n1-standard-8', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 1 },
            replicaCount: '1',
          },
        ],
        scheduling: { timeout: '3600s' },
      },
    });
    expect(create.headers['x-goog-request-params']).toBe(`parent=${encodeURIComponent(fake.service.parent)}`);
    expect(create.headers['x-goog-api-client']).toMatch(/grpc\//);
  });

  it("sends a pipeline's task inputs as a protobuf Value the service can read back as JSON", async () => {
    const t = fromEssedumTrainingPipeline(AUTOML_BODY);

    await provider.submit(makeJob(t.kind, t.spec));

    const create = fake.service.calls.find((c) => c.verb === 'create')!;
    expect(create.body?.trainingTaskInputs).toEqual(AUTOML_BODY.training_task_inputs);
  });

  it('polls a state progression and reads the result of the finished job', async () => {
    let job = await submitted(makeJob('custom', CUSTOM_SPEC));
    const name = String(job.providerRef!.name);
    fake.service.setState(name, 'JOB_STATE_RUNNING');

    const [running] = await provider.poll([job]);
    expect(running).toMatchObject({ status: 'running', nativeStatus: 'JOB_STATE_RUNNING' });
    job = applied(job, 'running', running!.ref);

    fake.service.setState(name, 'JOB_STATE_FAILED', {
      error: { code: 13, message: 'replica workerpool0-0 exited with a non-zero status of 1' },
    });
    const [failed] = await provider.poll([job]);
    expect(failed).toMatchObject({
      status: 'failed',
      error: { code: 'INTERNAL', message: expect.stringContaining('non-zero status') },
      result: { outputDirectory: 'gs://bucket-out/run-1' },
    });
  });

  it('pages at 100 with page tokens', async () => {
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 150; i++) {
      const job = makeJob('custom', CUSTOM_SPEC);
      const r = fake.service.seed(
        'customJobs',
        { displayName: job.id, labels: { cjo_job_id: job.id } },
        'JOB_STATE_RUNNING',
      );
      jobs.push({ ...job, providerRef: { kind: 'custom', name: r.name, labelValue: job.id } });
    }
    fake.service.calls.length = 0;

    const reports = await provider.poll(jobs);

    expect(reports).toHaveLength(150);
    expect(fake.service.calls.map((c) => [c.verb, c.pageSize, Boolean(c.pageToken)])).toEqual([
      ['list', 100, false],
      ['list', 100, true],
    ]);
  });

  it('backs off on RESOURCE_EXHAUSTED (code 8) and UNAVAILABLE (code 14), never failing the job', async () => {
    const p = await createVertexProvider(settings({ VERTEX_READ_RETRIES: '0' }), {
      authClient: staticAuthClient(),
      sslCreds: grpc.credentials.createInsecure(),
    });
    const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');

    fake.service.failNext({ verb: 'list', status: 'RESOURCE_EXHAUSTED' });
    const throttled = await p.poll([job]).catch((e: unknown) => e);
    fake.service.failNext({ verb: 'list', status: 'UNAVAILABLE' });
    const unavailable = await p.poll([job]).catch((e: unknown) => e);

    expect(throttled).toBeInstanceOf(ProviderThrottledError);
    expect((throttled as ProviderThrottledError).retryAfterMs).toBe(4321);
    expect(unavailable).toBeInstanceOf(ProviderUnavailableError);
    await p.close();
  });

  it('honours the RetryInfo delay the service sends in the status details', async () => {
    const p = await createVertexProvider(settings({ VERTEX_READ_RETRIES: '0' }), {
      authClient: staticAuthClient(),
      sslCreds: grpc.credentials.createInsecure(),
    });
    const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
    fake.service.failNext({ verb: 'list', status: 'RESOURCE_EXHAUSTED', retryDelaySec: 42 });

    const err = await p.poll([job]).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ProviderThrottledError);
    expect((err as ProviderThrottledError).retryAfterMs).toBe(42_000);
    await p.close();
  });

  it('retries an UNAVAILABLE look-up of a finished job within the poll and reports the job', async () => {
    const job = applied(await submitted(makeJob('custom', CUSTOM_SPEC)), 'running');
    fake.service.setState(String(job.providerRef!.name), 'JOB_STATE_SUCCEEDED');
    fake.service.calls.length = 0;
    // The look-up by label (`labels.<key>="<job>"`), not the list of not-finished resources.
    fake.service.failNext({ verb: 'list', filterIncludes: `="${job.id}"`, status: 'UNAVAILABLE' });

    const [report] = await provider.poll([job]);

    expect(report).toMatchObject({ status: 'succeeded' });
    expect(fake.service.calls.map((c) => `${c.verb}:${c.outcome}`)).toEqual(['list:OK', 'list:UNAVAILABLE', 'list:OK']);
  });

  it('cancels a training pipeline through CancelTrainingPipeline and confirms on a later poll', async () => {
    const t = fromEssedumTrainingPipeline(AUTOML_BODY);
    let job = applied(await submitted(makeJob(t.kind, t.spec)), 'running');
    const name = String(job.providerRef!.name);

    await provider.cancel(job);
    job = applied(job, 'cancelling');
    expect(fake.service.find(name)!.body.state).toBe('PIPELINE_STATE_CANCELLING');
    expect(await provider.poll([job])).toEqual([]);

    fake.service.setState(name, 'PIPELINE_STATE_CANCELLED');
    const [report] = await provider.poll([job]);
    expect(report).toMatchObject({ status: 'cancelled', nativeStatus: 'PIPELINE_STATE_CANCELLED' });
  });
});

/** A throw-away self-signed certificate for 127.0.0.1 (openssl CLI). */
function selfSignedCert(): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'vertex-fake-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('VertexProvider over gRPC with TLS and per-call credentials', () => {
  it('sends the OAuth bearer token as call metadata, which the fake checks on every call', async () => {
    const { cert, key } = selfSignedCert();
    const fake = await new VertexGrpcFake({ requireBearer: TEST_TOKEN }).start(
      grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false),
    );
    // The composition google-gax builds for production (TLS channel + Google call credentials),
    // with the fake's certificate as the trusted root. As in gax, the auth library's `Headers`
    // must become a plain object: grpc-js reads it with Object.keys and would send no token.
    const auth = staticAuthClient();
    const sslCreds = grpc.credentials.combineChannelCredentials(
      grpc.credentials.createSsl(cert),
      grpc.credentials.createFromGoogleCredential({
        getRequestHeaders: async (url?: string) => Object.fromEntries((await auth.getRequestHeaders(url)).entries()),
      }),
    );
    const provider = await createVertexProvider(
      parseVertexSettings({
        VERTEX_PROJECT: fake.service.project,
        VERTEX_LOCATION: fake.service.location,
        VERTEX_API_ENDPOINT: '127.0.0.1',
        VERTEX_API_PORT: String(fake.port),
      }),
      { sslCreds },
    );
    try {
      const out = await provider.submit(makeJob('custom', CUSTOM_SPEC));

      expect(out.attached).toBe(false);
      expect(fake.service.calls.map((c) => [c.verb, c.outcome, c.headers.authorization])).toEqual([
        ['list', 'OK', `Bearer ${TEST_TOKEN}`],
        ['create', 'OK', `Bearer ${TEST_TOKEN}`],
      ]);
    } finally {
      await provider.close();
      await fake.stop();
    }
  });
});
