import type { CapacityFailure, ObservedStatus } from '../../ports/provider.js';

/** Every job status the Azure ML jobs API documents (`JobStatus`, api-version 2024-04-01). */
export const AZURE_ML_STATUSES = [
  'NotStarted',
  'Starting',
  'Provisioning',
  'Preparing',
  'Queued',
  'Running',
  'Finalizing',
  'CancelRequested',
  'Completed',
  'Failed',
  'Canceled',
  'NotResponding',
  'Paused',
  'Unknown',
] as const;
export type AzureMlStatus = (typeof AZURE_ML_STATUSES)[number];

/** `hold`: the status says nothing about progress; keep what we knew and record a note. */
export type AzureMlStatusMapping =
  | { readonly kind: 'status'; readonly status: Exclude<ObservedStatus, 'missing'> }
  | { readonly kind: 'hold'; readonly note: string };

export function isAzureMlStatus(value: unknown): value is AzureMlStatus {
  return typeof value === 'string' && (AZURE_ML_STATUSES as readonly string[]).includes(value);
}

/**
 * Maps an Azure ML job status to ours. Unknown strings (a status added after this api-version)
 * are treated like `Unknown`: held, never guessed into success or failure.
 */
export function mapAzureMlStatus(native: string | undefined): AzureMlStatusMapping {
  const status: AzureMlStatus = isAzureMlStatus(native) ? native : 'Unknown';
  switch (status) {
    case 'NotStarted':
    case 'Starting':
    case 'Provisioning':
    case 'Preparing':
    case 'Queued':
      return { kind: 'status', status: 'dispatched' };
    case 'Running':
    // Finalizing: the user code ended and outputs are being collected; not yet a success.
    case 'Finalizing':
      return { kind: 'status', status: 'running' };
    case 'CancelRequested':
      return { kind: 'status', status: 'cancelling' };
    case 'Completed':
      return { kind: 'status', status: 'succeeded' };
    case 'Failed':
      return { kind: 'status', status: 'failed' };
    case 'Canceled':
      return { kind: 'status', status: 'cancelled' };
    // NotResponding may return to any earlier state (documented), so it is not a failure.
    case 'NotResponding':
      return { kind: 'hold', note: 'Azure ML reports the job NotResponding (no heartbeat); it may recover' };
    case 'Paused':
      return { kind: 'hold', note: 'Azure ML reports the job Paused' };
    case 'Unknown':
      return {
        kind: 'hold',
        note:
          native && native !== 'Unknown'
            ? `Azure ML reports a status this api-version does not know: '${native}'`
            : 'Azure ML reports the job status Unknown',
      };
    default: {
      const unreachable: never = status;
      throw new Error(`unmapped Azure ML status ${String(unreachable)}`);
    }
  }
}

/**
 * `provisioningState` of online endpoints and deployments (api-version 2024-04-01). Endpoints use
 * Creating/Updating/Deleting/Succeeded/Failed/Canceled; deployments add Scaling.
 */
export const PROVISIONING_STATES = [
  'Creating',
  'Updating',
  'Scaling',
  'Deleting',
  'Succeeded',
  'Failed',
  'Canceled',
] as const;
export type ProvisioningState = (typeof PROVISIONING_STATES)[number];

/** What a resource's provisioning state (or an ARM operation's status) means for the operation on it. */
export type ProvisioningPhase = 'in-progress' | 'succeeded' | 'failed';

/**
 * Maps a `provisioningState`. An unknown value is treated as still in progress, never as an
 * outcome: ARM documents that any state other than Succeeded/Failed/Canceled is non-terminal.
 */
export function mapProvisioningState(state: string | undefined): ProvisioningPhase {
  const known = (PROVISIONING_STATES as readonly string[]).includes(state ?? '')
    ? (state as ProvisioningState)
    : undefined;
  switch (known) {
    case 'Succeeded':
      return 'succeeded';
    case 'Failed':
    case 'Canceled':
      return 'failed';
    case 'Creating':
    case 'Updating':
    case 'Scaling':
    case 'Deleting':
    case undefined:
      return 'in-progress';
    default: {
      const unreachable: never = known;
      throw new Error(`unmapped provisioning state ${String(unreachable)}`);
    }
  }
}

/**
 * Maps the `status` of an Azure-AsyncOperation document (`InProgress`, `Succeeded`, `Failed`,
 * `Canceled`; ARM lets services add non-terminal values of their own, which stay in progress).
 */
export function mapOperationStatus(status: string | undefined): ProvisioningPhase {
  if (status === 'Succeeded') return 'succeeded';
  if (status === 'Failed' || status === 'Canceled') return 'failed';
  return 'in-progress';
}

/**
 * Codes with which Azure ML fails a job it had accepted because its compute could not get nodes:
 * the cluster's or subscription's vCPU quota for the VM family used up (`OutOfQuota` "Not enough
 * cluster CPU quota", `InsufficientQuota`, `QuotaExceeded`, `JobNodeCountExceedsCoreQuota`) and the
 * region having no VMs of the size (`AllocationFailed`, `ZonalAllocationFailed`,
 * `OverconstrainedAllocationRequest`, `SkuNotAvailable`). The job resource carries them only in its
 * services' error messages. Closed: a new code fails compilation wherever they are mapped.
 */
export const RUNTIME_CAPACITY_CODES = [
  'OutOfQuota',
  'InsufficientQuota',
  'QuotaExceeded',
  'JobNodeCountExceedsCoreQuota',
  'AllocationFailed',
  'ZonalAllocationFailed',
  'OverconstrainedAllocationRequest',
  'SkuNotAvailable',
] as const;
export type RuntimeCapacityCode = (typeof RUNTIME_CAPACITY_CODES)[number];

const ZERO_QUOTA = /current limit:? 0\b|limit of 0\b|quota of 0\b|maximum quota is 0\b/i;

/** The first capacity code named in a failed job's error messages, if any. */
export function runtimeCapacityCode(messages: readonly string[]): RuntimeCapacityCode | undefined {
  for (const message of messages) {
    const code = RUNTIME_CAPACITY_CODES.find((c) => new RegExp(`\\b${c}\\b`).test(message));
    if (code) return code;
  }
  return undefined;
}

/**
 * The capacity failure of a job Azure ML reports `Failed`, from its error messages, or `undefined`
 * for any other failure. A size the region does not offer and a quota of 0 are lasting. The job
 * has ended: there is nothing left to stop.
 */
export function capacityFailureOf(messages: readonly string[]): CapacityFailure | undefined {
  const code = runtimeCapacityCode(messages);
  if (!code) return undefined;
  const message = messages.find((m) => m.includes(code)) ?? code;
  switch (code) {
    case 'SkuNotAvailable':
      return { code, message, lasting: true, runEnded: true };
    case 'OutOfQuota':
    case 'InsufficientQuota':
    case 'QuotaExceeded':
    case 'JobNodeCountExceedsCoreQuota':
      return { code, message, lasting: ZERO_QUOTA.test(message), runEnded: true };
    case 'AllocationFailed':
    case 'ZonalAllocationFailed':
    case 'OverconstrainedAllocationRequest':
      return { code, message, lasting: false, runEnded: true };
    default: {
      const never: never = code;
      throw new Error(`unmapped capacity code ${String(never)}`);
    }
  }
}
