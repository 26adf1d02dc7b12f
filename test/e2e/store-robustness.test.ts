import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitJob } from '../../src/lib/app/submit-job.js';
import type { Deps } from '../../src/lib/deps.js';
import { ValidationError } from '../../src/lib/errors.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

type Problem = { status: number; code: string; errors?: Array<{ field: string; message: string }> };

async function problem(res: Response): Promise<Problem> {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Problem;
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  return body;
}

describe('Store robustness through the HTTP API (no workers)', () => {
  let r: TestRunner;
  beforeAll(async () => {
    r = await startTestRunner({}, { workers: false });
  });
  afterAll(async () => r?.stop());

  const listIds = async (query = '') => {
    const ids: string[] = [];
    let token: string | undefined;
    for (let n = 0; n < 100; n++) {
      const res = await r.api(
        `/api/jobs?limit=1000${query}${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`,
      );
      expect(res.status).toBe(200);
      const page = (await res.json()) as { jobs: Array<{ id: string }>; continuationToken?: string };
      ids.push(...page.jobs.map((j) => j.id));
      token = page.continuationToken;
      if (!token) break;
    }
    return ids;
  };

  it('creates one job for 12 concurrent requests with one Idempotency-Key, and all of them get it', async () => {
    const headers = { 'Idempotency-Key': `burst-${Date.now()}` };
    const body = { rows: 7, labels: { run: 'burst' } };
    const replies = await Promise.all(Array.from({ length: 12 }, () => r.post('/api/jobs', body, headers)));
    expect(replies.map((res) => res.status)).toEqual(Array(12).fill(202));
    const jobs = (await Promise.all(replies.map((res) => res.json()))) as Array<{ id: string }>;
    const id = jobs[0]!.id;
    expect(jobs.every((j) => j.id === id)).toBe(true);
    expect(replies.filter((res) => res.headers.get('idempotent-replayed') === 'true')).toHaveLength(11);
    expect(replies.every((res) => res.headers.get('location') === `/api/jobs/${id}`)).toBe(true);
    expect((await listIds()).filter((x) => x === id)).toHaveLength(1);
    const events = await r.deps.store.events(id);
    expect(events.filter((e) => e.to === 'submitted')).toHaveLength(1);
    // The seed route with a key races the same way.
    const seedReplies = await Promise.all(
      Array.from({ length: 8 }, () => r.post('/api/submit-job', { rows: 3 }, { 'Idempotency-Key': `seed-${id}` })),
    );
    expect(seedReplies.map((res) => res.status)).toEqual(Array(8).fill(200));
    const seedIds = new Set(
      ((await Promise.all(seedReplies.map((res) => res.json()))) as Array<{ job_id: string }>).map((b) => b.job_id),
    );
    expect(seedIds.size).toBe(1);
    expect((await listIds()).filter((x) => seedIds.has(x))).toHaveLength(1);
  });

  it('answers a bad continuationToken with a 400 naming it, never a 500', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const tokens = [
      'junk',
      b64('not json at all'),
      b64('null'),
      b64('1'),
      b64('{"nextPartitionKey":{}}'),
      b64('{"nextPartitionKey":"all","nextRowKey":"x"}'),
      '%',
      'x'.repeat(4000),
    ];
    for (const token of tokens) {
      const res = await r.api(`/api/jobs?continuationToken=${encodeURIComponent(token)}`);
      expect(res.status, token.slice(0, 40)).toBe(400);
      expect((await problem(res)).errors?.map((e) => e.field)).toEqual(['continuationToken']);
    }
  });

  it('lists summaries by default and full records with view=full, within bounded limits', async () => {
    const created = (await (
      await r.post('/api/jobs', { rows: 5, data: { payload: 'p'.repeat(2000) }, labels: { team: 'x' } })
    ).json()) as { id: string };
    const page = (await (await r.api('/api/jobs?limit=1000')).json()) as { jobs: Array<Record<string, unknown>> };
    const mine = page.jobs.find((j) => j.id === created.id)!;
    expect(Object.keys(mine).sort()).toEqual(
      [
        'createdAt',
        'id',
        'labels',
        'links',
        'priority',
        'status',
        'updatedAt',
        ...(mine.queue ? ['queue'] : []),
        ...(mine.provider ? ['provider'] : []),
      ].sort(),
    );
    expect(JSON.stringify(page)).not.toContain('pppp');
    const full = (await (await r.api('/api/jobs?view=full&limit=100')).json()) as {
      jobs: Array<{ id: string; spec: { data: unknown } }>;
    };
    expect(full.jobs.find((j) => j.id === created.id)?.spec.data).toEqual({ payload: 'p'.repeat(2000) });
    const tooMany = await problem(await r.api('/api/jobs?view=full&limit=500'));
    expect(tooMany.errors?.map((e) => e.field)).toEqual(['limit']);
    expect((await problem(await r.api('/api/jobs?limit=1001'))).errors?.map((e) => e.field)).toEqual(['limit']);
    expect((await problem(await r.api('/api/jobs?view=everything'))).errors?.map((e) => e.field)).toEqual(['view']);
  });

  it('answers GET /api/execute with a 403 problem while /execute is disabled', async () => {
    const res = await r.api('/api/execute');
    expect(res.status).toBe(403);
    expect((await problem(res)).code).toBe('FEATURE_DISABLED');
  });

  describe('refuses at submission a plain job routed to a provider that needs a job kind', () => {
    // rows 0, 50 s: cost 5 under the README weights → ml-jobs.
    const mlClassJob = { rows: 0, estimated_runtime_sec: 50 };
    const withMlProvider = (provider: string): Deps => ({
      ...r.deps,
      config: { ...r.deps.config, classifier: { ...r.deps.config.classifier, mlProvider: provider } },
    });

    for (const provider of ['azure-ml', 'sagemaker', 'vertex']) {
      it(`${provider}: 400 on kind, naming the provider, and nothing written`, async () => {
        const before = (await listIds()).length;
        const key = `refused-${provider}-${Date.now()}`;
        const error = await submitJob(withMlProvider(provider), {
          body: mlClassJob,
          mode: 'strict',
          source: 'api',
          idempotencyKey: key,
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        const issue = (error as ValidationError).issues[0]!;
        expect(issue.field).toBe('kind');
        expect(issue.message).toContain(provider);
        expect(issue.message).toContain(r.deps.config.queues.ml);
        expect((await listIds()).length).toBe(before);
        // The key was not spent: the same key with a proper body is a new job, not a 422.
        const ok = await submitJob(r.deps, { body: mlClassJob, mode: 'strict', source: 'api', idempotencyKey: key });
        expect(ok.replayed).toBe(false);
      });
    }

    it('still accepts the same job where the provider runs plain jobs (local, Azure Batch)', async () => {
      for (const provider of ['local', 'azure-batch']) {
        const { job } = await submitJob(withMlProvider(provider), { body: mlClassJob, mode: 'strict', source: 'api' });
        // Classified at submission: accepted straight onto ml-jobs for that provider.
        expect(job.status).toBe('queued');
        expect(job.provider).toBe(provider);
      }
    });

    it('answers a cloud target without a kind over HTTP with a problem naming kind and the provider', async () => {
      const vx = await problem(await r.post('/api/jobs', { target: 'sagemaker', rows: 1 }));
      expect(vx.status).toBe(400);
      expect(vx.errors?.[0]?.field).toBe('kind');
      expect(vx.errors?.[0]?.message).toContain('sagemaker');
    });
  });
});
