import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { SettingInfo } from './config.js';
import { BudgetsSchema, PriceTableSchema, type Budget, type DefaultSizes, type PriceTable } from './core/costs.js';
import { zodIssues } from './core/job.js';
import { DEFAULT_PRICE_TABLE } from './costs/default-price-table.js';
import { ConfigurationError } from './errors.js';
import { SettingsReader, type Env } from './settings.js';

/**
 * Settings of cost estimates and budgets. The workers read the price table too: a worker commits
 * its jobs' completion, and the actual cost (and the job's ledger row) is written with it.
 */
export const COST_SETTINGS = [
  {
    name: 'PRICE_TABLE',
    scope: ['app', 'worker'],
    description:
      'Price table for cost estimates and actual costs: inline JSON (starting with `{`) or the path of a JSON file, shaped `{currency, source, asOf, providers: {<provider>: {billing: {incrementSec, minimumSec}, defaultInstanceType, hourly: {<instance type>: price per instance-hour}}}}`. Unset: the built-in list-price estimates (src/lib/costs/default-price-table.ts; workers priced by queue as `worker` instance types `actor`/`spark`, `local` at a notional 0).',
  },
  {
    name: 'BUDGETS',
    scope: ['app'],
    default: '[]',
    description:
      'Budgets per label, a JSON array of `{name, label: "key=value", limit, period: "day"|"month", mode: "refuse"|"wait"}` in the price table currency. A submission whose estimate would take the period’s spend (finished jobs, from the ledger) past the limit is refused with 402 (`refuse`) or accepted and held before classification, re-checked every BUDGET_RECHECK_SEC (`wait`).',
  },
  {
    name: 'BUDGET_RECHECK_SEC',
    scope: ['app'],
    default: '300',
    description:
      'How often a job held by a `wait` budget is checked again (a delayed message on the intake queue). Must be below JOB_STUCK_AFTER_SEC, or the reconciler takes the held job for stuck.',
  },
  {
    name: 'BUDGET_CACHE_SEC',
    scope: ['app'],
    default: '30',
    description:
      'How long a process reuses a budget’s spend read from the ledger; a job finishing in this process updates it at once, others within this time.',
  },
] as const satisfies readonly SettingInfo[];

type Name = (typeof COST_SETTINGS)[number]['name'];

export interface CostSettings {
  readonly priceTable: PriceTable;
  /** Where the price table came from: `built-in`, `inline` or the file path. */
  readonly priceTableSource: string;
  readonly budgets: readonly Budget[];
  readonly budgetRecheckSec: number;
  readonly budgetCacheMs: number;
  /** Default instance sizes the deployment sets for providers (AZURE_BATCH_VM_SIZE, SAGEMAKER_DEFAULT_INSTANCE_TYPE). */
  readonly defaultSizes: DefaultSizes;
}

function parseJson<T>(
  read: SettingsReader<Name>,
  name: Name,
  text: string,
  schema: z.ZodType<T>,
  origin: string,
): T | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    read.issue(`${name} (${origin}) is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error).slice(0, 5);
    read.issue(`${name} (${origin}): ${issues.map((i) => `${i.field || '(root)'}: ${i.message}`).join('; ')}`);
    return undefined;
  }
  return parsed.data;
}

/** Parses the cost settings; throws {@link ConfigurationError} naming each bad one. */
export function parseCostSettings(env: Env, options: { stuckAfterSec?: number } = {}): CostSettings {
  const read = new SettingsReader<Name>(env, COST_SETTINGS);
  const tableSetting = read.raw('PRICE_TABLE') ?? '';
  let priceTable: PriceTable = DEFAULT_PRICE_TABLE;
  let priceTableSource = 'built-in';
  if (tableSetting.startsWith('{')) {
    priceTable = parseJson(read, 'PRICE_TABLE', tableSetting, PriceTableSchema, 'inline') ?? DEFAULT_PRICE_TABLE;
    priceTableSource = 'inline';
  } else if (tableSetting !== '') {
    let text: string | undefined;
    try {
      text = readFileSync(tableSetting, 'utf8');
    } catch (error) {
      read.issue(`PRICE_TABLE names the file '${tableSetting}', which cannot be read (${(error as Error).message})`);
    }
    if (text !== undefined)
      priceTable = parseJson(read, 'PRICE_TABLE', text, PriceTableSchema, tableSetting) ?? DEFAULT_PRICE_TABLE;
    priceTableSource = tableSetting;
  }
  const budgets = parseJson(read, 'BUDGETS', read.raw('BUDGETS') ?? '[]', BudgetsSchema, 'inline') ?? [];
  const budgetRecheckSec = read.int('BUDGET_RECHECK_SEC', { min: 1, max: 7 * 24 * 3600 - 60 });
  if (
    options.stuckAfterSec !== undefined &&
    budgets.some((b) => b.mode === 'wait') &&
    budgetRecheckSec >= options.stuckAfterSec
  )
    read.issue('BUDGET_RECHECK_SEC must be below JOB_STUCK_AFTER_SEC while a budget waits');
  const budgetCacheSec = read.float('BUDGET_CACHE_SEC', { min: 0, max: 3600 });
  read.check('Cost settings');
  const size = (name: string) => env[name]?.trim() || undefined;
  return Object.freeze({
    priceTable,
    priceTableSource,
    budgets: Object.freeze(budgets),
    budgetRecheckSec,
    budgetCacheMs: Math.round(budgetCacheSec * 1000),
    defaultSizes: Object.freeze({
      'azure-batch': size('AZURE_BATCH_VM_SIZE'),
      sagemaker: size('SAGEMAKER_DEFAULT_INSTANCE_TYPE'),
    }),
  });
}
