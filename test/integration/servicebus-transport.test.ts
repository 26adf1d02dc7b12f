import { inject } from 'vitest';
import { AzureBlobStore } from '../../src/lib/adapters/azure-blob-store.js';
import { ServiceBusTransport } from '../../src/lib/adapters/servicebus-transport.js';
import { loadConfig } from '../../src/lib/config.js';
import { describeQueueTransportContract, uniqueName } from '../contract/queue-transport.contract.js';
import { startServiceBusStandIn } from '../fakes/servicebus/index.js';

describeQueueTransportContract('Service Bus on the wire-level stand-in', async () => {
  const standIn = await startServiceBusStandIn();
  const config = loadConfig({
    JobsStorage: inject('storageConnectionString'),
    QUEUE_TRANSPORT: 'servicebus',
    ServiceBus: standIn.connectionString,
    ServiceBus__administrationEndpoint: standIn.adminEndpoint,
  });
  // Queues are created by `ensure` through the administration client, with a short lock so the
  // lock-expiry and renewal cases run quickly.
  const transport = await ServiceBusTransport.create(config, { lockDurationSec: 2, maxDeliveryCount: 10 });
  const blobs = await AzureBlobStore.create(config);
  const blobContainer = uniqueName('claims');
  await blobs.ensure([blobContainer]);
  return {
    transport,
    blobs,
    blobContainer,
    lockSec: 2,
    newQueue: () => uniqueName('contract'),
    close: async () => {
      await transport.close();
      await standIn.close();
    },
  };
});
