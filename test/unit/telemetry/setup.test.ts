import { describe, expect, it } from 'vitest';
import { entraAuthOf, otlpUrl, parseOtlpHeaders, telemetryMode } from '../../../src/lib/telemetry/setup.js';

describe('telemetry settings', () => {
  it('picks Application Insights over OTLP, OTLP over nothing', () => {
    expect(
      telemetryMode({
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      }),
    ).toBe('azure-monitor');
    expect(telemetryMode({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe('otlp');
    expect(telemetryMode({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe('otlp');
    expect(telemetryMode({ APPLICATIONINSIGHTS_CONNECTION_STRING: '  ', OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(
      'context-only',
    );
  });

  it('builds per-signal URLs the way the OTel spec does', () => {
    expect(otlpUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' }, 'traces')).toBe(
      'http://127.0.0.1:4318/v1/traces',
    );
    expect(
      otlpUrl(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:9/m',
        },
        'metrics',
      ),
    ).toBe('http://127.0.0.1:9/m');
    expect(otlpUrl({}, 'traces')).toBeUndefined();
  });

  it('parses OTLP headers, decoding values and skipping malformed pairs', () => {
    expect(parseOtlpHeaders('api-key=a%20b, x=1,broken,=v,y=%E0%A4%A')).toEqual({
      'api-key': 'a b',
      x: '1',
      y: '%E0%A4%A',
    });
    expect(parseOtlpHeaders(undefined)).toEqual({});
  });

  it('reads Entra ID auth from the authentication string', () => {
    expect(entraAuthOf('ClientId=1234;Authorization=AAD')).toBe('1234');
    expect(entraAuthOf('Authorization=aad')).toBe(true);
    expect(entraAuthOf('')).toBe(false);
    expect(entraAuthOf('ClientId=1234')).toBe(false);
  });
});
