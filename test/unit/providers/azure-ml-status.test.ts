import { describe, expect, it } from 'vitest';
import { AZURE_ML_STATUSES, mapAzureMlStatus } from '../../../src/lib/providers/azure-ml/status.js';

describe('mapAzureMlStatus', () => {
  it.each([
    ['NotStarted', 'dispatched'],
    ['Starting', 'dispatched'],
    ['Provisioning', 'dispatched'],
    ['Preparing', 'dispatched'],
    ['Queued', 'dispatched'],
    ['Running', 'running'],
    ['Finalizing', 'running'],
    ['CancelRequested', 'cancelling'],
    ['Completed', 'succeeded'],
    ['Failed', 'failed'],
    ['Canceled', 'cancelled'],
  ] as const)('maps %s to %s', (native, ours) => {
    expect(mapAzureMlStatus(native)).toEqual({ kind: 'status', status: ours });
  });

  it.each(['NotResponding', 'Paused', 'Unknown'])('holds %s with a note rather than guessing', (native) => {
    const mapped = mapAzureMlStatus(native);
    expect(mapped.kind).toBe('hold');
    expect(mapped.kind === 'hold' && mapped.note).toContain(native);
  });

  it('covers every documented status', () => {
    expect(AZURE_ML_STATUSES).toHaveLength(14);
    for (const s of AZURE_ML_STATUSES) expect(() => mapAzureMlStatus(s)).not.toThrow();
  });

  it('never maps a cancellation to success', () => {
    for (const s of ['Canceled', 'CancelRequested']) {
      const mapped = mapAzureMlStatus(s);
      expect(mapped.kind === 'status' && mapped.status).not.toBe('succeeded');
    }
  });

  it('holds a status invented after this api-version, naming it', () => {
    expect(mapAzureMlStatus('Hibernating')).toEqual({
      kind: 'hold',
      note: "Azure ML reports a status this api-version does not know: 'Hibernating'",
    });
    expect(mapAzureMlStatus(undefined).kind).toBe('hold');
  });
});
