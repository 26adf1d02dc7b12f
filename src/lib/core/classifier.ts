import type { ClassifierWeights, JobSpec, RoutingDecision, RoutingRule } from './job.js';

/**
 * Two documented weightings. `readme` is the specification (the original orchestrator's README) and
 * the default; `reference` is what its published code computed, under which the README's third example
 * ("5 000 000 rows, 100 s → ml-jobs") holds. See README › Classification.
 */
export const CLASSIFIER_PRESETS = {
  readme: {
    perRow: 1 / 1_000_000,
    perSecond: 1 / 10,
    highPriorityFactor: 1.5,
    lowPriorityFactor: 1,
    sparkThreshold: 10,
    mlThreshold: 4,
  },
  reference: {
    perRow: 1 / 1_000_000,
    perSecond: 1 / 60,
    highPriorityFactor: 2,
    lowPriorityFactor: 1,
    sparkThreshold: 10,
    mlThreshold: 4,
  },
} as const satisfies Record<string, ClassifierWeights>;
export type ClassifierPreset = keyof typeof CLASSIFIER_PRESETS;

/** The queues a job can be routed to, by role. Names are settings. */
export interface RoutingQueues {
  readonly actor: string;
  readonly spark: string;
  readonly ml: string;
  readonly batch: string;
}

export interface ClassifierConfig {
  readonly preset: string;
  readonly weights: ClassifierWeights;
  readonly queues: RoutingQueues;
  /** Provider that runs `ml-jobs` / `batch-jobs` in this deployment. */
  readonly mlProvider: string;
  readonly batchProvider: string;
  /** Providers this deployment knows by name (targets may name any of them). */
  readonly providers: readonly string[];
}

/** Provider name recorded for jobs the KEDA-scaled workers run. */
export const WORKER_PROVIDER = 'worker';

/** Cost under the given weights, rounded to 1e-9 so `4 000 000 rows` is exactly 4 and not 4.000000000000001. */
export function jobCost(
  spec: Pick<JobSpec, 'rows' | 'estimated_runtime_sec' | 'priority'>,
  w: ClassifierWeights,
): number {
  const base = spec.rows * w.perRow + spec.estimated_runtime_sec * w.perSecond;
  const factor = spec.priority === 'high' ? w.highPriorityFactor : spec.priority === 'low' ? w.lowPriorityFactor : 1;
  return Math.round(base * factor * 1e9) / 1e9;
}

/**
 * Decides where a job runs. Pure: same spec and config, same decision.
 *
 * Order (the README's): an explicit `target` wins; then latency-sensitive → actor; then
 * cost > spark threshold → spark; cost > ml threshold → ml; otherwise batch.
 * Returns `undefined` for a `target` that names neither a queue nor a provider (the caller reports
 * it as a validation error on `target`).
 */
export function classifyJob(
  spec: JobSpec,
  config: ClassifierConfig,
  now: Date = new Date(),
): RoutingDecision | undefined {
  const { weights: w, queues: q } = config;
  const cost = jobCost(spec, w);
  const byCost = (): { rule: RoutingRule; queue: string } => {
    if (spec.latency_sensitive) return { rule: 'latency-sensitive', queue: q.actor };
    if (cost > w.sparkThreshold) return { rule: 'cost-above-spark', queue: q.spark };
    if (cost > w.mlThreshold) return { rule: 'cost-above-ml', queue: q.ml };
    return { rule: 'default', queue: q.batch };
  };
  const providerFor = (queue: string): string =>
    queue === q.ml ? config.mlProvider : queue === q.batch ? config.batchProvider : WORKER_PROVIDER;

  let rule: RoutingRule;
  let queue: string;
  let provider: string;
  const target = spec.target;
  if (target !== undefined && Object.values(q).includes(target)) {
    rule = 'target-queue';
    queue = target;
    provider = providerFor(queue);
  } else if (target !== undefined && config.providers.includes(target)) {
    rule = 'target-provider';
    // A provider runs jobs from a dispatch queue: keep the cost class when it is one, else use ml-jobs.
    const natural = byCost().queue;
    queue = natural === q.ml || natural === q.batch ? natural : q.ml;
    provider = target;
  } else if (target !== undefined) {
    return undefined;
  } else {
    ({ rule, queue } = byCost());
    provider = providerFor(queue);
  }

  return {
    preset: config.preset,
    inputs: {
      rows: spec.rows,
      estimated_runtime_sec: spec.estimated_runtime_sec,
      priority: spec.priority,
      latency_sensitive: spec.latency_sensitive,
      ...(target !== undefined && { target }),
    },
    weights: w,
    cost,
    rule,
    queue,
    provider,
    explanation: explain(rule, cost, w, spec, queue, provider),
    decidedAt: now.toISOString(),
  };
}

function explain(
  rule: RoutingRule,
  cost: number,
  w: ClassifierWeights,
  spec: JobSpec,
  queue: string,
  provider: string,
): string {
  const factor =
    spec.priority === 'high'
      ? ` × ${w.highPriorityFactor} (high priority)`
      : spec.priority === 'low' && w.lowPriorityFactor !== 1
        ? ` × ${w.lowPriorityFactor} (low priority)`
        : '';
  const sum = `${spec.rows} rows × ${w.perRow} + ${spec.estimated_runtime_sec} s × ${w.perSecond}`;
  const formula = `cost = ${factor ? `(${sum})${factor}` : sum} = ${cost}`;
  switch (rule) {
    case 'target-queue':
      return `target '${spec.target}' forces queue ${queue} (provider ${provider}); ${formula}`;
    case 'target-provider':
      return `target '${spec.target}' forces provider ${provider} via ${queue}; ${formula}`;
    case 'latency-sensitive':
      return `latency_sensitive is true → ${queue}, whatever the cost; ${formula}`;
    case 'cost-above-spark':
      return `${formula} > ${w.sparkThreshold} → ${queue}`;
    case 'cost-above-ml':
      return `${formula} > ${w.mlThreshold} and ≤ ${w.sparkThreshold} → ${queue} (provider ${provider})`;
    case 'default':
      return `${formula} ≤ ${w.mlThreshold} → ${queue} (provider ${provider})`;
    default: {
      const unreachable: never = rule;
      return unreachable;
    }
  }
}
