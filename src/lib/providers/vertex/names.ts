import { createHash } from 'node:crypto';
import { GCP_LABEL_VALUE } from './settings.js';

/**
 * The label value that ties a Vertex resource to our job. Vertex create calls are not idempotent,
 * so this label (not the resource name, which Vertex assigns) is how a redelivered dispatch finds
 * the resource it already created.
 *
 * Our ids (`j-01jd3m2x7k9q8w4e5r6t7y8u9i`) are valid label values as they are. Anything else is
 * folded to the label alphabet and suffixed with a hash of the original, so two different ids can
 * never share a value.
 */
export function jobLabelValue(jobId: string): string {
  if (jobId.length > 0 && GCP_LABEL_VALUE.test(jobId)) return jobId;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 16);
  const folded = jobId
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63 - hash.length - 1);
  return `${folded}-${hash}`;
}

/** Quotes a string literal for the AIP-160 list filter grammar. */
export function filterString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `labels.<key>="<value>"`: the resources of one job. */
export function labelEqualsFilter(labelKey: string, value: string): string {
  return `labels.${labelKey}=${filterString(value)}`;
}

/**
 * Every resource of ours that has not finished: `labels.<key>:*` (key existence) and-ed with
 * `state!=` for each terminal state. A job missing from this list has finished (or vanished), and
 * only then is it worth a get.
 */
export function activeResourcesFilter(labelKey: string, terminalStates: readonly string[]): string {
  return [`labels.${labelKey}:*`, ...terminalStates.map((s) => `state!=${filterString(s)}`)].join(' AND ');
}

/**
 * `labels.<key>="<a>" OR labels.<key>="<b>" …`: the resources of several jobs in one list call,
 * whatever their state (AIP-160 `OR`; Vertex's list filter documents `OR` and label equality).
 */
export function labelAnyOfFilter(labelKey: string, values: readonly string[]): string {
  return values.map((v) => labelEqualsFilter(labelKey, v)).join(' OR ');
}
