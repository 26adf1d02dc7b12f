import { TableClient, odata } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TableJobStore } from '../../src/lib/adapters/table-job-store.js';
import { loadConfig } from '../../src/lib/config.js';
import { newJobId } from '../../src/lib/core/ids.js';
import { describeJobStoreContract, type IndexLeftovers } from '../contract/job-store.contract.js';

/** Raw access to a store's index table: plants rows as a crash leaves them, counts a job's rows. */
function tableLeftovers(connection: string, indexTable: string): IndexLeftovers {
  const index = TableClient.fromConnectionString(connection, indexTable, { allowInsecureConnection: true });
  const timeKey = (id: string, createdAt: string) => `${String(9_999_999_999_999 - Date.parse(createdAt)).padStart(13, '0')}~${id}`;
  return {
    async plant(where, jobId, createdAt, seq) {
      const [partitionKey, rowKey] =
        'activeFor' in where
          ? [`a~${where.activeFor}`, jobId]
          : [where.status ? `s~${where.status}` : where.queue ? `q~${where.queue}` : where.provider ? `v~${where.provider}` : 'all', timeKey(jobId, createdAt)];
      await index.upsertEntity({ partitionKey, rowKey, jobId, ...(seq !== undefined && { seq }) }, 'Replace');
    },
    async count(jobId) {
      let n = 0;
      for await (const _ of index.listEntities({ queryOptions: { filter: odata`jobId eq ${jobId}` } })) n++;
      return n;
    },
  };
}

function tables() {
  const suffix = Math.random().toString(36).slice(2, 8);
  return { jobs: `jobs${suffix}`, index: `idx${suffix}`, idempotency: `idem${suffix}` };
}

describeJobStoreContract('Table Storage on Azurite', async () => {
  const connection = inject('storageConnectionString');
  const names = tables();
  const store = await TableJobStore.create(loadConfig({ JobsStorage: connection }), names);
  return { store, leftovers: tableLeftovers(connection, names.index) };
});

describe('TableJobStore index repair', () => {
  it('deletes entries for jobs that never existed once they are older than the grace period, and not before', async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const config = loadConfig({ JobsStorage: connection });
    const patient = await TableJobStore.create(config, names);
    const prompt = await TableJobStore.create(config, names, { orphanGraceMs: 0 });
    await patient.ensure();
    const leftovers = tableLeftovers(connection, names.index);
    const ghost = newJobId();
    await leftovers.plant({ status: 'submitted' }, ghost, new Date().toISOString(), 1);

    expect((await patient.list({ status: 'submitted', limit: 10 })).jobs).toEqual([]);
    expect(await leftovers.count(ghost)).toBe(1); // young: may be a create in flight
    expect((await prompt.list({ status: 'submitted', limit: 10 })).jobs).toEqual([]);
    expect(await leftovers.count(ghost)).toBe(0);
  });

  it('returns a continuation token only while entries remain, resuming after the last job shown', async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const store = await TableJobStore.create(loadConfig({ JobsStorage: connection }), names);
    await store.ensure();
    const { creationEvent } = await import('../../src/lib/core/state-machine.js');
    const { makeJob } = await import('../support/jobs.js');
    const made = [];
    for (let i = 0; i < 3; i++) {
      const job = makeJob({ createdAt: new Date(Date.now() - i * 1000).toISOString() });
      await store.create(job, creationEvent(job, 't'));
      made.push(job.id);
    }
    const first = await store.listSummaries({ limit: 2 });
    expect(first.jobs.map((j) => j.id)).toEqual(made.slice(0, 2));
    expect(first.continuationToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = await store.listSummaries({ limit: 2, continuationToken: first.continuationToken! });
    expect(second.jobs.map((j) => j.id)).toEqual(made.slice(2));
    expect(second.continuationToken).toBeUndefined();
  });
});
