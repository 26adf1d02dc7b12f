import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: Array<{ field: string; message: string }>;
};

async function problem(res: Response): Promise<Problem> {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Problem;
  expect(body.status).toBe(res.status);
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  return body;
}

describe('HTTP contract: every client mistake is a 4xx problem naming the field', () => {
  let r: TestRunner;
  beforeAll(async () => {
    r = await startTestRunner({ MAX_BODY_BYTES: '2048', LOCAL_API_KEY: 'sekret' }, { workers: false });
  });
  afterAll(async () => r?.stop());
  const key = { 'x-functions-key': 'sekret' };
  const get = (path: string) => r.api(path, { headers: key });

  it('answers health without a key and everything else only with one', async () => {
    const health = await r.api('/api/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'healthy',
      checks: { tables: { ok: true }, queues: { ok: true }, blobs: { ok: true } },
    });
    expect((await problem(await r.api('/api/jobs'))).code).toBe('UNAUTHORIZED');
    expect((await r.api('/api/jobs?code=sekret')).status).toBe(200);
  });

  it('rejects malformed JSON with 400', async () => {
    const p = await problem(await r.post('/api/jobs', '{"rows": 5,', key));
    expect(p).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
  });

  it('names invalid and unknown fields', async () => {
    const p = await problem(await r.post('/api/jobs', { rows: -5, priority: 'asap', colour: 'red' }, key));
    expect(p.status).toBe(400);
    expect(p.errors?.map((e) => e.field).sort()).toEqual(['colour', 'priority', 'rows']);
    const t = await problem(await r.post('/api/jobs', { target: 'mars' }, key));
    expect(t.errors?.[0]?.field).toBe('target');
    const seed = await problem(await r.post('/api/submit-job', { rows: 'many' }, key));
    expect(seed.errors?.[0]?.field).toBe('rows');
  });

  it("checks a cloud provider's job spec at submission, naming the field", async () => {
    const sm = await problem(
      await r.post('/api/jobs', { target: 'sagemaker', kind: 'training', spec: { image: 'x', colour: 'red' } }, key),
    );
    expect(sm.status).toBe(400);
    expect(sm.errors?.some((e) => e.field.startsWith('spec'))).toBe(true);
    const aml = await problem(await r.post('/api/jobs', { target: 'azure-ml', kind: 'teleport', spec: {} }, key));
    expect(aml.errors?.map((e) => e.field)).toContain('kind');
    const vx = await problem(await r.post('/api/jobs', { target: 'vertex' }, key));
    expect(vx.status).toBe(400);
  });

  it('answers 415 for a body that is not JSON and 413 for one that is too large', async () => {
    const notJson = await r.api('/api/jobs', {
      method: 'POST',
      headers: { ...key, 'content-type': 'text/plain' },
      body: 'rows=5',
    });
    expect((await problem(notJson)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = await r.post('/api/jobs', { data: { blob: 'x'.repeat(5000) } }, key);
    expect(big.status).toBe(413);
    expect((await problem(big)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 404 for unknown and hostile job ids alike', async () => {
    for (const id of ['j-00000000000000000000000000', "x' or PartitionKey ne '", '..%2F..%2Fetc']) {
      const res = await get(`/api/jobs/${encodeURIComponent(id)}`);
      expect(res.status).toBe(404);
      expect((await problem(res)).code).toBe('NOT_FOUND');
    }
    expect((await get('/api/jobs/nope/events')).status).toBe(404);
    expect((await r.post('/api/jobs/nope/cancel', {}, key)).status).toBe(404);
  });

  it('validates list queries', async () => {
    const p = await problem(await get('/api/jobs?status=finished&limit=0'));
    expect(p.errors?.map((e) => e.field).sort()).toEqual(['limit', 'status']);
  });

  it('answers 405 for a known route with the wrong method', async () => {
    const res = await r.api('/api/jobs', { method: 'DELETE', headers: key });
    expect(res.status).toBe(405);
  });

  it('replays an Idempotency-Key: same key, same job; a different body is a 422', async () => {
    const body = { rows: 10, labels: { run: 'idem' } };
    const a = await r.post('/api/jobs', body, { ...key, 'Idempotency-Key': 'order-42' });
    const b = await r.post('/api/jobs', body, { ...key, 'Idempotency-Key': 'order-42' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const [ja, jb] = (await Promise.all([a.json(), b.json()])) as Array<{ id: string }>;
    expect(jb!.id).toBe(ja!.id);
    expect(a.headers.get('location')).toBe(`/api/jobs/${ja!.id}`);
    const c = await r.post('/api/jobs', { rows: 11 }, { ...key, 'Idempotency-Key': 'order-42' });
    expect((await problem(c)).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('answers 409 for the result of a job that has not finished, and shows queue depth', async () => {
    const created = (await (await r.post('/api/jobs', { rows: 1, latency_sensitive: true }, key)).json()) as {
      id: string;
    };
    // No workers run in this suite, so the job waits in actor-jobs.
    await waitFor(
      async () => ((await (await get(`/api/jobs/${created.id}`)).json()) as { status: string }).status,
      (s) => s === 'queued',
    );
    const res = await get(`/api/jobs/${created.id}/result`);
    expect(res.status).toBe(409);
    const flat = (await (await get('/api/queues/status')).json()) as Record<string, number>;
    expect(Object.keys(flat).sort()).toEqual(Object.values(r.deps.config.queues).sort());
    expect(flat[r.deps.config.queues.actor]).toBeGreaterThanOrEqual(1);
    const detail = (await (await get('/api/queues/status?detail=true')).json()) as Record<
      string,
      { active: number; deadLetter: number }
    >;
    expect(detail[r.deps.config.queues.actor]).toMatchObject({ deadLetter: 0 });
    expect(detail[r.deps.config.queues.actor]!.active).toBeGreaterThanOrEqual(1);
  });
});
