import { describe, expect, it } from 'vitest';
import { cancelJob } from '../../../src/lib/app/cancel-job.js';
import { judgeCloudJob } from '../../../src/lib/app/reap-orphans.js';
import { resendUnconfirmedCancels } from '../../../src/lib/app/reconcile.js';
import { newJobId } from '../../../src/lib/core/ids.js';
import { parseRunKey, runKey, type JobRecord } from '../../../src/lib/core/job.js';
import { ProviderThrottledError } from '../../../src/lib/errors.js';
import type { OwnedCloudJob } from '../../../src/lib/ports/provider.js';
import { parseReaperSettings } from '../../../src/lib/reaper-settings.js';
import { appHarness } from '../../support/app-deps.js';
import { makeJob } from '../../support/jobs.js';

const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const GRACE = 600_000;
const old = new Date(NOW - GRACE - 1).toISOString();

function cloud(over: Partial<OwnedCloudJob> = {}): OwnedCloudJob {
  return { providerId: 'run-1', jobId: 'j-x', attempt: 1, nativeStatus: 'Running', createdAt: old, ...over };
}

function record(status: JobRecord['status'], attempts: number, provider = 'p'): JobRecord {
  return makeJob({ id: 'j-x', status, attempts, provider });
}

describe('judgeCloudJob', () => {
  it('leaves a run younger than the grace age, or of unknown age, alone whatever the record says', () => {
    const young = new Date(NOW - GRACE + 1000).toISOString();
    expect(judgeCloudJob('p', cloud({ createdAt: young }), undefined, NOW, GRACE)).toEqual({
      orphan: false,
      why: 'young',
    });
    expect(judgeCloudJob('p', cloud({ createdAt: undefined }), undefined, NOW, GRACE).orphan).toBe(false);
  });

  it('calls a run an orphan when its record is gone, or it names no job (no owner to note)', () => {
    const gone = judgeCloudJob('p', cloud(), undefined, NOW, GRACE);
    expect(gone).toMatchObject({ orphan: true, reason: expect.stringMatching(/does not exist/) });
    expect('owner' in gone && gone.owner).toBeFalsy();
    expect(judgeCloudJob('p', cloud({ jobId: undefined }), undefined, NOW, GRACE).orphan).toBe(true);
  });

  it('calls a run of a finished job an orphan, with the job as its owner', () => {
    for (const status of ['succeeded', 'failed', 'cancelled'] as const) {
      const verdict = judgeCloudJob('p', cloud(), record(status, 1), NOW, GRACE);
      expect(verdict).toMatchObject({ orphan: true, owner: { id: 'j-x' } });
    }
  });

  it('never calls the current attempt of an active job of this provider an orphan', () => {
    for (const status of ['dispatched', 'running', 'cancelling'] as const) {
      expect(judgeCloudJob('p', cloud({ attempt: 2 }), record(status, 2), NOW, GRACE)).toEqual({
        orphan: false,
        why: 'owned',
      });
    }
    // Attempt unknown (a name that does not say): never stopped while the job is active.
    expect(judgeCloudJob('p', cloud({ attempt: undefined }), record('running', 3), NOW, GRACE).orphan).toBe(false);
  });

  it('keeps the attempt a queued job is dispatching (a dispatch died after create), and stops earlier ones', () => {
    expect(judgeCloudJob('p', cloud({ attempt: 1 }), record('queued', 0), NOW, GRACE).orphan).toBe(false);
    expect(judgeCloudJob('p', cloud({ attempt: 2 }), record('queued', 1), NOW, GRACE).orphan).toBe(false);
    expect(judgeCloudJob('p', cloud({ attempt: 1 }), record('queued', 1), NOW, GRACE)).toMatchObject({
      orphan: true,
      owner: { id: 'j-x' },
    });
  });

  it('stops a stale attempt, and a run of a job that now runs at another provider', () => {
    expect(judgeCloudJob('p', cloud({ attempt: 1 }), record('running', 2), NOW, GRACE).orphan).toBe(true);
    expect(judgeCloudJob('p', cloud({ attempt: 1 }), record('running', 1, 'other'), NOW, GRACE)).toMatchObject({
      orphan: true,
      reason: expect.stringMatching(/now runs at other/),
    });
  });
});

describe('parseRunKey', () => {
  it('reads back what runKey wrote, and nothing else', () => {
    const id = newJobId();
    expect(parseRunKey(runKey({ id, attempts: 1 }))).toEqual({ jobId: id, attempt: 1 });
    expect(parseRunKey(runKey({ id, attempts: 7 }))).toEqual({ jobId: id, attempt: 7 });
    for (const bad of [`${id}-a1`, `${id}-a0`, `${id}-x`, 'j-short', '', `${id.toUpperCase()}`])
      expect(parseRunKey(bad)).toBeUndefined();
  });
});

describe('resendUnconfirmedCancels', () => {
  it('re-sends an unconfirmed stop after the timeout, CANCEL_MAX_RESENDS times, then says it gave up, once', async () => {
    const h = appHarness();
    const settings = parseReaperSettings({ CANCEL_CONFIRM_TIMEOUT_SEC: '120', CANCEL_MAX_RESENDS: '2' });
    const job = await h.seed('running');
    h.provider.setRun(job, { status: 'running' });
    h.provider.failNext('cancel', new ProviderThrottledError('scripted', 30_000));
    await cancelJob(h.deps, job.id);
    expect(h.provider.calls.cancel).toHaveLength(1);

    h.advance(119);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(0);
    h.advance(2);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(1);
    // The timeout counts from the last re-send, not from the first request.
    h.advance(60);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(0);
    h.advance(61);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(1);
    h.advance(121);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(0);
    h.advance(1000);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(0);

    expect(h.provider.calls.cancel).toHaveLength(3);
    const reasons = (await h.store.events(job.id)).map((e) => e.reason);
    expect(reasons.filter((r) => /re-sent \(\d of 2\)/.test(r))).toHaveLength(2);
    expect(reasons.filter((r) => /no more re-sends/.test(r))).toHaveLength(1);
    expect((await h.store.get(job.id))?.status).toBe('cancelling');
  });

  it('leaves worker jobs and jobs no longer cancelling alone', async () => {
    const h = appHarness();
    const settings = parseReaperSettings({ CANCEL_CONFIRM_TIMEOUT_SEC: '60' });
    await h.seed('cancelling', { provider: 'worker', queue: h.deps.config.queues.actor });
    await h.seed('running');
    h.advance(3600);
    expect(await resendUnconfirmedCancels(h.deps, settings)).toBe(0);
    expect(h.provider.calls.cancel).toEqual([]);
  });
});
