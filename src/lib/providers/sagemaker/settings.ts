import { z } from 'zod';
import { type Env, SettingsReader } from '../../settings.js';
import { SAGEMAKER_SETTINGS, isSageMakerConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them.
export { SAGEMAKER_SETTINGS, isSageMakerConfigured };

/** Parsed SageMaker settings. */
export interface SageMakerSettings {
  readonly region: string;
  readonly endpoint?: string;
  /** S3 endpoint override (path-style addressing when set). */
  readonly s3Endpoint?: string;
  /** SageMaker Runtime endpoint override (InvokeEndpoint). */
  readonly runtimeEndpoint?: string;
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  readonly roleArn?: string;
  readonly outputS3Uri?: string;
  readonly namePrefix: string;
  readonly maxAttempts: number;
  readonly requestTimeoutMs: number;
  readonly listRatePerSec: number;
  readonly apiRatePerSec: number;
  readonly maxDescribesPerPoll: number;
  readonly throttleBackoffMs: number;
  readonly defaultInstanceType: string;
}

type SageMakerSettingName = (typeof SAGEMAKER_SETTINGS)[number]['name'];

/** An IAM role ARN as SageMaker documents it (RoleArn pattern, 20-2048 characters). */
export const ROLE_ARN = z
  .string()
  .min(20)
  .max(2048)
  .regex(
    /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/,
    'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
  );

/** An `s3://bucket/prefix` URI. */
export const S3_URI = z
  .string()
  .max(1024)
  .regex(/^(https|s3):\/\/[^/]+\/?.*$/, 'must be an S3 URI (s3://bucket/prefix)');

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1');
const endpoint = z.url({ protocol: /^https?$/ });
const namePrefix = z.string().regex(/^[a-z0-9]{1,8}$/, 'must be 1-8 lower-case letters or digits');
const instanceType = z
  .string()
  .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type such as ml.m5.large');

/** Parses the provider's settings, throwing a ConfigurationError naming each bad one. */
export function parseSageMakerSettings(env: Env): SageMakerSettings {
  const read = new SettingsReader<SageMakerSettingName>(env, SAGEMAKER_SETTINGS);
  /** An optional setting with a shape: checked only when given. */
  const optional = <T>(name: SageMakerSettingName, schema: z.ZodType<T>): T | undefined =>
    read.raw(name) === undefined ? undefined : read.parse(name, schema);
  /** A rate: a number above 0. */
  const rate = (name: SageMakerSettingName): number => {
    const n = read.float(name, { min: 0, max: 10_000 });
    if (n === 0) read.issue(`${name} must be greater than 0`);
    return n;
  };
  const regionValue =
    read.raw('SAGEMAKER_REGION') === undefined
      ? read.string('SAGEMAKER_REGION')
      : read.parse('SAGEMAKER_REGION', region);
  const accessKeyId = read.raw('SAGEMAKER_ACCESS_KEY_ID');
  const secretAccessKey = read.raw('SAGEMAKER_SECRET_ACCESS_KEY');
  const sessionToken = read.raw('SAGEMAKER_SESSION_TOKEN');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    read.issue(
      'SAGEMAKER_SECRET_ACCESS_KEY: set both SAGEMAKER_ACCESS_KEY_ID and SAGEMAKER_SECRET_ACCESS_KEY, or neither (default credential chain)',
    );
  const endpointValue = optional('SAGEMAKER_ENDPOINT', endpoint);
  const s3Endpoint = optional('SAGEMAKER_S3_ENDPOINT', endpoint);
  const runtimeEndpoint = optional('SAGEMAKER_RUNTIME_ENDPOINT', endpoint);
  const roleArn = optional('SAGEMAKER_ROLE_ARN', ROLE_ARN);
  const outputS3Uri = optional('SAGEMAKER_OUTPUT_S3_URI', S3_URI);
  const settings: SageMakerSettings = {
    region: regionValue,
    ...(endpointValue && { endpoint: endpointValue }),
    ...(s3Endpoint && { s3Endpoint }),
    ...(runtimeEndpoint && { runtimeEndpoint }),
    ...(accessKeyId &&
      secretAccessKey && {
        credentials: { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) },
      }),
    ...(roleArn && { roleArn }),
    ...(outputS3Uri && { outputS3Uri: outputS3Uri.replace(/\/+$/, '') }),
    namePrefix: read.parse('SAGEMAKER_NAME_PREFIX', namePrefix),
    maxAttempts: read.int('SAGEMAKER_MAX_ATTEMPTS', { min: 1, max: 10 }),
    requestTimeoutMs: read.int('SAGEMAKER_REQUEST_TIMEOUT_MS', { min: 1, max: 600_000 }),
    listRatePerSec: rate('SAGEMAKER_LIST_RATE_PER_SEC'),
    apiRatePerSec: rate('SAGEMAKER_API_RATE_PER_SEC'),
    maxDescribesPerPoll: read.int('SAGEMAKER_MAX_DESCRIBES_PER_POLL', { min: 1, max: 100_000 }),
    throttleBackoffMs: read.int('SAGEMAKER_THROTTLE_BACKOFF_MS', { min: 0, max: 3_600_000 }),
    defaultInstanceType: read.parse('SAGEMAKER_DEFAULT_INSTANCE_TYPE', instanceType),
  };
  read.check('Invalid SageMaker settings');
  return settings;
}
