import { TokenBucket } from '../../retry.js';
import type { SageMakerCall, SageMakerOp } from './provider.js';
import type { SageMakerSettings } from './settings.js';

const LIST_OPS: ReadonlySet<SageMakerOp> = new Set<SageMakerOp>([
  'ListTrainingJobs',
  'ListAutoMLJobs',
  'ListTransformJobs',
]);

/** One token bucket for `rate` calls per second; fractions allowed (0.5 = one call every 2 s), burst ≥ 1. */
function bucketFor(rate: number, clock: SageMakerClock): TokenBucket {
  return new TokenBucket({ ratePerSec: rate, burst: Math.max(1, Math.floor(rate)), ...clock });
}

/** Time source of the client-side limiters (tests and benches pass a fake clock). */
export interface SageMakerClock {
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Builds the SDK client (imported here, on first use, never at module load) and a call function with
 * one client-side rate limiter per API: SageMaker's quotas are per API, and List* ones are low.
 */
export async function createSageMakerCall(
  settings: SageMakerSettings,
  clock: SageMakerClock = {},
): Promise<{ call: SageMakerCall; destroy: () => void }> {
  const sdk = await import('@aws-sdk/client-sagemaker');
  const client = new sdk.SageMakerClient({
    region: settings.region,
    ...(settings.endpoint && { endpoint: settings.endpoint }),
    // Without static keys the SDK walks the default chain (env, profile, web identity, instance role).
    ...(settings.credentials && { credentials: settings.credentials }),
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes.
    requestHandler: {
      connectionTimeout: Math.min(settings.requestTimeoutMs, 10_000),
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
  const commands = {
    CreateTrainingJob: sdk.CreateTrainingJobCommand,
    CreateAutoMLJobV2: sdk.CreateAutoMLJobV2Command,
    CreateTransformJob: sdk.CreateTransformJobCommand,
    DescribeTrainingJob: sdk.DescribeTrainingJobCommand,
    DescribeAutoMLJobV2: sdk.DescribeAutoMLJobV2Command,
    DescribeTransformJob: sdk.DescribeTransformJobCommand,
    ListTrainingJobs: sdk.ListTrainingJobsCommand,
    ListAutoMLJobs: sdk.ListAutoMLJobsCommand,
    ListTransformJobs: sdk.ListTransformJobsCommand,
    StopTrainingJob: sdk.StopTrainingJobCommand,
    StopAutoMLJob: sdk.StopAutoMLJobCommand,
    StopTransformJob: sdk.StopTransformJobCommand,
    ListTags: sdk.ListTagsCommand,
  } as const satisfies Record<SageMakerOp, unknown>;
  const limited = new Map<SageMakerOp, (input: unknown) => Promise<unknown>>();
  for (const op of Object.keys(commands) as SageMakerOp[]) {
    const Command = commands[op] as unknown as new (input: unknown) => Parameters<typeof client.send>[0];
    const bucket = bucketFor(LIST_OPS.has(op) ? settings.listRatePerSec : settings.apiRatePerSec, clock);
    limited.set(op, async (input: unknown) => {
      await bucket.take();
      return client.send(new Command(input));
    });
  }
  const call = ((op: SageMakerOp, input: unknown) => limited.get(op)!(input)) as SageMakerCall;
  return { call, destroy: () => client.destroy() };
}
