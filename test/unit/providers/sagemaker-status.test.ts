import { describe, expect, it } from 'vitest';
import { ProviderRejectedError, ProviderThrottledError, ProviderUnavailableError } from '../../../src/lib/errors.js';
import { createError, isNameTaken, isNotFound, transientError } from '../../../src/lib/providers/sagemaker/errors.js';
import { descriptor } from '../../../src/lib/providers/sagemaker/index.js';
import { parseSageMakerSettings } from '../../../src/lib/providers/sagemaker/settings.js';
import {
  automlOutcome,
  ENDPOINT_STATUSES,
  failureCategory,
  isEndpointStatus,
  mapEndpointStatus,
  mapModelPackageStatus,
  mapSageMakerStatus,
  SAGEMAKER_STATUSES,
  trainingOutcome,
  transformOutcome,
} from '../../../src/lib/providers/sagemaker/status.js';

const meta = (httpStatusCode: number) => ({
  $metadata: { httpStatusCode },
  $fault: httpStatusCode >= 500 ? 'server' : 'client',
});
const sdkError = (name: string, message: string, status: number, extra: object = {}) =>
  Object.assign(new Error(message), { name, ...meta(status), ...extra });

describe('mapSageMakerStatus', () => {
  it('maps every documented status, and never maps Stopping or Stopped to success', () => {
    const mapped = Object.fromEntries(SAGEMAKER_STATUSES.map((s) => [s, mapSageMakerStatus(s)]));
    expect(mapped).toEqual({
      InProgress: 'running',
      Completed: 'succeeded',
      Failed: 'failed',
      Stopping: 'cancelling',
      Stopped: 'cancelled',
      Deleting: 'missing',
    });
  });
});

describe('Describe outcomes', () => {
  it('reads artifacts, metrics and the log stream of a completed training job', () => {
    const o = trainingOutcome({
      $metadata: {},
      TrainingJobName: 'cjo-t-x',
      TrainingJobArn: 'arn:t',
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: 's3://o/cjo-t-x/output/model.tar.gz' },
      FinalMetricDataList: [{ MetricName: 'train:loss', Value: 0.1 }],
      StoppingCondition: {},
      CreationTime: new Date(0),
      TrainingTimeInSeconds: 42,
    });
    expect(o).toMatchObject({
      status: 'succeeded',
      result: {
        modelArtifacts: 's3://o/cjo-t-x/output/model.tar.gz',
        finalMetrics: { 'train:loss': 0.1 },
        trainingTimeSec: 42,
        logs: { group: '/aws/sagemaker/TrainingJobs', streamPrefix: 'cjo-t-x/' },
      },
    });
  });

  it('turns a training job stopped by its stopping condition into a timeout failure', () => {
    const base = {
      $metadata: {},
      TrainingJobName: 'n',
      TrainingJobArn: 'a',
      ModelArtifacts: undefined,
      StoppingCondition: {},
      CreationTime: new Date(0),
    };
    expect(
      trainingOutcome({ ...base, TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' }),
    ).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
    expect(trainingOutcome({ ...base, TrainingJobStatus: 'Stopped', SecondaryStatus: 'Stopped' }).status).toBe(
      'cancelled',
    );
  });

  it('keeps an unknown future status as running rather than guessing an outcome', () => {
    const o = transformOutcome({
      $metadata: {},
      TransformJobName: 'n',
      TransformJobArn: 'a',
      TransformJobStatus: 'Paused' as never,
      ModelName: 'm',
      TransformInput: undefined,
      TransformResources: undefined,
      CreationTime: new Date(0),
    });
    expect(o).toMatchObject({ status: 'running', nativeStatus: 'Paused' });
  });

  it('reports an AutoML failure with its reason and category', () => {
    const o = automlOutcome({
      $metadata: {},
      AutoMLJobName: 'n',
      AutoMLJobArn: 'a',
      AutoMLJobInputDataConfig: [],
      OutputDataConfig: { S3OutputPath: 's3://o' },
      RoleArn: 'r',
      CreationTime: new Date(0),
      LastModifiedTime: new Date(0),
      AutoMLJobStatus: 'Failed',
      AutoMLJobSecondaryStatus: 'Failed',
      FailureReason: 'ClientError: The target attribute y is not in the dataset',
    });
    expect(o).toMatchObject({
      status: 'failed',
      error: {
        code: 'SAGEMAKER_JOB_FAILED',
        category: 'user',
        message: 'ClientError: The target attribute y is not in the dataset',
      },
    });
  });

  it('categorises failure reasons by SageMaker’s prefix', () => {
    expect(failureCategory('CapacityError: Unable to provision requested ML compute capacity.')).toBe('capacity');
    expect(failureCategory('InternalServerError: We encountered an internal error.')).toBe('provider');
    expect(failureCategory('ResourceLimitExceeded for ml.p3.2xlarge')).toBe('quota');
    expect(failureCategory(undefined)).toBeUndefined();
  });
});

describe('SageMaker error mapping', () => {
  it('treats throttling and 5xx as transient, honouring Retry-After', () => {
    expect(transientError(sdkError('ThrottlingException', 'Rate exceeded', 400), 500)).toBeInstanceOf(
      ProviderThrottledError,
    );
    const withHeader = sdkError('ThrottlingException', 'Rate exceeded', 400, {
      $response: { headers: { 'retry-after': '3' } },
    });
    expect(transientError(withHeader, 500)).toMatchObject({ retryAfterMs: 3000 });
    expect(transientError(sdkError('InternalFailure', 'boom', 500), 500)).toBeInstanceOf(ProviderUnavailableError);
    expect(
      transientError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 500),
    ).toBeInstanceOf(ProviderUnavailableError);
    expect(transientError(sdkError('ValidationException', 'bad', 400), 500)).toBeUndefined();
  });

  it('knows the not-found quirks and the name-taken answer', () => {
    expect(isNotFound(sdkError('ValidationException', 'Requested resource not found.', 400))).toBe(true);
    expect(isNotFound(sdkError('ResourceNotFound', 'AutoML job x does not exist.', 400))).toBe(true);
    expect(isNotFound(sdkError('ValidationException', 'MaxResults too big', 400))).toBe(false);
    expect(isNameTaken(sdkError('ResourceInUse', 'names must be unique', 400))).toBe(true);
  });

  it('backs off on a busy quota but rejects a quota of zero', () => {
    expect(
      createError(
        sdkError(
          'ResourceLimitExceeded',
          'The account-level service limit ml.m5.large for training job usage is 4 Instances, with current utilization of 4 Instances',
          400,
        ),
        1000,
      ),
    ).toMatchObject({
      constructor: ProviderThrottledError,
      retryAfterMs: 60_000,
    });
    expect(
      createError(
        sdkError(
          'ResourceLimitExceeded',
          "The account-level service limit 'ml.p4d.24xlarge for training job usage' is 0 Instances",
          400,
        ),
        1000,
      ),
    ).toBeInstanceOf(ProviderRejectedError);
  });
});

describe('SageMaker settings', () => {
  it('is configured by a region alone, using the default credential chain', () => {
    expect(descriptor.isConfigured({})).toBe(false);
    expect(descriptor.isConfigured({ SAGEMAKER_REGION: 'eu-west-1' })).toBe(true);
    const s = parseSageMakerSettings({ SAGEMAKER_REGION: 'eu-west-1' });
    expect(s).toMatchObject({ region: 'eu-west-1', namePrefix: 'cjo', maxAttempts: 3, listRatePerSec: 1 });
    expect(s.credentials).toBeUndefined();
  });

  it('names every bad setting', () => {
    expect(() =>
      parseSageMakerSettings({
        SAGEMAKER_REGION: 'Europe',
        SAGEMAKER_ACCESS_KEY_ID: 'AKID',
        SAGEMAKER_NAME_PREFIX: 'Bad_Prefix',
      }),
    ).toThrow(/SAGEMAKER_REGION.*SAGEMAKER_NAME_PREFIX|SAGEMAKER_NAME_PREFIX.*SAGEMAKER_REGION/);
    expect(() => parseSageMakerSettings({ SAGEMAKER_REGION: 'eu-west-1', SAGEMAKER_ACCESS_KEY_ID: 'AKID' })).toThrow(
      /SAGEMAKER_SECRET_ACCESS_KEY/,
    );
  });
});

describe('mapEndpointStatus', () => {
  it('maps every documented endpoint status: only InService can end a create or update', () => {
    const mapped = Object.fromEntries(ENDPOINT_STATUSES.map((s) => [s, mapEndpointStatus(s)]));
    expect(mapped).toEqual({
      OutOfService: 'running',
      Creating: 'running',
      Updating: 'running',
      SystemUpdating: 'running',
      RollingBack: 'running',
      InService: 'in-service',
      Deleting: 'failed',
      Failed: 'failed',
      UpdateRollbackFailed: 'failed',
    });
    expect(isEndpointStatus('InService')).toBe(true);
    expect(isEndpointStatus('Stopped')).toBe(false);
  });

  it('waits on a model package until it is Completed, fails it when Failed or Deleting', () => {
    expect(['Pending', 'InProgress', undefined, 'Brand-new'].map(mapModelPackageStatus)).toEqual([
      'running',
      'running',
      'running',
      'running',
    ]);
    expect(mapModelPackageStatus('Completed')).toBe('completed');
    expect(mapModelPackageStatus('Failed')).toBe('failed');
    expect(mapModelPackageStatus('Deleting')).toBe('failed');
  });
});
