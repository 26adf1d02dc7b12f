import {
  context,
  createContextKey,
  metrics,
  type Counter,
  type Histogram,
  type MeterProvider,
} from '@opentelemetry/api';
import type { JobRecord, JobStatus } from '../core/job.js';
import { TRACER_NAME } from './trace.js';

/**
 * The orchestrator's metrics, on the global OTel meter (a no-op until an SDK registers one).
 * Instruments are created per meter provider: the API hands out no-op instruments before an SDK is
 * registered, so caching them at module load would keep them no-op for good.
 */
export interface JobInstruments {
  /** `cjo.job.transitions` {from, to}: jobs entering each state (jobs by state, as a rate). */
  readonly transitions: Counter;
  /** `cjo.job.queued.duration` (s) {queue}: time from entering `queued` to leaving it. */
  readonly queuedSeconds: Histogram;
  /** `cjo.job.dispatched.duration` (s) {provider}: time from `dispatched` to `running` (or an end). */
  readonly dispatchedSeconds: Histogram;
  /** `cjo.job.run.duration` (s) {provider, outcome}: time from start to the end of a run. */
  readonly runSeconds: Histogram;
  /** `cjo.provider.calls` {provider, operation, outcome, throttled}: every provider port call. */
  readonly providerCalls: Counter;
  /** `cjo.poll.provider_calls` {provider}: provider calls made by one poll cycle. */
  readonly pollCycleCalls: Histogram;
  /** `cjo.poll.throttles` {provider}: throttled provider calls in one poll cycle. */
  readonly pollCycleThrottles: Histogram;
  /** `cjo.dead_letters` {queue, reason}: messages handled from a poison / dead-letter queue. */
  readonly deadLetters: Counter;
}

let cached: { provider: MeterProvider; instruments: JobInstruments } | undefined;

export function instruments(): JobInstruments {
  const provider = metrics.getMeterProvider();
  if (cached?.provider === provider) return cached.instruments;
  const meter = provider.getMeter(TRACER_NAME);
  const instruments: JobInstruments = {
    transitions: meter.createCounter('cjo.job.transitions', { description: 'Jobs entering a state.' }),
    queuedSeconds: meter.createHistogram('cjo.job.queued.duration', {
      unit: 's',
      description: 'Time a job spent queued.',
    }),
    dispatchedSeconds: meter.createHistogram('cjo.job.dispatched.duration', {
      unit: 's',
      description: 'Time a job spent dispatched before it ran or ended.',
    }),
    runSeconds: meter.createHistogram('cjo.job.run.duration', {
      unit: 's',
      description: 'Run time of a job by provider.',
    }),
    providerCalls: meter.createCounter('cjo.provider.calls', { description: 'Provider API calls (port level).' }),
    pollCycleCalls: meter.createHistogram('cjo.poll.provider_calls', {
      description: 'Provider API calls per poll cycle.',
    }),
    pollCycleThrottles: meter.createHistogram('cjo.poll.throttles', {
      description: 'Throttled provider API calls per poll cycle.',
    }),
    deadLetters: meter.createCounter('cjo.dead_letters', {
      description: 'Messages handled from a dead-letter / poison queue.',
    }),
  };
  cached = { provider, instruments };
  return instruments;
}

const seconds = (fromIso: string | undefined, toIso: string | undefined): number | undefined => {
  if (!fromIso || !toIso) return undefined;
  const d = (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
  return Number.isFinite(d) && d >= 0 ? d : undefined;
};

/**
 * Records a committed state change of a job: the transition, and the time spent in the state it
 * left (`queued`, `dispatched`, or the run when it ended). `at` is the change's own time.
 */
export function recordTransition(before: JobRecord, after: JobRecord, at: string): void {
  if (before.status === after.status) return;
  const m = instruments();
  m.transitions.add(1, { from: before.status, to: after.status });
  const provider = after.provider ?? before.provider ?? 'unknown';
  if (before.status === 'queued') {
    // Entered `queued` at the last transition into it: the classifier's decision, or a re-dispatch.
    const since = before.queuedAt ?? before.decision?.decidedAt;
    const d = seconds(since, at);
    if (d !== undefined) m.queuedSeconds.record(d, { queue: before.queue ?? 'unknown' });
  }
  if (before.status === 'dispatched') {
    const d = seconds(before.dispatchedAt, at);
    if (d !== undefined) m.dispatchedSeconds.record(d, { provider });
  }
  if (isEnd(after.status) && before.status !== 'submitted' && before.status !== 'queued') {
    const d = seconds(before.startedAt ?? before.dispatchedAt, at);
    if (d !== undefined) m.runSeconds.record(d, { provider, outcome: after.status });
  }
}

const isEnd = (s: JobStatus) => s === 'succeeded' || s === 'failed' || s === 'cancelled';

/** Provider calls and throttles counted for the poll cycle in whose context they happen. */
export interface PollCycleCount {
  calls: number;
  throttles: number;
}
const POLL_CYCLE_KEY = createContextKey('cjo.poll.cycle');

/** Runs `fn` as one poll cycle of `provider` and records how many provider calls (and throttles) it made. */
export async function countingPollCycle<T>(provider: string, fn: () => Promise<T>): Promise<T> {
  const count: PollCycleCount = { calls: 0, throttles: 0 };
  try {
    return await context.with(context.active().setValue(POLL_CYCLE_KEY, count), fn);
  } finally {
    const m = instruments();
    m.pollCycleCalls.record(count.calls, { provider });
    m.pollCycleThrottles.record(count.throttles, { provider });
  }
}

/** Counts one provider call (and adds it to the active poll cycle's count, if any). */
export function recordProviderCall(attrs: {
  provider: string;
  operation: string;
  outcome: 'ok' | 'error';
  throttled: boolean;
}): void {
  instruments().providerCalls.add(1, attrs);
  const cycle = context.active().getValue(POLL_CYCLE_KEY) as PollCycleCount | undefined;
  if (cycle) {
    cycle.calls++;
    if (attrs.throttled) cycle.throttles++;
  }
}
