import type { SettingInfo } from '../config.js';

/** Settings of logs, traces and metrics (see src/lib/telemetry/setup.ts). */
export const TELEMETRY_SETTINGS = [
  {
    name: 'LOG_LEVEL',
    scope: ['app', 'worker', 'local'],
    default: 'info',
    description:
      'Lowest level the one logger prints: debug, info, warn or error. Every line is JSON with job.id and the trace and span ids.',
  },
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    scope: ['app', 'worker'],
    description:
      'Application Insights connection string. Set: traces, metrics and logs go there through @azure/monitor-opentelemetry (and the Functions host sends its own with telemetryMode OpenTelemetry). Takes precedence over OTEL_EXPORTER_OTLP_ENDPOINT.',
  },
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    scope: ['app', 'worker'],
    description:
      'ClientId=<managed identity client id>;Authorization=AAD: telemetry is sent with an Entra ID token of that identity (local auth is disabled on the component).',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    scope: ['local'],
    description:
      'Base URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318); traces go to <url>/v1/traces, metrics to <url>/v1/metrics. Read by the app and the workers too wherever set (AKS, a VM). Unset (and no Application Insights): nothing is exported; logs still carry trace ids.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    scope: ['local'],
    description: 'Full OTLP/HTTP URL for traces only, overriding OTEL_EXPORTER_OTLP_ENDPOINT for them.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    scope: ['local'],
    description: 'Full OTLP/HTTP URL for metrics only, overriding OTEL_EXPORTER_OTLP_ENDPOINT for them.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    scope: ['local'],
    description:
      'Headers sent with every OTLP export, as k=v pairs separated by commas (values URL-encoded), e.g. an API key of a hosted collector.',
    secret: true,
  },
  {
    name: 'OTEL_SERVICE_NAME',
    scope: ['local'],
    description:
      'service.name of the exported telemetry; default cloud-job-orchestrator-<api|local|worker-actor|worker-spark>.',
  },
] as const satisfies readonly SettingInfo[];
