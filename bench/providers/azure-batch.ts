import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { azuriteConnectionString, loadConfig } from '../../src/lib/config.js';
import type { JobRecord } from '../../src/lib/core/job.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import { createAzureBatchProvider } from '../../src/lib/providers/azure-batch/provider.js';
import { batchJobIdFor } from '../../src/lib/providers/azure-batch/mapping.js';
import { countCalls, FakeBatchService } from '../../test/fakes/azure-batch/fake-batch-service.js';
import { runWhenMain } from './standalone.js';

const ACCOUNT = 'benchbatch';
const KEY = randomBytes(32).toString('base64');
const PAGE = 1000;

/** Poll reads nothing from storage for unchanged jobs; result.json of finished ones comes from here. */
class MemoryBlobs implements BlobStore {
  private readonly data = new Map<string, Buffer>();
  async put(container: string, name: string, content: string | Uint8Array): Promise<void> {
    this.data.set(`${container}/${name}`, Buffer.from(content));
  }
  async get(container: string, name: string): Promise<Buffer | undefined> {
    return this.data.get(`${container}/${name}`);
  }
  async delete(container: string, name: string): Promise<void> {
    this.data.delete(`${container}/${name}`);
  }
  async list(container: string, prefix: string): Promise<string[]> {
    return [...this.data.keys()]
      .filter((k) => k.startsWith(`${container}/${prefix}`))
      .map((k) => k.slice(container.length + 1));
  }
  async ensure(): Promise<void> {}
}

/**
 * API calls of one Azure Batch poll cycle with N active jobs (one task each in the pool job),
 * counted at the in-process fake through the real `@azure/batch` client. Of every ten jobs one
 * starts running, one succeeds and one fails; the rest are unchanged. Target: at most
 * ceil(N / 1000) + 1 list calls (unfinished tasks, paged at 1 000, plus one query for tasks
 * completed since dispatch) and no per-task GET.
 */
export async function benchPollCalls(): Promise<
  Array<{ activeJobs: number; listCalls: number; getCalls: number; otherCalls: number; target: string; ok: boolean }>
> {
  const rows = [];
  for (const n of [10, 100, 1000, 5000]) {
    const fake = new FakeBatchService({ sharedKey: { accountName: ACCOUNT, accountKey: KEY } });
    await fake.start();
    try {
      const config = loadConfig({
        // Only used to sign SAS URLs locally (shared key); nothing connects to it while polling.
        JobsStorage: azuriteConnectionString({ blob: 1, queue: 2, table: 3 }),
        AZURE_BATCH_ACCOUNT_URL: fake.url,
        AZURE_BATCH_ACCOUNT_NAME: ACCOUNT,
        AZURE_BATCH_ACCOUNT_KEY: KEY,
      });
      const blobService = BlobServiceClient.fromConnectionString(config.storage.connectionString!);
      const provider = await createAzureBatchProvider(
        { config, blobs: new MemoryBlobs() },
        { blobService, sleep: async () => undefined },
      );
      const batchJobId = batchJobIdFor(provider.settings.poolId);
      const now = new Date().toISOString();
      const ids = Array.from({ length: n }, (_, i) => `j-01jd3m2x7k9q8w4e5r${String(i).padStart(8, '0')}`);
      fake.seedTasks(batchJobId, ids);
      const jobs: JobRecord[] = ids.map((id) => ({
        id,
        status: 'dispatched',
        source: 'api',
        spec: {
          rows: 1000,
          estimated_runtime_sec: 10,
          priority: 'normal',
          latency_sensitive: false,
          data: {},
          labels: {},
        },
        createdAt: now,
        updatedAt: now,
        dispatchedAt: now,
        provider: 'azure-batch',
        providerRef: { poolId: provider.settings.poolId, batchJobId, taskId: id, retryCount: 0, requeueCount: 0 },
        attempts: 1,
        eventSeq: 1,
      }));
      let changed = 0;
      for (const [i, id] of ids.entries()) {
        const kind = i % 10;
        if (kind !== 0 && kind !== 3 && kind !== 7) continue;
        changed += 1;
        await fake.startTask(batchJobId, id);
        if (kind === 3) await fake.completeTask(batchJobId, id, { exitCode: 0 });
        if (kind === 7) await fake.completeTask(batchJobId, id, { exitCode: 1 });
      }
      fake.clearRequests();

      const reports = await provider.poll(jobs);

      if (reports.length !== changed) throw new Error(`expected ${changed} reports, got ${reports.length}`);
      const calls = countCalls(fake.requests);
      const maxLists = Math.ceil(n / PAGE) + 1;
      rows.push({
        activeJobs: n,
        listCalls: calls.list,
        getCalls: calls.get,
        otherCalls: calls.other,
        target: `list ≤ ${maxLists} (page ${PAGE}, +1 for completed), get 0, other 0`,
        ok: calls.list <= maxLists && calls.get === 0 && calls.other === 0,
      });
    } finally {
      await fake.stop();
    }
  }
  return rows;
}

// `npx tsx bench/providers/azure-batch.ts` prints the table on its own.
runWhenMain(import.meta.url, benchPollCalls);
