import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { MetricReader } from '@opentelemetry/sdk-metrics';

/**
 * Starts the OpenTelemetry SDK for this process (idempotent). Loaded lazily: the entry module
 * never imports it, and the SDK packages load only when telemetry is switched on.
 *
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING` set: `@azure/monitor-opentelemetry` (traces, metrics and
 *   logs to Application Insights), with an Entra ID token of the managed identity when
 *   `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` says `Authorization=AAD` (local auth is disabled).
 * - else `OTEL_EXPORTER_OTLP_ENDPOINT` (or the per-signal `..._TRACES_ENDPOINT` /
 *   `..._METRICS_ENDPOINT`) set: OTLP/HTTP exporters to that collector, headers from
 *   `OTEL_EXPORTER_OTLP_HEADERS`.
 * - else: no exporter; only the context manager and W3C propagator, so `job.id` and trace ids still
 *   flow from a queue message into the log lines of its handler.
 */
export interface TelemetryOptions {
  /** Who is speaking: `api`, `worker`, `local`. Becomes `service.name` unless OTEL_SERVICE_NAME is set. */
  readonly role: string;
  /** Test seam: span processors / exporters and metric readers to use instead of the configured ones. */
  readonly spanExporter?: SpanExporter;
  readonly spanProcessors?: SpanProcessor[];
  readonly metricReaders?: MetricReader[];
}

export type TelemetryMode = 'azure-monitor' | 'otlp' | 'context-only' | 'test';

interface Started {
  readonly mode: TelemetryMode;
  shutdown(): Promise<void>;
  flush(): Promise<void>;
}

let started: Promise<Started> | undefined;

type Env = Readonly<Record<string, string | undefined>>;

/** Which exporter the settings ask for. Pure, for tests and the startup log line. */
export function telemetryMode(env: Env): Exclude<TelemetryMode, 'test'> {
  if (env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) return 'azure-monitor';
  if (
    env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() ||
    env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim()
  )
    return 'otlp';
  return 'context-only';
}

/** `k=v,k2=v2` (values URL-encoded, as the OTel spec has it) as a header map. */
export function parseOtlpHeaders(value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    const key = pair.slice(0, i).trim();
    const raw = pair.slice(i + 1).trim();
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      // keep it as written
    }
    if (key) headers[key] = decoded;
  }
  return headers;
}

/** Signal URL per the OTel spec: the per-signal endpoint as is, else `<endpoint>/v1/<signal>`. */
export function otlpUrl(env: Env, signal: 'traces' | 'metrics'): string | undefined {
  const specific =
    signal === 'traces' ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT : env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
  if (specific?.trim()) return specific.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/${signal}` : undefined;
}

/** The client id of `ClientId=…;Authorization=AAD`, or `true` for AAD without one; `false` when not AAD. */
export function entraAuthOf(value: string | undefined): string | boolean {
  const parts = new Map(
    (value ?? '')
      .split(';')
      .map((p) => p.split('=').map((s) => s.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== '')
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') return false;
  return parts.get('clientid') || true;
}

export function startTelemetry(env: Env, options: TelemetryOptions): Promise<Started> {
  started ??= start(env, options).catch((error: unknown) => {
    started = undefined;
    throw error;
  });
  return started;
}

/** Flushes and stops the SDK (hosts call it on shutdown; tests between suites). */
export async function stopTelemetry(): Promise<void> {
  const s = started;
  started = undefined;
  if (s) await (await s).shutdown();
}

/** Exports what is buffered now (a test reads its in-memory exporter after this). */
export async function flushTelemetry(): Promise<void> {
  if (started) await (await started).flush();
}

async function start(env: Env, options: TelemetryOptions): Promise<Started> {
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || `cloud-job-orchestrator-${options.role}`;
  const testing = options.spanExporter || options.spanProcessors || options.metricReaders;
  const mode: TelemetryMode = testing ? 'test' : telemetryMode(env);

  if (mode === 'azure-monitor') {
    const { useAzureMonitor, shutdownAzureMonitor } = await import('@azure/monitor-opentelemetry');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    const aad = entraAuthOf(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING);
    let credential: import('@azure/identity').ManagedIdentityCredential | undefined;
    if (aad !== false) {
      const { ManagedIdentityCredential } = await import('@azure/identity');
      credential =
        typeof aad === 'string' ? new ManagedIdentityCredential({ clientId: aad }) : new ManagedIdentityCredential();
    }
    useAzureMonitor({
      azureMonitorExporterOptions: {
        connectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING!.trim(),
        ...(credential && { credential }),
      },
      resource: resourceFromAttributes({ 'service.name': serviceName }),
    });
    const { metrics, trace } = await import('@opentelemetry/api');
    return {
      mode,
      shutdown: () => shutdownAzureMonitor(),
      flush: async () => {
        await forceFlush(trace.getTracerProvider());
        await forceFlush(metrics.getMeterProvider());
      },
    };
  }

  const [{ NodeTracerProvider }, { BatchSpanProcessor, SimpleSpanProcessor }, { resourceFromAttributes }, api] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/api'),
    ]);
  const resource = resourceFromAttributes({ 'service.name': serviceName });
  const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.spanExporter) spanProcessors.push(new SimpleSpanProcessor(options.spanExporter));
  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  if (mode === 'otlp') {
    const headers = parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS);
    const tracesUrl = otlpUrl(env, 'traces');
    const metricsUrl = otlpUrl(env, 'metrics');
    if (tracesUrl) {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl, headers })));
    }
    if (metricsUrl) {
      const [{ OTLPMetricExporter }, { PeriodicExportingMetricReader }] = await Promise.all([
        import('@opentelemetry/exporter-metrics-otlp-http'),
        import('@opentelemetry/sdk-metrics'),
      ]);
      readers.push(
        new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: metricsUrl, headers }) }),
      );
    }
  }
  // Even with no exporter the provider is registered: it installs the AsyncLocalStorage context
  // manager and the W3C propagator that carry `job.id` and trace ids through every await.
  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors });
  tracerProvider.register();
  let meterProvider: { forceFlush(): Promise<void>; shutdown(): Promise<void> } | undefined;
  if (readers.length > 0) {
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const provider = new MeterProvider({ resource, readers });
    api.metrics.setGlobalMeterProvider(provider);
    meterProvider = provider;
  }
  return {
    mode,
    flush: async () => {
      await tracerProvider.forceFlush();
      await meterProvider?.forceFlush();
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider?.shutdown();
      // Let a later start (tests) register anew.
      api.trace.disable();
      api.context.disable();
      api.propagation.disable();
      api.metrics.disable();
    },
  };
}

async function forceFlush(provider: unknown): Promise<void> {
  const p = provider as { forceFlush?: () => Promise<void>; getDelegate?: () => unknown };
  const target = (p.getDelegate?.() ?? p) as { forceFlush?: () => Promise<void> };
  await target.forceFlush?.();
}
