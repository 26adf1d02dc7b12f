import { TableClient, odata } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TableJobStore, indexRowKey, listPrefix, shardIndex } from '../../src/lib/adapters/table-job-store.js';
import { loadConfig } from '../../src/lib/config.js';
import { newJobId } from '../../src/lib/core/ids.js';
import { describeJobStoreContract, type IndexLeftovers } from '../contract/job-store.contract.js';

/**
 * Raw access to the sharded table: plants index rows as hand-edited data could hold them (in the
 * job's own shard, without summary columns), counts a job's index rows in every shard.
 */
function tableLeftovers(connection: string, jobsTable: string, shards = 16): IndexLeftovers {
  const table = TableClient.fromConnectionString(connection, jobsTable, { allowInsecureConnection: true });
  return {
    async plant(where, jobId, createdAt, seq) {
      const prefix =
        'activeFor' in where
          ? listPrefix('a', where.activeFor)
          : where.status
            ? listPrefix('s', where.status)
            : where.queue
              ? listPrefix('q', where.queue)
              : where.provider
                ? listPrefix('v', where.provider)
                : listPrefix('all', '');
      const partitionKey = String(shardIndex(jobId, shards)).padStart(3, '0');
      await table.upsertEntity(
        {
          partitionKey,
          rowKey: prefix + indexRowKey({ id: jobId, createdAt }),
          jobId,
          ...(seq !== undefined && { seq }),
        },
        'Replace',
      );
    },
    async count(jobId) {
      let n = 0;
      const filter = odata`jobId eq ${jobId} and RowKey ge ${'idx~'} and RowKey lt ${'idx~~'}`;
      for await (const _ of table.listEntities({ queryOptions: { filter } })) n++;
      return n;
    },
  };
}

function tables() {
  const suffix = Math.random().toString(36).slice(2, 8);
  return { jobs: `jobs${suffix}`, idempotency: `idem${suffix}` };
}

describeJobStoreContract('Table Storage on Azurite', async () => {
  const connection = inject('storageConnectionString');
  const names = tables();
  const store = await TableJobStore.create(loadConfig({ JobsStorage: connection }), names);
  return { store, leftovers: tableLeftovers(connection, names.jobs) };
});

describe('TableJobStore index repair', () => {
  it('deletes entries for jobs that never existed once they are older than the grace period, and not before', async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const config = loadConfig({ JobsStorage: connection });
    const patient = await TableJobStore.create(config, names);
    const prompt = await TableJobStore.create(config, names, { orphanGraceMs: 0 });
    await patient.ensure();
    const leftovers = tableLeftovers(connection, names.jobs);
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

describe('TableJobStore shards', () => {
  it("keeps each job's record, history and index rows in one partition, and spreads jobs over the shards", async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const store = await TableJobStore.create(loadConfig({ JobsStorage: connection, TABLE_SHARDS: '8' }), names);
    await store.ensure();
    const { creationEvent, transition } = await import('../../src/lib/core/state-machine.js');
    const { makeJob } = await import('../support/jobs.js');
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const job = makeJob();
      await store.create(job, creationEvent(job, 't'));
      await store.update(job.id, (j) =>
        transition(j, 'queued', 'q', { patch: { queue: 'q-shards', provider: 'worker' } }),
      );
      ids.push(job.id);
    }
    const raw = TableClient.fromConnectionString(connection, names.jobs, { allowInsecureConnection: true });
    const partitionsOf = new Map<string, Set<string>>();
    const jobsIn = new Map<string, Set<string>>();
    for await (const e of raw.listEntities<{ jobId?: string }>()) {
      const id = e.jobId ?? /^(?:job|evt)~([^~]+)/.exec(e.rowKey!)?.[1];
      if (!id) continue;
      partitionsOf.set(id, (partitionsOf.get(id) ?? new Set()).add(e.partitionKey!));
      jobsIn.set(e.partitionKey!, (jobsIn.get(e.partitionKey!) ?? new Set()).add(id));
    }
    for (const id of ids) expect([...(partitionsOf.get(id) ?? [])]).toEqual([await store.shardOf(id)]);
    expect(jobsIn.size).toBeGreaterThanOrEqual(4);
    expect([...jobsIn.keys()].every((pk) => /^00[0-7]$/.test(pk))).toBe(true);
    // No partition holds a row of every job.
    expect(Math.max(...[...jobsIn.values()].map((s) => s.size))).toBeLessThan(ids.length);
    // The list over all shards still shows all of them, newest first.
    const listed = await store.listByStatus('queued', 1000);
    expect(listed.map((j) => j.id).sort()).toEqual([...ids].sort());

    // A process configured with another shard count uses the count the table recorded: it finds
    // every job where the first process put it.
    const other = await TableJobStore.create(loadConfig({ JobsStorage: connection, TABLE_SHARDS: '3' }), names);
    for (const id of ids.slice(0, 5)) expect((await other.get(id))?.id).toBe(id);
    expect((await other.listByStatus('queued', 1000)).length).toBe(ids.length);
    expect(await other.shardOf(ids[0]!)).toBe(await store.shardOf(ids[0]!));
  });
});
