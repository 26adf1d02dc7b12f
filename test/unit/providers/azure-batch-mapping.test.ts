import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/lib/core/job.js';
import {
  ConfigurationError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../../src/lib/errors.js';
import {
  autoscaleFormula,
  batchErrorMessage,
  buildPoolAddParameter,
  classifyBatchError,
  normaliseCategory,
  observeTask,
  poolIdFor,
  reportFor,
  resolveJobOptions,
  taskIdFor,
  toProviderError,
  type TaskSnapshot,
} from '../../../src/lib/providers/azure-batch/mapping.js';
import { isAzureBatchConfigured, parseAzureBatchSettings } from '../../../src/lib/providers/azure-batch/settings.js';

const settings = parseAzureBatchSettings({
  AZURE_BATCH_ACCOUNT_URL: 'https://acct.westeurope.batch.azure.com/',
  AZURE_BATCH_ALLOWED_VM_SIZES: 'Standard_D4s_v3, Standard_E8s_v5',
  AZURE_BATCH_MAX_TASK_RETRIES: '3',
});

function job(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: 'j-01jd3m2x7k9q8w4e5r6t7y8u9i',
    status: 'dispatched',
    source: 'api',
    spec: { rows: 1, estimated_runtime_sec: 1, priority: 'normal', latency_sensitive: false, data: {}, labels: {} },
    createdAt: '2026-11-23T10:00:00.000Z',
    updatedAt: '2026-11-23T10:00:00.000Z',
    attempts: 1,
    eventSeq: 1,
    ...overrides,
  };
}

const completed = (executionInfo: TaskSnapshot['executionInfo']): TaskSnapshot => ({
  id: 't',
  state: 'completed',
  executionInfo,
});

describe('azure-batch settings', () => {
  it('applies the seed defaults and Entra ID when no key is set', () => {
    expect(settings).toMatchObject({
      accountUrl: 'https://acct.westeurope.batch.azure.com',
      poolId: 'cjo-pool',
      vmSize: 'Standard_D2s_v3',
      taskSlotsPerNode: 4,
      autoscale: true,
      maxNodes: 10,
      nodeAgentSku: 'batch.node.ubuntu 22.04',
      retentionSec: 3600,
    });
    expect(settings.sharedKey).toBeUndefined();
    expect(settings.allowedVmSizes).toEqual(['standard_d2s_v3', 'standard_d4s_v3', 'standard_e8s_v5']);
  });

  it('is configured by the account URL alone', () => {
    expect(isAzureBatchConfigured({ AZURE_BATCH_ACCOUNT_URL: 'https://a.b.batch.azure.com' })).toBe(true);
    expect(isAzureBatchConfigured({ AZURE_BATCH_ACCOUNT_URL: '  ' })).toBe(false);
  });

  it('refuses a key without an account name and a bad staging container, naming the settings', () => {
    expect(() =>
      parseAzureBatchSettings({ AZURE_BATCH_ACCOUNT_URL: 'https://a.b', AZURE_BATCH_ACCOUNT_KEY: 'k' }),
    ).toThrow(/AZURE_BATCH_ACCOUNT_NAME/);
    expect(() =>
      parseAzureBatchSettings({ AZURE_BATCH_ACCOUNT_URL: 'https://a.b', AZURE_BATCH_STAGING_CONTAINER: 'Bad_Name' }),
    ).toThrow(ConfigurationError);
  });
});

describe('azure-batch ids and options', () => {
  it('uses the job id as task id when Batch accepts it, and a stable hash otherwise', () => {
    expect(taskIdFor('j-01jd3m2x7k9q8w4e5r6t7y8u9i')).toBe('j-01jd3m2x7k9q8w4e5r6t7y8u9i');
    const hashed = taskIdFor('job with spaces/and:colons');
    expect(hashed).toMatch(/^t-[0-9a-f]{40}$/);
    expect(taskIdFor('job with spaces/and:colons')).toBe(hashed);
    expect(taskIdFor('x'.repeat(65))).toMatch(/^t-/);
  });

  it('gives the default VM size the configured pool and other sizes their own pool', () => {
    expect(poolIdFor(settings, 'standard_d2s_v3')).toBe('cjo-pool');
    expect(poolIdFor(settings, 'Standard_E8s_v5')).toBe('cjo-pool-standard_e8s_v5');
  });

  it('validates per-job options against the limits with spec.* field paths', () => {
    const bad = job({
      spec: {
        ...job().spec,
        spec: {
          vmSize: 'Standard_M128',
          maxTaskRetryCount: 9,
          requiredSlots: 5,
          environment: { AZ_BATCH_NODE_ID: 'x' },
        },
      },
    });
    let error: unknown;
    try {
      resolveJobOptions(bad, settings, 3600);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field)).toContain('spec.environment.AZ_BATCH_NODE_ID');

    const limits = job({
      spec: { ...job().spec, spec: { vmSize: 'Standard_M128', maxTaskRetryCount: 9, requiredSlots: 5 } },
    });
    expect(() => resolveJobOptions(limits, settings, 3600)).toThrow(ValidationError);
    try {
      resolveJobOptions(limits, settings, 3600);
    } catch (e) {
      expect((e as ValidationError).issues.map((i) => i.field).sort()).toEqual([
        'spec.maxTaskRetryCount',
        'spec.requiredSlots',
        'spec.vmSize',
      ]);
    }
  });

  it('takes max_runtime_sec for the wall clock and the configured retries by default', () => {
    const options = resolveJobOptions(job({ spec: { ...job().spec, max_runtime_sec: 120 } }), settings, 3600);
    expect(options).toMatchObject({
      maxRuntimeSec: 120,
      maxTaskRetryCount: 3,
      requiredSlots: 1,
      poolId: 'cjo-pool',
      batchJobId: 'cjo-cjo-pool',
    });
    expect(resolveJobOptions(job(), settings, 3600).maxRuntimeSec).toBe(3600);
  });
});

describe('azure-batch pool', () => {
  it('builds a scale-to-zero formula in Batch syntax with the slots and cap substituted', () => {
    const formula = autoscaleFormula(4, 10);
    const statements = formula.split('\n');
    expect(statements.every((s) => s.endsWith(';'))).toBe(true);
    expect(formula).toContain('$PendingTasks.GetSamplePercent(TimeInterval_Minute * 5)');
    expect(formula).toContain('$TargetDedicatedNodes = $pending > 0 ? min(10, ($pending + 3) / 4) : 0;');
    expect(formula).toContain('$NodeDeallocationOption = taskcompletion;');
  });

  it('uses fixed nodes when autoscale is off and a managed identity for the registry when configured', () => {
    const fixed = parseAzureBatchSettings({
      AZURE_BATCH_ACCOUNT_URL: 'https://a.b',
      AZURE_BATCH_AUTOSCALE: 'false',
      AZURE_BATCH_NODE_COUNT: '2',
      AZURE_BATCH_REGISTRY_SERVER: 'myacr.azurecr.io',
      AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID:
        '/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull',
    });
    const pool = buildPoolAddParameter(fixed, 'p', 'Standard_D2s_v3');
    expect(pool).toMatchObject({ enableAutoScale: false, targetDedicatedNodes: 2 });
    expect(pool.autoScaleFormula).toBeUndefined();
    expect(pool.virtualMachineConfiguration?.containerConfiguration?.containerRegistries).toEqual([
      {
        registryServer: 'myacr.azurecr.io',
        identityReference: {
          resourceId:
            '/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull',
        },
      },
    ]);
  });
});

describe('azure-batch status mapping', () => {
  it('maps active and preparing to dispatched, running to running', () => {
    expect(observeTask({ state: 'active' }, job()).status).toBe('dispatched');
    expect(observeTask({ state: 'preparing' }, job()).status).toBe('dispatched');
    expect(observeTask({ state: 'running' }, job()).status).toBe('running');
  });

  it('maps completed by exit code and failure info, never completed alone to success', () => {
    expect(
      observeTask(completed({ exitCode: 0, result: 'success', retryCount: 0, requeueCount: 0 }), job()).status,
    ).toBe('succeeded');
    const failed = observeTask(
      completed({
        exitCode: 2,
        result: 'failure',
        retryCount: 0,
        requeueCount: 0,
        failureInfo: {
          category: 'UserError' as never,
          code: 'FailureExitCode',
          message: 'The task exited with an exit code representing a failure',
        },
      }),
      job(),
    );
    expect(failed).toEqual({
      status: 'failed',
      error: {
        code: 'FailureExitCode',
        category: 'usererror',
        message: 'The task exited with an exit code representing a failure; exit code 2',
      },
    });
    const noExit = observeTask(
      completed({
        result: 'failure',
        retryCount: 0,
        requeueCount: 0,
        failureInfo: { category: 'servererror', code: 'BlobDownloadTimedOut' },
      }),
      job(),
    );
    expect(noExit).toMatchObject({
      status: 'failed',
      error: { code: 'BlobDownloadTimedOut', category: 'servererror' },
    });
    expect(observeTask(completed({ exitCode: 3, retryCount: 0, requeueCount: 0 }), job())).toMatchObject({
      status: 'failed',
      error: { code: 'NonZeroExitCode' },
    });
  });

  it('normalises failure categories in any case', () => {
    expect(normaliseCategory('UserError')).toBe('usererror');
    expect(normaliseCategory('serverError')).toBe('servererror');
    expect(normaliseCategory('other')).toBeUndefined();
  });

  it('reads TaskEnded as cancelled when we asked, and as a timeout failure when the wall clock ran out', () => {
    const ended = (details?: Array<{ name: string; value: string }>): TaskSnapshot =>
      completed({
        exitCode: 137,
        result: 'failure',
        retryCount: 0,
        requeueCount: 0,
        failureInfo: {
          category: 'usererror',
          code: 'TaskEnded',
          message: 'Task Was Ended by User Request',
          ...(details ? { details } : {}),
        },
      });
    expect(observeTask(ended(), job({ status: 'cancelling' })).status).toBe('cancelled');
    expect(observeTask(ended(), job({ status: 'running', cancelRequestedAt: '2026-11-23T10:01:00Z' })).status).toBe(
      'cancelled',
    );
    const timeout = observeTask(
      ended([{ name: 'Message', value: 'The maximum execution time configured on the task was exceeded' }]),
      job({ status: 'running' }),
    );
    expect(timeout).toMatchObject({ status: 'failed', error: { code: 'MaxWallClockTimeExceeded' } });
    // Someone terminated it in the portal: stopped, not succeeded and not a job failure.
    expect(observeTask(ended(), job({ status: 'running' })).status).toBe('cancelled');
  });

  it('reports a task that finished before the cancel reached it as succeeded', () => {
    const report = reportFor(
      completed({ exitCode: 0, result: 'success', retryCount: 0, requeueCount: 0 }),
      job({ status: 'cancelling' }),
    );
    expect(report?.status).toBe('succeeded');
  });

  it('reports only changes, and notes retries and requeues with updated counters', () => {
    expect(
      reportFor(
        { id: 't', state: 'running', executionInfo: { retryCount: 0, requeueCount: 0 } },
        job({ status: 'running' }),
      ),
    ).toBeUndefined();
    const retried = reportFor(
      { id: 't', state: 'active', executionInfo: { retryCount: 1, requeueCount: 0 } },
      job({ status: 'running', providerRef: { taskId: 't', retryCount: 0, requeueCount: 0 } }),
    );
    expect(retried).toMatchObject({
      status: 'running',
      nativeStatus: 'active',
      ref: { taskId: 't', retryCount: 1, requeueCount: 0 },
    });
    expect(retried?.notes?.[0]).toMatch(/retried/);
    // Asked to stop but still running: reported, so the poll use case sends the stop again.
    expect(reportFor({ id: 't', state: 'running' }, job({ status: 'cancelling' }))).toMatchObject({
      status: 'running',
    });
    expect(reportFor({ id: 't', state: 'active' }, job({ status: 'cancelling' }))).toMatchObject({
      status: 'dispatched',
    });
  });
});

describe('azure-batch errors', () => {
  const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name.toLowerCase()] });

  it('classifies throttling and outages as healable and request errors as final', () => {
    expect(classifyBatchError({ statusCode: 429, code: 'TooManyRequests' })).toBe('throttled');
    expect(classifyBatchError({ statusCode: 503, code: 'ServerBusy' })).toBe('unavailable');
    expect(classifyBatchError({ statusCode: 500 })).toBe('unavailable');
    expect(classifyBatchError({ code: 'ECONNREFUSED' })).toBe('unavailable');
    expect(classifyBatchError({ statusCode: 403, code: 'AuthenticationFailed' })).toBe('unavailable');
    expect(classifyBatchError({ statusCode: 400, code: 'InvalidPropertyValue' })).toBe('rejected');
  });

  it('honours Retry-After in seconds or as a date, and reads the {lang, value} message', () => {
    const throttled = toProviderError(
      { statusCode: 429, code: 'TooManyRequests', response: { headers: headers({ 'retry-after': '7' }) } },
      1000,
    );
    expect(throttled).toBeInstanceOf(ProviderThrottledError);
    expect((throttled as ProviderThrottledError).retryAfterMs).toBe(7000);

    const rejected = toProviderError(
      {
        statusCode: 400,
        code: 'InvalidPropertyValue',
        message: { lang: 'en-US', value: 'The value provided for one of the properties is invalid.' },
      },
      0,
    );
    expect(rejected).toBeInstanceOf(ProviderRejectedError);
    expect((rejected as ProviderRejectedError).providerCode).toBe('InvalidPropertyValue');
    expect(rejected.message).toContain('The value provided for one of the properties is invalid.');
    expect(toProviderError({ statusCode: 503 }, 0)).toBeInstanceOf(ProviderUnavailableError);
    expect(batchErrorMessage({ body: { message: { value: 'from body' } } })).toBe('from body');
  });
});
