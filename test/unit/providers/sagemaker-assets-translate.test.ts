import { describe, expect, it } from 'vitest';
import type { AssetRefs } from '../../../src/lib/app/essedum/assets-types.js';
import { fromEssedumAsset } from '../../../src/lib/app/essedum/translate/sagemaker.js';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ValidationError } from '../../../src/lib/errors.js';
import { providerJob } from '../../support/jobs.js';

/** A succeeded asset job as the store keeps it: its result summary names the asset. */
function created(asset: Record<string, unknown>, extra: Record<string, unknown> = {}): JobRecord {
  return {
    ...providerJob('sagemaker', 'j-01jd3m2x7k9q8w4e5r6t000001', 'endpoint-create', {}),
    status: 'succeeded',
    result: { summary: { asset, ...extra } },
  };
}

const dataset = created({
  kind: 'dataset',
  id: 's3://ml-data/ds/sales.csv',
  name: 'sales',
  uri: 's3://ml-data/ds/sales.csv',
});
const prefixDataset = created({
  kind: 'dataset',
  id: 's3://ml-data/ds/raw/',
  name: 'raw',
  uri: 's3://ml-data/ds/raw/',
});
const model = created(
  { kind: 'model', id: 'cjo-m-01jd3m2x7k9q8w4e5r6t000002', name: 'churn', uri: 's3://ml-data/m.tar.gz' },
  { modelPackageArn: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1' },
);
const endpoint = created({
  kind: 'endpoint',
  id: 'cjo-e-01jd3m2x7k9q8w4e5r6t000003',
  name: 'scoring',
  instanceType: 'ml.c5.xlarge',
  instanceCount: 2,
});

/** The fields a ValidationError names (each once). */
function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...new Set((error as ValidationError).issues.map((i) => i.field))];
  }
  throw new Error('expected a ValidationError');
}

describe('fromEssedumAsset (SageMaker)', () => {
  it('dataset-create: inline content, a copy, or Bucket/S3Prefix placement; bad bodies name the field', () => {
    expect(
      fromEssedumAsset(
        'dataset-create',
        { name: 'Sales', s3_uri: 's3://ml-data/ds/s.csv', content: 'a\n', extra: 1 },
        {},
      ),
    ).toEqual({
      kind: 'dataset-create',
      spec: { name: 'Sales', uri: 's3://ml-data/ds/s.csv', content: 'a\n', content_encoding: 'utf8' },
    });
    expect(
      fromEssedumAsset(
        'dataset-create',
        { name: 'Raw Data', Bucket: 'ml-data', S3Prefix: 'team', SourceS3Uri: 's3://in-bucket/raw/' },
        {},
      ).spec,
    ).toMatchObject({ uri: 's3://ml-data/team/datasets/raw-data/', source_uri: 's3://in-bucket/raw/' });
    expect(fieldsOf(() => fromEssedumAsset('dataset-create', { s3_uri: 's3://ml-data/x.csv' }, {}))).toEqual(['name']);
    expect(fieldsOf(() => fromEssedumAsset('dataset-create', { name: 'x' }, {}))).toEqual(['s3_uri']);
    expect(fieldsOf(() => fromEssedumAsset('dataset-create', { name: 'x', s3_uri: 'http://x/y' }, {}))).toEqual([
      's3_uri',
    ]);
    expect(
      fieldsOf(() => fromEssedumAsset('dataset-create', { name: 'x', s3_uri: 's3://ml-data/d/', content: 'a' }, {})),
    ).toEqual(['body.uri']);
    expect(
      fieldsOf(() =>
        fromEssedumAsset('dataset-create', { name: 'x', s3_uri: 's3://ml-data/a', content: 'x'.repeat(40_000) }, {}),
      ),
    ).toEqual(['body.content']);
  });

  it('dataset-export / dataset-delete read the dataset from refs; export keeps object and prefix shapes', () => {
    expect(fromEssedumAsset('dataset-export', { destination_uri: 's3://out-bucket/' }, { dataset }).spec).toEqual({
      name: 'sales',
      source_uri: 's3://ml-data/ds/sales.csv',
      destination_uri: 's3://out-bucket/sales.csv',
    });
    expect(
      fromEssedumAsset('dataset-export', { S3OutputPath: 's3://out-bucket/raw' }, { dataset: prefixDataset }).spec,
    ).toMatchObject({
      destination_uri: 's3://out-bucket/raw/',
    });
    expect(fieldsOf(() => fromEssedumAsset('dataset-export', {}, { dataset }))).toEqual(['destination_uri']);
    expect(fieldsOf(() => fromEssedumAsset('dataset-export', { destination_uri: 's3://o/x' }, {}))).toEqual([
      'dataset',
    ]);
    expect(fromEssedumAsset('dataset-delete', {}, { dataset })).toEqual({
      kind: 'dataset-delete',
      spec: { name: 'sales', uri: 's3://ml-data/ds/sales.csv' },
    });
    expect(fieldsOf(() => fromEssedumAsset('dataset-delete', {}, {}))).toEqual(['dataset']);
  });

  it('model-register: snake_case or SageMaker spelling, model package on request; bad bodies name the field', () => {
    expect(
      fromEssedumAsset(
        'model-register',
        {
          ModelName: 'churn',
          PrimaryContainer: { Image: 'img:1', ModelDataUrl: 's3://ml-data/m.tar.gz' },
          ModelPackageGroupName: 'churn-models',
        },
        {},
      ).spec,
    ).toMatchObject({
      name: 'churn',
      image: 'img:1',
      model_data_url: 's3://ml-data/m.tar.gz',
      model_package_group: 'churn-models',
      approval_status: 'Approved',
    });
    expect(fieldsOf(() => fromEssedumAsset('model-register', { name: 'm' }, {}))).toEqual(['image']);
    expect(fieldsOf(() => fromEssedumAsset('model-register', { name: 'm', image: 'i', role_arn: 'nope' }, {}))).toEqual(
      ['body.role_arn'],
    );
    expect(
      fieldsOf(() => fromEssedumAsset('model-register', { name: 'm', image: 'i', approval_status: 'Maybe' }, {})),
    ).toEqual(['body.approval_status']);
  });

  it('model-export / model-delete read the model from refs (its artifacts, its package)', () => {
    expect(fromEssedumAsset('model-export', { destination_uri: 's3://exp-bucket/models/' }, { model }).spec).toEqual({
      name: 'churn',
      source_uri: 's3://ml-data/m.tar.gz',
      destination_uri: 's3://exp-bucket/models/m.tar.gz',
      model_name: 'cjo-m-01jd3m2x7k9q8w4e5r6t000002',
    });
    const noArtifacts = created({ kind: 'model', id: 'cjo-m-x1', name: 'bare' });
    expect(
      fieldsOf(() => fromEssedumAsset('model-export', { destination_uri: 's3://e/x' }, { model: noArtifacts })),
    ).toEqual(['model']);
    expect(fromEssedumAsset('model-delete', {}, { model }).spec).toEqual({
      name: 'churn',
      model_name: 'cjo-m-01jd3m2x7k9q8w4e5r6t000002',
      model_package_arn: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1',
    });
    expect(fieldsOf(() => fromEssedumAsset('model-delete', {}, {}))).toEqual(['model']);
  });

  it('endpoint-create: with or without a model; bad instance settings name the field', () => {
    expect(fromEssedumAsset('endpoint-create', { name: 'scoring', InstanceType: 'ml.m5.large' }, {}).spec).toEqual({
      name: 'scoring',
      instance_type: 'ml.m5.large',
      instance_count: 1,
    });
    expect(fromEssedumAsset('endpoint-create', { EndpointName: 'scoring' }, { model }).spec).toMatchObject({
      model_name: 'cjo-m-01jd3m2x7k9q8w4e5r6t000002',
    });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-create', {}, {}))).toEqual(['name']);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-create', { name: 'e', instance_type: 'big' }, {}))).toEqual([
      'body.instance_type',
    ]);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-create', { name: 'e', instance_count: 0 }, {}))).toEqual([
      'body.instance_count',
    ]);
  });

  it("endpoint-deploy: the endpoint's instance settings by default, the model from refs or the body", () => {
    const refs: AssetRefs = { endpoint, model };
    expect(fromEssedumAsset('endpoint-deploy', { traffic_weight: 2 }, refs)).toEqual({
      kind: 'endpoint-deploy',
      spec: {
        name: 'scoring',
        endpoint_name: 'cjo-e-01jd3m2x7k9q8w4e5r6t000003',
        model_name: 'cjo-m-01jd3m2x7k9q8w4e5r6t000002',
        instance_type: 'ml.c5.xlarge',
        instance_count: 2,
        initial_weight: 2,
        replace: false,
      },
    });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-deploy', {}, { endpoint }))).toEqual(['model_name']);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-deploy', {}, { model }))).toEqual(['endpoint']);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-deploy', { replace: 'yes' }, refs))).toEqual(['body.replace']);
  });

  it('endpoint-undeploy / endpoint-delete: one model, a list, or all; the endpoint from refs', () => {
    expect(fromEssedumAsset('endpoint-undeploy', {}, { endpoint }).spec).toEqual({
      name: 'scoring',
      endpoint_name: 'cjo-e-01jd3m2x7k9q8w4e5r6t000003',
    });
    expect(fromEssedumAsset('endpoint-undeploy', {}, { endpoint, model }).spec).toMatchObject({
      model_names: ['cjo-m-01jd3m2x7k9q8w4e5r6t000002'],
    });
    expect(fromEssedumAsset('endpoint-undeploy', { deployed_model_id: 'm-1' }, { endpoint }).spec).toMatchObject({
      model_names: ['m-1'],
    });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-undeploy', { model_names: ['bad name!'] }, { endpoint }))).toEqual(
      ['body.model_names.0'],
    );
    expect(fromEssedumAsset('endpoint-delete', {}, { endpoint })).toEqual({
      kind: 'endpoint-delete',
      spec: { name: 'scoring', endpoint_name: 'cjo-e-01jd3m2x7k9q8w4e5r6t000003' },
    });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-delete', {}, {}))).toEqual(['endpoint']);
  });
});
