import { capacityStoreContract } from '../contract/capacity-store.contract.js';
import { InMemoryCapacityStore } from '../fakes/in-memory-capacity-store.js';

// The double used by the use-case tests keeps the same rules as the Table adapter.
capacityStoreContract('in memory', async () => new InMemoryCapacityStore());
