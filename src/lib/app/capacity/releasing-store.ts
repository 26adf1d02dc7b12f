import { capacityScopes } from '../../core/capacity.js';
import type { JobRecord } from '../../core/job.js';
import type { Logger } from '../../deps.js';
import { describeError } from '../../errors.js';
import type { CapacityStore } from '../../ports/capacity-store.js';
import { ForwardingJobStore, type JobStore, type JobUpdate } from '../../ports/job-store.js';
import { leftProvider } from './admission.js';

/**
 * A JobStore that gives a job's admission state back as soon as a committed change says so: its
 * slot when it leaves its provider (finished, failed, cancelled, or back to its queue after a lost
 * run), its waiting row when it stops waiting. Every use case's transitions pass here, whichever
 * made them (a poll, a cancel, the reconciler). A process that dies between the job's write and
 * this release leaves a row the reconciler's sweep removes.
 */
export class CapacityReleasingJobStore extends ForwardingJobStore {
  constructor(
    inner: JobStore,
    private readonly capacity: CapacityStore,
    /** Scopes (provider, provider/instance type) with a concurrency cap: only they hold slots. */
    private readonly capped: ReadonlySet<string>,
    private readonly log: Logger,
  ) {
    super(inner);
  }

  override async update(id: string, mutate: (current: JobRecord) => JobUpdate): Promise<JobRecord> {
    // The mutator may run more than once; the last run is the one that committed.
    let before: JobRecord | undefined;
    const after = await this.inner.update(id, (current) => {
      before = current;
      return mutate(current);
    });
    if (before) await this.release(before, after);
    return after;
  }

  private async release(before: JobRecord, after: JobRecord): Promise<void> {
    try {
      // The provider it left: a capacity failover re-targets the job in the same write.
      const left = before.provider ?? after.provider;
      if (left && leftProvider(before, after)) {
        const scopes = capacityScopes(left, after.spec.spec, (key) => this.capped.has(key));
        await Promise.all(scopes.map((scope) => this.capacity.releaseSlot(scope, after.id)));
      }
      const wait = before.waitingForCapacity;
      if (wait && !after.waitingForCapacity) await this.capacity.clearWaiting(wait.provider, after.id);
    } catch (error) {
      this.log.warn('capacity release failed; the reconciler sweep will release it', {
        jobId: after.id,
        error: describeError(error),
      });
    }
  }
}
