import { inject } from 'vitest';
import { AzureBlobStore } from '../../src/lib/adapters/azure-blob-store.js';
import { StorageQueueTransport } from '../../src/lib/adapters/storage-queue-transport.js';
import { loadConfig } from '../../src/lib/config.js';
import { describeQueueTransportContract, uniqueName } from '../contract/queue-transport.contract.js';

describeQueueTransportContract('Storage Queues on Azurite', async () => {
  const config = loadConfig({ JobsStorage: inject('storageConnectionString') });
  const transport = await StorageQueueTransport.create(config);
  const blobs = await AzureBlobStore.create(config);
  const blobContainer = uniqueName('claims');
  await blobs.ensure([blobContainer]);
  return {
    transport,
    blobs,
    blobContainer,
    lockSec: 2,
    newQueue: () => uniqueName('contract'),
    close: () => transport.close(),
  };
});
