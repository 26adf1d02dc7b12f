import type { JobRecord, JobResultInfo } from '../core/job.js';
import type { Deps } from '../deps.js';

/** Blob name of a job's result document inside the results container. */
export function resultBlobName(jobId: string): string {
  return `${jobId}/result.json`;
}

/** Writes the result document and returns what the job record keeps of it. */
export async function saveResult(
  deps: Deps,
  job: JobRecord,
  producer: string,
  status: 'succeeded' | 'failed',
  result: Record<string, unknown> | undefined,
): Promise<JobResultInfo> {
  const name = resultBlobName(job.id);
  const document = { jobId: job.id, producer, status, finishedAt: deps.now().toISOString(), result: result ?? {} };
  await deps.blobs.put(deps.config.containers.results, name, JSON.stringify(document, null, 2));
  return { location: `${deps.config.containers.results}/${name}`, ...(result && { summary: result }) };
}
