import { describe, expect, it } from 'vitest';
import { POOL_CAPACITY_CODES, poolCapacityFailure } from '../../../src/lib/providers/azure-batch/mapping.js';
import {
  capacityFailureOf as azureMlCapacity,
  RUNTIME_CAPACITY_CODES as AZURE_ML_CODES,
} from '../../../src/lib/providers/azure-ml/status.js';
import {
  capacityFailureOf as sageMakerCapacity,
  trainingOutcome,
} from '../../../src/lib/providers/sagemaker/status.js';
import { capacityFailureOf as vertexCapacity } from '../../../src/lib/providers/vertex/status.js';

// Each provider's status mapping tells a run it accepted and then could not run for capacity or
// quota (the job fails over) from any other failure (the job fails). One case per documented code.

describe('SageMaker: capacity failures in FailureReason', () => {
  it.each([
    [
      'CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.',
      'CapacityError',
      false,
    ],
    [
      'InsufficientCapacityError: We currently do not have sufficient capacity for ml.p4d.24xlarge in the requested Availability Zones.',
      'InsufficientCapacityError',
      false,
    ],
    [
      "ResourceLimitExceeded: The account-level service limit 'ml.g5.xlarge for training job usage' is 2 Instances, with current utilization of 2 Instances.",
      'ResourceLimitExceeded',
      false,
    ],
    [
      "ResourceLimitExceeded: The account-level service limit 'ml.p4d.24xlarge for training job usage' is 0 Instances.",
      'ResourceLimitExceeded',
      true,
    ],
  ])('classifies %s as %s', (reason, code, lasting) => {
    expect(sageMakerCapacity(reason)).toEqual({ code, message: reason, lasting, runEnded: true });
  });

  it.each([
    'ClientError: Please ensure the S3 path exists.',
    'AlgorithmError: ExecuteUserScriptError: exit code 1',
    'InternalServerError: We encountered an internal error.',
    'ClientError: the container mentions CapacityError: later in the text',
    undefined,
  ])('leaves any other failure a failure: %s', (reason) => {
    expect(sageMakerCapacity(reason)).toBeUndefined();
  });

  it('a Failed training job with a CapacityError is reported no-capacity, not failed', () => {
    const reason = 'CapacityError: Unable to provision requested ML compute capacity.';
    const outcome = trainingOutcome({
      TrainingJobName: 'cjo-training-j1',
      TrainingJobStatus: 'Failed',
      FailureReason: reason,
      $metadata: {},
    } as Parameters<typeof trainingOutcome>[0]);
    expect(outcome).toMatchObject({
      status: 'no-capacity',
      capacity: { code: 'CapacityError', lasting: false, runEnded: true },
      error: { category: 'capacity' },
    });
    const user = trainingOutcome({
      TrainingJobName: 'cjo-training-j2',
      TrainingJobStatus: 'Failed',
      FailureReason: 'AlgorithmError: boom',
      $metadata: {},
    } as Parameters<typeof trainingOutcome>[0]);
    expect(user.status).toBe('failed');
    expect(user.capacity).toBeUndefined();
  });
});

describe('Vertex AI: capacity failures in the resource error', () => {
  it.each([
    [
      8,
      "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_training_cpus. Quota 'Custom model training CPUs per region' is 24, requested 32.",
      'RESOURCE_EXHAUSTED',
      false,
    ],
    [
      8,
      "The zone 'projects/p/zones/europe-west4-a' does not have enough resources available to fulfill the request. Try a different zone, or try again later.",
      'RESOURCE_EXHAUSTED',
      false,
    ],
    [
      8,
      "Quota exceeded for quota metric 'Custom model training Nvidia A100 GPUs per region': limit 0.",
      'RESOURCE_EXHAUSTED',
      true,
    ],
    [
      13,
      'Job failed: ZONE_RESOURCE_POOL_EXHAUSTED: no a2-highgpu-8g machines in us-central1-a.',
      'ZONE_RESOURCE_POOL_EXHAUSTED',
      false,
    ],
  ])('classifies code %i "%s" as %s', (code, message, expected, lasting) => {
    expect(vertexCapacity({ error: { code, message } })).toEqual({
      code: expected,
      message,
      lasting,
      runEnded: true,
    });
  });

  it.each([
    [3, 'Invalid image URI'],
    [13, 'Internal error occurred'],
    [9, 'The replica workerpool0-0 exited with a non-zero status of 1.'],
  ])('leaves code %i (%s) a failure', (code, message) => {
    expect(vertexCapacity({ error: { code, message } })).toBeUndefined();
  });

  it('a resource without an error is no capacity failure', () => {
    expect(vertexCapacity({})).toBeUndefined();
    expect(vertexCapacity({ error: null })).toBeUndefined();
  });
});

describe('Azure ML: capacity failures in the services error messages', () => {
  const cases: Array<[string, (typeof AZURE_ML_CODES)[number], boolean]> = [
    [
      'OutOfQuota: Not enough cluster CPU quota. The amount of additional CPU quota requested is 8, and you are currently using 14. Your amount of maximum quota is 20.',
      'OutOfQuota',
      false,
    ],
    ['OutOfQuota: Not enough cluster GPU quota. Your amount of maximum quota is 0.', 'OutOfQuota', true],
    ['InsufficientQuota: the workspace quota for the VM family is used up.', 'InsufficientQuota', false],
    [
      'QuotaExceeded: Operation results in exceeding quota limits of Standard NCSv3 Family vCPUs. Current Limit: 24.',
      'QuotaExceeded',
      false,
    ],
    [
      'JobNodeCountExceedsCoreQuota: The specified subscription has a Standard DSv2 family vCPU quota of 2 and is less than the requested job node count of 2.',
      'JobNodeCountExceedsCoreQuota',
      false,
    ],
    [
      'AllocationFailed: We do not have sufficient capacity for the requested VM size in this region.',
      'AllocationFailed',
      false,
    ],
    ['ZonalAllocationFailed: no capacity for the size in this zone.', 'ZonalAllocationFailed', false],
    [
      'OverconstrainedAllocationRequest: VM(s) with the following constraints cannot be allocated.',
      'OverconstrainedAllocationRequest',
      false,
    ],
    ["SkuNotAvailable: The requested VM size 'Standard_ND96amsr_A100_v4' is not available.", 'SkuNotAvailable', true],
  ];

  it('covers every code of the closed list', () => {
    expect(new Set(cases.map(([, code]) => code))).toEqual(new Set(AZURE_ML_CODES));
  });

  it.each(cases)('classifies "%s" as %s', (text, code, lasting) => {
    const message = `studio: ${text}`;
    expect(azureMlCapacity(['ws: the compute is starting', message])).toEqual({
      code,
      message,
      lasting,
      runEnded: true,
    });
  });

  it('leaves a user failure a failure', () => {
    expect(azureMlCapacity(['studio: UserError: Execution failed. User process exited with status 1'])).toBeUndefined();
    expect(azureMlCapacity([])).toBeUndefined();
  });
});

describe('Azure Batch: a pool that cannot get nodes', () => {
  it.each(POOL_CAPACITY_CODES)('an empty pool whose resize failed with %s strands its waiting tasks', (code) => {
    const failure = poolCapacityFailure({
      id: 'cjo-pool',
      allocationState: 'steady',
      currentDedicatedNodes: 0,
      currentLowPriorityNodes: 0,
      resizeErrors: [{ code, message: `Resize failed: ${code}` }],
    });
    // The task is still there at Batch: the use case must stop it before the job moves on.
    expect(failure).toEqual({
      code,
      message: `pool 'cjo-pool' has no node and its last resize failed: Resize failed: ${code}`,
      lasting: false,
      runEnded: false,
    });
  });

  it('a pool with a node is not stranded, whatever its last resize said (the task waits for a slot)', () => {
    expect(
      poolCapacityFailure({
        id: 'p',
        currentDedicatedNodes: 1,
        resizeErrors: [{ code: 'AccountCoreQuotaReached', message: 'quota' }],
      }),
    ).toBeUndefined();
  });

  it('a resize error that is not about capacity does not strand the pool', () => {
    expect(
      poolCapacityFailure({ id: 'p', currentDedicatedNodes: 0, resizeErrors: [{ code: 'ResizeStopped' }] }),
    ).toBeUndefined();
    expect(poolCapacityFailure({ id: 'p', currentDedicatedNodes: 0 })).toBeUndefined();
  });
});
