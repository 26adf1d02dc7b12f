import { describe, expect, it } from 'vitest';
import { listPrefix } from '../../src/lib/adapters/table-job-store.js';
import { newJobId } from '../../src/lib/core/ids.js';
import { creationEvent } from '../../src/lib/core/state-machine.js';
import { describeJobStoreContract, type IndexLeftovers } from '../contract/job-store.contract.js';
import { InMemoryJobStore, inMemoryIndexRowKey } from '../fakes/in-memory-stores.js';
import { makeJob } from '../support/jobs.js';

/** Raw access to the double's index, as test/integration/table-job-store.test.ts has to the index table. */
function inMemoryLeftovers(store: InMemoryJobStore): IndexLeftovers {
  return {
    async plant(where, jobId, createdAt, seq) {
      const pk =
        'activeFor' in where
          ? listPrefix('a', where.activeFor)
          : where.status
            ? listPrefix('s', where.status)
            : where.queue
              ? listPrefix('q', where.queue)
              : where.provider
                ? listPrefix('v', where.provider)
                : listPrefix('all', '');
      store.index.upsert(pk, inMemoryIndexRowKey({ id: jobId, createdAt }), {
        jobId,
        ...(seq !== undefined && { seq }),
      });
    },
    async count(jobId) {
      let n = 0;
      for (const { row } of store.index.rows()) if (row.jobId === jobId) n++;
      return n;
    },
  };
}

// The double the mass-polling tests use must behave like the Table Storage adapter.
describeJobStoreContract('in memory', async () => {
  const store = new InMemoryJobStore();
  return { store, leftovers: inMemoryLeftovers(store) };
});

describe('InMemoryJobStore index repair', () => {
  it('deletes entries for jobs that never existed once they are older than the grace period, and not before', async () => {
    const patient = new InMemoryJobStore();
    const prompt = new InMemoryJobStore({ orphanGraceMs: -1 }); // -1: even a row written this very millisecond is old
    const ghost = newJobId();
    for (const store of [patient, prompt])
      await inMemoryLeftovers(store).plant({ status: 'submitted' }, ghost, new Date().toISOString(), 1);

    expect((await patient.list({ status: 'submitted', limit: 10 })).jobs).toEqual([]);
    expect(await inMemoryLeftovers(patient).count(ghost)).toBe(1); // young: may be a create in flight
    expect((await prompt.list({ status: 'submitted', limit: 10 })).jobs).toEqual([]);
    expect(await inMemoryLeftovers(prompt).count(ghost)).toBe(0);
  });

  it('returns a continuation token only while entries remain, resuming after the last job shown', async () => {
    const store = new InMemoryJobStore();
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
