import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner, TERMINAL, waitFor, type TestRunner } from '../support/runner.js';

type Job = {
  id: string;
  status: string;
  queue: string;
  provider: string;
  decision: { rule: string; cost: number; queue: string; explanation: string };
  result?: { summary?: Record<string, unknown> };
};

describe('end to end through the local runner', () => {
  let r: TestRunner;
  const job = async (id: string) => (await (await r.api(`/api/jobs/${id}`)).json()) as Job;
  const finished = (id: string, timeoutMs = 60_000) =>
    waitFor(
      () => job(id),
      (j) => TERMINAL.includes(j.status),
      timeoutMs,
      `job ${id} to finish`,
    );

  beforeAll(async () => {
    r = await startTestRunner({ WORKER_CONCURRENCY: '16' });
  });
  afterAll(async () => r?.stop());

  it('runs the three README examples to succeeded on the queues the README formula predicts', async () => {
    const q = r.deps.config.queues;
    const examples = [
      {
        body: { latency_sensitive: true, rows: 100, estimated_runtime_sec: 1 },
        queue: q.actor,
        rule: 'latency-sensitive',
      },
      {
        body: { rows: 50_000_000, estimated_runtime_sec: 300, priority: 'high' },
        queue: q.spark,
        rule: 'cost-above-spark',
      },
      {
        body: { rows: 5_000_000, estimated_runtime_sec: 100, priority: 'normal' },
        queue: q.spark,
        rule: 'cost-above-spark',
      },
    ];
    const ids: string[] = [];
    for (const ex of examples) {
      const res = await r.post('/api/submit-job', ex.body);
      expect(res.status).toBe(200);
      const reply = (await res.json()) as { status: string; job_id: string };
      expect(reply.status).toBe('submitted');
      expect(reply.job_id).toMatch(/^j-[0-9a-z]{26}$/);
      ids.push(reply.job_id);
    }
    for (const [i, id] of ids.entries()) {
      const done = await finished(id);
      expect(done.status).toBe('succeeded');
      expect(done.queue).toBe(examples[i]!.queue);
      expect(done.decision.rule).toBe(examples[i]!.rule);
      expect(done.decision.explanation).toContain(String(done.decision.cost));
      expect(done.result?.summary?.rows_processed).toBe(examples[i]!.body.rows);
    }
    const events = (await (await r.api(`/api/jobs/${ids[1]}/events`)).json()) as {
      events: Array<{ from: string | null; to: string }>;
    };
    expect(events.events.map((e) => e.to)).toEqual(['submitted', 'queued', 'dispatched', 'running', 'succeeded']);
  });

  it('runs batch-class and ml-class jobs through the local provider in a worker process', async () => {
    const small = (await (await r.post('/api/jobs', { rows: 100, estimated_runtime_sec: 5 })).json()) as Job;
    const medium = (await (await r.post('/api/jobs', { rows: 5_000_000, estimated_runtime_sec: 10 })).json()) as Job;
    const [a, b] = await Promise.all([finished(small.id), finished(medium.id)]);
    expect(a).toMatchObject({ status: 'succeeded', queue: r.deps.config.queues.batch, provider: 'local' });
    expect(b).toMatchObject({ status: 'succeeded', queue: r.deps.config.queues.ml, provider: 'local' });
    const result = (await (await r.api(`/api/jobs/${b.id}/result`)).json()) as {
      status: string;
      result: { rows_processed: number; checksum: string };
    };
    expect(result.status).toBe('succeeded');
    expect(result.result.rows_processed).toBe(5_000_000);
    expect(result.result.checksum).toMatch(/^[0-9a-f]{64}$/);
    const logs = (await (await r.api(`/api/jobs/${b.id}/logs`)).json()) as { stdout: string };
    expect(logs.stdout).toContain('succeeded');
  });

  it('ends a job whose work fails as failed, with the reason', async () => {
    const created = (await (
      await r.post('/api/jobs', { rows: 10, estimated_runtime_sec: 5, data: { simulate_failure: 'disk full' } })
    ).json()) as Job;
    const done = await finished(created.id);
    expect(done.status).toBe('failed');
    expect((done as unknown as { error: { message: string } }).error.message).toBe('disk full');
  });

  it('brings 200 concurrent submissions to terminal states, none duplicated', async () => {
    // Every class: a tenth each to batch-jobs and ml-jobs (a local worker process each), the rest
    // split between the actor and spark workers.
    const bodies = Array.from({ length: 200 }, (_, i) => {
      const kind = i % 10;
      if (kind === 0) return { rows: 1000, estimated_runtime_sec: 2, labels: { n: String(i) } };
      if (kind === 1) return { rows: 5_000_000, estimated_runtime_sec: 5, labels: { n: String(i) } };
      if (kind % 2 === 0)
        return { rows: 100, estimated_runtime_sec: 1, latency_sensitive: true, labels: { n: String(i) } };
      return { rows: 20_000_000, estimated_runtime_sec: 20, labels: { n: String(i) } };
    });
    const replies = await Promise.all(bodies.map((b) => r.post('/api/jobs', b)));
    expect(replies.every((x) => x.status === 202)).toBe(true);
    const ids = await Promise.all(replies.map(async (x) => ((await x.json()) as Job).id));
    expect(new Set(ids).size).toBe(200);
    const results = await waitFor(
      () => Promise.all(ids.map((id) => job(id))),
      (jobs) => jobs.every((j) => TERMINAL.includes(j.status)),
      240_000,
      '200 jobs to finish',
    );
    const notSucceeded = results
      .filter((j) => j.status !== 'succeeded')
      .map((j) => ({ id: j.id, status: j.status, queue: j.queue, error: (j as unknown as { error?: unknown }).error }));
    expect(notSucceeded).toEqual([]);
    // Each job ran once: one claim/dispatch and one completion in its history.
    const histories = await Promise.all(
      ids
        .slice(0, 40)
        .map(
          async (id) =>
            ((await (await r.api(`/api/jobs/${id}/events`)).json()) as { events: Array<{ to: string; type: string }> })
              .events,
        ),
    );
    for (const h of histories) {
      expect(h.filter((e) => e.type === 'transition' && e.to === 'dispatched')).toHaveLength(1);
      expect(h.filter((e) => e.to === 'succeeded')).toHaveLength(1);
    }
    // Listing by status pages through them all.
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const page = (await (
        await r.api(
          `/api/jobs?status=succeeded&limit=100${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`,
        )
      ).json()) as { jobs: Job[]; continuationToken?: string };
      for (const j of page.jobs) seen.add(j.id);
      token = page.continuationToken;
    } while (token);
    expect(ids.every((id) => seen.has(id))).toBe(true);
  }, 300_000);

  it('cancels a running worker job: cancelling, then cancelled once the worker stops', async () => {
    const created = (await (
      await r.post('/api/jobs', { rows: 1000, estimated_runtime_sec: 3000, target: r.deps.config.queues.spark })
    ).json()) as Job;
    await waitFor(
      () => job(created.id),
      (j) => j.status === 'running',
      30_000,
      'job to run',
    );
    const res = await r.post(`/api/jobs/${created.id}/cancel`, {});
    expect(res.status).toBe(202);
    expect(((await res.json()) as Job).status).toBe('cancelling');
    const done = await finished(created.id);
    expect(done.status).toBe('cancelled');
    const again = await r.post(`/api/jobs/${created.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toBe('application/problem+json');
  });

  it('cancels a running local-provider job at the provider', async () => {
    const created = (await (
      await r.post('/api/jobs', { rows: 1000, estimated_runtime_sec: 3000, target: 'local' })
    ).json()) as Job;
    await waitFor(
      () => job(created.id),
      (j) => j.status === 'running',
      30_000,
      'job to run',
    );
    await r.post(`/api/jobs/${created.id}/cancel`, {});
    const done = await finished(created.id);
    expect(done.status).toBe('cancelled');
  });
});
