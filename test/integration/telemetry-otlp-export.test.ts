import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instruments } from '../../src/lib/telemetry/metrics.js';
import { flushTelemetry, startTelemetry, stopTelemetry } from '../../src/lib/telemetry/setup.js';
import { inSpan } from '../../src/lib/telemetry/trace.js';

describe('OTLP export to a collector', () => {
  let server: Server;
  const received: Array<{ path: string; headers: IncomingHttpHeaders; bytes: number }> = [];
  let endpoint = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await stopTelemetry();
  });
  afterAll(async () => {
    await stopTelemetry();
    await new Promise((r) => server.close(r));
  });

  it('sends spans and metrics over OTLP/HTTP to the configured loopback collector, with its headers', async () => {
    const started = await startTelemetry(
      { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret' },
      { role: 'test' },
    );
    expect(started.mode).toBe('otlp');
    await inSpan('exported', { jobId: 'j-otlp' }, async () => undefined);
    instruments().transitions.add(1, { from: 'queued', to: 'dispatched' });
    await flushTelemetry();
    const traces = received.find((r) => r.path === '/v1/traces');
    const metrics = received.find((r) => r.path === '/v1/metrics');
    expect(traces?.bytes).toBeGreaterThan(0);
    expect(traces?.headers['x-api-key']).toBe('secret');
    expect(metrics?.bytes).toBeGreaterThan(0);
  });
});
