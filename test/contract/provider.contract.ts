import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKey, type JobRecord, type JobStatus } from '../../src/lib/core/job.js';
import {
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../src/lib/errors.js';
import type { JobProvider, PollReport } from '../../src/lib/ports/provider.js';

/** The calls a harness can make the provider's wire fake throttle. */
export type ThrottledCall = 'submit' | 'poll' | 'cancel';

/**
 * One provider wired to its wire fake. Each harness drives the fake the way the real service would
 * behave on its own (a run starts, someone stops it, it disappears); the suite only talks to the
 * provider through the `JobProvider` port.
 */
export interface ProviderHarness {
  /** Starts the fake and builds the provider through its real SDK client. */
  start(): Promise<void>;
  stop(): Promise<void>;
  provider(): JobProvider;
  /** A job the provider accepts, as the dispatch use case hands it over: new id, attempt 1. */
  newJob(): JobRecord;
  /** The name (task id, label) the provider must derive from a run key. */
  derivedName(runKey: string): string;
  /** The names of the cloud runs the fake holds that carry `derivedName(runKey)`. */
  runsNamed(name: string): string[];
  /** The fake's run for the job starts running. */
  startRun(job: JobRecord): Promise<void>;
  /** Someone other than us stops the run (console, CLI, the service's own time limit). */
  stopRunElsewhere(job: JobRecord): Promise<void>;
  /**
   * The service finishes a stop we asked for. `false` when the provider confirms the stop in the
   * call itself (its cancel API ends the run synchronously).
   */
  readonly stopsAsynchronously: boolean;
  confirmStop(job: JobRecord): Promise<void>;
  /** The run disappears from the service; returns the job as our store still holds it. */
  vanish(job: JobRecord): Promise<JobRecord>;
  /** The next call of this kind is throttled past the provider's in-call retries. */
  throttleNext(call: ThrottledCall): void;
}

/** What the poll use case stores after a report: the status and the merged handle. */
function applied(job: JobRecord, report: PollReport | undefined, fallback: JobStatus = job.status): JobRecord {
  return {
    ...job,
    status: (report?.status as JobStatus | undefined) ?? fallback,
    ...(report?.ref && { providerRef: { ...job.providerRef, ...report.ref } }),
  };
}

/** An error a caller backs off from and retries; never one that fails the job. */
function expectRetriable(error: unknown): void {
  expect(
    error instanceof ProviderThrottledError || error instanceof ProviderUnavailableError,
    `expected a retriable error, got ${String(error)}`,
  ).toBe(true);
  expect(error).not.toBeInstanceOf(ProviderRejectedError);
  expect(error).not.toBeInstanceOf(ValidationError);
}

function reportFor(reports: readonly PollReport[], job: JobRecord): PollReport | undefined {
  const mine = reports.filter((r) => r.jobId === job.id);
  expect(mine.length).toBeLessThanOrEqual(1);
  return mine[0];
}

/**
 * The rules every provider keeps, stated once. Call it from one `describe` per provider with that
 * provider's harness.
 */
export function providerContract(name: string, makeHarness: () => ProviderHarness): void {
  describe(`${name} provider contract`, () => {
    const h = makeHarness();
    let provider: JobProvider;

    beforeAll(async () => {
      await h.start();
      provider = h.provider();
    });
    afterAll(async () => h.stop());

    /** Submits and returns the job as the dispatch use case stores it. */
    async function dispatched(job = h.newJob()): Promise<JobRecord> {
      const outcome = await provider.submit(job);
      return { ...job, status: outcome.status, providerRef: outcome.ref };
    }

    /** Starts the run and lets a poll tell us, as the poller would. */
    async function running(): Promise<JobRecord> {
      const job = await dispatched();
      await h.startRun(job);
      const report = reportFor(await provider.poll([job]), job);
      const next = applied(job, report, 'running');
      expect(next.status).toBe('running');
      return next;
    }

    it('names the cloud run after the run key: attempt 1 after the job id, a new attempt gets a run of its own', async () => {
      const job = h.newJob();
      const first = await provider.submit(job);
      expect(first.attached).toBe(false);
      expect(h.derivedName(runKey(job))).toBe(h.derivedName(job.id));
      expect(h.runsNamed(h.derivedName(job.id))).toHaveLength(1);

      const second = { ...job, attempts: 2 };
      const outcome = await provider.submit(second);
      expect(outcome.attached).toBe(false);
      expect(outcome.ref).not.toEqual(first.ref);
      expect(h.runsNamed(h.derivedName(runKey(second)))).toHaveLength(1);
      expect(h.runsNamed(h.derivedName(job.id))).toHaveLength(1);
    });

    it('re-attaches on a redelivered dispatch: the same run key never creates a second cloud run', async () => {
      const job = h.newJob();
      const first = await provider.submit(job);
      const again = await provider.submit(job);

      expect(again.attached).toBe(true);
      expect(again.ref).toMatchObject(
        Object.fromEntries(Object.entries(first.ref).filter(([k]) => k !== 'nativeStatus')),
      );
      expect(h.runsNamed(h.derivedName(job.id))).toHaveLength(1);
    });

    it('never fails a job for throttling: submit, poll and cancel back off with a retriable error', async () => {
      const job = h.newJob();
      h.throttleNext('submit');
      expectRetriable(
        await provider.submit(job).then(
          () => 'submitted',
          (e: unknown) => e,
        ),
      );
      // The retry after the back-off starts the one run.
      const outcome = await provider.submit(job);
      expect(h.runsNamed(h.derivedName(job.id))).toHaveLength(1);

      const stored: JobRecord = { ...job, status: outcome.status, providerRef: outcome.ref };
      await h.startRun(stored);
      h.throttleNext('poll');
      const polled = await provider.poll([stored]).then(
        (reports) => reports,
        (e: unknown) => e,
      );
      if (Array.isArray(polled)) expect(reportFor(polled, stored)?.status).not.toBe('failed');
      else expectRetriable(polled);

      h.throttleNext('cancel');
      expectRetriable(
        await provider.cancel({ ...stored, status: 'running' }).then(
          () => 'cancelled',
          (e: unknown) => e,
        ),
      );
      const after = reportFor(await provider.poll([{ ...stored, status: 'running' }]), stored);
      expect(after?.status ?? 'running').toBe('running');
    });

    it('never reports a run stopped elsewhere as succeeded', async () => {
      const job = await running();
      await h.stopRunElsewhere(job);

      const report = reportFor(await provider.poll([job]), job);

      expect(report?.status).toBeDefined();
      expect(['cancelled', 'failed']).toContain(report?.status);
    });

    it('reports a run that vanished from the service as missing', async () => {
      const job = await h.vanish(await running());

      const report = reportFor(await provider.poll([job]), job);

      expect(report).toMatchObject({ jobId: job.id, status: 'missing' });
    });

    it('keeps a cancelled job cancelling until the service confirms the stop', async () => {
      const job = await running();

      // Our record says cancelling, the service has not been asked yet: the run still runs.
      const early = reportFor(await provider.poll([{ ...job, status: 'cancelling' }]), job);
      expect(['cancelled', 'succeeded', 'failed']).not.toContain(early?.status);

      await provider.cancel(job);
      let cancelling = applied({ ...job, status: 'cancelling' }, undefined);
      if (h.stopsAsynchronously) {
        const before = reportFor(await provider.poll([cancelling]), cancelling);
        expect(before?.status ?? 'cancelling').toBe('cancelling');
        cancelling = applied(cancelling, before);
        await h.confirmStop(cancelling);
      }

      const confirmed = reportFor(await provider.poll([cancelling]), cancelling);
      expect(confirmed?.status).toBe('cancelled');
    });
  });
}
