import { createHash } from 'node:crypto';
import { SAGEMAKER_KINDS, type SageMakerKind } from './catalog.js';

export { SAGEMAKER_KINDS, type SageMakerKind };

/**
 * Name limits SageMaker documents: training and transform job names are up to 63 characters,
 * AutoML job names only 32; all match `^[a-zA-Z0-9](-*[a-zA-Z0-9])*` and are case-insensitive.
 */
export const NAME_MAX_LENGTH: Readonly<Record<SageMakerKind, number>> = { training: 63, automl: 32, transform: 63 };
const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;

/**
 * One letter per kind inside the name. Autopilot names the training and processing jobs it launches
 * after the AutoML job, so a kind-specific prefix keeps those children out of our ListTrainingJobs
 * results (`cjo-t-` never occurs inside `cjo-a-…`).
 */
const KIND_LETTER: Readonly<Record<SageMakerKind, string>> = { training: 't', automl: 'a', transform: 'b' };

/** Job ids the store issues: `j-` and a 26-character lower-case ULID. */
const STANDARD_JOB_ID = /^j-([0-9a-z]{26})$/;

/** The `NameContains` filter that finds every job of one kind this deployment created. */
export function namePrefixFor(prefix: string, kind: SageMakerKind): string {
  return `${prefix}-${KIND_LETTER[kind]}-`;
}

/**
 * The SageMaker job name of one of our jobs: deterministic, so a redelivered dispatch finds the job
 * it already created instead of starting a second billable one, and never suffixed at random.
 *
 * A standard id keeps its ULID visibly (`cjo-a-01jd3m2x7k9q8w4e5r6t7y8u9i`, exactly 32 characters for
 * AutoML with the default prefix). Any other id, or a prefix too long to fit, uses `h` and up to 24 hex
 * characters of SHA-256 of the id: never 26 characters long, so the two forms cannot collide.
 */
export function sageMakerJobName(prefix: string, kind: SageMakerKind, jobId: string): string {
  return derivedName(namePrefixFor(prefix, kind), NAME_MAX_LENGTH[kind], jobId, `a ${kind} job name`);
}

function derivedName(head: string, max: number, jobId: string, what: string): string {
  const ulid = STANDARD_JOB_ID.exec(jobId)?.[1];
  if (ulid && head.length + ulid.length <= max) return head + ulid;
  const room = Math.min(24, max - head.length - 1);
  if (room < 16) throw new Error(`name prefix '${head}' leaves too little room for ${what}`);
  const digest = createHash('sha256').update(jobId, 'utf8').digest('hex').slice(0, room);
  return `${head}h${digest}`;
}

/** SageMaker resources the asset operations create (models, endpoint configs and endpoints: 63 characters). */
export type AssetResource = 'model' | 'endpoint' | 'endpoint-config';
const ASSET_LETTER: Readonly<Record<AssetResource, string>> = { model: 'm', endpoint: 'e', 'endpoint-config': 'c' };

/**
 * The SageMaker name of a resource an asset operation creates, derived like job names (so a
 * redelivery re-attaches). Built from the job id, not the attempt: a resource is not a run, and a
 * later attempt must find the endpoint an earlier one created instead of leaving it billing.
 */
export function sageMakerAssetName(prefix: string, resource: AssetResource, jobId: string): string {
  return derivedName(`${prefix}-${ASSET_LETTER[resource]}-`, 63, jobId, `a ${resource} name`);
}

/** True when `name` satisfies SageMaker's documented length and character rules for `kind`. */
export function isValidJobName(kind: SageMakerKind, name: string): boolean {
  return name.length >= 1 && name.length <= NAME_MAX_LENGTH[kind] && NAME_PATTERN.test(name);
}

/** CloudWatch log group of training jobs; each instance writes a stream `<job name>/algo-<n>-<epoch>`. */
export const TRAINING_LOG_GROUP = '/aws/sagemaker/TrainingJobs';
/** CloudWatch log group of batch transform jobs (streams `<job name>/<instance id>`). */
export const TRANSFORM_LOG_GROUP = '/aws/sagemaker/TransformJobs';
