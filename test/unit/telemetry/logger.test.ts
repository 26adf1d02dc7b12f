import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, parseLogLevel, type LogLevel } from '../../../src/lib/telemetry/logger.js';
import { inSpan, withJob } from '../../../src/lib/telemetry/trace.js';
import { startTestTelemetry, type TestTelemetry } from '../../support/telemetry.js';

function capture(level?: LogLevel) {
  const lines: Array<{ level: LogLevel; line: Record<string, unknown> }> = [];
  const log = createLogger({
    ...(level && { level }),
    sink: (l, text) => lines.push({ level: l, line: JSON.parse(text) as Record<string, unknown> }),
  });
  return { log, lines };
}

describe('createLogger', () => {
  let t: TestTelemetry;
  beforeAll(async () => {
    t = await startTestTelemetry();
  });
  afterAll(async () => t?.stop());

  it('drops lines below its level and keeps the rest', () => {
    const { log, lines } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => l.line.msg)).toEqual(['w', 'e']);
    expect(lines.map((l) => l.level)).toEqual(['warn', 'error']);
  });

  it('reads LOG_LEVEL leniently: unknown or empty means info', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel(' error ')).toBe('error');
    expect(parseLogLevel('verbose')).toBe('info');
    expect(parseLogLevel(undefined)).toBe('info');
  });

  it('writes job.id from the jobId field, in place of it', () => {
    const { log, lines } = capture();
    log.info('dispatched', { jobId: 'j-a', provider: 'local' });
    expect(lines[0]!.line).toMatchObject({ level: 'info', msg: 'dispatched', 'job.id': 'j-a', provider: 'local' });
    expect(lines[0]!.line).not.toHaveProperty('jobId');
    expect(Date.parse(lines[0]!.line.time as string)).not.toBeNaN();
  });

  it('takes job.id, trace id and span id from the active job and span', async () => {
    const { log, lines } = capture();
    let ids!: { traceId: string; spanId: string };
    await inSpan('work', {}, async (span) => {
      ids = span.spanContext();
      withJob('j-b', () => log.warn('slow provider'));
    });
    expect(lines[0]!.line).toMatchObject({ 'job.id': 'j-b', trace_id: ids.traceId, span_id: ids.spanId });
  });

  it('prints no trace fields outside a span and serialises errors without their stack', () => {
    const { log, lines } = capture();
    log.error('failed', { error: new TypeError('bad input'), n: 10n });
    expect(lines[0]!.line).not.toHaveProperty('trace_id');
    expect(lines[0]!.line.error).toEqual({ name: 'TypeError', message: 'bad input' });
    expect(lines[0]!.line.n).toBe('10');
  });

  it('still prints a line when a field cannot be serialised', () => {
    const { log, lines } = capture();
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    log.info('odd', { jobId: 'j-c', loop });
    expect(lines[0]!.line).toMatchObject({ msg: 'odd', 'job.id': 'j-c' });
  });
});
