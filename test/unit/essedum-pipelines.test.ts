import { describe, expect, it } from 'vitest';
import { ROUTE_TRAINING_TYPES } from '../../src/functions/essedum-pipelines.js';
import { pipelineRecord, resolveAdapter, TRAINING_TYPES, translate } from '../../src/lib/app/essedum/pipelines.js';
import type { JobRecord } from '../../src/lib/core/job.js';
import type { Deps } from '../../src/lib/deps.js';
import { ProviderNotConfiguredError, ValidationError } from '../../src/lib/errors.js';
import { AUTOML_BODY, BATCH_BODY } from '../fakes/vertex/fixtures.js';
import { RECORD_FIELDS } from '../support/essedum-client.js';

const depsWith = (env: Record<string, string>, configured: string[]): Deps =>
  ({
    config: { env },
    providers: { configured: () => configured, get: async () => undefined as never },
  }) as unknown as Deps;

describe('adapter resolution', () => {
  const env = { ESSEDUM_ADAPTERS: JSON.stringify({ sm: { provider: 'sagemaker' }, vx: { provider: 'vertex' } }) };

  it('maps adapter_instance to the provider named in our settings', () => {
    expect(resolveAdapter(depsWith(env, ['sagemaker', 'vertex']), { adapterInstance: 'sm' })).toEqual({
      adapter: 'sm',
      provider: 'sagemaker',
    });
  });

  it('refuses an unknown adapter unless a default provider is set, and a provider this deployment has not configured', () => {
    expect(() =>
      resolveAdapter(depsWith(env, ['sagemaker']), { adapterInstance: 'other', referer: 'http://attacker/creds' }),
    ).toThrow(ValidationError);
    expect(
      resolveAdapter(depsWith({ ...env, ESSEDUM_DEFAULT_ADAPTER_PROVIDER: 'sagemaker' }, ['sagemaker']), {
        adapterInstance: 'other',
      }),
    ).toEqual({ adapter: 'other', provider: 'sagemaker' });
    expect(resolveAdapter(depsWith({ ESSEDUM_DEFAULT_ADAPTER_PROVIDER: 'vertex' }, ['vertex']), {})).toEqual({
      adapter: 'default:vertex',
      provider: 'vertex',
    });
    expect(() => resolveAdapter(depsWith(env, ['sagemaker']), { adapterInstance: 'vx' })).toThrow(
      ProviderNotConfiguredError,
    );
  });
});

describe('translation of Essedum bodies', () => {
  it('uses each provider’s own translation', async () => {
    await expect(
      translate('azure-ml', 'training', 'train', {
        compute: 'c',
        dataset_name: 'd',
        task_type: 'regression',
        target_column_name: 't',
      }),
    ).resolves.toMatchObject({ kind: 'automl', spec: { task: 'regression', targetColumn: 't' } });
    await expect(
      translate('sagemaker', 'training', 'automl', {
        input_data_config: { s3_uri: 's3://b/k.csv' },
        target_attribute_name: 'y',
        problem_type: 'Regression',
      }),
    ).resolves.toMatchObject({
      kind: 'automl',
      spec: { target_attribute: 'y', problem_type: 'Regression', objective_metric: 'MSE' },
    });
    await expect(
      translate('sagemaker', 'inference', undefined, {
        ModelName: 'm',
        TransformInput: { DataSource: { S3DataSource: { S3Uri: 's3://b/in/' } } },
      }),
    ).resolves.toMatchObject({ kind: 'transform' });
    await expect(translate('vertex', 'training', 'automl', AUTOML_BODY)).resolves.toMatchObject({
      kind: 'training_pipeline',
      spec: { displayName: 'churn-automl' },
    });
    await expect(translate('vertex', 'inference', undefined, BATCH_BODY)).resolves.toMatchObject({
      kind: 'batch_prediction',
    });
  });

  it('runs Azure ML inference as a command job and refuses bodies the provider rejects, naming the field', async () => {
    await expect(
      translate('azure-ml', 'inference', undefined, { command: 'python score.py', environment: 'azureml:env:1' }),
    ).resolves.toMatchObject({ kind: 'command' });
    await expect(translate('azure-ml', 'inference', undefined, {})).rejects.toMatchObject({
      issues: expect.arrayContaining([expect.objectContaining({ field: 'spec.command' })]),
    });
    await expect(translate('sagemaker', 'training', 'train', { Bucket: 'b' })).rejects.toMatchObject({
      issues: expect.arrayContaining([expect.objectContaining({ field: 'inputs' })]),
    });
  });

  it('the route table knows the same training types as the use case', () => {
    expect([...ROUTE_TRAINING_TYPES].sort()).toEqual([...TRAINING_TYPES].sort());
  });
});

describe('pipeline record', () => {
  it('has every Essedum record field, our job id as sourceId, and the task-state vocabulary', () => {
    const job: JobRecord = {
      id: 'j-01jd3m2x00000000000000000b',
      status: 'cancelling',
      source: 'essedum-pipeline',
      spec: {
        rows: 1,
        estimated_runtime_sec: 1,
        priority: 'normal',
        latency_sensitive: false,
        labels: {},
        target: 'sagemaker',
        kind: 'transform',
        spec: {},
        data: {
          essedum: {
            type: 'inference',
            adapter: 'sm',
            project: 'p',
            name: 'score',
            description: null,
            createdBy: null,
            rawPayload: { ModelName: 'm' },
          },
        },
      },
      provider: 'sagemaker',
      providerRef: { name: 'cjo-t-abc' },
      createdAt: '2026-11-23T10:00:00.000Z',
      updatedAt: '2026-11-23T10:05:00.000Z',
      attempts: 1,
      eventSeq: 5,
    };
    const rec = pipelineRecord(job);
    for (const f of RECORD_FIELDS) expect(rec).toHaveProperty(f);
    expect(rec).toMatchObject({
      sourceId: job.id,
      name: 'score',
      status: 'RUNNING',
      type: 'inference',
      adapter: 'sm',
      project: 'p',
      rawPayload: { ModelName: 'm' },
      jobStatus: 'cancelling',
      deployment: { provider: 'sagemaker', kind: 'transform', providerRef: { name: 'cjo-t-abc' } },
    });
  });
});
