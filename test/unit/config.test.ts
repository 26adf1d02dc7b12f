import { describe, expect, it } from 'vitest';
import { loadConfig, queueNameFor } from '../../src/lib/config.js';

describe('queueNameFor', () => {
  it('applies the default queue names when no setting is given', () => {
    const config = loadConfig({});
    expect(
      ['QUEUE_INTAKE', 'QUEUE_ACTOR', 'QUEUE_SPARK', 'QUEUE_ML', 'QUEUE_BATCH'].map((s) =>
        queueNameFor(config, s as never),
      ),
    ).toEqual(['jobqueue', 'actor-jobs', 'spark-jobs', 'ml-jobs', 'batch-jobs']);
  });

  it('follows a configured name', () => {
    expect(queueNameFor(loadConfig({ QUEUE_BATCH: 'heavy-batch' }), 'QUEUE_BATCH')).toBe('heavy-batch');
  });
});
