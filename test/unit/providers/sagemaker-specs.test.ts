import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ValidationError } from '../../../src/lib/errors.js';
import {
  fromEssedumAutoml,
  fromEssedumInference,
  fromEssedumTrain,
} from '../../../src/lib/app/essedum/translate/sagemaker.js';
import { parseSageMakerJob, validateSageMakerSpec } from '../../../src/lib/providers/sagemaker/spec.js';
import {
  buildCreateRequest,
  SAGEMAKER_MAX_RUNTIME_SEC,
  type RequestContext,
} from '../../../src/lib/providers/sagemaker/requests.js';

function issuesOf(fn: () => unknown): Array<{ field: string; message: string }> {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return [...e.issues];
    throw e;
  }
  throw new Error('expected a ValidationError');
}

const training = { image: 'img:1', channels: [{ name: 'train', s3_uri: 's3://b/train/' }] };

describe('validateSageMakerSpec', () => {
  it('names spec.kind when the kind is missing or unknown', () => {
    expect(issuesOf(() => parseSageMakerJob({}))).toEqual([
      { field: 'spec.kind', message: expect.stringContaining('training, automl, transform') },
    ]);
    expect(issuesOf(() => parseSageMakerJob({ kind: 'processing', spec: {} }))[0]).toMatchObject({
      field: 'spec.kind',
      message: expect.stringContaining("'processing'"),
    });
  });

  it('rejects misspelled fields (the SDK would drop them silently) with their path', () => {
    expect(
      issuesOf(() => parseSageMakerJob({ kind: 'training', spec: { ...training, hyperparameter: { a: 1 } } }))[0],
    ).toEqual({ field: 'spec.spec.hyperparameter', message: 'unknown field' });
    expect(
      issuesOf(() =>
        parseSageMakerJob({
          kind: 'training',
          spec: { ...training, channels: [{ name: 'x', s3_uri: 'http://nope' }] },
        }),
      )[0]?.field,
    ).toBe('spec.spec.channels.0.s3_uri');
  });

  it('needs exactly one of image and algorithm_name for training', () => {
    expect(issuesOf(() => validateSageMakerSpec('training', { channels: [] }))[0]?.field).toBe('spec.spec.image');
    expect(issuesOf(() => validateSageMakerSpec('training', { image: 'a', algorithm_name: 'b' }))[0]?.field).toBe(
      'spec.spec.image',
    );
  });

  it('fills training defaults', () => {
    const parsed = validateSageMakerSpec('training', { image: 'img:1' });
    expect(parsed).toMatchObject({
      kind: 'training',
      spec: { input_mode: 'File', channels: [], instance_count: 1, volume_size_gb: 30, hyperparameters: {} },
    });
  });

  it('wants both problem type and objective for AutoML, and a metric that fits the problem', () => {
    const base = { inputs: [{ s3_uri: 's3://b/t.csv' }], target_attribute: 'y' };
    expect(issuesOf(() => validateSageMakerSpec('automl', { ...base, objective_metric: 'F1' }))[0]?.field).toBe(
      'spec.spec.problem_type',
    );
    expect(
      issuesOf(() =>
        validateSageMakerSpec('automl', { ...base, problem_type: 'Regression', objective_metric: 'F1' }),
      )[0]?.field,
    ).toBe('spec.spec.objective_metric');
    expect(
      validateSageMakerSpec('automl', { ...base, problem_type: 'Regression', objective_metric: 'RMSE' }).kind,
    ).toBe('automl');
  });

  it('lets the API use its own field paths', () => {
    expect(issuesOf(() => validateSageMakerSpec('nope', {}, { kind: 'kind', spec: 'spec' }))[0]?.field).toBe('kind');
  });
});

describe('Essedum translations', () => {
  it('turns a train body into a one-candidate AutoML job writing to Bucket/S3Prefix/output', () => {
    const out = fromEssedumTrain({
      RoleArn: 'arn:aws:iam::123456789012:role/R',
      Bucket: 'bkt',
      S3Prefix: '/proj/',
      inputs: 's3://bkt/proj/data.csv',
      target_attribute_name: 'label',
      content_type: 'text/csv',
      project: 'ignored-extra-field',
    });
    expect(out).toEqual({
      kind: 'automl',
      spec: {
        inputs: [
          {
            s3_uri: 's3://bkt/proj/data.csv',
            channel_type: 'training',
            content_type: 'text/csv;header=present',
            s3_data_type: 'S3Prefix',
          },
        ],
        target_attribute: 'label',
        max_candidates: 1,
        output_s3_uri: 's3://bkt/proj/output',
        role_arn: 'arn:aws:iam::123456789012:role/R',
      },
    });
  });

  it('names the Essedum field that is wrong', () => {
    expect(issuesOf(() => fromEssedumTrain({ Bucket: 'bkt', inputs: 's3://bkt/x.csv' }))[0]?.field).toBe(
      'target_attribute_name',
    );
  });

  it('turns an automl body into a spec, defaulting the objective for the problem type and keeping job_name as a tag', () => {
    const out = fromEssedumAutoml({
      job_name: 'my-experiment',
      input_data_config: {
        s3_uri: 's3://bkt/train.parquet',
        content_type: 'application/x-parquet',
        compression_type: 'None',
      },
      output_data_config: { s3_output_path: 's3://bkt/out', kms_key_id: 'key-1' },
      target_attribute_name: 'price',
      problem_type: 'Regression',
      mode: 'ENSEMBLING',
      max_candidates: 5,
      max_runtime_per_training_job_in_seconds: 600,
      total_job_runtime_in_seconds: 3600,
      tags: [{ Key: 'team', Value: 'ml' }],
    });
    expect(out.spec).toMatchObject({
      inputs: [
        {
          s3_uri: 's3://bkt/train.parquet',
          content_type: 'x-application/vnd.amazon+parquet',
          compression_type: 'None',
          channel_type: 'training',
        },
      ],
      problem_type: 'Regression',
      objective_metric: 'MSE',
      mode: 'ENSEMBLING',
      max_candidates: 5,
      max_runtime_per_training_job_sec: 600,
      total_runtime_sec: 3600,
      output_s3_uri: 's3://bkt/out',
      kms_key_id: 'key-1',
      tags: { team: 'ml', 'essedum-job-name': 'my-experiment' },
    });
  });

  it('turns native CreateTransformJob fields into a transform spec', () => {
    const out = fromEssedumInference({
      ModelName: 'm',
      TransformInput: {
        DataSource: { S3DataSource: { S3DataType: 'ManifestFile', S3Uri: 's3://b/manifest' } },
        CompressionType: 'Gzip',
      },
      DataProcessing: { InputFilter: '$[1:]', JoinSource: 'Input' },
      BatchStrategy: 'MultiRecord',
      MaxPayloadInMB: 6,
    });
    expect(out).toMatchObject({
      kind: 'transform',
      spec: {
        model_name: 'm',
        input: { s3_uri: 's3://b/manifest', s3_data_type: 'ManifestFile', compression_type: 'Gzip' },
        output: {},
        instance_count: 1,
        batch_strategy: 'MultiRecord',
        max_payload_mb: 6,
        data_processing: { input_filter: '$[1:]', join_source: 'Input' },
      },
    });
  });
});

describe('buildCreateRequest', () => {
  const ctx: RequestContext = { settings: { defaultInstanceType: 'ml.m5.large' }, defaultMaxRuntimeSec: 86_400 };
  const withDefaults: RequestContext = {
    settings: {
      defaultInstanceType: 'ml.c5.xlarge',
      roleArn: 'arn:aws:iam::123456789012:role/Default',
      outputS3Uri: 's3://out/base',
    },
    defaultMaxRuntimeSec: 99 * 24 * 3600,
  };
  const job = (spec: Partial<JobRecord['spec']> = {}): JobRecord => ({
    id: 'j-x',
    status: 'dispatched',
    source: 'api',
    spec: {
      rows: 1,
      estimated_runtime_sec: 1,
      priority: 'normal',
      latency_sensitive: false,
      data: {},
      labels: {},
      ...spec,
    },
    createdAt: '2026-11-23T00:00:00Z',
    updatedAt: '2026-11-23T00:00:00Z',
    attempts: 0,
    eventSeq: 1,
  });

  it('asks for a role and output location when the deployment has no defaults', () => {
    const parsed = validateSageMakerSpec('training', training);
    expect(issuesOf(() => buildCreateRequest(job(), 'n', parsed, ctx))[0]?.field).toBe('spec.spec.role_arn');
    const withRole = validateSageMakerSpec('training', { ...training, role_arn: 'arn:aws:iam::123456789012:role/R' });
    expect(issuesOf(() => buildCreateRequest(job(), 'n', withRole, ctx))[0]?.field).toBe('spec.spec.output_s3_uri');
  });

  it('caps the default runtime at SageMaker’s 28 days but refuses an explicit longer one', () => {
    const parsed = validateSageMakerSpec('training', training);
    const req = buildCreateRequest(job(), 'n', parsed, withDefaults);
    expect(req.kind === 'training' && req.input.StoppingCondition?.MaxRuntimeInSeconds).toBe(SAGEMAKER_MAX_RUNTIME_SEC);
    expect(
      issuesOf(() =>
        buildCreateRequest(job({ max_runtime_sec: SAGEMAKER_MAX_RUNTIME_SEC + 1 }), 'n', parsed, withDefaults),
      )[0]?.field,
    ).toBe('spec.max_runtime_sec');
  });

  it('gives a transform job its own output folder under the default location', () => {
    const parsed = validateSageMakerSpec('transform', { model_name: 'm', input: { s3_uri: 's3://b/in/' } });
    const req = buildCreateRequest(job(), 'cjo-b-abc', parsed, withDefaults);
    expect(req.kind === 'transform' && req.input.TransformOutput?.S3OutputPath).toBe('s3://out/base/cjo-b-abc');
    expect(req.kind === 'transform' && req.input.TransformResources?.InstanceType).toBe('ml.c5.xlarge');
  });

  it('sends the AutoML objective only with a problem type, and the time budget from max_runtime_sec', () => {
    const parsed = validateSageMakerSpec('automl', {
      inputs: [{ s3_uri: 's3://b/t.csv' }],
      target_attribute: 'y',
      problem_type: 'BinaryClassification',
      objective_metric: 'AUC',
    });
    const req = buildCreateRequest(job({ max_runtime_sec: 1800 }), 'cjo-a-x', parsed, withDefaults);
    expect(req.kind === 'automl' && req.input).toMatchObject({
      AutoMLJobObjective: { MetricName: 'AUC' },
      AutoMLProblemTypeConfig: {
        TabularJobConfig: {
          ProblemType: 'BinaryClassification',
          TargetAttributeName: 'y',
          CompletionCriteria: { MaxAutoMLJobRuntimeInSeconds: 1800 },
        },
      },
      OutputDataConfig: { S3OutputPath: 's3://out/base' },
    });
  });
});
