import { describe, expect, it } from 'vitest';
import { PollThrottledError, ProviderThrottledError } from '../../../src/lib/errors.js';
import type { VertexKind } from '../../../src/lib/providers/vertex/spec.js';
import { parseVertexSettings } from '../../../src/lib/providers/vertex/settings.js';
import type { VertexResourceView } from '../../../src/lib/providers/vertex/status.js';
import type { VertexApi, VertexPage } from '../../../src/lib/providers/vertex/client.js';
import { VertexProvider } from '../../../src/lib/providers/vertex/provider.js';
import { CUSTOM_SPEC, makeJob } from '../../fakes/vertex/fixtures.js';

const settings = parseVertexSettings({
  VERTEX_PROJECT: 'test-project',
  VERTEX_LOCATION: 'us-central1',
  VERTEX_RETRY_BASE_MS: '5',
});
const PARENT = 'projects/test-project/locations/us-central1';

/** A scripted VertexApi: list/get answers come from the test; every call is recorded. */
function scripted(opts: {
  list?: (filter: string) => VertexPage;
  get?: (name: string) => VertexResourceView;
  failures?: unknown[];
}) {
  const calls: string[] = [];
  const failures = [...(opts.failures ?? [])];
  const maybeFail = () => {
    const f = failures.shift();
    if (f) throw f;
  };
  const api: VertexApi = {
    async create(kind: VertexKind) {
      calls.push(`create:${kind}`);
      maybeFail();
      return { name: `${PARENT}/customJobs/new`, state: 'JOB_STATE_PENDING' };
    },
    async get(_kind, name) {
      calls.push(`get:${name}`);
      maybeFail();
      return opts.get!(name);
    },
    async list(_kind, _parent, filter) {
      calls.push(`list:${filter}`);
      maybeFail();
      return opts.list?.(filter) ?? { resources: [] };
    },
    async cancel(_kind, name) {
      calls.push(`cancel:${name}`);
      maybeFail();
    },
    async close() {},
  };
  return { api, calls };
}

/**
 * Answers the look-up of finished jobs (`labels.cjo_job_id="lN" OR …`) with a SUCCEEDED
 * `customJobs/N` for each `lN`; the list of not-finished resources comes back empty.
 */
function finishedLookup(filter: string): VertexPage {
  const values = [...filter.matchAll(/labels\.cjo_job_id="([^"]+)"/g)].map((m) => m[1]!);
  return {
    resources: values.map((v) => ({
      name: v.startsWith('l') ? `${PARENT}/customJobs/${v.slice(1)}` : `${PARENT}/customJobs/1`,
      state: 'JOB_STATE_SUCCEEDED',
      labels: { cjo_job_id: v },
    })),
  };
}

const ts = (seconds: number) => ({ seconds: String(seconds), nanos: 0 });
const grpcError = (code: number, extra: object = {}) => Object.assign(new Error(`${code}`), { code, ...extra });

describe('VertexProvider (scripted API)', () => {
  it('re-attaches to the oldest resource when an earlier race left two with the same label', async () => {
    const job = makeJob('custom', CUSTOM_SPEC);
    const { api, calls } = scripted({
      list: () => ({
        resources: [
          {
            name: `${PARENT}/customJobs/2`,
            state: 'JOB_STATE_RUNNING',
            labels: { cjo_job_id: job.id },
            createTime: ts(200),
          },
          {
            name: `${PARENT}/customJobs/1`,
            state: 'JOB_STATE_RUNNING',
            labels: { cjo_job_id: job.id },
            createTime: ts(100),
          },
        ],
      }),
    });

    const out = await new VertexProvider(settings, api).submit(job);

    expect(out).toMatchObject({ attached: true, status: 'running', ref: { name: `${PARENT}/customJobs/1` } });
    expect(calls.filter((c) => c.startsWith('create'))).toEqual([]);
  });

  it('finds a job whose handle was never stored (crash after create) by its label', async () => {
    const job = makeJob('custom', CUSTOM_SPEC); // no providerRef at all
    const { api } = scripted({
      list: () => ({
        resources: [{ name: `${PARENT}/customJobs/7`, state: 'JOB_STATE_RUNNING', labels: { cjo_job_id: job.id } }],
      }),
    });

    const [report] = await new VertexProvider(settings, api).poll([job]);

    expect(report).toMatchObject({
      jobId: job.id,
      status: 'running',
      ref: { kind: 'custom', name: `${PARENT}/customJobs/7`, labelValue: job.id },
    });
  });

  it('never moves a running job back to dispatched', async () => {
    const job = makeJob('custom', CUSTOM_SPEC, {
      status: 'running',
      providerRef: { kind: 'custom', name: `${PARENT}/customJobs/1`, labelValue: 'x', state: 'JOB_STATE_RUNNING' },
    });
    const { api } = scripted({
      list: () => ({
        resources: [{ name: `${PARENT}/customJobs/1`, state: 'JOB_STATE_PENDING', labels: { cjo_job_id: 'x' } }],
      }),
    });

    expect(await new VertexProvider(settings, api).poll([job])).toEqual([]);
  });

  it('reports a native state change that keeps our status, for the history (paused)', async () => {
    const job = makeJob('custom', CUSTOM_SPEC, {
      status: 'running',
      providerRef: { kind: 'custom', name: `${PARENT}/customJobs/1`, labelValue: 'x', state: 'JOB_STATE_RUNNING' },
    });
    const { api } = scripted({
      list: () => ({
        resources: [{ name: `${PARENT}/customJobs/1`, state: 'JOB_STATE_PAUSED', labels: { cjo_job_id: 'x' } }],
      }),
    });

    const [report] = await new VertexProvider(settings, api).poll([job]);

    expect(report).toMatchObject({
      status: 'running',
      nativeStatus: 'JOB_STATE_PAUSED',
      notes: ['paused at Vertex AI'],
      ref: { state: 'JOB_STATE_PAUSED' },
    });
  });

  it('says so when a job asked to stop is still running (so the stop is asked again), and stays quiet while CANCELLING', async () => {
    const ref = { kind: 'custom', name: `${PARENT}/customJobs/1`, labelValue: 'x' };
    const job = makeJob('custom', CUSTOM_SPEC, { status: 'cancelling', providerRef: ref });
    const listing = (state: string) =>
      scripted({ list: () => ({ resources: [{ name: ref.name, state, labels: { cjo_job_id: 'x' } }] }) }).api;

    expect(await new VertexProvider(settings, listing('JOB_STATE_RUNNING')).poll([job])).toEqual([
      { jobId: job.id, status: 'running', nativeStatus: 'JOB_STATE_RUNNING' },
    ]);
    expect(await new VertexProvider(settings, listing('JOB_STATE_CANCELLING')).poll([job])).toEqual([]);
  });

  it('does not repeat a same-status report when nothing noteworthy happened', async () => {
    const job = makeJob('custom', CUSTOM_SPEC, {
      status: 'dispatched',
      providerRef: { kind: 'custom', name: `${PARENT}/customJobs/1`, labelValue: 'x', state: 'JOB_STATE_QUEUED' },
    });
    const { api } = scripted({
      list: () => ({
        resources: [{ name: `${PARENT}/customJobs/1`, state: 'JOB_STATE_PENDING', labels: { cjo_job_id: 'x' } }],
      }),
    });

    expect(await new VertexProvider(settings, api).poll([job])).toEqual([]);
  });

  it('hands back what it learned when throttled part-way through the look-ups, naming the jobs it did not read', async () => {
    const finished = (n: number) =>
      makeJob('custom', CUSTOM_SPEC, {
        status: 'running',
        providerRef: { kind: 'custom', name: `${PARENT}/customJobs/${n}`, labelValue: `l${n}` },
      });
    const noRetry = parseVertexSettings({
      VERTEX_PROJECT: 'test-project',
      VERTEX_LOCATION: 'us-central1',
      VERTEX_READ_RETRIES: '0',
    });
    const jobs = Array.from({ length: 25 }, (_, i) => finished(i + 1));

    // Calls: the not-finished list, look-up of jobs 1-20, look-up of jobs 21-25 (throttled).
    const partly = scripted({ list: finishedLookup, failures: [undefined, undefined, grpcError(8)] });
    const cut = await new VertexProvider(noRetry, partly.api).poll(jobs).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(PollThrottledError);
    expect((cut as PollThrottledError).reports.map((r) => r.jobId)).toEqual(jobs.slice(0, 20).map((j) => j.id));
    expect((cut as PollThrottledError).reports.every((r) => r.status === 'succeeded')).toBe(true);
    expect((cut as PollThrottledError).unread).toEqual(jobs.slice(20).map((j) => j.id));
    expect(partly.calls.some((c) => c.startsWith('get:'))).toBe(false);

    const wholly = scripted({ list: finishedLookup, failures: [undefined, grpcError(8)] });
    const none = await new VertexProvider(noRetry, wholly.api).poll(jobs).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(ProviderThrottledError);
    expect((none as PollThrottledError).reports).toEqual([]);
  });

  it('sleeps for the server retry hint between read retries, and gives up at once on a long hint', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    const job = makeJob('custom', CUSTOM_SPEC, {
      status: 'running',
      providerRef: { kind: 'custom', name: `${PARENT}/customJobs/1`, labelValue: 'x' },
    });

    const short = scripted({
      list: finishedLookup,
      failures: [grpcError(8, { statusDetails: [{ retryDelay: { seconds: 2 } }] }), grpcError(14)],
    });
    const [report] = await new VertexProvider(settings, short.api, sleep).poll([job]);
    expect(slept).toEqual([2000, 10]); // the hint, then base 5 ms × 2^1
    expect(report?.status).toBe('succeeded');

    slept.length = 0;
    const long = scripted({ failures: [grpcError(8, { statusDetails: [{ retryDelay: { seconds: 60 } }] })] });
    const err = await new VertexProvider(settings, long.api, sleep).poll([job]).catch((e: unknown) => e);
    expect(slept).toEqual([]);
    expect((err as ProviderThrottledError).retryAfterMs).toBe(60_000);
  });

  it('never retries a create', async () => {
    const { api, calls } = scripted({ failures: [undefined, grpcError(14)] });

    await expect(new VertexProvider(settings, api).submit(makeJob('custom', CUSTOM_SPEC))).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
    });
    expect(calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });
});
