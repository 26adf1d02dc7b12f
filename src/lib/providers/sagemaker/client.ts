import type {
  CopyObjectCommandInput,
  CopyObjectCommandOutput,
  DeleteObjectCommandInput,
  DeleteObjectCommandOutput,
  HeadObjectCommandInput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandInput,
  ListObjectsV2CommandOutput,
  PutObjectCommandInput,
  PutObjectCommandOutput,
} from '@aws-sdk/client-s3';
import type { InvokeEndpointCommandInput, InvokeEndpointCommandOutput } from '@aws-sdk/client-sagemaker-runtime';
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
    requestHandler: requestHandler(settings),
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
    CreateModel: sdk.CreateModelCommand,
    DescribeModel: sdk.DescribeModelCommand,
    DeleteModel: sdk.DeleteModelCommand,
    CreateModelPackage: sdk.CreateModelPackageCommand,
    DescribeModelPackage: sdk.DescribeModelPackageCommand,
    DeleteModelPackage: sdk.DeleteModelPackageCommand,
    CreateEndpointConfig: sdk.CreateEndpointConfigCommand,
    DescribeEndpointConfig: sdk.DescribeEndpointConfigCommand,
    DeleteEndpointConfig: sdk.DeleteEndpointConfigCommand,
    CreateEndpoint: sdk.CreateEndpointCommand,
    DescribeEndpoint: sdk.DescribeEndpointCommand,
    UpdateEndpoint: sdk.UpdateEndpointCommand,
    DeleteEndpoint: sdk.DeleteEndpointCommand,

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

/** The S3 operations the asset operations use (datasets and exports are S3 objects). */
export interface S3Ops {
  PutObject: [PutObjectCommandInput, PutObjectCommandOutput];
  CopyObject: [CopyObjectCommandInput, CopyObjectCommandOutput];
  HeadObject: [HeadObjectCommandInput, HeadObjectCommandOutput];
  DeleteObject: [DeleteObjectCommandInput, DeleteObjectCommandOutput];
  ListObjectsV2: [ListObjectsV2CommandInput, ListObjectsV2CommandOutput];
}
export type S3Op = keyof S3Ops;
/** One S3 call through the SDK client. */
export type S3Call = <K extends S3Op>(op: K, input: S3Ops[K][0]) => Promise<S3Ops[K][1]>;
/** One InvokeEndpoint call through the SageMaker Runtime SDK client. */
export type InvokeCall = (input: InvokeEndpointCommandInput) => Promise<InvokeEndpointCommandOutput>;

/** Request handler settings shared by the three clients (the SDK default is to wait forever). */
function requestHandler(settings: SageMakerSettings) {
  return {
    connectionTimeout: Math.min(settings.requestTimeoutMs, 10_000),
    requestTimeout: settings.requestTimeoutMs,
    throwOnRequestTimeout: true,
  };
}

/**
 * The S3 client, imported on first use (only deployments that use datasets load it). With an
 * endpoint override buckets are addressed path-style, as S3-compatible stores and local stand-ins
 * expect. Checksums only where S3 requires them: the SDK's default CRC32 trailers are not spoken by
 * every S3-compatible store.
 */
export async function createS3Call(settings: SageMakerSettings): Promise<{ call: S3Call; destroy: () => void }> {
  const sdk = await import('@aws-sdk/client-s3');
  const client = new sdk.S3Client({
    region: settings.region,
    ...(settings.s3Endpoint && { endpoint: settings.s3Endpoint, forcePathStyle: true }),
    ...(settings.credentials && { credentials: settings.credentials }),
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: requestHandler(settings),
  });
  const commands = {
    PutObject: sdk.PutObjectCommand,
    CopyObject: sdk.CopyObjectCommand,
    HeadObject: sdk.HeadObjectCommand,
    DeleteObject: sdk.DeleteObjectCommand,
    ListObjectsV2: sdk.ListObjectsV2Command,
  } as const satisfies Record<S3Op, unknown>;
  const call = ((op: S3Op, input: unknown) => {
    const Command = commands[op] as unknown as new (input: unknown) => Parameters<typeof client.send>[0];
    return client.send(new Command(input));
  }) as S3Call;
  return { call, destroy: () => client.destroy() };
}

/** The SageMaker Runtime client (InvokeEndpoint), imported on first use, limited like the other APIs. */
export async function createInvokeCall(
  settings: SageMakerSettings,
  clock: SageMakerClock = {},
): Promise<{ call: InvokeCall; destroy: () => void }> {
  const sdk = await import('@aws-sdk/client-sagemaker-runtime');
  const client = new sdk.SageMakerRuntimeClient({
    region: settings.region,
    ...(settings.runtimeEndpoint && { endpoint: settings.runtimeEndpoint }),
    ...(settings.credentials && { credentials: settings.credentials }),
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    requestHandler: requestHandler(settings),
  });
  const bucket = bucketFor(settings.apiRatePerSec, clock);
  const call: InvokeCall = async (input) => {
    await bucket.take();
    return client.send(new sdk.InvokeEndpointCommand(input));
  };
  return { call, destroy: () => client.destroy() };
}
