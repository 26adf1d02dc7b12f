import { ASSET_OPS } from '../../core/asset-ops.js';
import type { SettingInfo } from '../../config.js';

// The provider's settings and the check that it is configured: light (no zod, no SDK), so the
// descriptor in index.ts and the settings catalogue can import it from the Functions entry.

/**
 * Settings of the SageMaker provider. Nothing about the account is hard-coded (the original
 * executor pinned region and bucket): region, endpoint, credentials, role and output location all
 * come from here.
 */
export const SAGEMAKER_SETTINGS = [
  {
    name: 'SAGEMAKER_REGION',
    scope: ['provider'],
    description: 'AWS region of the SageMaker jobs (e.g. eu-west-1). The provider is configured when this is set.',
  },
  {
    name: 'SAGEMAKER_ENDPOINT',
    scope: ['provider'],
    description:
      'Optional endpoint override (http(s)://host:port) for tests, FIPS/VPC endpoints or other deployments; empty uses the regional endpoint.',
  },
  {
    name: 'SAGEMAKER_S3_ENDPOINT',
    scope: ['provider'],
    description:
      'Optional S3 endpoint override (http(s)://host:port) for datasets and exports (S3-compatible stores, VPC endpoints, tests); when set, buckets are addressed path-style. Empty uses the regional S3 endpoint.',
  },
  {
    name: 'SAGEMAKER_RUNTIME_ENDPOINT',
    scope: ['provider'],
    description:
      'Optional SageMaker Runtime endpoint override (http(s)://host:port) for endpoint invocations (Essedum infer/explain); empty uses the regional runtime endpoint.',
  },
  {
    name: 'SAGEMAKER_ACCESS_KEY_ID',
    scope: ['provider'],
    description:
      'Optional static access key id. With the secret below it replaces the AWS default credential chain (environment, profile, web identity, container/instance role).',
  },
  {
    name: 'SAGEMAKER_SECRET_ACCESS_KEY',
    scope: ['provider'],
    description: 'Optional static secret access key, paired with SAGEMAKER_ACCESS_KEY_ID.',
    secret: true,
  },
  {
    name: 'SAGEMAKER_SESSION_TOKEN',
    scope: ['provider'],
    description: 'Optional session token for temporary static credentials.',
    secret: true,
  },
  {
    name: 'SAGEMAKER_ROLE_ARN',
    scope: ['provider'],
    description: 'Default IAM execution role for jobs whose spec names no role_arn.',
  },
  {
    name: 'SAGEMAKER_OUTPUT_S3_URI',
    scope: ['provider'],
    description:
      'Default S3 location (s3://bucket/prefix) for model artifacts and outputs of jobs whose spec names none.',
  },
  {
    name: 'SAGEMAKER_NAME_PREFIX',
    scope: ['provider'],
    default: 'cjo',
    description:
      'Prefix of every SageMaker job name this deployment creates (1-8 lower-case letters/digits); List calls filter on it.',
  },
  {
    name: 'SAGEMAKER_MAX_ATTEMPTS',
    scope: ['provider'],
    default: '3',
    description:
      'Attempts per SageMaker API call made by the SDK (1 = no SDK retries; throttling then surfaces at once and the poller backs off).',
  },
  {
    name: 'SAGEMAKER_REQUEST_TIMEOUT_MS',
    scope: ['provider'],
    default: '30000',
    description:
      'Time one SageMaker HTTP request may take before it is abandoned (the SDK default is to wait forever).',
  },
  {
    name: 'SAGEMAKER_LIST_RATE_PER_SEC',
    scope: ['provider'],
    default: '1',
    description:
      'Client-side limit of List* calls per second, per List API (SageMaker List* quotas are a few per second per account).',
  },
  {
    name: 'SAGEMAKER_API_RATE_PER_SEC',
    scope: ['provider'],
    default: '4',
    description: 'Client-side limit of calls per second for each other SageMaker API (Create*, Describe*, Stop*).',
  },
  {
    name: 'SAGEMAKER_MAX_DESCRIBES_PER_POLL',
    scope: ['provider'],
    default: '100',
    description:
      'Most Describe calls one poll cycle makes; when more jobs finished at once, the rest are described in the next cycles.',
  },
  {
    name: 'SAGEMAKER_THROTTLE_BACKOFF_MS',
    scope: ['provider'],
    default: '5000',
    description: 'Back-off reported to the poller when SageMaker throttles without a Retry-After header.',
  },
  {
    name: 'SAGEMAKER_DEFAULT_INSTANCE_TYPE',
    scope: ['provider'],
    default: 'ml.m5.large',
    description: 'Instance type of training and transform jobs, and of endpoints, whose spec names none.',
  },
] as const satisfies readonly SettingInfo[];

/** True when the provider can run: a region is set. */
export function isSageMakerConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.SAGEMAKER_REGION?.trim());
}

/** The three SageMaker job kinds this provider runs. */
export const SAGEMAKER_KINDS = ['training', 'automl', 'transform'] as const;
export type SageMakerKind = (typeof SAGEMAKER_KINDS)[number];

/**
 * The MLOps asset operations (issue 18), one job kind each, named alike on every provider:
 * datasets and exports are S3 objects, models SageMaker models (and model packages), endpoints
 * SageMaker real-time endpoints.
 */
export const SAGEMAKER_ASSET_KINDS = ASSET_OPS;
export type SageMakerAssetKind = (typeof SAGEMAKER_ASSET_KINDS)[number];

/** Every job kind the SageMaker provider accepts. */
export const SAGEMAKER_ALL_KINDS = [...SAGEMAKER_KINDS, ...SAGEMAKER_ASSET_KINDS] as const;
