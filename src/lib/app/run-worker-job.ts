import { randomUUID } from 'node:crypto';
import { isTerminal, type JobRecord, type JobSpec } from '../core/job.js';
import { note, transition } from '../core/state-machine.js';
import type { Deps } from '../deps.js';
import { describeError } from '../errors.js';
import { parseEssedumSettings } from '../essedum-settings.js';
import type { ReceivedMessage } from '../ports/queue.js';
import { ESSEDUM_EXECUTE_KIND, commandRunRefusal, isCommandKind } from './essedum/execute-spec.js';
import { failJob } from './fail-job.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { parseJobMessage } from './messages.js';
import { MAX_DELIVERIES_REASON } from './process-message.js';
import { logBlobNames } from './queries.js';
import { saveResult } from './results.js';

/** Why a run stops early. `release`: give the job back (shutdown, lost lease) to run again elsewhere. */
export type StopReason = 'cancel' | 'release' | 'timeout';

/** How one run of a worker job ended. */
export type WorkerRunOutcome =
  | { readonly kind: 'succeeded'; readonly result: Record<string, unknown> }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string }
  | { readonly kind: 'stopped'; readonly reason: StopReason; readonly rowsDone: number };

/** What a job-kind runner gets: the job, its message secrets, and the lifecycle's hooks. */
export interface WorkerJobRun {
  readonly job: JobRecord;
  /** Secrets from the queue message only (never stored on the job); dropped when the run returns. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Checked between steps: a reason means stop now (cancelled, timed out, released). */
  readonly shouldStop: () => StopReason | undefined;
  /** Reports progress; also a heartbeat (at most one write per heartbeat interval). */
  readonly progress: (done: number, total: number) => Promise<void>;
}

/** A runner's result: the outcome and, where the kind produces one, the log shown to callers. */
export interface WorkerJobResult {
  readonly outcome: WorkerRunOutcome;
  readonly log?: string;
}

export type WorkerJobRunner = (run: WorkerJobRun) => Promise<WorkerJobResult>;

/** The kinds of work a worker runs: the seed's simulated work, and Essedum /execute commands. */
export type WorkerJobKind = 'simulation' | 'command';
export type WorkerJobRunners = Readonly<Record<WorkerJobKind, WorkerJobRunner>>;

/** Which runner a job needs. */
export function workerJobKind(spec: Pick<JobSpec, 'kind'>): WorkerJobKind {
  return spec.kind === ESSEDUM_EXECUTE_KIND ? 'command' : 'simulation';
}

export interface WorkerJobContext {
  /** Who runs the job (worker replica id): named in the job's history. */
  readonly workerId: string;
  readonly mode: 'actor' | 'spark';
  readonly lockSec: number;
  readonly heartbeatSec: number;
  readonly maxDeliveries: number;
  readonly runners: WorkerJobRunners;
  /** Renews this run's job lease and message lock while it runs. */
  readonly leases: LeaseKeeper;
}

/** The host's handle on one run: the job it is for, and a stop request the run honours between steps. */
export interface RunControl {
  jobId?: string;
  stop?: StopReason;
}

/**
 * Runs the job a worker-queue message names, once: claims it under a lease recorded on the job (so
 * a redelivered message never runs a job twice), keeps the lease and the message lock alive, runs
 * the job's kind, and settles one of five outcomes (succeeded, failed, cancelled, timed out,
 * released). Store or queue trouble releases the message for redelivery; past the delivery limit
 * the job fails and the message is dead-lettered. `message.body` is the real body (claim checks are
 * resolved by the host's transport).
 */
export async function runWorkerJob(
  deps: Deps,
  ctx: WorkerJobContext,
  message: ReceivedMessage,
  control: RunControl = {},
): Promise<void> {
  let jobId: string;
  let secrets: Record<string, string>;
  try {
    ({ jobId, secrets = {} } = parseJobMessage(message.body));
  } catch (error) {
    await message.deadLetter('InvalidMessage', describeError(error));
    return;
  }
  control.jobId = jobId;
  try {
    await execute(deps, ctx, message, control, jobId, secrets);
  } catch (error) {
    const description = describeError(error);
    deps.log.warn('job attempt failed', { worker: ctx.workerId, jobId, error: description });
    if (message.deliveryCount >= ctx.maxDeliveries) await giveUp(deps, ctx, message, jobId, description);
    else await message.abandon().catch(() => undefined);
  }
}

/** Long enough to survive a missed heartbeat or two, short enough that a dead worker's job moves on. */
function leaseMs(ctx: WorkerJobContext): number {
  return Math.max(ctx.lockSec * 1000, ctx.heartbeatSec * 3000);
}

async function execute(
  deps: Deps,
  ctx: WorkerJobContext,
  message: ReceivedMessage,
  control: RunControl,
  jobId: string,
  secrets: Record<string, string>,
): Promise<void> {
  const job = await deps.store.get(jobId);
  if (!job || isTerminal(job.status)) {
    await message.complete();
    return;
  }
  if (job.status === 'cancelling') {
    await finish(deps, jobId, (j) =>
      transition(j, 'cancelled', `cancelled before ${ctx.workerId} started it`, { at: deps.now() }),
    );
    await message.complete();
    return;
  }
  const now = deps.now().getTime();
  if (job.lease && Date.parse(job.lease.until) > now) {
    // Another replica holds a live lease: this is a duplicate delivery. Look again after its lease.
    await message.abandon(Math.ceil((Date.parse(job.lease.until) - now) / 1000));
    return;
  }
  if (message.deliveryCount > ctx.maxDeliveries) {
    // Service Bus dead-letters a message past its max delivery count by itself; Storage Queues only
    // count dequeues. Without this, a job that takes its worker down on every run (out of memory,
    // a crash) would be restarted forever on Storage, where Service Bus gives up on it.
    await giveUp(
      deps,
      ctx,
      message,
      jobId,
      `delivered ${message.deliveryCount} times (limit ${ctx.maxDeliveries}) without finishing`,
    );
    return;
  }

  // The /execute gate at run time: a command job runs only if it came from /execute and /execute
  // is still on (switching it off stops command jobs already queued).
  if (isCommandKind(job.spec.kind)) {
    const refusal = commandRunRefusal(job.source, parseEssedumSettings(deps.config.env).executeEnabled);
    if (refusal) {
      await failJob(deps, jobId, refusal, `refused by ${ctx.workerId}: ${refusal.message}`);
      await settle(deps, message);
      return;
    }
  }

  const runId = await claim(deps, ctx, message, jobId);
  if (!runId) return;

  const started = deps.now().getTime();
  const limitMs = (job.spec.max_runtime_sec ?? deps.config.defaultMaxRuntimeSec) * 1000;
  const beat = jobHeartbeat(deps, ctx, message, control, jobId, runId);
  let lastDone = 0;
  const progress = (done: number, total: number) => {
    lastDone = done;
    return beat(done, total).then(() => undefined);
  };
  // Beat on the keeper's timer as well as on progress: one simulation step (estimated runtime ×
  // scale / 50) can outlast the lock and the lease, and a run that beat only between steps lost its
  // message mid-step to another replica, which took the job over while it was still running.
  const release = ctx.leases.hold({
    renew: () => beat(lastDone, job.spec.rows),
    onLost: () => (control.stop ??= 'release'),
  });
  const shouldStop = () => {
    if (!control.stop && deps.now().getTime() - started > limitMs) control.stop = 'timeout';
    return control.stop;
  };
  let result: WorkerJobResult;
  try {
    result = await ctx.runners[workerJobKind(job.spec)]({ job, secrets, shouldStop, progress });
  } finally {
    release();
    await beat.settled();
  }
  await settleOutcome(deps, ctx, message, job, runId, limitMs, result);
}

/**
 * Claim: one conditional write decides who runs the job. The owner is this *run*, not this worker:
 * a redelivery inside the same process must not take over a run that is still going. Returns the
 * run id, or undefined when someone else has the job (the message is then settled).
 */
async function claim(
  deps: Deps,
  ctx: WorkerJobContext,
  message: ReceivedMessage,
  jobId: string,
): Promise<string | undefined> {
  const runId = `${ctx.workerId}/${randomUUID().slice(0, 8)}`;
  const lease = () => ({ owner: runId, until: new Date(deps.now().getTime() + leaseMs(ctx)).toISOString() });
  const claimed = await deps.store.update(jobId, (c) => {
    if (isTerminal(c.status) || c.status === 'cancelling') return { job: c, unchanged: true };
    if (c.lease && Date.parse(c.lease.until) > deps.now().getTime()) return { job: c, unchanged: true };
    const patch = {
      lease: lease(),
      attempts: c.attempts + 1,
      progress: { done: 0, total: c.spec.rows, unit: 'rows' as const },
    };
    if (c.status === 'queued') {
      // Claimed and running in one write: both steps stay in the history.
      const claim = transition(c, 'dispatched', `claimed by ${runId}`, { at: deps.now(), patch });
      return {
        ...transition(claim.job, 'running', `running on ${ctx.workerId}`, { at: deps.now() }),
        earlier: [claim.event],
      };
    }
    return note(
      c,
      `taken over by ${runId} (previous lease ${c.lease ? `of ${c.lease.owner} ` : ''}expired); restarting`,
      { at: deps.now(), patch },
    );
  });
  if (claimed.lease?.owner !== runId) {
    if (isTerminal(claimed.status)) await message.complete();
    else await message.abandon(ctx.lockSec);
    return undefined;
  }
  if (claimed.status === 'dispatched') {
    await deps.store.update(jobId, (c) =>
      c.status === 'dispatched'
        ? transition(c, 'running', `running on ${ctx.workerId}`, { at: deps.now() })
        : { job: c, unchanged: true },
    );
  }
  return runId;
}

/**
 * The run's heartbeat: renews the message lock, extends the job lease and writes progress, one
 * write at a time and at most one per heartbeat interval. Sees a cancel request and a lease taken
 * by someone else, and asks the run to stop for them.
 */
function jobHeartbeat(
  deps: Deps,
  ctx: WorkerJobContext,
  message: ReceivedMessage,
  control: RunControl,
  jobId: string,
  runId: string,
) {
  // The claim has just written the lease and the receive has just locked the message, so the first
  // beat is one interval from now: a job shorter than the interval writes no heartbeat at all (it
  // used to write one at its first progress report, a transaction and a lock renewal per job).
  let lastBeat = deps.now().getTime();
  let lost = false;
  let beats: Promise<void> = Promise.resolve();
  const beat = (done: number, total: number): Promise<'held' | 'lost'> => {
    beats = beats
      .then(async () => {
        const t = deps.now().getTime();
        if (t - lastBeat < ctx.heartbeatSec * 1000) return;
        lastBeat = t;
        // A lost message lock is not fatal: the lease on the job record is what keeps a redelivered
        // copy from running the job again; that copy completes once it sees the job finished.
        await message
          .renewLock()
          .catch((error: unknown) =>
            deps.log.warn('lock renewal failed; the lease still holds', { jobId, error: describeError(error) }),
          );
        const until = new Date(deps.now().getTime() + leaseMs(ctx)).toISOString();
        const current = await deps.store
          .update(jobId, (c) =>
            c.lease?.owner === runId && !isTerminal(c.status)
              ? {
                  job: {
                    ...c,
                    heartbeatAt: deps.now().toISOString(),
                    progress: { done, total, unit: 'rows' },
                    lease: { owner: runId, until },
                    updatedAt: deps.now().toISOString(),
                  },
                  quiet: true as const,
                }
              : { job: c, unchanged: true },
          )
          .catch(() => undefined);
        if (current?.status === 'cancelling') control.stop ??= 'cancel';
        if (current && current.lease?.owner !== runId) {
          lost = true;
          control.stop ??= 'release';
        }
      })
      .catch(() => undefined);
    return beats.then(() => (lost ? 'lost' : 'held'));
  };
  return Object.assign(beat, { settled: () => beats });
}

async function settleOutcome(
  deps: Deps,
  ctx: WorkerJobContext,
  message: ReceivedMessage,
  job: JobRecord,
  runId: string,
  limitMs: number,
  { outcome, log }: WorkerJobResult,
): Promise<void> {
  const jobId = job.id;
  switch (outcome.kind) {
    case 'succeeded': {
      const info = await saveResult(deps, job, ctx.workerId, 'succeeded', outcome.result);
      await writeLog(
        deps,
        job,
        log ?? `${ctx.mode} worker ${ctx.workerId} processed ${String(outcome.result.rows_processed)} rows\n`,
      );
      await finish(deps, jobId, (c) =>
        transition(c, 'succeeded', `completed on ${runId}`, {
          at: deps.now(),
          patch: { result: info, progress: { done: job.spec.rows, total: job.spec.rows, unit: 'rows' } },
        }),
      );
      await settle(deps, message);
      return;
    }
    case 'failed': {
      await writeLog(deps, job, log ?? '', `${outcome.code}: ${outcome.message}\n`);
      await finish(deps, jobId, (c) =>
        transition(c, 'failed', `failed on ${runId}: ${outcome.message}`, {
          at: deps.now(),
          patch: { error: { code: outcome.code, message: outcome.message } },
        }),
      );
      await settle(deps, message);
      return;
    }
    case 'stopped':
      switch (outcome.reason) {
        case 'cancel':
          if (log !== undefined) await writeLog(deps, job, log);
          await finish(deps, jobId, (c) =>
            transition(c, 'cancelled', `stopped by ${runId} after ${outcome.rowsDone} rows`, { at: deps.now() }),
          );
          await settle(deps, message);
          return;
        case 'timeout':
          if (log !== undefined)
            await writeLog(deps, job, log, `TIMEOUT: the command ran longer than ${limitMs / 1000} s\n`);
          await finish(deps, jobId, (c) =>
            transition(c, 'failed', `timed out on ${runId}`, {
              at: deps.now(),
              patch: { error: { code: 'TIMEOUT', message: `The job ran longer than ${limitMs / 1000} s.` } },
            }),
          );
          await settle(deps, message);
          return;
        case 'release': {
          // Shutdown: give the job back. The partial run is discarded; it restarts from the beginning.
          const released = await deps.store.update(jobId, (c) =>
            c.lease?.owner === runId && (c.status === 'running' || c.status === 'dispatched')
              ? transition(
                  c,
                  'queued',
                  `released by ${runId} on shutdown after ${outcome.rowsDone} rows; will restart`,
                  { at: deps.now(), patch: { lease: undefined, progress: undefined } },
                )
              : { job: c, unchanged: true },
          );
          if (released.status === 'cancelling') {
            await finish(deps, jobId, (c) =>
              transition(c, 'cancelled', `stopped by ${ctx.workerId} on shutdown`, { at: deps.now() }),
            );
            await message.complete();
          } else {
            await message.abandon();
          }
          return;
        }
        default: {
          const unreachable: never = outcome.reason;
          throw new Error(`unhandled stop ${String(unreachable)}`);
        }
      }
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${String(unreachable)}`);
    }
  }
}

/** Past the delivery limit: fail the job (the dead-letter handler's wording) and dead-letter the message. */
async function giveUp(
  deps: Deps,
  ctx: WorkerJobContext,
  message: ReceivedMessage,
  jobId: string,
  description: string,
): Promise<void> {
  await failJob(
    deps,
    jobId,
    { code: 'DEAD_LETTERED', message: `${MAX_DELIVERIES_REASON}: ${description}` },
    `dead-lettered by ${ctx.workerId}: ${MAX_DELIVERIES_REASON}: ${description}`,
  );
  await message.deadLetter(MAX_DELIVERIES_REASON, description);
}

/** Completes a message whose job is finished; a lost lock only means a redelivered copy will do it. */
async function settle(deps: Deps, message: ReceivedMessage): Promise<void> {
  await message
    .complete()
    .catch((error: unknown) =>
      deps.log.warn('complete failed; a redelivered copy will find the job finished', { error: describeError(error) }),
    );
}

async function finish(
  deps: Deps,
  jobId: string,
  move: (job: JobRecord) => ReturnType<typeof transition>,
): Promise<void> {
  await deps.store.update(jobId, (c) => (isTerminal(c.status) ? { job: c, unchanged: true } : move(c)));
}

/**
 * Writes the run's logs. An empty stderr is not written on a job's first run (a missing blob reads
 * as empty), saving a storage request per job; on a later attempt it is, so an earlier attempt's
 * stderr is not shown as this one's.
 */
async function writeLog(deps: Deps, job: JobRecord, stdout: string, stderr = ''): Promise<void> {
  const names = logBlobNames(job.id);
  const container = deps.config.containers.results;
  const firstRun = job.attempts === 0;
  await Promise.all([
    deps.blobs.put(container, names.stdout, stdout, 'text/plain'),
    ...(stderr === '' && firstRun ? [] : [deps.blobs.put(container, names.stderr, stderr, 'text/plain')]),
  ]);
}
