import { describeJobStoreContract } from '../contract/job-store.contract.js';
import { InMemoryJobStore } from '../fakes/in-memory-stores.js';

// The double the mass-polling tests use must behave like the Table Storage adapter.
describeJobStoreContract('in memory', async () => ({ store: new InMemoryJobStore() }));
