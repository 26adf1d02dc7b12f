import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ConfigurationError, ValidationError } from '../../../src/lib/errors.js';
import {
  azureMlJobName,
  buildJobBody,
  environmentId,
  normalisePrimaryMetric,
  parseAzureMlJobSpec,
  type WorkspaceScope,
} from '../../../src/lib/providers/azure-ml/spec.js';
import { ESSEDUM_TRAIN_DEFAULTS, fromEssedumTrain } from '../../../src/lib/app/essedum/translate/azure-ml.js';
import { isAzureMlConfigured, parseAzureMlSettings } from '../../../src/lib/providers/azure-ml/settings.js';

const ws: WorkspaceScope = {
  subscriptionId: 'sub',
  resourceGroup: 'rg',
  workspace: 'ws1',
  experiment: 'exp',
  tagKey: 'cjo-job-id',
  defaultCompute: 'cpu',
};
const WS = '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1';

function job(kind: string, spec: Record<string, unknown>, extra: Partial<JobRecord['spec']> = {}): JobRecord {
  return {
    id: 'j-01jd3m2x7k9q8w4e5r6t7y8u9i',
    status: 'queued',
    source: 'essedum-pipeline',
    spec: {
      rows: 1,
      estimated_runtime_sec: 1,
      priority: 'normal',
      latency_sensitive: false,
      data: {},
      labels: {},
      kind,
      spec,
      ...extra,
    },
    createdAt: '2026-11-23T10:00:00.000Z',
    updatedAt: '2026-11-23T10:00:00.000Z',
    attempts: 0,
    eventSeq: 1,
  };
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues.map((i) => i.field);
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('fromEssedumTrain', () => {
  const body = {
    compute: 'cluster-a',
    dataset_name: 'churn',
    name: 'churn-run',
    task_type: 'Classification',
    target_column_name: 'y',
    metrics_type: 'accuracy',
  };

  it("keeps the original's defaults: 5 CV folds, 180 minutes, 5 trials", () => {
    const t = fromEssedumTrain(body);
    expect(t.kind).toBe('automl');
    expect(t.spec).toMatchObject({
      task: 'classification',
      targetColumn: 'y',
      compute: 'cluster-a',
      displayName: 'churn-run',
      primaryMetric: 'Accuracy',
      crossValidations: ESSEDUM_TRAIN_DEFAULTS.crossValidations,
      limits: { timeoutMinutes: 180, maxTrials: 5 },
    });
    expect(ESSEDUM_TRAIN_DEFAULTS).toEqual({ crossValidations: 5, timeoutMinutes: 180, maxTrials: 5 });
  });

  it('lets the body override the defaults and ignores fields it does not know', () => {
    const t = fromEssedumTrain({
      ...body,
      n_cross_validations: 10,
      timeout_minutes: 30,
      max_trials: 20,
      adapter_instance: 'x',
    });
    expect(t.spec.crossValidations).toBe(10);
    expect(t.spec.limits).toEqual({ timeoutMinutes: 30, maxTrials: 20 });
  });

  it('reads a bare dataset name as its latest version and keeps explicit references', () => {
    expect(fromEssedumTrain(body).spec.trainingData).toBe('azureml:churn@latest');
    expect(fromEssedumTrain({ ...body, dataset_name: 'churn:4' }).spec.trainingData).toBe('azureml:churn:4');
    expect(fromEssedumTrain({ ...body, dataset_name: 'azureml://datastores/d/paths/t/' }).spec.trainingData).toBe(
      'azureml://datastores/d/paths/t/',
    );
  });

  it("names Essedum's fields in errors", () => {
    expect(issuesOf(() => fromEssedumTrain({ ...body, metrics_type: 'r2_score' }))).toEqual(['metrics_type']);
    expect(issuesOf(() => fromEssedumTrain({ ...body, task_type: 'clustering' }))).toEqual(['task_type']);
    expect(issuesOf(() => fromEssedumTrain({ compute: 'c' }))).toEqual(
      expect.arrayContaining(['dataset_name', 'target_column_name']),
    );
  });
});

describe('parseAzureMlJobSpec', () => {
  it('requires exactly one of environment and image for a command job', () => {
    expect(issuesOf(() => parseAzureMlJobSpec('command', { command: 'x' }))).toEqual(['spec.environment']);
    expect(parseAzureMlJobSpec('command', { command: 'x', image: 'python:3.12' }).kind).toBe('command');
  });

  it('rejects unknown fields, so a typo is not silently dropped', () => {
    expect(issuesOf(() => parseAzureMlJobSpec('command', { command: 'x', image: 'i', enviroment: 'e' }))).toEqual([
      'spec.enviroment',
    ]);
  });

  it('checks the metric against the task and normalises its spelling', () => {
    expect(
      issuesOf(() =>
        parseAzureMlJobSpec('automl', {
          task: 'regression',
          trainingData: 'azureml:t:1',
          targetColumn: 'y',
          primaryMetric: 'Accuracy',
        }),
      ),
    ).toEqual(['spec.primaryMetric']);
    const ok = parseAzureMlJobSpec('automl', {
      task: 'regression',
      trainingData: 'azureml:t:1',
      targetColumn: 'y',
      primaryMetric: 'normalized_root_mean_squared_error',
    });
    expect(ok.spec).toMatchObject({ primaryMetric: 'NormalizedRootMeanSquaredError' });
  });

  it('needs a time column for forecasting', () => {
    expect(
      issuesOf(() => parseAzureMlJobSpec('automl', { task: 'forecasting', trainingData: 't', targetColumn: 'y' })),
    ).toEqual(['spec.forecasting']);
  });

  it('refuses kinds it cannot run', () => {
    expect(issuesOf(() => parseAzureMlJobSpec('training', {}))).toEqual(['kind']);
    expect(issuesOf(() => parseAzureMlJobSpec(undefined, {}))).toEqual(['kind']);
  });
});

describe('buildJobBody', () => {
  it('builds a forecasting AutoML body with every task setting the old SDK dropped', () => {
    const j = job('automl', {
      task: 'forecasting',
      trainingData: 'azureml:sales:3',
      targetColumn: 'units',
      primaryMetric: 'r2_score',
      limits: {
        timeoutMinutes: 60,
        trialTimeoutMinutes: 10,
        maxTrials: 8,
        maxConcurrentTrials: 2,
        enableEarlyTermination: true,
      },
      crossValidations: 'auto',
      forecasting: { timeColumn: 'date', horizon: 14, timeSeriesIdColumns: ['store'] },
    });
    const body = buildJobBody(j, parseAzureMlJobSpec(j.spec.kind, j.spec.spec), ws);
    expect(body.properties).toEqual({
      jobType: 'AutoML',
      computeId: `${WS}/computes/cpu`,
      experimentName: 'exp',
      displayName: j.id,
      tags: { 'cjo-job-id': j.id },
      properties: { 'cjo.source': 'essedum-pipeline' },
      taskDetails: {
        taskType: 'Forecasting',
        trainingData: { jobInputType: 'mltable', uri: 'azureml:sales:3' },
        targetColumnName: 'units',
        primaryMetric: 'R2Score',
        limitSettings: {
          timeout: 'PT60M',
          trialTimeout: 'PT10M',
          maxTrials: 8,
          maxConcurrentTrials: 2,
          enableEarlyTermination: true,
        },
        nCrossValidations: { mode: 'Auto' },
        forecastingSettings: {
          timeColumnName: 'date',
          forecastHorizon: { mode: 'Custom', value: 14 },
          timeSeriesIdColumnNames: ['store'],
        },
      },
    });
  });

  it("uses the job's max_runtime_sec as the command timeout and never lets a label replace our tag", () => {
    const j = job(
      'command',
      { command: 'run', environment: 'azureml:e:2' },
      { max_runtime_sec: 600, labels: { 'cjo-job-id': 'spoof', team: 'a' } },
    );
    const body = buildJobBody(j, parseAzureMlJobSpec(j.spec.kind, j.spec.spec), ws);
    expect(body.properties.limits).toEqual({ jobLimitsType: 'Command', timeout: 'PT600S' });
    expect(body.properties.tags).toEqual({ 'cjo-job-id': j.id, team: 'a' });
  });

  it('asks for a compute when neither the spec nor the settings give one', () => {
    const j = job('command', { command: 'run', environment: 'azureml:e:2' });
    const { defaultCompute: _omit, ...noDefault } = ws;
    expect(issuesOf(() => buildJobBody(j, parseAzureMlJobSpec(j.spec.kind, j.spec.spec), noDefault))).toEqual([
      'spec.compute',
    ]);
  });

  it('turns short environment ids into ARM ids and passes other forms through', () => {
    expect(environmentId(ws, 'azureml:sk-env:7')).toBe(`${WS}/environments/sk-env/versions/7`);
    expect(environmentId(ws, 'azureml://registries/azureml/environments/sklearn-1.5/labels/latest')).toBe(
      'azureml://registries/azureml/environments/sklearn-1.5/labels/latest',
    );
  });
});

describe('azureMlJobName', () => {
  it('is the job id itself for our ids, so a redelivery PUTs the same name', () => {
    expect(azureMlJobName('j-01jd3m2x7k9q8w4e5r6t7y8u9i')).toBe('j-01jd3m2x7k9q8w4e5r6t7y8u9i');
  });

  it('sanitises other ids without making two of them collide', () => {
    const a = azureMlJobName('Job/One');
    const b = azureMlJobName('job-one');
    expect(a).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
    expect(a).not.toBe(b);
    expect(azureMlJobName('Job/One')).toBe(a);
  });
});

describe('primary metrics and Retry-After', () => {
  it('matches Python SDK spellings to REST names', () => {
    expect(normalisePrimaryMetric('classification', 'AUC_weighted')).toBe('AUCWeighted');
    expect(normalisePrimaryMetric('classification', 'spearman_correlation')).toBeUndefined();
  });
});

describe('Azure ML settings', () => {
  const base = { AZUREML_SUBSCRIPTION_ID: 's', AZUREML_RESOURCE_GROUP: 'rg', AZUREML_WORKSPACE: 'ws1' };

  it('is configured only with subscription, resource group and workspace', () => {
    expect(isAzureMlConfigured(base)).toBe(true);
    expect(isAzureMlConfigured({ ...base, AZUREML_WORKSPACE: ' ' })).toBe(false);
  });

  it('defaults the endpoint, api-version and tag key', () => {
    expect(parseAzureMlSettings(base)).toMatchObject({
      armEndpoint: 'https://management.azure.com',
      apiVersion: '2024-04-01',
      tagKey: 'cjo-job-id',
      retries: 2,
    });
  });

  it('refuses a plain-http endpoint, since the bearer token would travel in clear', () => {
    expect(() => parseAzureMlSettings({ ...base, AZUREML_ARM_ENDPOINT: 'http://127.0.0.1:8080' })).toThrow(
      ConfigurationError,
    );
  });

  it('names every bad setting at once', () => {
    const err = (() => {
      try {
        parseAzureMlSettings({ AZUREML_RETRIES: '-1' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toContain('AZUREML_SUBSCRIPTION_ID is required');
    expect(err?.message).toContain('AZUREML_WORKSPACE is required');
    expect(err?.message).toContain('AZUREML_RETRIES');
  });
});

describe('the azure-ml provider descriptor', () => {
  it('says when the provider is configured, lists its settings and loads the provider only on demand', async () => {
    const { descriptor } = await import('../../../src/lib/providers/azure-ml/index.js');
    expect(
      descriptor.isConfigured({ AZUREML_SUBSCRIPTION_ID: 's', AZUREML_RESOURCE_GROUP: 'rg', AZUREML_WORKSPACE: 'ws1' }),
    ).toBe(true);
    expect(descriptor.isConfigured({ AZUREML_SUBSCRIPTION_ID: 's' })).toBe(false);
    expect(descriptor.settings.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'AZUREML_ARM_ENDPOINT',
        'AZUREML_API_VERSION',
        'AZUREML_DEFAULT_COMPUTE',
        'AZUREML_TAG_KEY',
      ]),
    );
    expect(typeof (await descriptor.load()).createProvider).toBe('function');
  });
});
