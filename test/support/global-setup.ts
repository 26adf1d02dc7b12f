import type { TestProject } from 'vitest/node';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite.js';
import { azuriteConnectionString } from '../../src/lib/config.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    storageConnectionString: string;
  }
}

let azurite: AzuriteHandle | undefined;

/** One in-memory Azurite for the whole run; each suite uses its own tables, queues and containers. */
export async function setup(project: TestProject): Promise<void> {
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  azurite = await startAzurite({ blobPort: ports.blob, queuePort: ports.queue, tablePort: ports.table });
  project.provide('storageConnectionString', azuriteConnectionString(ports));
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}
