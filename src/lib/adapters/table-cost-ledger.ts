import type { TableClient, TableEntity } from '@azure/data-tables';
import type { Config } from '../config.js';
import type { JobStatus } from '../core/job.js';
import type { CostLedger, LedgerRow } from '../ports/cost-ledger.js';
import { azureCredential } from './azure-credential.js';

/**
 * The cost ledger in Azure Table Storage.
 *
 * Layout: PK = UTC day the job finished (`YYYY-MM-DD`), RK = job id → one small row per finished
 * job (provider, queue, status, labels as JSON, cost, estimate, billed seconds). Written with an
 * upsert, so a completion written twice (a retried write, a redelivered message) is one row.
 *
 * Why rows and not running totals: a total updated on completion is a hot entity every finishing
 * job writes under an ETag (many conflicts at a few hundred completions a second) and cannot be
 * made idempotent without remembering which jobs it counted; a row per job is idempotent by its key
 * and lets a query group by any label afterwards. Reading a range is one range query over the day
 * partitions (`PartitionKey ge … and PartitionKey le …`), so the cost of a report grows with the
 * jobs finished in the range, never with all jobs ever stored, and no job record is read.
 * Limit: a very busy range (hundreds of thousands of jobs) is read row by row (1 000 per page);
 * /api/costs caps the range (COSTS_MAX_RANGE_DAYS) for that reason.
 */
export class TableCostLedger implements CostLedger {
  constructor(private readonly table: TableClient) {}

  static async create(config: Config, tableName: string): Promise<TableCostLedger> {
    const { TableClient } = await import('@azure/data-tables');
    const { connectionString, tableServiceUri } = config.storage;
    if (connectionString)
      return new TableCostLedger(
        TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true }),
      );
    if (!tableServiceUri) throw new Error('JobsStorage or JobsStorage__tableServiceUri is required');
    return new TableCostLedger(new TableClient(tableServiceUri, tableName, await azureCredential(config)));
  }

  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  async record(row: LedgerRow): Promise<void> {
    await this.table.upsertEntity(
      {
        partitionKey: row.finishedAt.slice(0, 10),
        rowKey: row.jobId,
        finishedAt: row.finishedAt,
        status: row.status,
        provider: row.provider,
        queue: row.queue,
        labels: JSON.stringify(row.labels),
        currency: row.currency,
        // Table Storage has no null: an unknown cost is an absent property.
        ...(row.cost !== null && { cost: row.cost }),
        ...(row.estimated !== null && { estimated: row.estimated }),
        billedSec: row.billedSec,
      },
      'Replace',
    );
  }

  async rows(from: Date, to: Date): Promise<LedgerRow[]> {
    const { odata } = await import('@azure/data-tables');
    const fromIso = from.toISOString();
    const toIso = to.toISOString();
    const iter = this.table.listEntities<TableEntity<Stored>>({
      queryOptions: {
        filter: odata`PartitionKey ge ${fromIso.slice(0, 10)} and PartitionKey le ${toIso.slice(0, 10)} and finishedAt ge ${fromIso} and finishedAt lt ${toIso}`,
      },
    });
    const out: LedgerRow[] = [];
    try {
      for await (const e of iter) out.push(toRow(e));
    } catch (error) {
      // No table yet (nothing has finished since the deployment began): an empty ledger.
      if ((error as { statusCode?: number } | null)?.statusCode === 404) return [];
      throw error;
    }
    return out;
  }
}

interface Stored {
  finishedAt: string;
  status: string;
  provider: string;
  queue: string;
  labels: string;
  currency: string;
  cost?: number;
  estimated?: number;
  billedSec: number;
}

function toRow(e: TableEntity<Stored>): LedgerRow {
  let labels: Record<string, string> = {};
  try {
    labels = JSON.parse(e.labels) as Record<string, string>;
  } catch {
    labels = {};
  }
  return {
    jobId: e.rowKey,
    finishedAt: e.finishedAt,
    status: e.status as JobStatus,
    provider: e.provider,
    queue: e.queue,
    labels,
    currency: e.currency,
    cost: typeof e.cost === 'number' ? e.cost : null,
    estimated: typeof e.estimated === 'number' ? e.estimated : null,
    billedSec: Number(e.billedSec) || 0,
  };
}
