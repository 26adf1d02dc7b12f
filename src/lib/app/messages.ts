import { z } from 'zod';
import { parseOrThrow } from '../core/job.js';
import { DEAD_LETTER_DESCRIPTION_FIELD, DEAD_LETTER_REASON_FIELD } from '../ports/queue.js';

/**
 * What travels on every queue: the job id, never the job. The record in Table Storage is the truth;
 * a message only says "look at this job now". Secrets for one dispatch may ride along (they are
 * never stored on the job).
 */
export const JobMessageSchema = z.object({
  jobId: z.string().min(1).max(128),
  secrets: z.record(z.string(), z.string()).optional(),
  [DEAD_LETTER_REASON_FIELD]: z.string().optional(),
  [DEAD_LETTER_DESCRIPTION_FIELD]: z.string().optional(),
});
export type JobMessage = z.infer<typeof JobMessageSchema>;

export function parseJobMessage(body: unknown): JobMessage {
  return parseOrThrow(JobMessageSchema, body, 'message');
}

export function jobMessage(jobId: string, secrets?: Record<string, string>): JobMessage {
  return secrets ? { jobId, secrets } : { jobId };
}
