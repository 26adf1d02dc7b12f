import type { TableClient, TableEntity } from '@azure/data-tables';
import type { Config } from '../config.js';
import { takeToken, tokensAt, type BucketState } from '../core/capacity.js';
import { ConcurrencyError } from '../errors.js';
import type {
  CapacityStore,
  RefusalRecord,
  SlotGrant,
  SlotHolder,
  TokenGrant,
  WaitingJob,
} from '../ports/capacity-store.js';
import { azureCredential } from './azure-credential.js';

/**
 * Admission state in Azure Table Storage (see the port for why slots).
 *
 * Layout, one partition per scope and kind (a scope is a provider name):
 *   PK = 'slot~<scope>',  RK = slot number (6 digits) → {jobId, since}: a place under the concurrency cap
 *   PK = 'wait~<scope>',  RK = jobId                  → {since}: a job waiting for the scope
 *   PK = 'state~<scope>', RK = 'bucket'               → {tokens, at}: the rate cap's token bucket (ETag-guarded)
 *                         RK = 'refusal'              → {doc}: the last capacity refusal
 * A slot is taken by an insert at a free row key, which fails (409) if another instance took that
 * row first: at most `limit` rows can exist, so the cap holds across any number of instances.
 */
export class TableCapacityStore implements CapacityStore {
  private created: Promise<void> | undefined;

  constructor(private readonly table: TableClient) {}

  /**
   * Runs `op`, creating the table first if it does not exist yet (a host that never ran
   * `ensureResources`, a deployment older than this table): admission must not break dispatch.
   */
  private async withTable<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (!isTableMissing(error)) throw error;
      this.created ??= this.ensure().finally(() => {
        this.created = undefined;
      });
      await this.created;
      return op();
    }
  }

  static async create(config: Config, tableName: string): Promise<TableCapacityStore> {
    const { TableClient } = await import('@azure/data-tables');
    const { connectionString, tableServiceUri } = config.storage;
    if (connectionString)
      return new TableCapacityStore(
        TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true }),
      );
    if (!tableServiceUri) throw new Error('JobsStorage or JobsStorage__tableServiceUri is required');
    return new TableCapacityStore(new TableClient(tableServiceUri, tableName, await azureCredential(config)));
  }

  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  acquireSlot(scope: string, jobId: string, limit: number, at: Date): Promise<SlotGrant> {
    return this.withTable(() => this.acquireSlotNow(scope, jobId, limit, at));
  }

  private async acquireSlotNow(scope: string, jobId: string, limit: number, at: Date): Promise<SlotGrant> {
    // Competing instances pick random free rows, so a race costs a retry only when two pick the same.
    for (let round = 0; round < 8; round++) {
      const held = await this.slots(scope);
      if (held.some((h) => h.jobId === jobId)) return { granted: true, inUse: held.length };
      const taken = new Set(held.map((h) => h.slot));
      const free: number[] = [];
      for (let slot = 0; slot < limit && free.length < 64; slot++) if (!taken.has(slot)) free.push(slot);
      // A lowered limit leaves rows above it: they count until released.
      if (held.length >= limit || free.length === 0) return { granted: false, inUse: held.length };
      const slot = free[Math.floor(Math.random() * free.length)]!;
      try {
        await this.table.createEntity({
          partitionKey: pk('slot', scope),
          rowKey: slotKey(slot),
          jobId,
          since: at.toISOString(),
        });
        return { granted: true, inUse: held.length + 1 };
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
    }
    throw new ConcurrencyError(`could not take a slot of '${scope}' after 8 races`);
  }

  releaseSlot(scope: string, jobId: string): Promise<boolean> {
    return this.withTable(() => this.releaseSlotNow(scope, jobId));
  }

  private async releaseSlotNow(scope: string, jobId: string): Promise<boolean> {
    let released = false;
    for (const h of await this.slots(scope)) {
      if (h.jobId !== jobId) continue;
      try {
        await this.table.deleteEntity(pk('slot', scope), slotKey(h.slot));
        released = true;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    }
    return released;
  }

  slots(scope: string): Promise<SlotHolder[]> {
    return this.withTable(() => this.slotsNow(scope));
  }

  private async slotsNow(scope: string): Promise<SlotHolder[]> {
    const rows = await this.partition<{ jobId: string; since: string }>(pk('slot', scope), ['jobId', 'since']);
    return rows
      .map((e) => ({ jobId: e.jobId, slot: Number(e.rowKey), since: e.since }))
      .sort((a, b) => a.slot - b.slot);
  }

  takeToken(scope: string, perMinute: number, at: Date): Promise<TokenGrant> {
    return this.withTable(() => this.takeTokenNow(scope, perMinute, at));
  }

  private async takeTokenNow(scope: string, perMinute: number, at: Date): Promise<TokenGrant> {
    for (let round = 0; round < 10; round++) {
      const current = await this.readBucket(scope);
      const r = takeToken(current?.state, perMinute, at.getTime());
      try {
        const entity = { partitionKey: pk('state', scope), rowKey: 'bucket', tokens: r.state.tokens, at: r.state.at };
        if (current) await this.table.updateEntity(entity, 'Replace', { etag: current.etag });
        else await this.table.createEntity(entity);
        return { granted: r.granted, retryAfterMs: r.retryAfterMs };
      } catch (error) {
        const status = statusOf(error);
        if (status !== 409 && status !== 412) throw error;
      }
    }
    throw new ConcurrencyError(`the token bucket of '${scope}' lost 10 races`);
  }

  peekTokens(scope: string, perMinute: number, at: Date): Promise<number> {
    return this.withTable(() => this.peekTokensNow(scope, perMinute, at));
  }

  private async peekTokensNow(scope: string, perMinute: number, at: Date): Promise<number> {
    return tokensAt((await this.readBucket(scope))?.state, perMinute, at.getTime());
  }

  markWaiting(scope: string, jobId: string, at: Date): Promise<void> {
    return this.withTable(() => this.markWaitingNow(scope, jobId, at));
  }

  private async markWaitingNow(scope: string, jobId: string, at: Date): Promise<void> {
    try {
      await this.table.createEntity({ partitionKey: pk('wait', scope), rowKey: jobId, since: at.toISOString() });
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }

  clearWaiting(scope: string, jobId: string): Promise<void> {
    return this.withTable(() => this.clearWaitingNow(scope, jobId));
  }

  private async clearWaitingNow(scope: string, jobId: string): Promise<void> {
    try {
      await this.table.deleteEntity(pk('wait', scope), jobId);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  waiting(scope: string, limit = 1000): Promise<WaitingJob[]> {
    return this.withTable(() => this.waitingNow(scope, limit));
  }

  private async waitingNow(scope: string, limit = 1000): Promise<WaitingJob[]> {
    const rows = await this.partition<{ since: string }>(pk('wait', scope), ['since']);
    return rows
      .map((e) => ({ jobId: e.rowKey, since: e.since }))
      .sort((a, b) => a.since.localeCompare(b.since))
      .slice(0, limit);
  }

  recordRefusal(scope: string, refusal: RefusalRecord): Promise<void> {
    return this.withTable(() => this.recordRefusalNow(scope, refusal));
  }

  private async recordRefusalNow(scope: string, refusal: RefusalRecord): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: pk('state', scope), rowKey: 'refusal', doc: JSON.stringify(refusal) },
      'Replace',
    );
  }

  lastRefusal(scope: string): Promise<RefusalRecord | undefined> {
    return this.withTable(() => this.lastRefusalNow(scope));
  }

  private async lastRefusalNow(scope: string): Promise<RefusalRecord | undefined> {
    try {
      const e = await this.table.getEntity<{ doc: string }>(pk('state', scope), 'refusal');
      return JSON.parse(e.doc) as RefusalRecord;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async readBucket(scope: string): Promise<{ state: BucketState; etag: string } | undefined> {
    try {
      const e = await this.table.getEntity<{ tokens: number; at: number }>(pk('state', scope), 'bucket');
      return { state: { tokens: Number(e.tokens), at: Number(e.at) }, etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async partition<T extends object>(partitionKey: string, select: string[]): Promise<TableEntity<T>[]> {
    const { odata } = await import('@azure/data-tables');
    const out: TableEntity<T>[] = [];
    const iter = this.table.listEntities<T>({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey', ...select] },
    });
    for await (const e of iter) out.push(e as TableEntity<T>);
    return out;
  }
}

/** Partition keys may not hold '/', '\\', '#' or '?': encode the scope. */
function pk(kind: 'slot' | 'wait' | 'state', scope: string): string {
  return `${kind}~${encodeURIComponent(scope)}`;
}

function slotKey(slot: number): string {
  return String(slot).padStart(6, '0');
}

function isTableMissing(error: unknown): boolean {
  // Point reads carry the code in `code`; queries only in the OData body the message holds.
  const e = error as { statusCode?: number; code?: string; message?: string } | null;
  return e?.statusCode === 404 && (e.code === 'TableNotFound' || /TableNotFound/.test(e.message ?? ''));
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}
