import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBudgets } from '../../src/lib/app/costs/budgets.js';
import { BudgetSpendCache, type Costs } from '../../src/lib/app/costs/costs.js';
import { CostingJobStore } from '../../src/lib/app/costs/costing-store.js';
import { loadConfig } from '../../src/lib/config.js';
import { parseCostSettings } from '../../src/lib/cost-settings.js';
import {
  actualCost,
  billedSeconds,
  billingFromResult,
  estimateCosts,
  hourlyPrice,
  instancesFor,
  nextPeriodStart,
  overBudget,
  periodStart,
  PriceTableSchema,
  type PriceTable,
} from '../../src/lib/core/costs.js';
import { parseSubmission, type JobRecord } from '../../src/lib/core/job.js';
import { creationEvent, transition } from '../../src/lib/core/state-machine.js';
import { DEFAULT_PRICE_TABLE } from '../../src/lib/costs/default-price-table.js';
import { ConfigurationError } from '../../src/lib/errors.js';
import type { CostLedger, LedgerRow } from '../../src/lib/ports/cost-ledger.js';
import { resultSummary } from '../../src/lib/providers/vertex/status.js';
import { InMemoryJobStore } from '../fakes/in-memory-stores.js';
import { pollProvider } from '../../src/lib/app/poll-provider.js';
import { appHarness } from '../support/app-deps.js';
import { makeJob } from '../support/jobs.js';

const TABLE: PriceTable = {
  currency: 'EUR',
  source: 'test prices',
  asOf: '2026-12-01',
  providers: {
    sagemaker: {
      billing: { incrementSec: 1, minimumSec: 0 },
      defaultInstanceType: 'ml.m5.large',
      hourly: { 'ml.m5.large': 0.36, 'ml.g5.xlarge': 3.6 },
    },
    vertex: {
      billing: { incrementSec: 30, minimumSec: 60 },
      defaultInstanceType: 'n1-standard-4',
      hourly: { 'n1-standard-4': 1.2, 'n1-standard-8': 2.4 },
    },
    'azure-batch': {
      billing: { incrementSec: 60, minimumSec: 60 },
      defaultInstanceType: 'Standard_D2s_v3',
      hourly: { Standard_D2s_v3: 0.6, Standard_D8s_v3: 2.4 },
    },
    'azure-ml': {
      billing: { incrementSec: 60, minimumSec: 60 },
      defaultInstanceType: 'Standard_DS3_v2',
      hourly: { Standard_DS3_v2: 0.3, Standard_NC6s_v3: 3.0 },
      computeSizes: { 'gpu-cluster': 'Standard_NC6s_v3' },
    },
    worker: {
      billing: { incrementSec: 1, minimumSec: 0 },
      defaultInstanceType: 'spark',
      hourly: { actor: 0.036, spark: 0.36 },
    },
    local: { billing: { incrementSec: 1, minimumSec: 0 }, defaultInstanceType: 'local', hourly: { local: 0 } },
  },
};
const config = loadConfig({ ML_JOBS_PROVIDER: 'sagemaker', BATCH_JOBS_PROVIDER: 'azure-batch' });
const queues = config.classifier.queues;

describe('billedSeconds', () => {
  it('rounds up to the increment and applies the minimum once a run started', () => {
    const vertex = TABLE.providers.vertex!.billing;
    expect(billedSeconds(0, vertex)).toBe(0);
    expect(billedSeconds(1, vertex)).toBe(60);
    expect(billedSeconds(61, vertex)).toBe(90);
    expect(billedSeconds(90, vertex)).toBe(90);
    expect(billedSeconds(90.0000001, vertex)).toBe(90);
    expect(billedSeconds(12.2, { incrementSec: 1, minimumSec: 0 })).toBe(13);
  });
});

describe('instancesFor', () => {
  const sm = TABLE.providers.sagemaker!;
  it("reads each provider's instance fields from the spec", () => {
    expect(
      instancesFor(
        'sagemaker',
        queues.ml,
        { kind: 'training', spec: { instance_type: 'ml.g5.xlarge', instance_count: 3 } },
        sm,
        queues,
      ),
    ).toEqual({ groups: [{ instanceType: 'ml.g5.xlarge', count: 3 }], basis: 'spec' });
    expect(
      instancesFor(
        'vertex',
        queues.ml,
        {
          kind: 'custom',
          spec: {
            workerPoolSpecs: [
              { machineSpec: { machineType: 'n1-standard-8' }, replicaCount: 1 },
              { machineSpec: { machineType: 'n1-standard-4' }, replicaCount: 4 },
            ],
          },
        },
        TABLE.providers.vertex!,
        queues,
      ).groups,
    ).toEqual([
      { instanceType: 'n1-standard-8', count: 1 },
      { instanceType: 'n1-standard-4', count: 4 },
    ]);
    expect(
      instancesFor(
        'azure-ml',
        queues.ml,
        { kind: 'command', spec: { compute: 'gpu-cluster', instanceCount: 2 } },
        TABLE.providers['azure-ml']!,
        queues,
      ).groups,
    ).toEqual([{ instanceType: 'Standard_NC6s_v3', count: 2 }]);
    expect(
      instancesFor(
        'azure-batch',
        queues.batch,
        { spec: { vmSize: 'Standard_D8s_v3' } },
        TABLE.providers['azure-batch']!,
        queues,
      ).groups,
    ).toEqual([{ instanceType: 'Standard_D8s_v3', count: 1 }]);
  });

  it('falls back to the deployment default, then the table default, and prices workers by queue role', () => {
    expect(instancesFor('sagemaker', queues.ml, { kind: 'automl', spec: {} }, sm, queues)).toEqual({
      groups: [{ instanceType: 'ml.m5.large', count: 1 }],
      basis: 'default',
    });
    expect(
      instancesFor('azure-batch', queues.batch, {}, TABLE.providers['azure-batch']!, queues, {
        'azure-batch': 'Standard_D8s_v3',
      }).groups,
    ).toEqual([{ instanceType: 'Standard_D8s_v3', count: 1 }]);
    expect(instancesFor('worker', queues.actor, {}, TABLE.providers.worker!, queues).groups).toEqual([
      { instanceType: 'actor', count: 1 },
    ]);
  });

  it('matches instance types case-insensitively', () => {
    expect(hourlyPrice(TABLE.providers['azure-batch']!, 'standard_d2s_V3')).toBe(0.6);
    expect(hourlyPrice(TABLE.providers['azure-batch']!, 'Standard_Unknown')).toBeNull();
  });
});

describe('estimateCosts', () => {
  it('prices the chosen target from the spec and every other routing target at its default size', () => {
    const spec = parseSubmission({
      estimated_runtime_sec: 100,
      kind: 'training',
      spec: { image: 'x', instance_type: 'ml.g5.xlarge', instance_count: 2 },
    });
    const e = estimateCosts(TABLE, { queue: queues.ml, provider: 'sagemaker' }, spec, config.classifier);
    expect(e.currency).toBe('EUR');
    expect(e.runtimeSec).toBe(100);
    // 3.6/h × 2 instances × 100 s = 0.2
    expect(e.chosen).toBe(0.2);
    expect(e.candidates.map((c) => [c.queue, c.provider, c.chosen, c.estimatedCost])).toEqual([
      [queues.ml, 'sagemaker', true, 0.2],
      [queues.actor, 'worker', false, 0.001],
      [queues.spark, 'worker', false, 0.01],
      // 0.6/h × 1 × 120 s (per started minute)
      [queues.batch, 'azure-batch', false, 0.02],
    ]);
  });

  it('gives a null estimate naming the missing price instead of guessing', () => {
    const spec = parseSubmission({ kind: 'training', spec: { image: 'x', instance_type: 'ml.p5.48xlarge' } });
    const e = estimateCosts(TABLE, { queue: queues.ml, provider: 'sagemaker' }, spec, config.classifier);
    expect(e.chosen).toBeNull();
    expect(e.candidates[0]!.missingPrice).toBe('sagemaker/ml.p5.48xlarge');
  });
});

describe('actualCost', () => {
  const base = (over: Partial<JobRecord> & { billing?: unknown } = {}) =>
    makeJob(
      {
        status: 'succeeded',
        provider: 'vertex',
        queue: queues.ml,
        startedAt: '2026-12-01T10:00:00.000Z',
        finishedAt: '2026-12-01T10:01:05.000Z',
        ...over,
      } as Partial<JobRecord>,
      {
        kind: 'custom',
        spec: { workerPoolSpecs: [{ machineSpec: { machineType: 'n1-standard-4' }, replicaCount: 2 }] },
      },
    );

  it("bills the orchestrator's start → finish when the provider reports no times", () => {
    const c = actualCost(TABLE, base(), queues);
    expect(c.basis).toBe('orchestrator-times');
    expect(c.runtimeSec).toBe(65);
    expect(c.billedSec).toBe(90);
    // 1.2/h × 2 replicas × 90 s
    expect(c.actual).toBe(0.06);
  });

  it("prefers the provider's times, and its billable seconds over both", () => {
    const times = actualCost(
      TABLE,
      base({ billing: { startedAt: '2026-12-01T10:00:10.000Z', endedAt: '2026-12-01T10:00:40.000Z' } } as never),
      queues,
    );
    expect(times.basis).toBe('provider-times');
    expect(times.billedSec).toBe(60); // the one-minute minimum
    const billable = actualCost(TABLE, base({ billing: { billableSec: 121 } } as never), queues);
    expect(billable.basis).toBe('provider-billable');
    expect(billable.billedSec).toBe(121);
  });

  it('costs nothing for a job that never started', () => {
    const c = actualCost(TABLE, base({ startedAt: undefined, status: 'cancelled' }), queues);
    expect(c).toMatchObject({ basis: 'not-started', billedSec: 0, actual: 0 });
  });

  it('reads SageMaker billing facts from a result summary', () => {
    expect(billingFromResult({ startedAt: '2026-12-01T10:00:00Z', endedAt: 'garbage', billableTimeSec: 42 })).toEqual({
      startedAt: '2026-12-01T10:00:00Z',
      billableSec: 42,
    });
    expect(billingFromResult({ kind: 'training' })).toBeUndefined();
  });

  it("reads a Vertex resource's start and end (gRPC Timestamps or REST strings) into its summary", () => {
    const grpc = resultSummary('custom', {
      name: 'projects/p/locations/l/customJobs/1',
      startTime: { seconds: 1796000000, nanos: 500_000_000 },
      endTime: { seconds: '1796000090', nanos: 0 },
    });
    expect(billingFromResult(grpc)).toEqual({
      startedAt: '2026-11-30T00:53:20.500Z',
      endedAt: '2026-11-30T00:54:50.000Z',
    });
    const rest = resultSummary('batch_prediction', { name: 'x', startTime: '2026-12-01T10:00:00Z', endTime: 'soon' });
    expect(rest.startedAt).toBe('2026-12-01T10:00:00.000Z');
    expect(rest.endedAt).toBeUndefined();
  });
});

describe('budgets', () => {
  const budget = { name: 'b', label: 'team=a', limit: 1, period: 'month' as const, mode: 'refuse' as const };
  it('is over only when spend plus the estimate exceeds the limit', () => {
    expect(overBudget(budget, 0.5, 0.5)).toBe(false);
    expect(overBudget(budget, 0.5, 0.500001)).toBe(true);
    expect(overBudget(budget, 2, null)).toBe(true);
  });

  it('computes UTC periods', () => {
    const now = new Date('2026-12-31T23:59:59Z');
    expect(periodStart('month', now).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(periodStart('day', now).toISOString()).toBe('2026-12-31T00:00:00.000Z');
    expect(nextPeriodStart('month', now).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('refuses before it waits, and counts only this period and this label', async () => {
    const rows: LedgerRow[] = [
      row('j1', '2026-12-03T00:00:00.000Z', { team: 'a' }, 0.7),
      row('j2', '2026-11-30T23:00:00.000Z', { team: 'a' }, 5),
      row('j3', '2026-12-03T00:00:00.000Z', { team: 'b' }, 5),
    ];
    const ledger: CostLedger = {
      rows: async (from, to) =>
        rows.filter((r) => r.finishedAt >= from.toISOString() && r.finishedAt < to.toISOString()),
    };
    const settings = parseCostSettings({
      PRICE_TABLE: JSON.stringify(TABLE),
      BUDGETS: JSON.stringify([
        { name: 'soft', label: 'team=a', limit: 1, mode: 'wait' },
        { name: 'hard', label: 'team=a', limit: 1.1, mode: 'refuse' },
      ]),
    });
    const costs: Costs = { settings, ledger, spend: new BudgetSpendCache(ledger, 0) };
    const now = new Date('2026-12-04T12:00:00Z');
    expect((await checkBudgets(costs, { labels: { team: 'a' } }, 0.2, now)).kind).toBe('ok');
    const wait = await checkBudgets(costs, { labels: { team: 'a' } }, 0.35, now);
    expect(wait).toMatchObject({ kind: 'wait', breach: { spent: 0.7, estimate: 0.35 } });
    expect(wait.kind !== 'ok' && wait.breach.budget.name).toBe('soft');
    const refuse = await checkBudgets(costs, { labels: { team: 'a' } }, 0.5, now);
    expect(refuse.kind === 'refuse' && refuse.breach.budget.name).toBe('hard');
    expect((await checkBudgets(costs, { labels: { team: 'c' } }, 100, now)).kind).toBe('ok');
  });
});

describe('parseCostSettings', () => {
  it('uses the built-in table by default, which states its source and date', () => {
    const s = parseCostSettings({});
    expect(s.priceTable).toBe(DEFAULT_PRICE_TABLE);
    expect(PriceTableSchema.parse(DEFAULT_PRICE_TABLE).asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(DEFAULT_PRICE_TABLE.source).toMatch(/estimate/i);
    expect(s.budgets).toEqual([]);
  });

  it('reads a table from a file path and names bad settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cjo-prices-'));
    const file = join(dir, 'prices.json');
    writeFileSync(file, JSON.stringify(TABLE));
    expect(parseCostSettings({ PRICE_TABLE: file }).priceTable.currency).toBe('EUR');
    expect(() => parseCostSettings({ PRICE_TABLE: '{"currency":"usd"' })).toThrow(
      /PRICE_TABLE \(inline\) is not valid JSON/,
    );
    expect(() => parseCostSettings({ PRICE_TABLE: JSON.stringify({ ...TABLE, currency: 'dollars' }) })).toThrow(
      ConfigurationError,
    );
    expect(() => parseCostSettings({ PRICE_TABLE: join(dir, 'missing.json') })).toThrow(/cannot be read/);
    expect(() => parseCostSettings({ BUDGETS: '[{"name":"x","label":"nolabel","limit":1}]' })).toThrow(/BUDGETS/);
    expect(() =>
      parseCostSettings(
        { BUDGETS: '[{"name":"x","label":"a=b","limit":1,"mode":"wait"}]', BUDGET_RECHECK_SEC: '900' },
        { stuckAfterSec: 900 },
      ),
    ).toThrow(/BUDGET_RECHECK_SEC/);
  });
});

describe('CostingJobStore', () => {
  it('stores the actual cost with the write that finishes a job, and the store commits one ledger row with it', async () => {
    const settings = parseCostSettings({ PRICE_TABLE: JSON.stringify(TABLE) });
    const inner = new InMemoryJobStore();
    const ledger: CostLedger = { rows: (from, to) => inner.ledgerRows(from, to) };
    const store = new CostingJobStore(inner, { settings, ledger, spend: new BudgetSpendCache(ledger, 0) }, config);
    const recorded = () => inner.ledgerRows(new Date('2026-12-01T00:00:00Z'), new Date('2026-12-31T00:00:00Z'));
    const job = makeJob(
      {
        status: 'running',
        queue: queues.spark,
        provider: 'worker',
        startedAt: '2026-12-04T10:00:00.000Z',
        attempts: 1,
      },
      { labels: { team: 'a' } },
    );
    await inner.create(job, creationEvent(job, 'seeded'));
    const at = new Date('2026-12-04T10:00:50.000Z');
    await store.update(job.id, (c) => ({ job: { ...c, heartbeatAt: at.toISOString() }, quiet: true }));
    expect(await recorded()).toEqual([]);
    const done = await store.update(job.id, (c) => transition(c, 'succeeded', 'done', { at }));
    // spark: 0.36/h × 50 s
    expect(done.cost).toMatchObject({ actual: 0.005, billedSec: 50, basis: 'orchestrator-times', currency: 'EUR' });
    expect((await inner.get(job.id))?.cost?.actual).toBe(0.005);
    expect(await recorded()).toEqual([
      expect.objectContaining({
        jobId: job.id,
        finishedAt: at.toISOString(),
        cost: 0.005,
        provider: 'worker',
        queue: queues.spark,
        labels: { team: 'a' },
      }),
    ]);
    // A later write to the finished job (a note) neither re-prices it nor writes another row.
    await store.update(job.id, (c) => ({ job: c, unchanged: true }));
    await store.update(job.id, (c) => ({ job: { ...c, updatedAt: new Date().toISOString() }, quiet: true }));
    expect(await recorded()).toHaveLength(1);
    expect((await recorded())[0]!.cost).toBe(0.005);
  });
});

describe('actual cost from provider times, through a poll', () => {
  it("bills a polled job from the provider's own start and end, not from when the poll saw it", async () => {
    const h = appHarness();
    const table: PriceTable = {
      ...TABLE,
      providers: {
        scripted: { billing: { incrementSec: 1, minimumSec: 0 }, defaultInstanceType: 'vm', hourly: { vm: 3.6 } },
      },
    };
    const ledger: CostLedger = { rows: (from, to) => h.store.ledgerRows(from, to) };
    const costs: Costs = {
      settings: parseCostSettings({ PRICE_TABLE: JSON.stringify(table) }),
      ledger,
      spend: new BudgetSpendCache(ledger, 0),
    };
    const deps = { ...h.deps, costs, store: new CostingJobStore(h.store, costs, h.deps.config) };
    const job = await h.seed('running');
    h.advance(3600);
    h.provider.setRun(job, {
      status: 'succeeded',
      report: { result: { startedAt: '2026-12-04T12:00:10.000Z', endedAt: '2026-12-04T12:00:30.000Z' } },
    });
    await pollProvider(deps, h.provider.name);
    const done = await h.store.get(job.id);
    expect(done?.status).toBe('succeeded');
    expect(done?.billing).toEqual({ startedAt: '2026-12-04T12:00:10.000Z', endedAt: '2026-12-04T12:00:30.000Z' });
    // 20 s at 3.6/h, although the poll noticed the end an hour after the start.
    expect(done?.cost).toMatchObject({ basis: 'provider-times', billedSec: 20, actual: 0.02 });
    const recorded = await ledger.rows(new Date('2026-01-01T00:00:00Z'), new Date('2028-01-01T00:00:00Z'));
    expect(recorded.map((r) => [r.jobId, r.cost])).toEqual([[job.id, 0.02]]);
  });
});

function row(jobId: string, finishedAt: string, labels: Record<string, string>, cost: number): LedgerRow {
  return {
    jobId,
    finishedAt,
    status: 'succeeded',
    provider: 'worker',
    queue: 'spark-jobs',
    labels,
    currency: 'EUR',
    cost,
    estimated: null,
    billedSec: 1,
  };
}
