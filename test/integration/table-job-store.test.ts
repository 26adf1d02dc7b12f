import { inject } from 'vitest';
import { TableJobStore } from '../../src/lib/adapters/table-job-store.js';
import { loadConfig } from '../../src/lib/config.js';
import { describeJobStoreContract } from '../contract/job-store.contract.js';

describeJobStoreContract('Table Storage on Azurite', async () => {
  const config = loadConfig({ JobsStorage: inject('storageConnectionString') });
  const suffix = Math.random().toString(36).slice(2, 8);
  const store = await TableJobStore.create(config, { jobs: `jobs${suffix}`, index: `idx${suffix}`, idempotency: `idem${suffix}` });
  return { store };
});
