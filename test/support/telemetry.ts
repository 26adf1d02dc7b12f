import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AggregationTemporality, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { flushTelemetry, startTelemetry, stopTelemetry } from '../../src/lib/telemetry/setup.js';

/** A metric reader the test collects from on demand (cumulative, so totals are easy to read). */
class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface TestTelemetry {
  readonly spans: InMemorySpanExporter;
  /** Every finished span so far (after a flush). */
  finished(): Promise<ReadableSpan[]>;
  /** Sum of a counter's data points whose attributes include `where`. */
  counter(name: string, where?: Record<string, string | number | boolean>): Promise<number>;
  /** Data points of a histogram whose attributes include `where`: count and sum. */
  histogram(name: string, where?: Record<string, string | number | boolean>): Promise<{ count: number; sum: number }>;
  stop(): Promise<void>;
}

/** Starts the SDK in this process with an in-memory span exporter and an on-demand metric reader. */
export async function startTestTelemetry(): Promise<TestTelemetry> {
  await stopTelemetry();
  // A process may be reused across test files: drop whatever an earlier file (a local runner)
  // registered globally, so this file's exporter is the one that receives the spans.
  trace.disable();
  context.disable();
  propagation.disable();
  metrics.disable();
  const spans = new InMemorySpanExporter();
  const reader = new OnDemandReader();
  await startTelemetry({}, { role: 'test', spanExporter: spans, metricReaders: [reader] });
  const points = async (name: string, where: Record<string, unknown>) => {
    const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
    return (metric?.dataPoints ?? []).filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v));
  };
  return {
    spans,
    finished: async () => {
      await flushTelemetry();
      return spans.getFinishedSpans();
    },
    counter: async (name, where = {}) => (await points(name, where)).reduce((n, p) => n + (p.value as number), 0),
    histogram: async (name, where = {}) =>
      (await points(name, where)).reduce(
        (acc, p) => {
          const v = p.value as { count: number; sum?: number };
          return { count: acc.count + v.count, sum: acc.sum + (v.sum ?? 0) };
        },
        { count: 0, sum: 0 },
      ),
    stop: () => stopTelemetry(),
  };
}
