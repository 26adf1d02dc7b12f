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

/**
 * A job as the dispatch and poll use cases hand it to a provider: dispatched to `provider`, with a
 * fixed id (provider-side names derive from it) and the provider job kind and spec.
 */
export function providerJob(
  provider: string,
  id: string,
  kind: string | undefined,
  spec: Record<string, unknown> | undefined,
  options: { body?: Record<string, unknown>; createdAt?: string; over?: Partial<JobRecord> } = {},
): JobRecord {
  const at = options.createdAt ?? new Date().toISOString();
  return makeJob(
    { id, status: 'dispatched', provider, attempts: 1, createdAt: at, updatedAt: at, ...options.over },
    { ...options.body, ...(kind !== undefined && { kind }), ...(spec !== undefined && { spec }) },
  );
}
