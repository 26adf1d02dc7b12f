import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ledgerEntity } from '../../src/lib/adapters/table-cost-ledger.js';
import { TableJobStore } from '../../src/lib/adapters/table-job-store.js';
import { loadConfig } from '../../src/lib/config.js';
import type { PriceTable } from '../../src/lib/core/costs.js';
import type { LedgerRow } from '../../src/lib/ports/cost-ledger.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

/** Worker prices high enough that a simulated second shows: spark 0.01 per second. */
const PRICES: PriceTable = {
  currency: 'USD',
  source: 'test prices',
  asOf: '2026-12-04',
  providers: {
    worker: {
      billing: { incrementSec: 1, minimumSec: 0 },
      defaultInstanceType: 'spark',
      hourly: { actor: 3.6, spark: 36 },
    },
    local: { billing: { incrementSec: 1, minimumSec: 0 }, defaultInstanceType: 'local', hourly: { local: 7.2 } },
  },
};

type Json = Record<string, any>;

describe('costs, the ledger and budgets through HTTP', () => {
  let r: TestRunner;
  const table = `costjobs${Math.random().toString(36).slice(2, 8)}`;
  /**
   * Writes a ledger row as a job finished before this run (or a correction by hand) leaves it: in
   * the job's shard of the jobs table, where the store commits rows with the finishing write.
   */
  const plantLedgerRow = async (row: LedgerRow) => {
    const connection = inject('storageConnectionString');
    const store = await TableJobStore.create(loadConfig({ JobsStorage: connection }), { jobs: table });
    const raw = TableClient.fromConnectionString(connection, table, { allowInsecureConnection: true });
    await raw.upsertEntity(ledgerEntity(await store.shardOf(row.jobId), row), 'Replace');
  };

  beforeAll(async () => {
    r = await startTestRunner({
      JOBS_TABLE: table,
      PRICE_TABLE: JSON.stringify(PRICES),
      BUDGETS: JSON.stringify([
        { name: 'capped', label: 'team=capped', limit: 0.5, mode: 'refuse' },
        { name: 'held', label: 'team=held', limit: 1.05, period: 'day', mode: 'wait' },
      ]),
      BUDGET_RECHECK_SEC: '1',
      BUDGET_CACHE_SEC: '0',
    });
  });
  afterAll(async () => {
    await r?.stop();
  });

  const getJob = async (id: string): Promise<Json> => (await (await r.api(`/api/jobs/${id}`)).json()) as Json;

  it('estimates every candidate at routing, prices the finished job and reports it from the ledger', async () => {
    const res = await r.post('/api/jobs', {
      rows: 1000,
      estimated_runtime_sec: 100,
      labels: { team: 'a', env: 'test' },
    });
    expect(res.status).toBe(202);
    const submitted = (await res.json()) as Json;
    const estimates = submitted.decision.costEstimates;
    // 1 000 rows and 100 s cost 10.0001 → spark-jobs; spark at 36/h for 100 s = 1.
    expect(submitted.queue).toMatch(/^spark-jobs/);
    expect(estimates.chosen).toBe(1);
    expect(estimates.currency).toBe('USD');
    const byQueue = Object.fromEntries(
      estimates.candidates.map((c: Json) => [c.queue.replace(/-[a-z0-9]{6}$/, ''), c.estimatedCost]),
    );
    expect(byQueue).toEqual({ 'spark-jobs': 1, 'actor-jobs': 0.1, 'ml-jobs': 0.2, 'batch-jobs': 0.2 });

    const done = await waitFor(
      () => getJob(submitted.id),
      (j) => j.status === 'succeeded',
      30_000,
      'the job to finish',
    );
    expect(done.cost.basis).toBe('orchestrator-times');
    expect(done.cost.billedSec).toBeGreaterThanOrEqual(1);
    expect(done.cost.actual).toBeCloseTo((36 * done.cost.billedSec) / 3600, 6);
    expect(done.cost.estimated).toBe(1);

    const report = (await (
      await r.api('/api/costs?label=team=a&label=env=test&groupBy=provider,label:team&from=2026-01-01')
    ).json()) as Json;
    expect(report.total.jobs).toBe(1);
    expect(report.total.cost).toBeCloseTo(done.cost.actual, 6);
    expect(report.groups).toEqual([
      expect.objectContaining({ key: { provider: 'worker', 'label:team': 'a' }, jobs: 1, estimated: 1 }),
    ]);
    const other = (await (await r.api('/api/costs?label=team=nobody')).json()) as Json;
    expect(other.total).toMatchObject({ jobs: 0, cost: 0 });
  });

  it('answers bad report queries with a problem naming the field', async () => {
    for (const [query, field] of [
      ['groupBy=provider,colour', 'groupBy'],
      ['from=2026-12-05&to=2026-12-01', 'from'],
      ['from=yesterday', 'from'],
      ['from=2020-01-01&to=2026-01-01', 'from'],
      ['label=team', 'label.0'],
    ] as const) {
      const res = await r.api(`/api/costs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as Json;
      expect(
        body.errors.map((e: Json) => e.field),
        query,
      ).toContain(field);
    }
  });

  it('refuses a submission over a refuse budget with a 402 problem naming the budget', async () => {
    const res = await r.post('/api/jobs', { estimated_runtime_sec: 100, labels: { team: 'capped' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await res.json()) as Json;
    expect(problem).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'capped', limit: 0.5, spent: 0, estimate: 1 });
    expect(problem.detail).toContain("Budget 'capped'");
    // Under the limit, the same label is accepted.
    const small = await r.post('/api/jobs', { estimated_runtime_sec: 10, labels: { team: 'capped' } });
    expect(small.status).toBe(202);
  });

  it('holds a submission over a wait budget, re-checks it, and runs it once the budget has room', async () => {
    // Today's spend for team=held: 1.0 from an earlier job; this job's estimate (0.1) would pass 1.05.
    const earlier = {
      jobId: 'j-earlier-held',
      finishedAt: new Date().toISOString(),
      status: 'succeeded' as const,
      provider: 'worker',
      queue: 'spark-jobs',
      labels: { team: 'held' },
      currency: 'USD',
      cost: 1,
      estimated: 1,
      billedSec: 100,
    };
    await plantLedgerRow(earlier);
    // 20 M rows and 10 s → spark-jobs, estimated at 36/h × 10 s = 0.1.
    const res = await r.post('/api/jobs', { rows: 20_000_000, estimated_runtime_sec: 10, labels: { team: 'held' } });
    expect(res.status).toBe(202);
    const held = (await res.json()) as Json;
    expect(held.status).toBe('submitted');
    expect(held.budgetHold).toMatchObject({ budget: 'held', spent: 1, limit: 1.05, estimate: 0.1 });
    // Checked again on the intake queue (every second here) and still held.
    const rechecked = await waitFor(
      () => getJob(held.id),
      (j) => (j.budgetHold?.checks ?? 0) >= 2,
      30_000,
      'a re-check',
    );
    expect(rechecked.status).toBe('submitted');
    const events = (await (await r.api(`/api/jobs/${held.id}/events`)).json()) as Json;
    expect(
      events.events.filter((e: Json) => e.type === 'note' && /waiting for budget 'held'/.test(e.reason)),
    ).toHaveLength(1);

    // The earlier job's cost is corrected to 0: the budget has room, the job is released and runs.
    await plantLedgerRow({ ...earlier, cost: 0 });
    const done = await waitFor(
      () => getJob(held.id),
      (j) => j.status === 'succeeded',
      30_000,
      'the held job to run',
    );
    expect(done.budgetHold).toBeUndefined();
    expect(done.cost.actual).toBeGreaterThan(0);
    const after = (await (await r.api(`/api/jobs/${held.id}/events`)).json()) as Json;
    const reasons = after.events.map((e: Json) => e.reason as string);
    expect(reasons.some((x: string) => /budget 'held' has room now/.test(x))).toBe(true);
    expect(reasons.indexOf(reasons.find((x: string) => /has room now/.test(x))!)).toBeLessThan(
      reasons.findIndex((x: string) => x.startsWith('classified')),
    );
  });
});
