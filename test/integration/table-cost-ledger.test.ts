import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { TableCostLedger } from '../../src/lib/adapters/table-cost-ledger.js';
import { loadConfig } from '../../src/lib/config.js';
import type { LedgerRow } from '../../src/lib/ports/cost-ledger.js';

const row = (over: Partial<LedgerRow>): LedgerRow => ({
  jobId: 'j-1',
  finishedAt: '2026-12-03T23:59:59.999Z',
  status: 'succeeded',
  provider: 'sagemaker',
  queue: 'ml-jobs',
  labels: { team: 'a' },
  currency: 'USD',
  cost: 0.25,
  estimated: 0.2,
  billedSec: 90,
  ...over,
});

describe('TableCostLedger on Azurite', () => {
  let ledger: TableCostLedger;
  const config = () => loadConfig({ JobsStorage: inject('storageConnectionString') });

  beforeAll(async () => {
    ledger = await TableCostLedger.create(config(), `ledger${Math.random().toString(36).slice(2, 8)}`);
    await ledger.ensure();
  });

  it('reads nothing, rather than failing, before its table exists', async () => {
    const missing = await TableCostLedger.create(config(), 'ledgernotcreated');
    expect(await missing.rows(new Date('2026-01-01'), new Date('2026-12-31'))).toEqual([]);
  });

  it('keeps one row per job however often it is written, and the last write wins', async () => {
    await ledger.record(row({ jobId: 'j-twice', cost: 1 }));
    await ledger.record(row({ jobId: 'j-twice', cost: 1.5 }));
    const rows = (await ledger.rows(new Date('2026-12-03T00:00:00Z'), new Date('2026-12-04T00:00:00Z'))).filter(
      (r) => r.jobId === 'j-twice',
    );
    expect(rows).toEqual([row({ jobId: 'j-twice', cost: 1.5 })]);
  });

  it('finds rows by finish time across day partitions, [from, to) exactly', async () => {
    await ledger.record(row({ jobId: 'j-early', finishedAt: '2026-11-30T23:59:59.000Z' }));
    await ledger.record(row({ jobId: 'j-first', finishedAt: '2026-12-01T00:00:00.000Z' }));
    await ledger.record(row({ jobId: 'j-mid', finishedAt: '2026-12-02T12:00:00.000Z', labels: {}, cost: null }));
    await ledger.record(row({ jobId: 'j-last', finishedAt: '2026-12-02T23:59:59.999Z', estimated: null }));
    await ledger.record(row({ jobId: 'j-after', finishedAt: '2026-12-03T00:00:00.000Z' }));
    const rows = await ledger.rows(new Date('2026-12-01T00:00:00Z'), new Date('2026-12-03T00:00:00Z'));
    expect(rows.map((r) => r.jobId).sort()).toEqual(['j-first', 'j-last', 'j-mid']);
    const mid = rows.find((r) => r.jobId === 'j-mid')!;
    expect(mid).toMatchObject({ cost: null, labels: {}, billedSec: 90, provider: 'sagemaker', queue: 'ml-jobs' });
    expect(rows.find((r) => r.jobId === 'j-last')!.estimated).toBeNull();
    // Part of a day: the finish time bounds it, not the partition.
    const noon = await ledger.rows(new Date('2026-12-02T12:00:00.001Z'), new Date('2026-12-03T00:00:00Z'));
    expect(noon.map((r) => r.jobId)).toEqual(['j-last']);
  });
});
