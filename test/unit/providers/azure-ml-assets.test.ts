import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ValidationError } from '../../../src/lib/errors.js';
import { fromEssedumAsset } from '../../../src/lib/app/essedum/translate/azure-ml.js';
import { withoutTraffic, withTraffic } from '../../../src/lib/providers/azure-ml/assets.js';
import { isAllowedScoringHost } from '../../../src/lib/providers/azure-ml/client.js';
import { mapOperationStatus, mapProvisioningState } from '../../../src/lib/providers/azure-ml/status.js';
import { makeJob } from '../../support/jobs.js';

const WS = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';

/** A succeeded job whose result.asset names what it created. */
function made(asset: Record<string, unknown>, extra: Record<string, unknown> = {}): JobRecord {
  return makeJob({ status: 'succeeded', result: { summary: { asset, ...extra } } });
}

const dataset = made(
  { kind: 'dataset', id: `${WS}/data/churn/versions/3`, name: 'churn', uri: 'azureml://datastores/d/paths/c.csv' },
  { dataType: 'uri_file' },
);
const model = made(
  { kind: 'model', id: `${WS}/models/fraud/versions/2`, name: 'fraud' },
  { modelType: 'mlflow_model' },
);
const endpoint = made({ kind: 'endpoint', id: `${WS}/onlineEndpoints/fraud-ep`, name: 'fraud-ep' });

/** The fields a ValidationError names. */
function fieldsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((i) => i.field);
  }
  throw new Error('expected a ValidationError');
}

describe('fromEssedumAsset (Azure ML)', () => {
  it('dataset-create: maps Essedum spellings, ignores extra fields', () => {
    expect(
      fromEssedumAsset(
        'dataset-create',
        { name: 'churn', path: 'https://acct.blob.core.windows.net/c/churn.csv', type: 'uri_file', organization: 'x' },
        {},
      ),
    ).toEqual({
      kind: 'dataset-create',
      spec: { name: 'churn', dataType: 'uri_file', dataUri: 'https://acct.blob.core.windows.net/c/churn.csv' },
    });
    expect(fieldsOf(() => fromEssedumAsset('dataset-create', { name: 'churn' }, {}))).toEqual(['path']);
    expect(
      fieldsOf(() => fromEssedumAsset('dataset-create', { name: 'a', data_uri: 'file:///etc/passwd' }, {})),
    ).toEqual(['data_uri']);
  });

  it('dataset-export and dataset-delete read the dataset from its creating job', () => {
    expect(fromEssedumAsset('dataset-export', { compute: 'cpu-2' }, { dataset })).toEqual({
      kind: 'dataset-export',
      spec: { name: 'churn', version: '3', dataType: 'uri_file', compute: 'cpu-2' },
    });
    expect(fromEssedumAsset('dataset-delete', {}, { dataset })).toEqual({
      kind: 'dataset-delete',
      spec: { name: 'churn', version: '3' },
    });
    expect(fieldsOf(() => fromEssedumAsset('dataset-delete', {}, {}))).toEqual(['dataset']);
    const unfinished = { ...dataset, status: 'running' as const };
    expect(fieldsOf(() => fromEssedumAsset('dataset-export', {}, { dataset: unfinished }))).toEqual(['dataset']);
  });

  it('model-register, model-export and model-delete', () => {
    expect(
      fromEssedumAsset(
        'model-register',
        { model_name: 'fraud', version: '2', model_type: 'mlflow_model', model_uri: 'azureml://jobs/j/outputs/m/' },
        {},
      ),
    ).toEqual({
      kind: 'model-register',
      spec: { name: 'fraud', version: '2', modelType: 'mlflow_model', modelUri: 'azureml://jobs/j/outputs/m/' },
    });
    expect(
      fieldsOf(() => fromEssedumAsset('model-register', { name: 'fraud', path: 'x', type: 'pickle' }, {})),
    ).toEqual(['type']);
    expect(fieldsOf(() => fromEssedumAsset('model-register', { name: 'fraud', path: 'x' }, {}))).toEqual(['path']);
    expect(fromEssedumAsset('model-export', {}, { model }).spec).toEqual({
      name: 'fraud',
      version: '2',
      modelType: 'mlflow_model',
    });
    expect(fromEssedumAsset('model-delete', {}, { model }).spec).toEqual({ name: 'fraud', version: '2' });
    expect(fieldsOf(() => fromEssedumAsset('model-export', {}, { dataset }))).toEqual(['model']);
  });

  it('endpoint-create keeps a valid name and derives one for a display name Azure ML would refuse', () => {
    expect(fromEssedumAsset('endpoint-create', { name: 'fraud-ep', description: 'd' }, {}).spec).toEqual({
      name: 'fraud-ep',
      description: 'd',
    });
    expect(fromEssedumAsset('endpoint-create', { name: 'My fraud endpoint!' }, {}).spec).toEqual({});
    expect(fieldsOf(() => fromEssedumAsset('endpoint-create', { endpoint_name: '9bad' }, {}))).toEqual([
      'endpoint_name',
    ]);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-create', { auth_mode: 'none' }, {}))).toEqual(['auth_mode']);
  });

  it('endpoint-deploy takes the endpoint and the model from their jobs', () => {
    expect(
      fromEssedumAsset(
        'endpoint-deploy',
        { instance_type: 'Standard_DS2_v2', instance_count: '2' },
        { endpoint, model },
      ),
    ).toEqual({
      kind: 'endpoint-deploy',
      spec: {
        endpointName: 'fraud-ep',
        model: `${WS}/models/fraud/versions/2`,
        instanceType: 'Standard_DS2_v2',
        instanceCount: 2,
      },
    });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-deploy', {}, { endpoint }))).toEqual(['model_id']);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-deploy', {}, { model }))).toEqual(['endpoint']);
    expect(fieldsOf(() => fromEssedumAsset('endpoint-deploy', { traffic_percent: 150 }, { endpoint, model }))).toEqual([
      'traffic_percent',
    ]);
  });

  it('endpoint-undeploy and endpoint-delete', () => {
    expect(
      fromEssedumAsset('endpoint-undeploy', { deployed_model_ids: `${WS}/models/fraud/versions/2` }, { endpoint }).spec,
    ).toEqual({ endpointName: 'fraud-ep', models: [`${WS}/models/fraud/versions/2`] });
    expect(fromEssedumAsset('endpoint-undeploy', {}, { endpoint }).spec).toEqual({ endpointName: 'fraud-ep' });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-undeploy', { deployments: ['-x'] }, { endpoint }))).toEqual([
      'deployments.0',
    ]);
    expect(fromEssedumAsset('endpoint-delete', {}, { endpoint })).toEqual({
      kind: 'endpoint-delete',
      spec: { endpointName: 'fraud-ep' },
    });
    expect(fieldsOf(() => fromEssedumAsset('endpoint-delete', {}, {}))).toEqual(['endpoint']);
  });
});

describe('Azure ML asset rules', () => {
  it('gives a new deployment its share and scales the others to the rest', () => {
    expect(withTraffic({}, 'blue', 100)).toEqual({ blue: 100 });
    expect(withTraffic({ blue: 100 }, 'green', 10)).toEqual({ blue: 90, green: 10 });
    expect(withTraffic({ a: 50, b: 50 }, 'c', 33)).toEqual({ a: 34, b: 33, c: 33 });
    expect(withTraffic({ blue: 100 }, 'green', 100)).toEqual({ blue: 0, green: 100 });
  });

  it('takes traffic off removed deployments and spreads it over the rest', () => {
    expect(withoutTraffic({ blue: 90, green: 10 }, ['green'])).toEqual({ blue: 100, green: 0 });
    expect(withoutTraffic({ blue: 100 }, ['blue'])).toEqual({ blue: 0 });
    expect(withoutTraffic({ a: 20, b: 20, c: 60 }, ['c'])).toEqual({ a: 50, b: 50, c: 0 });
  });

  it('matches scoring hosts exactly or by a dotted suffix, never by a bare suffix', () => {
    const allowed = ['.inference.ml.azure.com', '127.0.0.1'];
    expect(isAllowedScoringHost('fraud.westeurope.inference.ml.azure.com', allowed)).toBe(true);
    expect(isAllowedScoringHost('127.0.0.1', allowed)).toBe(true);
    expect(isAllowedScoringHost('evilinference.ml.azure.com', allowed)).toBe(false);
    expect(isAllowedScoringHost('inference.ml.azure.com.evil.example', allowed)).toBe(false);
    expect(isAllowedScoringHost('127.0.0.2', allowed)).toBe(false);
  });

  it('treats unknown provisioning and operation states as in progress, never as an outcome', () => {
    expect(mapProvisioningState('Succeeded')).toBe('succeeded');
    expect(mapProvisioningState('Canceled')).toBe('failed');
    expect(mapProvisioningState('Scaling')).toBe('in-progress');
    expect(mapProvisioningState('SomethingNew')).toBe('in-progress');
    expect(mapOperationStatus('Failed')).toBe('failed');
    expect(mapOperationStatus('Accepted')).toBe('in-progress');
  });
});
