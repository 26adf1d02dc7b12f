import type { TableClient, TableEntity } from '@azure/data-tables';
import type { JobStatus } from '../core/job.js';
import type { LedgerRow } from '../ports/cost-ledger.js';
import { mapLimit } from '../retry.js';

/**
 * The cost ledger's rows in the jobs table (see TableJobStore): one small row per finished job, in
 * the job's own shard, committed by the same entity-group transaction that moves the job into its
 * terminal state with its cost. So a finished job never lacks its row and the row costs no request
 * of its own.
 *
 *   RK = 'cost~<YYYY-MM-DD the job finished, UTC>~<id>'
 *        → provider, queue, status, labels as JSON, cost, estimate, billed seconds
 *
 * The key holds the day first, so the jobs that finished in a range of days are one RowKey range
 * per shard, read in parallel; a report costs rows in proportion to the jobs finished in its range,
 * never to all jobs stored, and reads no job record. The key holds the job id, so a completion
 * written twice is one row. No list reads this range (lists read `idx~…`, histories `evt~…`), so
 * neither a page nor the index repair ever meets a ledger row.
 *
 * Why rows and not running totals: a total updated on completion is a hot entity every finishing
 * job writes under an ETag and cannot be made idempotent without remembering which jobs it counted;
 * a row per job is idempotent by its key and lets a query group by any label afterwards.
 * Limit: a very busy range is read row by row (1 000 per page); /api/costs caps the range
 * (COSTS_MAX_RANGE_DAYS) for that reason.
 */

const PREFIX = 'cost~';

/** Row key of a job's ledger row: by the UTC day it finished, then its id. */
export function ledgerRowKey(row: Pick<LedgerRow, 'jobId' | 'finishedAt'>): string {
  return `${PREFIX}${row.finishedAt.slice(0, 10)}~${row.jobId}`;
}

/** The ledger row as an entity of partition `pk`. */
export function ledgerEntity(pk: string, row: LedgerRow): TableEntity<Record<string, unknown>> {
  return {
    partitionKey: pk,
    rowKey: ledgerRowKey(row),
    jobId: row.jobId,
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
  };
}

/** Shards read at once by one ledger read. */
const READ_CONCURRENCY = 16;

/**
 * Ledger rows of jobs that finished in [from, to), from every shard: one RowKey range query per
 * shard over the days of the range, the finish time bounding the first and last day exactly.
 */
export async function readLedgerRows(
  table: TableClient,
  shards: readonly string[],
  from: Date,
  to: Date,
): Promise<LedgerRow[]> {
  if (!(from < to)) return [];
  const { odata } = await import('@azure/data-tables');
  const fromIso = from.toISOString();
  const toIso = to.toISOString();
  const low = `${PREFIX}${fromIso.slice(0, 10)}~`;
  const high = `${PREFIX}${toIso.slice(0, 10)}~~`;
  const perShard = await mapLimit(shards, READ_CONCURRENCY, async (pk) => {
    const out: LedgerRow[] = [];
    const iter = table.listEntities<TableEntity<Stored>>({
      queryOptions: {
        filter: odata`PartitionKey eq ${pk} and RowKey ge ${low} and RowKey lt ${high} and finishedAt ge ${fromIso} and finishedAt lt ${toIso}`,
      },
    });
    try {
      for await (const e of iter) out.push(toRow(e));
    } catch (error) {
      // No table yet: nothing has finished.
      if ((error as { statusCode?: number } | null)?.statusCode === 404) return [];
      throw error;
    }
    return out;
  });
  return perShard.flat();
}

interface Stored {
  jobId: string;
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
    jobId: e.jobId,
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
