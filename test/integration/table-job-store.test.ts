import { TableClient, odata } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TableJobStore, indexRowKey, listPrefix, shardIndex } from '../../src/lib/adapters/table-job-store.js';
import { loadConfig } from '../../src/lib/config.js';
import { JobExistsError } from '../../src/lib/errors.js';
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

describe('TableJobStore group commit', () => {
  async function oneShardStore() {
    const connection = inject('storageConnectionString');
    const store = await TableJobStore.create(loadConfig({ JobsStorage: connection, TABLE_SHARDS: '1' }), tables());
    await store.ensure();
    // Count the transactions the store sends (they still go to Azurite).
    const table = (store as unknown as { table: TableClient }).table;
    const sizes: number[] = [];
    const submit = table.submitTransaction.bind(table);
    table.submitTransaction = (actions, ...rest) => {
      sizes.push(actions.length);
      return submit(actions, ...rest);
    };
    return { store, sizes };
  }

  it('writes concurrent creations in shared transactions, each job whole with its history and index rows', async () => {
    const { store, sizes } = await oneShardStore();
    const { creationEvent } = await import('../../src/lib/core/state-machine.js');
    const { makeJob } = await import('../support/jobs.js');
    const jobs = Array.from({ length: 90 }, () => makeJob());
    await Promise.all(jobs.map((job) => store.create(job, creationEvent(job, 'group'))));
    // Fewer transactions than jobs: later arrivals waited for the first and went together, and no
    // transaction went over the entity-group limit.
    expect(sizes.length).toBeLessThan(jobs.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
    for (const job of jobs.slice(0, 10)) {
      expect((await store.get(job.id))?.status).toBe(job.status);
      expect((await store.events(job.id)).map((e) => e.reason)).toEqual(['group']);
    }
    const listed = await store.listByStatus(jobs[0]!.status, 1000);
    expect(listed.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    // What a create remembers is the committed version: an update right after it succeeds at once.
    const { transition } = await import('../../src/lib/core/state-machine.js');
    const updated = await store.update(jobs[50]!.id, (j) => transition(j, 'queued', 'next'));
    expect(updated.status).toBe('queued');
  });

  it('answers a duplicate in a group with JobExistsError and still writes the others', async () => {
    const { store, sizes } = await oneShardStore();
    const { creationEvent } = await import('../../src/lib/core/state-machine.js');
    const { makeJob } = await import('../support/jobs.js');
    const first = makeJob();
    await store.create(first, creationEvent(first, 'original'));
    // A slow lone creation holds the shard, so the next ones queue up and go as one group.
    const others = Array.from({ length: 6 }, () => makeJob());
    const twin = makeJob({ id: first.id });
    const results = await Promise.allSettled([
      ...others.slice(0, 3).map((j) => store.create(j, creationEvent(j, 'other'))),
      store.create(twin, creationEvent(twin, 'twin')),
      ...others.slice(3).map((j) => store.create(j, creationEvent(j, 'other'))),
    ]);
    const twinResult = results[3]!;
    expect(twinResult.status).toBe('rejected');
    expect((twinResult as PromiseRejectedResult).reason).toBeInstanceOf(JobExistsError);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(6);
    for (const j of others) expect((await store.get(j.id))?.id).toBe(j.id);
    expect((await store.events(first.id)).map((e) => e.reason)).toEqual(['original']);
    // The refused group was retried job by job: one transaction carried several jobs, and then
    // each job went on its own.
    const perJob = sizes[0]!;
    expect(sizes.some((n) => n > perJob)).toBe(true);
    expect(sizes.filter((n) => n === perJob).length).toBeGreaterThanOrEqual(1 + 7);
  });
});

describe('TableJobStore cost ledger', () => {
  const cost = (actual: number) => ({
    currency: 'USD',
    actual,
    estimated: null,
    runtimeSec: 10,
    billedSec: 10,
    instances: [],
    basis: 'orchestrator-times' as const,
    priceTableAsOf: '2026-12-01',
  });

  async function finishedJob(store: TableJobStore, at: Date, actual: number) {
    const { creationEvent, transition } = await import('../../src/lib/core/state-machine.js');
    const { makeJob } = await import('../support/jobs.js');
    const job = makeJob();
    await store.create(job, creationEvent(job, 't'));
    await store.update(job.id, (j) => transition(j, 'queued', 'q', { patch: { queue: 'actor-jobs' } }));
    await store.update(job.id, (j) => transition(j, 'dispatched', 'd', { patch: { provider: 'worker' } }));
    await store.update(job.id, (j) => transition(j, 'running', 'r'));
    return store.update(job.id, (j) => {
      const t = transition(j, 'succeeded', 'done', { at });
      return { ...t, job: { ...t.job, cost: cost(actual) } };
    });
  }

  it("puts the ledger row in the finishing write's own transaction, in the job's shard, with no request of its own", async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const store = await TableJobStore.create(loadConfig({ JobsStorage: connection, TABLE_SHARDS: '4' }), names);
    await store.ensure();
    const table = (store as unknown as { table: TableClient }).table;
    const transactions: string[][] = [];
    const singles: string[] = [];
    const submit = table.submitTransaction.bind(table);
    table.submitTransaction = (actions, ...rest) => {
      transactions.push(actions.map(([, e]) => String(e.rowKey)));
      return submit(actions, ...rest);
    };
    for (const name of ['createEntity', 'upsertEntity', 'updateEntity'] as const) {
      const original = table[name].bind(table) as (...args: unknown[]) => Promise<unknown>;
      (table as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        singles.push(name);
        return original(...args);
      };
    }
    const at = new Date('2031-07-01T08:00:00.000Z');
    const done = await finishedJob(store, at, 3);

    // Five writes (create, three steps, finish): five transactions, no single-entity write.
    expect(transactions).toHaveLength(5);
    expect(singles).toEqual([]);
    const ledgerKey = `cost~2031-07-01~${done.id}`;
    expect(transactions.slice(0, 4).flat()).not.toContain(ledgerKey);
    expect(transactions[4]).toContain(`job~${done.id}`);
    expect(transactions[4]).toContain(ledgerKey);
    const raw = TableClient.fromConnectionString(connection, names.jobs, { allowInsecureConnection: true });
    const row = await raw.getEntity<{ jobId: string; cost: number }>(await store.shardOf(done.id), ledgerKey);
    expect(row).toMatchObject({ jobId: done.id, cost: 3 });
  });

  it('reads one day of rows from every shard, and the index repair never touches them', async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const config = loadConfig({ JobsStorage: connection, TABLE_SHARDS: '8' });
    const store = await TableJobStore.create(config, names);
    await store.ensure();
    const day = new Date('2031-07-02T00:00:00.000Z');
    const jobs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => finishedJob(store, new Date(day.getTime() + i * 3_600_000), i + 1)),
    );
    const shards = new Set(await Promise.all(jobs.map((j) => store.shardOf(j.id))));
    expect(shards.size).toBeGreaterThan(1);

    // A store that repairs every stale index row at once lists everything; no ledger row is lost.
    const repairing = await TableJobStore.create(config, names, { orphanGraceMs: 0 });
    expect((await repairing.listByStatus('succeeded', 100)).map((j) => j.id).sort()).toEqual(
      jobs.map((j) => j.id).sort(),
    );
    expect((await repairing.list({ limit: 100 })).jobs).toHaveLength(12);

    const rows = await store.ledgerRows(day, new Date(day.getTime() + 86_400_000));
    expect(rows.map((r) => r.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(rows.reduce((sum, r) => sum + (r.cost ?? 0), 0)).toBe(78);
    expect(await store.ledgerRows(new Date(day.getTime() + 86_400_000), new Date('2031-08-01T00:00:00Z'))).toEqual([]);
  });

  it('counts a job once when two processes both commit its completion (a redelivered message)', async () => {
    const connection = inject('storageConnectionString');
    const names = tables();
    const config = loadConfig({ JobsStorage: connection, TABLE_SHARDS: '4' });
    const first = await TableJobStore.create(config, names);
    await first.ensure();
    const second = await TableJobStore.create(config, names);
    const { creationEvent, transition } = await import('../../src/lib/core/state-machine.js');
    const { makeJob } = await import('../support/jobs.js');
    const job = makeJob({ status: 'running', queue: 'actor-jobs', provider: 'worker' });
    await first.create(job, creationEvent(job, 't'));
    // Both processes remember the running version; each tries to finish the job, at its own time.
    await second.get(job.id);
    const finish = (store: TableJobStore, at: string, actual: number) =>
      store.update(job.id, (j) => {
        if (j.status === 'succeeded') return { job: j, unchanged: true };
        const t = transition(j, 'succeeded', 'done', { at: new Date(at) });
        return { ...t, job: { ...t.job, cost: cost(actual) } };
      });
    const [a, b] = await Promise.all([
      finish(first, '2031-07-03T23:59:59.000Z', 5),
      finish(second, '2031-07-04T00:00:01.000Z', 7),
    ]);
    // One write won; the other found the job finished and wrote nothing.
    expect(a.finishedAt).toBe(b.finishedAt);
    const rows = await first.ledgerRows(new Date('2031-07-03T00:00:00Z'), new Date('2031-07-05T00:00:00Z'));
    expect(rows.filter((r) => r.jobId === job.id)).toEqual([
      expect.objectContaining({ finishedAt: a.finishedAt, cost: a.cost?.actual }),
    ]);
    expect((await second.events(job.id)).filter((e) => e.to === 'succeeded')).toHaveLength(1);
  });

  it('reads an empty ledger, rather than failing, before the jobs table exists', async () => {
    const store = await TableJobStore.create(loadConfig({ JobsStorage: inject('storageConnectionString') }), tables());
    expect(await store.ledgerRows(new Date('2031-01-01T00:00:00Z'), new Date('2031-12-31T00:00:00Z'))).toEqual([]);
  });
});
