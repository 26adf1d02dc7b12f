import { describe, expect, it } from 'vitest';
import { JOB_STATUSES, TERMINAL_STATUSES, isTerminal } from '../../src/lib/core/job.js';
import { TRANSITIONS, canTransition, note, transition } from '../../src/lib/core/state-machine.js';
import { IllegalTransitionError } from '../../src/lib/errors.js';
import { makeJob } from '../support/jobs.js';

describe('job state machine', () => {
  it('lets terminal states never change', () => {
    for (const from of TERMINAL_STATUSES) for (const to of JOB_STATUSES) expect(canTransition(from, to)).toBe(false);
  });

  it('allows the happy path and cancellation from every non-terminal state', () => {
    const path = ['submitted', 'queued', 'dispatched', 'running', 'succeeded'] as const;
    for (let i = 0; i < path.length - 1; i++) expect(canTransition(path[i]!, path[i + 1]!)).toBe(true);
    for (const from of JOB_STATUSES.filter((s) => !isTerminal(s))) {
      expect(canTransition(from, 'failed')).toBe(true);
      expect(canTransition(from, 'cancelled') || canTransition(from, 'cancelling')).toBe(true);
    }
  });

  it('has a row for every state and only known targets', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...JOB_STATUSES].sort());
    for (const targets of Object.values(TRANSITIONS)) for (const t of targets) expect(JOB_STATUSES).toContain(t);
  });

  it('records time, from, to and reason, and stamps lifecycle times', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const job = { ...makeJob(), status: 'dispatched' as const };
    const { job: next, event } = transition(job, 'running', 'node started', { at });
    expect(event).toEqual({
      seq: job.eventSeq,
      at: at.toISOString(),
      type: 'transition',
      from: 'dispatched',
      to: 'running',
      reason: 'node started',
    });
    expect(next).toMatchObject({
      status: 'running',
      startedAt: at.toISOString(),
      updatedAt: at.toISOString(),
      eventSeq: job.eventSeq + 1,
    });
    const done = transition(next, 'succeeded', 'ok', { at }).job;
    expect(done.finishedAt).toBe(at.toISOString());
  });

  it('throws a typed error on an illegal move', () => {
    const job = { ...makeJob(), status: 'succeeded' as const };
    expect(() => transition(job, 'running', 'again')).toThrow(IllegalTransitionError);
    try {
      transition(job, 'running', 'again');
    } catch (error) {
      expect((error as IllegalTransitionError).code).toBe('ILLEGAL_TRANSITION');
    }
  });

  it('writes notes into the history without changing the state', () => {
    const job = makeJob();
    const { job: next, event } = note(job, 'node preempted; task requeued');
    expect(next.status).toBe(job.status);
    expect(event).toMatchObject({
      type: 'note',
      from: 'submitted',
      to: 'submitted',
      reason: 'node preempted; task requeued',
    });
  });
});
