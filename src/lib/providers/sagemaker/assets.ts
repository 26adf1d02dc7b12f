import { createHash } from 'node:crypto';
import type { DescribeModelCommandOutput, ProductionVariant, Tag } from '@aws-sdk/client-sagemaker';
import type { JobRecord, ProviderRef } from '../../core/job.js';
import { ProviderRejectedError, ProviderUnavailableError, ValidationError } from '../../errors.js';
import type { PollReport, SubmitOutcome } from '../../ports/provider.js';
import {
  MAX_PREFIX_OBJECTS,
  type DatasetCreateSpec,
  type EndpointDeploySpec,
  type EndpointUndeploySpec,
  type ModelRegisterSpec,
  type SageMakerAssetKind,
  type SageMakerAssetSpec,
} from './asset-spec.js';
import type { InvokeCall, S3Call } from './client.js';
import { errorCode, errorMessage, isNotFound, PROVIDER, transientError } from './errors.js';
import { sageMakerAssetName } from './names.js';
import type { SageMakerCall } from './provider.js';
import { JOB_ID_TAG } from './requests.js';
import type { SageMakerSettings } from './settings.js';
import { isEndpointStatus, mapEndpointStatus, mapModelPackageStatus, runtimeCapacityCode } from './status.js';

/**
 * The MLOps asset operations on SageMaker (issue 18): datasets and exports are S3 objects (or
 * prefixes), models are SageMaker models (and, when asked, model package versions), endpoints are
 * real-time endpoints whose models are production variants.
 *
 * Every operation is a job: `submit` starts it idempotently (names derive from the job id; a name
 * SageMaker already has is ours and is re-attached to), `poll` confirms it through the provider.
 * S3 calls and deletes finish at once; the poll still reads the object or resource back, so a
 * record never says a dataset exists or a model is gone unless S3 or SageMaker says so.
 *
 * SageMaker has no endpoint without a model. An `endpoint-create` without a model creates nothing
 * yet: its endpoint is created by the first deploy, and undeploying the last model deletes it
 * (stopping its billing) while the asset stays usable for the next deploy.
 */

/** What `result.asset` holds (MLOPS.md §1). */
export interface AssetSummary {
  readonly kind: 'dataset' | 'model' | 'endpoint';
  readonly id: string;
  readonly name: string;
  readonly uri?: string;
  readonly instanceType?: string;
  readonly instanceCount?: number;
  readonly deployedModels?: string[];
}

export interface SageMakerAssetsOptions {
  readonly call: SageMakerCall;
  /** The S3 client, created on first use. */
  readonly s3: () => Promise<S3Call>;
  /** The SageMaker Runtime client, created on first use. */
  readonly invoke: () => Promise<InvokeCall>;
  readonly settings: SageMakerSettings;
}

interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/** `s3://bucket/key` → bucket and key (the spec schemas have checked the form). */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new ValidationError([{ field: 'spec.spec.uri', message: `'${uri}' is not s3://bucket/key` }]);
  return { bucket: m[1]!, key: m[2]! };
}

const isPrefix = (uri: string): boolean => uri.endsWith('/');

/** CopyObject's `x-amz-copy-source` is `bucket/key`, URL-encoded (slashes kept). */
function copySource(from: S3Location): string {
  return `${from.bucket}/${from.key.split('/').map(encodeURIComponent).join('/')}`;
}

/** S3's answers for "no such object" (HEAD has no body, so only the status says it). */
function isS3NotFound(error: unknown): boolean {
  const code = errorCode(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchBucket' || status === 404;
}

/** SageMaker's "not there" for models, endpoints and configs: a ValidationException "Could not find …". */
function isGone(error: unknown): boolean {
  return (
    isNotFound(error) || (errorCode(error) === 'ValidationException' && /could not find/i.test(errorMessage(error)))
  );
}

/** A create that found our derived name taken: an earlier delivery made it. */
function isTaken(error: unknown): boolean {
  const code = errorCode(error);
  if (code === 'ResourceInUse') return true;
  return code === 'ValidationException' && /already exist|must be unique/i.test(errorMessage(error));
}

/** An update or delete refused because another change of the endpoint is under way: heals by waiting. */
function isBusy(error: unknown): boolean {
  return (
    errorCode(error) === 'ValidationException' && /in-progress|in progress|is in .*status/i.test(errorMessage(error))
  );
}

export class SageMakerAssets {
  private readonly call: SageMakerCall;
  private readonly s3: () => Promise<S3Call>;
  private readonly invokeCall: () => Promise<InvokeCall>;
  private readonly settings: SageMakerSettings;

  constructor(options: SageMakerAssetsOptions) {
    this.call = options.call;
    this.s3 = options.s3;
    this.invokeCall = options.invoke;
    this.settings = options.settings;
  }

  /** Maps a failed call: what heals with time is retried, anything else rejects the operation. */
  private fail(error: unknown, what: string): Error {
    if (error instanceof ProviderRejectedError || error instanceof ProviderUnavailableError) return error;
    const transient = transientError(error, this.settings.throttleBackoffMs);
    if (transient) return transient;
    if (isBusy(error)) return new ProviderUnavailableError(PROVIDER, `${what}: ${errorMessage(error)}`, error, 30_000);
    return new ProviderRejectedError(PROVIDER, errorCode(error), `${what}: ${errorMessage(error)}`, error);
  }

  private tags(job: JobRecord, name: string, extra?: Readonly<Record<string, string>>): Tag[] {
    return [
      { Key: JOB_ID_TAG, Value: job.id },
      { Key: 'essedum-name', Value: name.slice(0, 256) },
      ...Object.entries(extra ?? {}).map(([Key, Value]) => ({ Key, Value })),
    ];
  }

  /** S3 object tagging (URL-encoded query form), so objects we write carry the deployment's job tag too. */
  private s3Tagging(job: JobRecord): string {
    return new URLSearchParams({ [JOB_ID_TAG]: job.id }).toString();
  }

  // ---- submit ------------------------------------------------------------------------------

  async submit(job: JobRecord, parsed: SageMakerAssetSpec): Promise<SubmitOutcome> {
    const base = { kind: parsed.kind, name: parsed.spec.name };
    switch (parsed.kind) {
      case 'dataset-create':
        await this.createDataset(job, parsed.spec);
        return running({
          ...base,
          uri: parsed.spec.uri,
          created: parsed.spec.source_uri !== undefined || parsed.spec.content !== undefined,
        });
      case 'dataset-export':
      case 'model-export':
        await this.copy(job, parsed.spec.source_uri, parsed.spec.destination_uri);
        return running({ ...base, uri: parsed.spec.destination_uri, created: true });
      case 'dataset-delete':
        await this.deleteObjects(parsed.spec.uri);
        return running({ ...base, uri: parsed.spec.uri });
      case 'model-register':
        return this.registerModel(job, parsed.spec);
      case 'model-delete': {
        const { model_name, model_package_arn } = parsed.spec;
        await this.ignoreGone(() => this.call('DeleteModel', { ModelName: model_name }), `delete model ${model_name}`);
        if (model_package_arn)
          await this.ignoreGone(
            () => this.call('DeleteModelPackage', { ModelPackageName: model_package_arn }),
            `delete model package ${model_package_arn}`,
          );
        return running({ ...base, modelName: model_name });
      }
      case 'endpoint-create':
        return this.createEndpoint(job, parsed.spec);
      case 'endpoint-deploy':
        return this.deploy(job, parsed.spec);
      case 'endpoint-undeploy':
        return this.undeploy(job, parsed.spec);
      case 'endpoint-delete':
        return this.deleteEndpoint(parsed.spec.endpoint_name, base);
      default: {
        const never: never = parsed;
        throw new Error(`unhandled asset operation ${JSON.stringify(never)}`);
      }
    }
  }

  private async createDataset(job: JobRecord, spec: DatasetCreateSpec): Promise<void> {
    const s3 = await this.s3();
    const to = parseS3Uri(spec.uri);
    try {
      if (spec.content !== undefined) {
        await s3('PutObject', {
          Bucket: to.bucket,
          Key: to.key,
          Body: Buffer.from(spec.content, spec.content_encoding === 'base64' ? 'base64' : 'utf8'),
          ContentType: spec.content_type ?? 'application/octet-stream',
          Tagging: this.s3Tagging(job),
        });
        return;
      }
    } catch (error) {
      throw this.fail(error, `write ${spec.uri}`);
    }
    if (spec.source_uri !== undefined) {
      await this.copy(job, spec.source_uri, spec.uri);
      return;
    }
    // Registering data already in S3: it must be there.
    if (!(await this.exists(spec.uri)))
      throw new ProviderRejectedError(PROVIDER, 'NoSuchKey', `no S3 object or prefix at ${spec.uri}`);
  }

  /** Copies an object, or every object under a prefix, tagging each copy. Overwriting is idempotent. */
  private async copy(job: JobRecord, sourceUri: string, destinationUri: string): Promise<void> {
    const s3 = await this.s3();
    const from = parseS3Uri(sourceUri);
    const to = parseS3Uri(destinationUri);
    const keys = isPrefix(sourceUri) ? await this.listKeys(from) : [from.key];
    if (keys.length === 0) throw new ProviderRejectedError(PROVIDER, 'NoSuchKey', `no S3 objects under ${sourceUri}`);
    for (const key of keys) {
      const target = isPrefix(sourceUri) ? `${to.key}${key.slice(from.key.length)}` : to.key;
      try {
        await s3('CopyObject', {
          Bucket: to.bucket,
          Key: target,
          CopySource: copySource({ bucket: from.bucket, key }),
          TaggingDirective: 'REPLACE',
          Tagging: this.s3Tagging(job),
        });
      } catch (error) {
        throw this.fail(error, `copy s3://${from.bucket}/${key} to s3://${to.bucket}/${target}`);
      }
    }
  }

  /** Keys under a prefix (at most MAX_PREFIX_OBJECTS: each becomes one call). */
  private async listKeys(at: S3Location): Promise<string[]> {
    const s3 = await this.s3();
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await s3('ListObjectsV2', {
          Bucket: at.bucket,
          Prefix: at.key,
          MaxKeys: 1000,
          ...(token && { ContinuationToken: token }),
        });
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        if (keys.length > MAX_PREFIX_OBJECTS)
          throw new ProviderRejectedError(
            PROVIDER,
            'TooManyObjects',
            `s3://${at.bucket}/${at.key} holds more than ${MAX_PREFIX_OBJECTS} objects`,
          );
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      if (isS3NotFound(error)) return [];
      throw this.fail(error, `list s3://${at.bucket}/${at.key}`);
    }
    return keys;
  }

  private async exists(uri: string): Promise<boolean> {
    const s3 = await this.s3();
    const at = parseS3Uri(uri);
    try {
      if (isPrefix(uri)) {
        const page = await s3('ListObjectsV2', { Bucket: at.bucket, Prefix: at.key, MaxKeys: 1 });
        return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
      }
      await s3('HeadObject', { Bucket: at.bucket, Key: at.key });
      return true;
    } catch (error) {
      if (isS3NotFound(error)) return false;
      throw this.fail(error, `read ${uri}`);
    }
  }

  private async deleteObjects(uri: string): Promise<void> {
    const s3 = await this.s3();
    const at = parseS3Uri(uri);
    const keys = isPrefix(uri) ? await this.listKeys(at) : [at.key];
    for (const key of keys) {
      try {
        await s3('DeleteObject', { Bucket: at.bucket, Key: key });
      } catch (error) {
        if (isS3NotFound(error)) continue;
        throw this.fail(error, `delete s3://${at.bucket}/${key}`);
      }
    }
  }

  private async ignoreGone(op: () => Promise<unknown>, what: string): Promise<void> {
    try {
      await op();
    } catch (error) {
      if (!isGone(error)) throw this.fail(error, what);
    }
  }

  private async registerModel(job: JobRecord, spec: ModelRegisterSpec): Promise<SubmitOutcome> {
    const modelName = sageMakerAssetName(this.settings.namePrefix, 'model', job.id);
    const role = spec.role_arn ?? this.settings.roleArn;
    if (!role)
      throw new ValidationError([
        { field: 'spec.spec.role_arn', message: 'required: this deployment sets no SAGEMAKER_ROLE_ARN default' },
      ]);
    const container = {
      Image: spec.image,
      ...(spec.model_data_url && { ModelDataUrl: spec.model_data_url }),
      ...(spec.environment && { Environment: { ...spec.environment } }),
    };
    let packageArn: string | undefined;
    if (spec.model_package_group) {
      try {
        // ClientToken makes a repeated create answer the version it already made.
        const out = await this.call('CreateModelPackage', {
          ModelPackageGroupName: spec.model_package_group,
          ...(spec.description && { ModelPackageDescription: spec.description }),
          InferenceSpecification: {
            Containers: [container],
            SupportedContentTypes: spec.content_types,
            SupportedResponseMIMETypes: spec.response_types,
          },
          ModelApprovalStatus: spec.approval_status,
          ClientToken: clientToken(job.id),
          Tags: this.tags(job, spec.name, spec.tags),
        });
        packageArn = out.ModelPackageArn;
      } catch (error) {
        throw this.fail(error, `register a version in model package group ${spec.model_package_group}`);
      }
    }
    let attached = false;
    try {
      await this.call('CreateModel', {
        ModelName: modelName,
        ExecutionRoleArn: role,
        PrimaryContainer: packageArn ? { ModelPackageName: packageArn } : container,
        Tags: this.tags(job, spec.name, spec.tags),
      });
    } catch (error) {
      if (!isTaken(error)) throw this.fail(error, `create model ${modelName}`);
      attached = true;
    }
    return {
      ref: {
        kind: 'model-register',
        name: spec.name,
        modelName,
        ...(spec.model_data_url && { uri: spec.model_data_url }),
        ...(packageArn && { modelPackageArn: packageArn }),
      },
      attached,
      status: 'running',
    };
  }

  private variant(modelName: string, instanceType: string, count: number, weight = 1): ProductionVariant {
    return {
      // Variants are named after their model, so undeploying a model finds its variant.
      VariantName: modelName,
      ModelName: modelName,
      InstanceType: instanceType as ProductionVariant['InstanceType'],
      InitialInstanceCount: count,
      InitialVariantWeight: weight,
    };
  }

  private async createEndpoint(
    job: JobRecord,
    spec: Extract<SageMakerAssetSpec, { kind: 'endpoint-create' }>['spec'],
  ): Promise<SubmitOutcome> {
    const endpointName = sageMakerAssetName(this.settings.namePrefix, 'endpoint', job.id);
    const instanceType = spec.instance_type ?? this.settings.defaultInstanceType;
    const ref = {
      kind: 'endpoint-create',
      name: spec.name,
      endpointName,
      instanceType,
      instanceCount: spec.instance_count,
    };
    if (!spec.model_name) return { ref: { ...ref, pending: true }, attached: false, status: 'running' };
    const configName = sageMakerAssetName(this.settings.namePrefix, 'endpoint-config', job.id);
    const attached = await this.startEndpoint(
      job,
      spec.name,
      endpointName,
      configName,
      [this.variant(spec.model_name, instanceType, spec.instance_count)],
      spec.tags,
    );
    return { ref: { ...ref, configName }, attached, status: 'running' };
  }

  /** Creates the configuration (ours if taken) and the endpoint; true when the endpoint already existed. */
  private async startEndpoint(
    job: JobRecord,
    name: string,
    endpointName: string,
    configName: string,
    variants: ProductionVariant[],
    tags?: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    await this.createConfig(job, name, configName, variants, tags);
    try {
      await this.call('CreateEndpoint', {
        EndpointName: endpointName,
        EndpointConfigName: configName,
        Tags: this.tags(job, name, tags),
      });
      return false;
    } catch (error) {
      if (isTaken(error)) return true;
      throw this.fail(error, `create endpoint ${endpointName}`);
    }
  }

  private async createConfig(
    job: JobRecord,
    name: string,
    configName: string,
    variants: ProductionVariant[],
    tags?: Readonly<Record<string, string>>,
  ): Promise<void> {
    try {
      await this.call('CreateEndpointConfig', {
        EndpointConfigName: configName,
        ProductionVariants: variants,
        Tags: this.tags(job, name, tags),
      });
    } catch (error) {
      if (!isTaken(error)) throw this.fail(error, `create endpoint configuration ${configName}`);
      // Ours from an earlier delivery. If the endpoint changed since (that delivery's update was
      // refused), its variants are stale: replace it rather than undo the change made meanwhile.
      const existing = await this.variantsOf(configName);
      if (sameVariants(existing, variants)) return;
      await this.ignoreGone(
        () => this.call('DeleteEndpointConfig', { EndpointConfigName: configName }),
        `replace endpoint configuration ${configName}`,
      );
      try {
        await this.call('CreateEndpointConfig', {
          EndpointConfigName: configName,
          ProductionVariants: variants,
          Tags: this.tags(job, name, tags),
        });
      } catch (again) {
        throw this.fail(again, `create endpoint configuration ${configName}`);
      }
    }
  }

  /** Refuses (for now) to change an endpoint another change is still working on: SageMaker would too. */
  private ensureSettled(current: { EndpointStatus?: string; EndpointName?: string }): void {
    if (current.EndpointStatus === 'InService') return;
    throw new ProviderUnavailableError(
      PROVIDER,
      `endpoint ${String(current.EndpointName)} is ${String(current.EndpointStatus)}; the change waits until it is InService`,
      undefined,
      30_000,
    );
  }

  /** The endpoint as SageMaker describes it, or undefined when it has none by that name. */
  private async describeEndpoint(endpointName: string) {
    try {
      return await this.call('DescribeEndpoint', { EndpointName: endpointName });
    } catch (error) {
      if (isGone(error)) return undefined;
      throw this.fail(error, `describe endpoint ${endpointName}`);
    }
  }

  private async variantsOf(configName: string | undefined): Promise<ProductionVariant[]> {
    if (!configName) return [];
    try {
      return (await this.call('DescribeEndpointConfig', { EndpointConfigName: configName })).ProductionVariants ?? [];
    } catch (error) {
      throw this.fail(error, `describe endpoint configuration ${configName}`);
    }
  }

  private async deploy(job: JobRecord, spec: EndpointDeploySpec): Promise<SubmitOutcome> {
    const configName = sageMakerAssetName(this.settings.namePrefix, 'endpoint-config', job.id);
    const instanceType = spec.instance_type ?? this.settings.defaultInstanceType;
    const ref = {
      kind: 'endpoint-deploy',
      name: spec.name,
      endpointName: spec.endpoint_name,
      configName,
      mode: 'update',
    };
    const current = await this.describeEndpoint(spec.endpoint_name);
    if (current && ownsChange(current, configName)) return { ref, attached: true, status: 'running' };
    if (current) this.ensureSettled(current);
    const kept = current && !spec.replace ? await this.variantsOf(current.EndpointConfigName) : [];
    const variants = [
      ...kept.filter((v) => v.ModelName !== spec.model_name),
      this.variant(spec.model_name, instanceType, spec.instance_count, spec.initial_weight),
    ];
    if (!current) {
      // The endpoint of an endpoint-create without a model, or one whose last model was undeployed.
      const attached = await this.startEndpoint(job, spec.name, spec.endpoint_name, configName, variants, spec.tags);
      return { ref, attached, status: 'running' };
    }
    await this.createConfig(job, spec.name, configName, variants, spec.tags);
    await this.update(spec.endpoint_name, configName);
    return { ref, attached: false, status: 'running' };
  }

  private async update(endpointName: string, configName: string): Promise<void> {
    try {
      await this.call('UpdateEndpoint', { EndpointName: endpointName, EndpointConfigName: configName });
    } catch (error) {
      throw this.fail(error, `update endpoint ${endpointName}`);
    }
  }

  private async undeploy(job: JobRecord, spec: EndpointUndeploySpec): Promise<SubmitOutcome> {
    const configName = sageMakerAssetName(this.settings.namePrefix, 'endpoint-config', job.id);
    const ref = { kind: 'endpoint-undeploy', name: spec.name, endpointName: spec.endpoint_name, configName };
    const current = await this.describeEndpoint(spec.endpoint_name);
    // Nothing deployed (the endpoint exists only once a model is deployed): confirmed by the poll.
    if (!current) return { ref: { ...ref, mode: 'delete' }, attached: true, status: 'running' };
    if (ownsChange(current, configName)) return { ref: { ...ref, mode: 'update' }, attached: true, status: 'running' };
    this.ensureSettled(current);
    const variants = await this.variantsOf(current.EndpointConfigName);
    const drop = new Set(spec.model_names ?? variants.map((v) => v.ModelName ?? ''));
    const remaining = variants.filter((v) => !drop.has(v.ModelName ?? ''));
    if (remaining.length === variants.length)
      return { ref: { ...ref, mode: 'none' }, attached: false, status: 'running' };
    if (remaining.length === 0) {
      // SageMaker endpoints cannot be empty: taking the last model off deletes the endpoint (and its bill).
      await this.ignoreGone(
        () => this.call('DeleteEndpoint', { EndpointName: spec.endpoint_name }),
        `delete endpoint ${spec.endpoint_name}`,
      );
      return { ref: { ...ref, mode: 'delete' }, attached: false, status: 'running' };
    }
    await this.createConfig(job, spec.name, configName, remaining);
    await this.update(spec.endpoint_name, configName);
    return { ref: { ...ref, mode: 'update' }, attached: false, status: 'running' };
  }

  private async deleteEndpoint(endpointName: string, base: { kind: string; name: string }): Promise<SubmitOutcome> {
    const current = await this.describeEndpoint(endpointName);
    const ref = { ...base, endpointName, mode: 'delete' };
    if (!current) return { ref, attached: true, status: 'running' };
    await this.ignoreGone(
      () => this.call('DeleteEndpoint', { EndpointName: endpointName }),
      `delete endpoint ${endpointName}`,
    );
    // Its configuration costs nothing but is ours: remove it too (the orphan reaper need not find it).
    const config = current.EndpointConfigName;
    if (config?.startsWith(`${this.settings.namePrefix}-c-`))
      await this.ignoreGone(
        () => this.call('DeleteEndpointConfig', { EndpointConfigName: config }),
        `delete endpoint configuration ${config}`,
      );
    return { ref, attached: false, status: 'running' };
  }

  // ---- poll --------------------------------------------------------------------------------

  /** One asset job's state, read back from S3 or SageMaker. Throws what heals with time. */
  async poll(job: JobRecord): Promise<PollReport> {
    const ref = job.providerRef ?? {};
    const kind = String(ref.kind ?? job.spec.kind) as SageMakerAssetKind;
    const name = String(ref.name ?? '');
    switch (kind) {
      case 'dataset-create':
      case 'dataset-export':
      case 'model-export': {
        const uri = String(ref.uri);
        if (!(await this.exists(uri)))
          return { jobId: job.id, status: 'missing', notes: [`S3 has no object or prefix at ${uri}`] };
        const asset: AssetSummary = { kind: kind === 'model-export' ? 'model' : 'dataset', id: uri, name, uri };
        return succeeded(job, asset, { nativeStatus: 'S3 object present' });
      }
      case 'dataset-delete': {
        const uri = String(ref.uri);
        if (await this.exists(uri)) {
          // Written again since our delete (S3 reads are consistent): delete again, confirm next cycle.
          await this.deleteObjects(uri);
          return { jobId: job.id, status: 'running', nativeStatus: 'S3 object present' };
        }
        return succeeded(
          job,
          { kind: 'dataset', id: uri, name, uri },
          { nativeStatus: 'S3 object gone', deleted: true },
        );
      }
      case 'model-register':
        return this.pollModel(job, ref, name);
      case 'model-delete': {
        const modelName = String(ref.modelName);
        try {
          await this.call('DescribeModel', { ModelName: modelName });
        } catch (error) {
          if (isGone(error))
            return succeeded(
              job,
              { kind: 'model', id: modelName, name },
              { nativeStatus: 'model gone', deleted: true },
            );
          throw this.fail(error, `describe model ${modelName}`);
        }
        await this.ignoreGone(() => this.call('DeleteModel', { ModelName: modelName }), `delete model ${modelName}`);
        return { jobId: job.id, status: 'running', nativeStatus: 'model present' };
      }
      case 'endpoint-create':
      case 'endpoint-deploy':
      case 'endpoint-undeploy':
      case 'endpoint-delete':
        return this.pollEndpoint(job, ref, kind, name);
      default: {
        const never: never = kind;
        throw new Error(`unhandled asset operation ${String(never)}`);
      }
    }
  }

  private async pollModel(job: JobRecord, ref: ProviderRef, name: string): Promise<PollReport> {
    const modelName = String(ref.modelName);
    const packageArn = typeof ref.modelPackageArn === 'string' ? ref.modelPackageArn : undefined;
    if (packageArn) {
      let status: string | undefined;
      try {
        status = (await this.call('DescribeModelPackage', { ModelPackageName: packageArn })).ModelPackageStatus;
      } catch (error) {
        if (isGone(error))
          return { jobId: job.id, status: 'missing', notes: [`SageMaker has no model package ${packageArn}`] };
        throw this.fail(error, `describe model package ${packageArn}`);
      }
      const mapped = mapModelPackageStatus(status);
      if (mapped === 'failed')
        return failed(job, 'SAGEMAKER_MODEL_PACKAGE_FAILED', `model package ${packageArn} is ${status}`, status);
      if (mapped === 'running') return { jobId: job.id, status: 'running', nativeStatus: `ModelPackage ${status}` };
    }
    let model: DescribeModelCommandOutput;
    try {
      model = await this.call('DescribeModel', { ModelName: modelName });
    } catch (error) {
      if (isGone(error)) return { jobId: job.id, status: 'missing', notes: [`SageMaker has no model ${modelName}`] };
      throw this.fail(error, `describe model ${modelName}`);
    }
    const uri = model.PrimaryContainer?.ModelDataUrl ?? (typeof ref.uri === 'string' ? ref.uri : undefined);
    return succeeded(
      job,
      { kind: 'model', id: modelName, name, ...(uri && { uri }) },
      {
        nativeStatus: 'model created',
        ...(model.ModelArn && { arn: model.ModelArn }),
        ...(packageArn && { modelPackageArn: packageArn }),
        ...(model.PrimaryContainer?.Image && { image: model.PrimaryContainer.Image }),
      },
    );
  }

  private async pollEndpoint(
    job: JobRecord,
    ref: ProviderRef,
    kind: 'endpoint-create' | 'endpoint-deploy' | 'endpoint-undeploy' | 'endpoint-delete',
    name: string,
  ): Promise<PollReport> {
    const endpointName = String(ref.endpointName);
    if (kind === 'endpoint-create' && ref.pending === true) {
      // No model yet, so nothing exists at SageMaker: the first deploy creates the endpoint.
      return succeeded(job, this.endpointAsset(endpointName, name, [], ref), { nativeStatus: 'awaiting first model' });
    }
    const current = await this.describeEndpoint(endpointName);
    const native = current?.EndpointStatus;
    if (ref.mode === 'delete') {
      if (!current)
        return succeeded(job, this.endpointAsset(endpointName, name, [], ref), {
          nativeStatus: 'endpoint gone',
          ...(kind === 'endpoint-delete' && { deleted: true }),
        });
      if (native !== 'Deleting')
        await this.ignoreGone(
          () => this.call('DeleteEndpoint', { EndpointName: endpointName }),
          `delete endpoint ${endpointName}`,
        );
      return { jobId: job.id, status: 'running', nativeStatus: String(native) };
    }
    if (!current) return { jobId: job.id, status: 'missing', notes: [`SageMaker has no endpoint ${endpointName}`] };
    if (ref.mode === 'none') {
      const variants = await this.variantsOf(current.EndpointConfigName);
      return succeeded(job, this.endpointAsset(endpointName, name, variants, ref, current.EndpointArn), {
        nativeStatus: String(native),
      });
    }
    if (!isEndpointStatus(native)) return { jobId: job.id, status: 'running', nativeStatus: String(native) };
    const configName = String(ref.configName);
    switch (mapEndpointStatus(native)) {
      case 'running':
        return { jobId: job.id, status: 'running', nativeStatus: native };
      case 'failed':
        return failed(
          job,
          'SAGEMAKER_ENDPOINT_FAILED',
          current.FailureReason?.trim() || `endpoint ${endpointName} is ${native}`,
          native,
        );
      case 'in-service': {
        if (current.EndpointConfigName !== configName) {
          // A failed update rolls back to the old configuration and says why.
          return failed(
            job,
            'SAGEMAKER_ENDPOINT_UPDATE_FAILED',
            current.FailureReason?.trim() ||
              `endpoint ${endpointName} runs configuration ${String(current.EndpointConfigName)}, not ${configName}`,
            native,
          );
        }
        const variants = await this.variantsOf(configName);
        return succeeded(job, this.endpointAsset(endpointName, name, variants, ref, current.EndpointArn), {
          nativeStatus: native,
          configName,
        });
      }
    }
  }

  /** The URL clients invoke (the regional runtime, or the configured override). */
  private invocationUri(endpointName: string): string {
    const base = this.settings.runtimeEndpoint ?? `https://runtime.sagemaker.${this.settings.region}.amazonaws.com`;
    return `${base.replace(/\/+$/, '')}/endpoints/${endpointName}/invocations`;
  }

  private endpointAsset(
    endpointName: string,
    name: string,
    variants: readonly ProductionVariant[],
    ref: ProviderRef,
    arn?: string,
  ): AssetSummary & { arn?: string } {
    const first = variants.at(-1);
    const instanceType = first?.InstanceType ?? (typeof ref.instanceType === 'string' ? ref.instanceType : undefined);
    const instanceCount =
      variants.length > 0
        ? variants.reduce((n, v) => n + (v.InitialInstanceCount ?? 0), 0)
        : typeof ref.instanceCount === 'number'
          ? ref.instanceCount
          : undefined;
    return {
      kind: 'endpoint',
      id: endpointName,
      name,
      uri: this.invocationUri(endpointName),
      ...(instanceType && { instanceType }),
      ...(instanceCount !== undefined && { instanceCount }),
      deployedModels: variants.map((v) => v.ModelName ?? '').filter(Boolean),
      ...(arn && { arn }),
    };
  }

  // ---- invoke ------------------------------------------------------------------------------

  /**
   * Essedum infer/explain on a live endpoint: InvokeEndpoint (explain asks SageMaker Clarify for
   * explanations with `EnableExplanations`). A string body is sent as CSV, anything else as JSON;
   * a JSON reply is parsed, any other reply returned as `{contentType, body}`.
   */
  async invoke(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    const endpointName = endpointNameOf(endpoint);
    if (!endpointName)
      throw new ProviderRejectedError(PROVIDER, 'NoEndpoint', `job ${endpoint.id} did not create a SageMaker endpoint`);
    const invoke = await this.invokeCall();
    const csv = typeof body === 'string';
    let out: Awaited<ReturnType<InvokeCall>>;
    try {
      out = await invoke({
        EndpointName: endpointName,
        ContentType: csv ? 'text/csv' : 'application/json',
        Accept: 'application/json',
        Body: Buffer.from(csv ? body : JSON.stringify(body ?? {}), 'utf8'),
        ...(operation === 'explain' && { EnableExplanations: '`true`' }),
      });
    } catch (error) {
      const transient = transientError(error, this.settings.throttleBackoffMs);
      if (transient) throw transient;
      // ModelNotReadyException: the endpoint is still starting its containers.
      if (errorCode(error) === 'ModelNotReadyException')
        throw new ProviderUnavailableError(PROVIDER, errorMessage(error), error, this.settings.throttleBackoffMs);
      throw new ProviderRejectedError(PROVIDER, errorCode(error), errorMessage(error), error);
    }
    const text = Buffer.from(out.Body ?? new Uint8Array()).toString('utf8');
    const contentType = out.ContentType ?? '';
    if (/json/i.test(contentType) || /^\s*[[{]/.test(text)) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        // Not JSON after all: returned as text below.
      }
    }
    return { contentType, body: text };
  }
}

/** The endpoint an endpoint-create job made: its result's asset id, else its handle. */
export function endpointNameOf(job: JobRecord): string | undefined {
  const asset = (job.result?.summary as { asset?: { id?: unknown } } | undefined)?.asset;
  if (typeof asset?.id === 'string' && asset.id) return asset.id;
  const fromRef = job.providerRef?.endpointName;
  return typeof fromRef === 'string' && fromRef ? fromRef : undefined;
}

/** True when the endpoint runs, or is moving to, this operation's configuration (a redelivered submit). */
function ownsChange(
  current: { EndpointConfigName?: string; PendingDeploymentSummary?: { EndpointConfigName?: string } },
  configName: string,
): boolean {
  return (
    current.EndpointConfigName === configName || current.PendingDeploymentSummary?.EndpointConfigName === configName
  );
}

/** Same models, instances and weights (the order of variants does not matter to SageMaker). */
function sameVariants(a: readonly ProductionVariant[], b: readonly ProductionVariant[]): boolean {
  const key = (v: ProductionVariant) =>
    [v.VariantName, v.ModelName, v.InstanceType, v.InitialInstanceCount, v.InitialVariantWeight ?? 1].join('|');
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/** CreateModelPackage's ClientToken: 1-36 of `[a-zA-Z0-9-]`. Job ids (`j-` + 26) fit as they are. */
function clientToken(jobId: string): string {
  if (/^[a-zA-Z0-9-]{1,36}$/.test(jobId)) return jobId;
  return `h${createHash('sha256').update(jobId, 'utf8').digest('hex').slice(0, 35)}`;
}

function running(ref: Record<string, string | number | boolean>): SubmitOutcome {
  return { ref, attached: false, status: 'running' };
}

function succeeded(job: JobRecord, asset: AssetSummary, detail: Record<string, unknown> = {}): PollReport {
  const { nativeStatus, ...rest } = detail as { nativeStatus?: string };
  return {
    jobId: job.id,
    status: 'succeeded',
    ...(nativeStatus && { nativeStatus }),
    result: { kind: job.providerRef?.kind ?? job.spec.kind, asset, ...rest },
  };
}

/**
 * An asset operation that failed. One that failed for capacity (an endpoint SageMaker could not
 * place: `InsufficientCapacityError`) says so in its category; it still fails rather than fail over,
 * because an endpoint is a named resource another target cannot take over.
 */
function failed(job: JobRecord, code: string, message: string, nativeStatus?: string): PollReport {
  return {
    jobId: job.id,
    status: 'failed',
    ...(nativeStatus && { nativeStatus }),
    error: { code, message, category: runtimeCapacityCode(message) ? 'capacity' : 'provider' },
  };
}
