import { newJobId } from '../../src/lib/core/ids.js';
import { parseSubmission, type JobRecord } from '../../src/lib/core/job.js';

/** A freshly submitted job record, as the submit use case would create it. */
export function makeJob(overrides: Partial<JobRecord> = {}, body: Record<string, unknown> = {}): JobRecord {
  const now = new Date().toISOString();
  return {
    id: newJobId(),
    status: 'submitted',
    source: 'api',
    spec: parseSubmission(body),
    createdAt: now,
    updatedAt: now,
    attempts: 0,
    eventSeq: 1,
    ...overrides,
  };
}
