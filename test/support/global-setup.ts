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
  // A free port can be taken by another process between our probe and Azurite's bind; then start
  // again on fresh ports rather than fail the whole run.
  for (let attempt = 1; ; attempt++) {
    const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    try {
      azurite = await startAzurite({ blobPort: ports.blob, queuePort: ports.queue, tablePort: ports.table });
      project.provide('storageConnectionString', azuriteConnectionString(ports));
      return;
    } catch (err) {
      const inUse = /EADDRINUSE|already in use/.test(String(err));
      if (!inUse || attempt >= 3) throw err;
    }
  }
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}
