import { describe, expect, it } from 'vitest';
import { newJobId } from '../../src/lib/core/ids.js';
import { runKey } from '../../src/lib/core/job.js';
import { blobNamesFor, taskIdFor } from '../../src/lib/providers/azure-batch/mapping.js';
import { azureMlJobName } from '../../src/lib/providers/azure-ml/spec.js';
import { isValidJobName, SAGEMAKER_KINDS, sageMakerJobName } from '../../src/lib/providers/sagemaker/names.js';
import { jobLabelValue } from '../../src/lib/providers/vertex/names.js';

/**
 * Every provider names a run after `runKey(job)`: attempt 1 keeps the names runs had before
 * attempts existed (so a redelivered dispatch re-attaches), and each later attempt gets names of
 * its own (so a re-dispatch after a lost run starts a new run instead of re-attaching to the dead one).
 */
describe('runKey and the provider-side names derived from it', () => {
  const id = newJobId();
  const attempt = (n: number) => runKey({ id, attempts: n });

  it('is the bare job id for attempts 0 and 1, and id-a<N> after', () => {
    expect(attempt(0)).toBe(id);
    expect(attempt(1)).toBe(id);
    expect(attempt(2)).toBe(`${id}-a2`);
    expect(attempt(3)).toBe(`${id}-a3`);
  });

  const derivations: Record<string, (key: string) => string> = {
    'Azure Batch task id': taskIdFor,
    'Azure Batch output blob': (key) => blobNamesFor(key, 'outputs').outputs['result.json'],
    'Azure ML job name': azureMlJobName,
    'Vertex label value': jobLabelValue,
    ...Object.fromEntries(
      SAGEMAKER_KINDS.map((kind) => [`SageMaker ${kind} name`, (key: string) => sageMakerJobName('cjo', kind, key)]),
    ),
  };

  for (const [what, derive] of Object.entries(derivations)) {
    it(`${what}: unchanged for attempt 1, distinct and stable for attempts 2 and 3`, () => {
      expect(derive(attempt(1))).toBe(derive(id));
      const names = [1, 2, 3].map((n) => derive(attempt(n)));
      expect(new Set(names).size).toBe(3);
      expect(names).toEqual([1, 2, 3].map((n) => derive(attempt(n))));
    });
  }

  it('keeps SageMaker names valid for every kind and attempt', () => {
    for (const kind of SAGEMAKER_KINDS)
      for (const n of [1, 2, 99]) expect(isValidJobName(kind, sageMakerJobName('cjo', kind, attempt(n)))).toBe(true);
  });
});
