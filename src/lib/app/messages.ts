import { z } from 'zod';
import { parseOrThrow } from '../core/job.js';
import { DEAD_LETTER_DESCRIPTION_FIELD, DEAD_LETTER_REASON_FIELD } from '../ports/queue.js';
import type { JobRecord } from '../core/job.js';
import { currentJobId, currentTraceCarrier } from '../telemetry/trace.js';

/**
 * What travels on every queue: the job id, never the job. The record in Table Storage is the truth;
 * a message only says "look at this job now". Secrets for one dispatch may ride along (they are
 * never stored on the job). `traceparent`/`tracestate` (W3C trace context) carry the job's trace
 * from hop to hop, so one job is one trace.
 */
export const JobMessageSchema = z.object({
  jobId: z.string().min(1).max(128),
  secrets: z.record(z.string(), z.string()).optional(),
  // Malformed trace context is ignored by the propagator, never a reason to refuse the message.
  traceparent: z.string().max(256).optional(),
  tracestate: z.string().max(1024).optional(),
  /** Set on the delayed copy that holds a capacity wait (see app/capacity/failover.ts). */
  capacityCheck: z.string().max(64).optional(),
  [DEAD_LETTER_REASON_FIELD]: z.string().optional(),
  [DEAD_LETTER_DESCRIPTION_FIELD]: z.string().optional(),
});
export type JobMessage = z.infer<typeof JobMessageSchema>;

export function parseJobMessage(body: unknown): JobMessage {
  return parseOrThrow(JobMessageSchema, body, 'message');
}

/**
 * A message for a job, carrying the job's trace context: the active one when the caller works in
 * that job's context, else the context stored on the record (a timer or list sweep re-sending it),
 * else whatever is active.
 */
export function jobMessage(
  job: string | Pick<JobRecord, 'id' | 'trace'>,
  secrets?: Record<string, string>,
): JobMessage {
  const jobId = typeof job === 'string' ? job : job.id;
  const stored = typeof job === 'string' ? undefined : job.trace;
  const carrier = currentJobId() !== jobId && stored ? stored : currentTraceCarrier();
  return { jobId, ...(secrets && { secrets }), ...carrier };
}
