import { IllegalTransitionError } from '../errors.js';
import type { JobEvent, JobRecord, JobStatus } from './job.js';

/**
 * The one transition table. Terminal states have no exits.
 *
 * Beyond the happy path `submitted → queued → dispatched → running → succeeded`:
 * - `dispatched`/`running → queued`: a worker released the job on shutdown, or a node was
 *   preempted and the job waits to run again;
 * - `cancelling → succeeded|failed`: the job finished before the stop reached it — we report
 *   what really happened rather than pretend it was cancelled;
 * - `running → cancelled`: someone stopped it in the provider's console; a poll reports it.
 */
export const TRANSITIONS = {
  submitted: ['queued', 'failed', 'cancelled'],
  queued: ['dispatched', 'failed', 'cancelled'],
  dispatched: ['running', 'succeeded', 'failed', 'cancelling', 'cancelled', 'queued'],
  running: ['succeeded', 'failed', 'cancelling', 'cancelled', 'queued'],
  cancelling: ['cancelled', 'succeeded', 'failed'],
  succeeded: [],
  failed: [],
  cancelled: [],
} as const satisfies Record<JobStatus, readonly JobStatus[]>;

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return (TRANSITIONS[from] as readonly JobStatus[]).includes(to);
}

/** Fields a transition may change besides the status. */
export type JobPatch = Partial<Omit<JobRecord, 'id' | 'status' | 'eventSeq' | 'createdAt' | 'source' | 'spec'>>;

export interface TransitionResult {
  readonly job: JobRecord;
  readonly event: JobEvent;
}

/**
 * Moves a job to `to`, stamping timestamps and producing the history event. Pure: the store
 * persists the job and the event together. Throws {@link IllegalTransitionError} on a move the table
 * does not allow.
 */
export function transition(
  job: JobRecord,
  to: JobStatus,
  reason: string,
  options: { at?: Date; patch?: JobPatch; detail?: Record<string, unknown> } = {},
): TransitionResult {
  if (!canTransition(job.status, to)) throw new IllegalTransitionError(job.status, to, job.id);
  const at = (options.at ?? new Date()).toISOString();
  const stamps: JobPatch = {};
  if (to === 'queued') Object.assign(stamps, { queuedAt: at });
  // A capacity wait belongs to one stay in `queued`.
  if (to !== 'queued' && job.waitingForCapacity) Object.assign(stamps, { waitingForCapacity: undefined });
  if (to === 'dispatched' && !job.dispatchedAt) Object.assign(stamps, { dispatchedAt: at });
  if (to === 'running' && !job.startedAt) Object.assign(stamps, { startedAt: at });
  if (to === 'succeeded' || to === 'failed' || to === 'cancelled')
    Object.assign(stamps, { finishedAt: at, lease: undefined });
  if (to === 'cancelling' && !job.cancelRequestedAt) Object.assign(stamps, { cancelRequestedAt: at });
  const event: JobEvent = {
    seq: job.eventSeq,
    at,
    type: 'transition',
    from: job.status,
    to,
    reason,
    ...(options.detail && { detail: options.detail }),
  };
  const next: JobRecord = {
    ...job,
    ...stamps,
    ...options.patch,
    status: to,
    updatedAt: at,
    eventSeq: job.eventSeq + 1,
  };
  return { job: next, event };
}

/** Records something worth knowing that is not a state change (re-attach, preemption, heartbeat gap). */
export function note(
  job: JobRecord,
  reason: string,
  options: { at?: Date; patch?: JobPatch; detail?: Record<string, unknown> } = {},
): TransitionResult {
  const at = (options.at ?? new Date()).toISOString();
  const event: JobEvent = {
    seq: job.eventSeq,
    at,
    type: 'note',
    from: job.status,
    to: job.status,
    reason,
    ...(options.detail && { detail: options.detail }),
  };
  return { job: { ...job, ...options.patch, updatedAt: at, eventSeq: job.eventSeq + 1 }, event };
}

/** The first event of every job. */
export function creationEvent(job: JobRecord, reason: string): JobEvent {
  return { seq: 0, at: job.createdAt, type: 'transition', from: null, to: job.status, reason };
}
