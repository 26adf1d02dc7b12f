import { z } from 'zod';
import { roundMoney } from '../../core/costs.js';
import { parseOrThrow } from '../../core/job.js';
import type { Deps } from '../../deps.js';
import { FeatureDisabledError, ValidationError } from '../../errors.js';
import type { LedgerRow } from '../../ports/cost-ledger.js';

/** Longest range one report reads: the ledger is read row by row, so the range bounds the work. */
export const MAX_RANGE_DAYS = 366;
const DEFAULT_RANGE_DAYS = 30;
/** Most groups in one reply (label values can be many); the rest are counted in `groupsOmitted`. */
export const MAX_GROUPS = 1000;

const DIMENSION = /^(provider|queue|status|day|label:[A-Za-z0-9][A-Za-z0-9_.-]{0,62})$/;
const instant = z
  .string()
  .max(40)
  .refine((v) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(v) && !Number.isNaN(Date.parse(v)), {
    message: 'an ISO 8601 date (2026-12-01) or UTC time (2026-12-01T00:00:00Z)',
  });

export const CostsQuerySchema = z.object({
  label: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}=[^=]{0,128}$/, 'a label selector key=value, e.g. team=forecasting'),
    )
    .max(16)
    .optional()
    .describe('Only jobs carrying this label (key=value); repeat for several (all must match)'),
  from: instant
    .optional()
    .describe(`Start of the range (finish time, inclusive); default: ${DEFAULT_RANGE_DAYS} days before 'to'`),
  to: instant.optional().describe('End of the range (exclusive); default: now. A bare date means its midnight UTC'),
  groupBy: z
    .string()
    .max(200)
    .refine((g) => g.split(',').every((d) => DIMENSION.test(d.trim())), {
      message: 'a comma-separated list of provider, queue, status, day and label:<key>',
    })
    .refine((g) => g.split(',').length <= 4, { message: 'at most 4 dimensions' })
    .optional()
    .describe('Dimensions to group by: provider, queue, status, day, label:<key> (comma-separated; default provider)'),
});

export interface CostTotals {
  readonly cost: number;
  readonly estimated: number;
  readonly jobs: number;
  readonly billedSec: number;
  /** Jobs whose instance type had no price (their cost is not in `cost`). */
  readonly unpriced: number;
}

export interface CostGroup extends CostTotals {
  readonly key: Readonly<Record<string, string>>;
}

export interface CostReport {
  readonly currency: string;
  readonly from: string;
  readonly to: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly groupBy: readonly string[];
  readonly total: CostTotals;
  readonly groups: readonly CostGroup[];
  readonly groupsOmitted?: number;
  /** Ledger rows in another currency (the price table changed currency in the range): not added up. */
  readonly otherCurrencyJobs?: number;
  readonly priceTable: { readonly asOf: string; readonly source: string };
}

/** Query parameters as they arrive (a parameter given twice is an array). */
export type CostsQueryInput = Record<string, string | string[] | undefined>;

/**
 * `GET /api/costs`: actual costs of finished jobs in a time range, optionally only those carrying
 * given labels, grouped by provider, queue, status, day or a label's value. Reads the cost ledger
 * (one range query over its day partitions), never the job records.
 */
export async function queryCosts(deps: Deps, input: CostsQueryInput): Promise<CostReport> {
  const costs = deps.costs;
  if (!costs) throw new FeatureDisabledError('Costs need the jobs storage account (JobsStorage); none is configured.');
  const labelInput = input.label === undefined ? undefined : Array.isArray(input.label) ? input.label : [input.label];
  const q = parseOrThrow(CostsQuerySchema, { ...input, ...(labelInput && { label: labelInput }) });
  const to = q.to ? new Date(q.to) : deps.now();
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_RANGE_DAYS * 86_400_000);
  if (!(from.getTime() < to.getTime())) throw new ValidationError([{ field: 'from', message: "must be before 'to'" }]);
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000)
    throw new ValidationError([{ field: 'from', message: `the range may span at most ${MAX_RANGE_DAYS} days` }]);
  const labels: Record<string, string> = {};
  for (const selector of q.label ?? []) {
    const at = selector.indexOf('=');
    const key = selector.slice(0, at);
    if (key in labels) throw new ValidationError([{ field: 'label', message: `label '${key}' is given twice` }]);
    labels[key] = selector.slice(at + 1);
  }
  const groupBy = (q.groupBy ?? 'provider').split(',').map((d) => d.trim());
  if (new Set(groupBy).size !== groupBy.length)
    throw new ValidationError([{ field: 'groupBy', message: 'list each dimension once' }]);

  const currency = costs.settings.priceTable.currency;
  const rows = (await costs.ledger.rows(from, to)).filter((r) =>
    Object.entries(labels).every(([k, v]) => r.labels[k] === v),
  );
  const inCurrency = rows.filter((r) => r.currency === currency);
  const groups = new Map<string, { key: Record<string, string>; rows: LedgerRow[] }>();
  for (const row of inCurrency) {
    const key = Object.fromEntries(groupBy.map((d) => [d, dimensionOf(row, d)]));
    const id = JSON.stringify(groupBy.map((d) => key[d]));
    const g = groups.get(id) ?? { key, rows: [] };
    groups.set(id, g);
    g.rows.push(row);
  }
  const all = [...groups.values()]
    .map((g) => ({ key: g.key, ...totals(g.rows) }))
    .sort((a, b) => b.cost - a.cost || JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
  return {
    currency,
    from: from.toISOString(),
    to: to.toISOString(),
    labels,
    groupBy,
    total: totals(inCurrency),
    groups: all.slice(0, MAX_GROUPS),
    ...(all.length > MAX_GROUPS && { groupsOmitted: all.length - MAX_GROUPS }),
    ...(rows.length > inCurrency.length && { otherCurrencyJobs: rows.length - inCurrency.length }),
    priceTable: { asOf: costs.settings.priceTable.asOf, source: costs.settings.priceTableSource },
  };
}

/** A row's value on one dimension; a job without the label groups under `(none)`. */
function dimensionOf(row: LedgerRow, dimension: string): string {
  if (dimension === 'provider') return row.provider;
  if (dimension === 'queue') return row.queue;
  if (dimension === 'status') return row.status;
  if (dimension === 'day') return row.finishedAt.slice(0, 10);
  return row.labels[dimension.slice('label:'.length)] ?? '(none)';
}

function totals(rows: readonly LedgerRow[]): CostTotals {
  let cost = 0;
  let estimated = 0;
  let billedSec = 0;
  let unpriced = 0;
  for (const r of rows) {
    if (r.cost === null) unpriced++;
    else cost += r.cost;
    estimated += r.estimated ?? 0;
    billedSec += r.billedSec;
  }
  return { cost: roundMoney(cost), estimated: roundMoney(estimated), jobs: rows.length, billedSec, unpriced };
}
