import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { TableCapacityStore } from '../../src/lib/adapters/table-capacity-store.js';
import { loadConfig } from '../../src/lib/config.js';
import { capacityStoreContract } from '../contract/capacity-store.contract.js';

// The capacity table on Azurite: one fresh table per test, never a mock of our own store.
const config = () => loadConfig({ JobsStorage: inject('storageConnectionString') });
const fresh = async (): Promise<TableCapacityStore> => {
  const store = await TableCapacityStore.create(config(), `cap${randomBytes(6).toString('hex')}`);
  await store.ensure();
  return store;
};

capacityStoreContract('Azure Table Storage', fresh);

describe('TableCapacityStore', () => {
  it('creates its table on first use when no host ensured it, rather than failing the dispatch', async () => {
    const store = await TableCapacityStore.create(config(), `cap${randomBytes(6).toString('hex')}`);
    expect(await store.acquireSlot('sagemaker', 'job-1', 1, new Date())).toMatchObject({ granted: true });
    expect(await store.slots('sagemaker')).toEqual([expect.objectContaining({ jobId: 'job-1', slot: 0 })]);
  });
});
