import { runKey, type JobRecord } from '../../src/lib/core/job.js';
import type { JobProvider, ObservedStatus, PollReport, SubmitOutcome } from '../../src/lib/ports/provider.js';

/** A run at the scripted provider, by its run key (job id + attempt), as a cloud service keeps it. */
export interface ScriptedRun {
  status: Exclude<ObservedStatus, 'missing'>;
  nativeStatus?: string;
  /** Extra report fields for the next polls (error, result, notes). */
  report?: Omit<PollReport, 'jobId' | 'status' | 'nativeStatus'>;
}

type Call = 'submit' | 'poll' | 'cancel';

/**
 * A JobProvider double for use-case tests. It models what the port promises, not one test's needs:
 * runs are named by `runKey(job)`, so a second submit of the same attempt re-attaches (`attached`)
 * and a new attempt gets a run of its own; `poll` reports each run it has and `missing` for a job
 * whose run it does not know; `cancel` asks a run to stop (`cancelling`), which a later poll confirms
 * once the test says so. A test scripts the world with {@link setRun} / {@link vanish}, makes a call
 * fail with {@link failNext}, and reads what was asked in {@link calls}.
 */
export class ScriptedProvider implements JobProvider {
  readonly runs = new Map<string, ScriptedRun>();
  readonly calls: { submit: string[]; poll: string[][]; cancel: string[] } = { submit: [], poll: [], cancel: [] };
  /** Clean-up of finished runs; a provider without one has none (set it to script one). */
  cleanup?: (jobs: readonly JobRecord[]) => Promise<string[]>;
  /** Status a new run starts in. */
  startStatus: 'dispatched' | 'running' = 'dispatched';
  private readonly failures: Record<Call, unknown[]> = { submit: [], poll: [], cancel: [] };
  private readonly hooks: Record<Call, Array<() => Promise<void> | void>> = { submit: [], poll: [], cancel: [] };

  constructor(readonly name = 'scripted') {}

  /** The next `call` throws `error` (queued: several calls fail in turn). */
  failNext(call: Call, error: unknown): this {
    this.failures[call].push(error);
    return this;
  }

  /** Runs `hook` inside the next `call`, after the provider did its work (a race landing mid-call). */
  during(call: Call, hook: () => Promise<void> | void): this {
    this.hooks[call].push(hook);
    return this;
  }

  /** Sets (or creates) the run of `job`'s attempt. */
  setRun(job: Pick<JobRecord, 'id' | 'attempts'>, run: ScriptedRun): this {
    this.runs.set(runKey(job), run);
    return this;
  }

  /** The provider forgets the run (deleted by someone, retention ran out). */
  vanish(job: Pick<JobRecord, 'id' | 'attempts'>): this {
    this.runs.delete(runKey(job));
    return this;
  }

  run(job: Pick<JobRecord, 'id' | 'attempts'>): ScriptedRun | undefined {
    return this.runs.get(runKey(job));
  }

  async submit(job: JobRecord): Promise<SubmitOutcome> {
    this.calls.submit.push(runKey(job));
    await this.fault('submit');
    const key = runKey(job);
    const existing = this.runs.get(key);
    const run = existing ?? { status: this.startStatus };
    if (!existing) this.runs.set(key, run);
    await this.hook('submit');
    const status = run.status === 'running' ? 'running' : 'dispatched';
    return { ref: { runName: key }, attached: existing !== undefined, status };
  }

  async poll(jobs: readonly JobRecord[]): Promise<PollReport[]> {
    this.calls.poll.push(jobs.map((j) => j.id));
    await this.fault('poll');
    const reports = jobs.map((job): PollReport => {
      const run = this.runs.get(runKey(job));
      if (!run) return { jobId: job.id, status: 'missing' };
      return {
        ...run.report,
        jobId: job.id,
        status: run.status,
        ...(run.nativeStatus && { nativeStatus: run.nativeStatus }),
      };
    });
    await this.hook('poll');
    return reports;
  }

  async cancel(job: JobRecord): Promise<void> {
    this.calls.cancel.push(runKey(job));
    await this.fault('cancel');
    const run = this.runs.get(runKey(job));
    if (run && (run.status === 'dispatched' || run.status === 'running')) run.status = 'cancelling';
    await this.hook('cancel');
  }

  private async fault(call: Call): Promise<void> {
    await Promise.resolve();
    if (this.failures[call].length > 0) throw this.failures[call].shift();
  }

  private async hook(call: Call): Promise<void> {
    await this.hooks[call].shift()?.();
  }
}
