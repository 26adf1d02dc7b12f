import { describe, expect, it } from 'vitest';
import { CLASSIFIER_PRESETS, classifyJob, jobCost, type ClassifierConfig } from '../../src/lib/core/classifier.js';
import { parseSubmission } from '../../src/lib/core/job.js';
import { loadConfig } from '../../src/lib/config.js';

const base = loadConfig({}).classifier;
const reference: ClassifierConfig = { ...base, preset: 'reference', weights: CLASSIFIER_PRESETS.reference };
const classify = (body: Record<string, unknown>, cfg: ClassifierConfig = base) =>
  classifyJob(parseSubmission(body), cfg)!;

describe('classifyJob (readme preset, the default)', () => {
  it('routes the seed README examples where the README formula says', () => {
    expect(classify({ latency_sensitive: true, rows: 100, estimated_runtime_sec: 1 }).queue).toBe('actor-jobs');
    expect(classify({ rows: 50_000_000, estimated_runtime_sec: 300, priority: 'high' }).queue).toBe('spark-jobs');
    // The README claims ml-jobs for this one, but its own formula gives 5 + 10 = 15 > 10.
    const third = classify({ rows: 5_000_000, estimated_runtime_sec: 100, priority: 'normal' });
    expect(third.cost).toBe(15);
    expect(third.queue).toBe('spark-jobs');
  });

  it('routes a latency-sensitive job to actor-jobs whatever its cost', () => {
    const d = classify({ latency_sensitive: true, rows: 1e9, estimated_runtime_sec: 1e5, priority: 'high' });
    expect(d.queue).toBe('actor-jobs');
    expect(d.rule).toBe('latency-sensitive');
    expect(d.provider).toBe('worker');
  });

  it('keeps cost exactly 4 in batch-jobs and sends anything above to ml-jobs', () => {
    expect(classify({ rows: 4_000_000, estimated_runtime_sec: 0 })).toMatchObject({
      cost: 4,
      queue: 'batch-jobs',
      rule: 'default',
    });
    expect(classify({ rows: 0, estimated_runtime_sec: 40 })).toMatchObject({ cost: 4, queue: 'batch-jobs' });
    expect(classify({ rows: 4_000_001, estimated_runtime_sec: 0 })).toMatchObject({
      queue: 'ml-jobs',
      rule: 'cost-above-ml',
    });
  });

  it('keeps cost exactly 10 in ml-jobs and sends anything above to spark-jobs', () => {
    expect(classify({ rows: 10_000_000, estimated_runtime_sec: 0 })).toMatchObject({ cost: 10, queue: 'ml-jobs' });
    expect(classify({ rows: 3_000_000, estimated_runtime_sec: 70 })).toMatchObject({ cost: 10, queue: 'ml-jobs' });
    expect(classify({ rows: 10_000_001, estimated_runtime_sec: 0 })).toMatchObject({
      queue: 'spark-jobs',
      rule: 'cost-above-spark',
    });
  });

  it('multiplies the cost of high-priority jobs by 1.5', () => {
    const high = classify({ rows: 2_000_000, estimated_runtime_sec: 20, priority: 'high' });
    expect(high.cost).toBe(6);
    expect(high.explanation).toContain('cost = (2000000 rows × 0.000001 + 20 s × 0.1) × 1.5 (high priority) = 6');
    expect(classify({ rows: 2_000_000, estimated_runtime_sec: 20, priority: 'normal' }).cost).toBe(4);
  });

  it('records the inputs, weights, rule and an explanation on the decision', () => {
    const d = classify({ rows: 5_000_000, estimated_runtime_sec: 10 });
    expect(d.inputs).toEqual({
      rows: 5_000_000,
      estimated_runtime_sec: 10,
      priority: 'normal',
      latency_sensitive: false,
    });
    expect(d.weights).toEqual(CLASSIFIER_PRESETS.readme);
    expect(d.explanation).toContain('= 6 > 4');
    expect(d.provider).toBe('local');
  });

  it('honours a target queue and a target provider', () => {
    expect(classify({ rows: 1, target: 'spark-jobs' })).toMatchObject({
      queue: 'spark-jobs',
      rule: 'target-queue',
      provider: 'worker',
    });
    expect(classify({ rows: 1, target: 'sagemaker' })).toMatchObject({
      queue: 'batch-jobs',
      rule: 'target-provider',
      provider: 'sagemaker',
    });
    expect(classify({ rows: 1, latency_sensitive: true, target: 'vertex' })).toMatchObject({
      queue: 'ml-jobs',
      provider: 'vertex',
    });
    expect(classifyJob(parseSubmission({ target: 'nowhere' }), base)).toBeUndefined();
  });
});

describe('classifyJob (reference preset)', () => {
  it('routes the README third example to ml-jobs, as the seed code did', () => {
    const d = classify({ rows: 5_000_000, estimated_runtime_sec: 100 }, reference);
    expect(d.queue).toBe('ml-jobs');
    expect(d.cost).toBeCloseTo(5 + 100 / 60, 9);
  });

  it('doubles the cost of high-priority jobs', () => {
    expect(
      jobCost({ rows: 1_000_000, estimated_runtime_sec: 60, priority: 'high' }, CLASSIFIER_PRESETS.reference),
    ).toBe(4);
  });
});

describe('classifier settings', () => {
  it('lets every weight and threshold be overridden, and names the preset as customised', () => {
    const cfg = loadConfig({
      CLASSIFIER_PRESET: 'reference',
      CLASSIFIER_SPARK_THRESHOLD: '100',
      CLASSIFIER_ROW_WEIGHT: '0.00001',
    }).classifier;
    expect(cfg.preset).toBe('reference+custom');
    expect(cfg.weights).toMatchObject({
      perRow: 0.00001,
      perSecond: 1 / 60,
      sparkThreshold: 100,
      mlThreshold: 4,
      highPriorityFactor: 2,
    });
    expect(classifyJob(parseSubmission({ rows: 5_000_000, estimated_runtime_sec: 0 }), cfg)).toMatchObject({
      cost: 50,
      queue: 'ml-jobs',
    });
  });

  it('refuses thresholds in the wrong order and unknown presets at start-up', () => {
    expect(() => loadConfig({ CLASSIFIER_ML_THRESHOLD: '20' })).toThrow(/CLASSIFIER_ML_THRESHOLD/);
    expect(() => loadConfig({ CLASSIFIER_PRESET: 'magic' })).toThrow(/CLASSIFIER_PRESET/);
    expect(() => loadConfig({ CLASSIFIER_SECOND_WEIGHT: 'fast' })).toThrow(/CLASSIFIER_SECOND_WEIGHT/);
  });
});
