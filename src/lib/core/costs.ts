import { z } from 'zod';
import { WORKER_PROVIDER, type RoutingQueues } from './classifier.js';
import type { JobRecord, JobSpec, RoutingDecision } from './job.js';

/**
 * Prices, cost estimates and actual costs. Pure: no clock, no storage, no SDK. The price table is
 * data (PRICE_TABLE or the built-in default-price-table.ts); the rules that turn a job into
 * instances × billed time × price live here, once, for the estimate at routing time and the actual
 * cost at completion alike.
 */

const instanceKey = z.string().min(1).max(64);

/** How a provider bills time: rounded up to `incrementSec`, never less than `minimumSec` once started. */
export const BillingRuleSchema = z.strictObject({
  incrementSec: z.number().positive().max(3600),
  minimumSec: z.number().min(0).max(86_400).default(0),
});
export type BillingRule = z.infer<typeof BillingRuleSchema>;

export const ProviderPricesSchema = z.strictObject({
  billing: BillingRuleSchema,
  /** Instance type / VM size / notional size used when a job names none. */
  defaultInstanceType: instanceKey,
  /** List price per instance-hour, by instance type (matched case-insensitively). */
  hourly: z.record(instanceKey, z.number().finite().nonnegative().max(100_000)),
  /** Azure ML: compute cluster name → VM size, for command jobs that name a compute but no instanceType. */
  computeSizes: z.record(instanceKey, instanceKey).optional(),
  note: z.string().max(2000).optional(),
});
export type ProviderPrices = z.infer<typeof ProviderPricesSchema>;

export const PriceTableSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD'),
  /** Where the list prices come from, and that they are estimates. */
  source: z.string().min(1).max(4000),
  /** Date the prices were read (YYYY-MM-DD). */
  asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD'),
  /** By provider name (`local`, `worker`, `azure-batch`, `azure-ml`, `sagemaker`, `vertex`). */
  providers: z.record(z.string().min(1).max(64), ProviderPricesSchema),
});
export type PriceTable = z.infer<typeof PriceTableSchema>;

/** Some instances of one type. */
export interface InstanceGroup {
  readonly instanceType: string;
  readonly count: number;
}

/** A priced group: the instance-hour price, or null when the table has no price for its type. */
export interface PricedGroup extends InstanceGroup {
  readonly hourly: number | null;
}

/** The estimated cost of running the job on one candidate target. */
export interface CandidateCost {
  readonly queue: string;
  readonly provider: string;
  readonly instances: readonly PricedGroup[];
  /** Runtime estimate rounded up to the provider's billing increment and minimum. */
  readonly billedSec: number;
  /** null when a price is missing (`missingPrice` names the instance type). */
  readonly estimatedCost: number | null;
  readonly missingPrice?: string;
  /** True for the target the decision chose. */
  readonly chosen: boolean;
  /** How the instances were found: from the job's spec, or the provider's default size. */
  readonly basis: 'spec' | 'default';
}

/** What the decision records about cost (beside the classifier's abstract `cost` score). */
export interface CostEstimates {
  readonly currency: string;
  /** The job's `estimated_runtime_sec`, the runtime every estimate assumes. */
  readonly runtimeSec: number;
  readonly priceTableAsOf: string;
  /** Estimate for the chosen target (null when its price is unknown). */
  readonly chosen: number | null;
  readonly candidates: readonly CandidateCost[];
}

/** Where billed time came from, best first. */
export type BillingBasis = 'provider-billable' | 'provider-times' | 'orchestrator-times' | 'not-started';

/** Provider-reported billing facts of a finished run (see PollReport.billing). */
export interface ProviderBilling {
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** The provider's own billable seconds per instance (SageMaker BillableTimeInSeconds). */
  readonly billableSec?: number;
}

/**
 * Billing facts a provider left in its result summary (SageMaker's describe outcome carries
 * `startedAt`, `endedAt` and `billableTimeSec`); undefined when it has none.
 */
export function billingFromResult(result: Record<string, unknown> | undefined): ProviderBilling | undefined {
  if (!result) return undefined;
  const time = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? v : undefined);
  const startedAt = time(result.startedAt);
  const endedAt = time(result.endedAt);
  const billable = result.billableTimeSec;
  const billableSec = typeof billable === 'number' && Number.isFinite(billable) && billable >= 0 ? billable : undefined;
  if (!startedAt && !endedAt && billableSec === undefined) return undefined;
  return {
    ...(startedAt && { startedAt }),
    ...(endedAt && { endedAt }),
    ...(billableSec !== undefined && { billableSec }),
  };
}

/** The actual cost stored on a finished job (`job.cost`). */
export interface JobCost {
  readonly currency: string;
  /** null when a price is missing (`missingPrice` names the instance type). */
  readonly actual: number | null;
  /** The chosen target's estimate at routing time, for comparison. */
  readonly estimated: number | null;
  readonly runtimeSec: number;
  readonly billedSec: number;
  readonly instances: readonly PricedGroup[];
  readonly basis: BillingBasis;
  readonly missingPrice?: string;
  readonly priceTableAsOf: string;
}

/** Deployment defaults that override the table's default instance type (AZURE_BATCH_VM_SIZE …). */
export type DefaultSizes = Readonly<Record<string, string | undefined>>;

/** Money is kept to 1e-6 of the currency unit, so sums of many small costs stay exact enough. */
export function roundMoney(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** Seconds billed for a run of `runtimeSec`: 0 for no run, else rounded up to the increment, at least the minimum. */
export function billedSeconds(runtimeSec: number, rule: BillingRule): number {
  if (!(runtimeSec > 0)) return 0;
  // Guard against 3.0000000001 increments from float subtraction of timestamps.
  const increments = Math.ceil(Math.round((runtimeSec / rule.incrementSec) * 1e6) / 1e6);
  return Math.max(rule.minimumSec, increments * rule.incrementSec);
}

/** The instance-hour price of a type, case-insensitively; null when the table lacks it. */
export function hourlyPrice(prices: ProviderPrices, instanceType: string): number | null {
  const wanted = instanceType.toLowerCase();
  for (const [type, price] of Object.entries(prices.hourly)) if (type.toLowerCase() === wanted) return price;
  return null;
}

/** Instances × billed seconds × price: null if any group has no price. */
export function costOf(groups: readonly PricedGroup[], billedSec: number): number | null {
  let total = 0;
  for (const g of groups) {
    if (g.hourly === null) return null;
    total += (g.hourly * g.count * billedSec) / 3600;
  }
  return roundMoney(total);
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100_000 ? v : undefined;

/** The queue role of a queue name: worker jobs are priced by role (`actor`, `spark`). */
export function queueRole(queues: RoutingQueues, queue: string | undefined): keyof RoutingQueues | undefined {
  return (Object.keys(queues) as (keyof RoutingQueues)[]).find((role) => queues[role] === queue);
}

/**
 * The instances a job runs on at a provider, read from the fields each provider's spec uses for
 * them (defensively: specs are validated by the providers, not here). Jobs whose spec names none
 * run on the provider's default size (the deployment's setting where one exists, else the table's).
 */
export function instancesFor(
  provider: string,
  queue: string | undefined,
  spec: Pick<JobSpec, 'kind' | 'spec'>,
  prices: ProviderPrices,
  queues: RoutingQueues,
  defaults: DefaultSizes = {},
): { groups: InstanceGroup[]; basis: 'spec' | 'default' } {
  const fallback = defaults[provider] ?? prices.defaultInstanceType;
  const one = (instanceType: string | undefined, n?: number) =>
    instanceType
      ? { groups: [{ instanceType, count: n ?? 1 }], basis: 'spec' as const }
      : { groups: [{ instanceType: fallback, count: n ?? 1 }], basis: 'default' as const };
  const s = obj(spec.spec) ?? {};
  switch (provider) {
    case WORKER_PROVIDER: {
      // Worker replicas are priced notionally by the queue they serve.
      const role = queueRole(queues, queue);
      const type = role && hourlyPrice(prices, role) !== null ? role : fallback;
      return { groups: [{ instanceType: type, count: 1 }], basis: 'default' };
    }
    case 'sagemaker':
      return spec.kind === 'training' || spec.kind === 'transform'
        ? one(str(s.instance_type), count(s.instance_count))
        : one(undefined);
    case 'azure-ml': {
      const computeSize = str(s.compute) && prices.computeSizes?.[str(s.compute)!];
      return one(str(s.instanceType) ?? computeSize, count(s.instanceCount));
    }
    case 'azure-batch':
      return one(str(s.vmSize));
    case 'vertex': {
      if (spec.kind === 'custom' && Array.isArray(s.workerPoolSpecs)) {
        const groups = s.workerPoolSpecs.flatMap((p) => {
          const type = str(obj(obj(p)?.machineSpec)?.machineType);
          return type ? [{ instanceType: type, count: count(obj(p)?.replicaCount) ?? 1 }] : [];
        });
        if (groups.length > 0) return { groups, basis: 'spec' };
      }
      if (spec.kind === 'batch_prediction') {
        const dedicated = obj(s.dedicatedResources);
        return one(str(obj(dedicated?.machineSpec)?.machineType), count(dedicated?.startingReplicaCount));
      }
      return one(undefined);
    }
    default:
      return one(undefined);
  }
}

/** Attaches each group's price. */
function price(groups: readonly InstanceGroup[], prices: ProviderPrices): PricedGroup[] {
  return groups.map((g) => ({ ...g, hourly: hourlyPrice(prices, g.instanceType) }));
}

/** Prices of a provider; a provider the table does not list is priced at nothing known. */
const UNLISTED: ProviderPrices = {
  billing: { incrementSec: 1, minimumSec: 0 },
  defaultInstanceType: 'default',
  hourly: {},
};

function pricesOf(table: PriceTable, provider: string): ProviderPrices {
  return table.providers[provider] ?? UNLISTED;
}

/** One candidate's estimate: the job's runtime estimate × instances × price. */
export function estimateCandidate(
  table: PriceTable,
  target: { queue: string; provider: string; chosen: boolean },
  spec: JobSpec,
  queues: RoutingQueues,
  defaults: DefaultSizes = {},
): CandidateCost {
  const prices = pricesOf(table, target.provider);
  // Only the chosen target runs the job's own spec; another provider would run it on its default size.
  const found = target.chosen
    ? instancesFor(target.provider, target.queue, spec, prices, queues, defaults)
    : instancesFor(target.provider, target.queue, {}, prices, queues, defaults);
  const instances = price(found.groups, prices);
  const billedSec = billedSeconds(spec.estimated_runtime_sec, prices.billing);
  const missing = instances.find((g) => g.hourly === null);
  return {
    ...target,
    instances,
    billedSec,
    estimatedCost: costOf(instances, billedSec),
    basis: found.basis,
    ...(missing && { missingPrice: `${target.provider}/${missing.instanceType}` }),
  };
}

/**
 * Estimated cost of each place the job could run: the decision's own target and every routing
 * target of this deployment (actor and spark workers, the ml-jobs and batch-jobs providers), so a
 * reader sees what the choice costs against the alternatives.
 */
export function estimateCosts(
  table: PriceTable,
  decision: Pick<RoutingDecision, 'queue' | 'provider'>,
  spec: JobSpec,
  routing: { queues: RoutingQueues; mlProvider: string; batchProvider: string },
  defaults: DefaultSizes = {},
): CostEstimates {
  const q = routing.queues;
  const targets = [
    { queue: decision.queue, provider: decision.provider },
    { queue: q.actor, provider: WORKER_PROVIDER },
    { queue: q.spark, provider: WORKER_PROVIDER },
    { queue: q.ml, provider: routing.mlProvider },
    { queue: q.batch, provider: routing.batchProvider },
  ];
  const seen = new Set<string>();
  const candidates: CandidateCost[] = [];
  for (const t of targets) {
    const key = `${t.queue}|${t.provider}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const chosen = candidates.length === 0;
    candidates.push(estimateCandidate(table, { ...t, chosen }, spec, q, defaults));
  }
  return {
    currency: table.currency,
    runtimeSec: spec.estimated_runtime_sec,
    priceTableAsOf: table.asOf,
    chosen: candidates[0]!.estimatedCost,
    candidates,
  };
}

/** Seconds between two ISO times, or undefined when either is missing or they are out of order. */
function between(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/**
 * The actual cost of a finished job: billed runtime × instances × price. Billed runtime comes from
 * the provider when it reports one (its billable seconds, else its own start and end times), else
 * from the orchestrator's record (started → finished), rounded by the provider's billing rule. A
 * job that never started costs nothing.
 */
export function actualCost(
  table: PriceTable,
  job: Pick<JobRecord, 'spec' | 'provider' | 'queue' | 'decision' | 'startedAt' | 'finishedAt'> & {
    readonly billing?: ProviderBilling;
    readonly decision?: RoutingDecision & { readonly costEstimates?: CostEstimates };
  },
  queues: RoutingQueues,
  defaults: DefaultSizes = {},
): JobCost {
  const provider = job.provider ?? job.decision?.provider ?? 'local';
  const prices = pricesOf(table, provider);
  const found = instancesFor(provider, job.queue, job.spec, prices, queues, defaults);
  const instances = price(found.groups, prices);
  let basis: BillingBasis;
  let runtimeSec: number;
  const fromProvider = between(job.billing?.startedAt, job.billing?.endedAt);
  if (job.billing?.billableSec !== undefined && job.billing.billableSec >= 0) {
    basis = 'provider-billable';
    runtimeSec = job.billing.billableSec;
  } else if (fromProvider !== undefined) {
    basis = 'provider-times';
    runtimeSec = fromProvider;
  } else {
    const ours = between(job.startedAt, job.finishedAt);
    basis = ours === undefined ? 'not-started' : 'orchestrator-times';
    runtimeSec = ours ?? 0;
  }
  const billedSec = basis === 'provider-billable' ? Math.ceil(runtimeSec) : billedSeconds(runtimeSec, prices.billing);
  const missing = instances.find((g) => g.hourly === null);
  return {
    currency: table.currency,
    actual: billedSec === 0 ? 0 : costOf(instances, billedSec),
    estimated: job.decision?.costEstimates?.chosen ?? null,
    runtimeSec: Math.round(runtimeSec * 1000) / 1000,
    billedSec,
    instances,
    basis,
    ...(missing && billedSec > 0 && { missingPrice: `${provider}/${missing.instanceType}` }),
    priceTableAsOf: table.asOf,
  };
}

// ---------------------------------------------------------------------------------------------
// Budgets

export const BUDGET_PERIODS = ['day', 'month'] as const;
export const BUDGET_MODES = ['refuse', 'wait'] as const;
const labelSelector = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}=[^=]{0,128}$/, 'a label selector key=value, e.g. team=forecasting');

export const BudgetSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, "_", "." and "-"'),
  /** The label the budget covers: jobs carrying it count against it and are held by it. */
  label: labelSelector,
  /** In the price table's currency. */
  limit: z.number().finite().nonnegative(),
  period: z.enum(BUDGET_PERIODS).default('month'),
  /** `refuse`: a submission over budget gets 402; `wait`: it is accepted and held until the period has room. */
  mode: z.enum(BUDGET_MODES).default('refuse'),
});
export type Budget = z.infer<typeof BudgetSchema>;

export const BudgetsSchema = z
  .array(BudgetSchema)
  .max(100)
  .refine((b) => new Set(b.map((x) => x.name)).size === b.length, 'budget names must be unique');

/** `key=value` → its parts. */
export function parseLabelSelector(selector: string): { key: string; value: string } {
  const at = selector.indexOf('=');
  return { key: selector.slice(0, at), value: selector.slice(at + 1) };
}

export function budgetCovers(budget: Budget, labels: Readonly<Record<string, string>>): boolean {
  const { key, value } = parseLabelSelector(budget.label);
  return labels[key] === value;
}

/** Start of the budget period containing `now` (UTC day or calendar month). */
export function periodStart(period: Budget['period'], now: Date): Date {
  return period === 'day'
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** Start of the next period: when a waiting job has room again at the latest. */
export function nextPeriodStart(period: Budget['period'], now: Date): Date {
  return period === 'day'
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/** A budget a submission would overrun: spent so far this period + the job's estimate > limit. */
export interface BudgetBreach {
  readonly budget: Budget;
  readonly spent: number;
  readonly estimate: number;
  readonly periodStart: string;
}

/**
 * Whether a job estimated at `estimate` fits a budget that has `spent` this period. A job of
 * unknown price (null estimate) counts as 0: it is not held for a price the table lacks, and its
 * actual cost still lands in the ledger.
 */
export function overBudget(budget: Budget, spent: number, estimate: number | null): boolean {
  return roundMoney(spent + (estimate ?? 0)) > budget.limit;
}
