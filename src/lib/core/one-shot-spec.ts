import type { JobRecord, JobSource, JobSpec } from './job.js';

/**
 * The document a one-shot run reads (the local provider's spec.json, the Azure Batch resource
 * file). `origin` is the record's server-set `source`, so the run can re-check the /execute gate
 * without a store; it is never taken from a request body.
 */
export interface OneShotSpec {
  readonly jobId: string;
  readonly origin: JobSource;
  readonly spec: JobSpec;
}

/** The one-shot document of a job, as JSON. Pure. */
export function oneShotSpecDocument(job: JobRecord): string {
  const doc: OneShotSpec = { jobId: job.id, origin: job.source, spec: job.spec };
  return JSON.stringify(doc);
}
