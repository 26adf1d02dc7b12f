import { z } from 'zod';
import type { SettingInfo } from '../../config.js';
import { ConfigurationError } from '../../errors.js';
import { SAGEMAKER_SETTINGS, isSageMakerConfigured } from './catalog.js';

// The list and the configured check live in catalog.ts (light); this module parses them with zod.
export { SAGEMAKER_SETTINGS, isSageMakerConfigured };

/** Parsed SageMaker settings. */
export interface SageMakerSettings {
  readonly region: string;
  readonly endpoint?: string;
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

type Env = Readonly<Record<string, string | undefined>>;

const value = (env: Env, name: (typeof SAGEMAKER_SETTINGS)[number]['name']): string | undefined => {
  const v = env[name]?.trim();
  if (v) return v;
  const s = SAGEMAKER_SETTINGS.find((x) => x.name === name) as SettingInfo | undefined;
  return s?.default;
};

const positive = (max: number) => z.coerce.number().finite().positive().max(max);

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

const schema = z
  .object({
    SAGEMAKER_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1'),
    SAGEMAKER_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    SAGEMAKER_ACCESS_KEY_ID: z.string().optional(),
    SAGEMAKER_SECRET_ACCESS_KEY: z.string().optional(),
    SAGEMAKER_SESSION_TOKEN: z.string().optional(),
    SAGEMAKER_ROLE_ARN: ROLE_ARN.optional(),
    SAGEMAKER_OUTPUT_S3_URI: S3_URI.optional(),
    SAGEMAKER_NAME_PREFIX: z.string().regex(/^[a-z0-9]{1,8}$/, 'must be 1-8 lower-case letters or digits'),
    SAGEMAKER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10),
    SAGEMAKER_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000),
    SAGEMAKER_LIST_RATE_PER_SEC: positive(10_000),
    SAGEMAKER_API_RATE_PER_SEC: positive(10_000),
    SAGEMAKER_MAX_DESCRIBES_PER_POLL: z.coerce.number().int().min(1).max(100_000),
    SAGEMAKER_THROTTLE_BACKOFF_MS: z.coerce.number().int().min(0).max(3_600_000),
    SAGEMAKER_DEFAULT_INSTANCE_TYPE: z
      .string()
      .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type such as ml.m5.large'),
  })
  .refine((s) => Boolean(s.SAGEMAKER_ACCESS_KEY_ID) === Boolean(s.SAGEMAKER_SECRET_ACCESS_KEY), {
    message: 'set both SAGEMAKER_ACCESS_KEY_ID and SAGEMAKER_SECRET_ACCESS_KEY, or neither (default credential chain)',
    path: ['SAGEMAKER_SECRET_ACCESS_KEY'],
  });

/** Parses the provider's settings, throwing {@link ConfigurationError} naming each bad one. */
export function parseSageMakerSettings(env: Env): SageMakerSettings {
  const raw = Object.fromEntries(SAGEMAKER_SETTINGS.map((s) => [s.name, value(env, s.name)]));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'SAGEMAKER'}: ${i.message}`);
    throw new ConfigurationError(`Invalid SageMaker settings: ${issues.join('; ')}`);
  }
  const s = parsed.data;
  return {
    region: s.SAGEMAKER_REGION,
    ...(s.SAGEMAKER_ENDPOINT && { endpoint: s.SAGEMAKER_ENDPOINT }),
    ...(s.SAGEMAKER_ACCESS_KEY_ID &&
      s.SAGEMAKER_SECRET_ACCESS_KEY && {
        credentials: {
          accessKeyId: s.SAGEMAKER_ACCESS_KEY_ID,
          secretAccessKey: s.SAGEMAKER_SECRET_ACCESS_KEY,
          ...(s.SAGEMAKER_SESSION_TOKEN && { sessionToken: s.SAGEMAKER_SESSION_TOKEN }),
        },
      }),
    ...(s.SAGEMAKER_ROLE_ARN && { roleArn: s.SAGEMAKER_ROLE_ARN }),
    ...(s.SAGEMAKER_OUTPUT_S3_URI && { outputS3Uri: s.SAGEMAKER_OUTPUT_S3_URI.replace(/\/+$/, '') }),
    namePrefix: s.SAGEMAKER_NAME_PREFIX,
    maxAttempts: s.SAGEMAKER_MAX_ATTEMPTS,
    requestTimeoutMs: s.SAGEMAKER_REQUEST_TIMEOUT_MS,
    listRatePerSec: s.SAGEMAKER_LIST_RATE_PER_SEC,
    apiRatePerSec: s.SAGEMAKER_API_RATE_PER_SEC,
    maxDescribesPerPoll: s.SAGEMAKER_MAX_DESCRIBES_PER_POLL,
    throttleBackoffMs: s.SAGEMAKER_THROTTLE_BACKOFF_MS,
    defaultInstanceType: s.SAGEMAKER_DEFAULT_INSTANCE_TYPE,
  };
}
