/**
 * The SageMaker resources behind the MLOps asset operations, for FakeSageMaker: models, model
 * packages, endpoint configurations and endpoints (control plane, awsJson1_1), and InvokeEndpoint
 * (SageMaker Runtime, restJson1: `POST /endpoints/{name}/invocations`, raw body).
 *
 * Modelled on SageMaker's documented behaviour:
 * - names 1-63 of `^[a-zA-Z0-9](-*[a-zA-Z0-9])*`, case-insensitive, unique per resource type; creating
 *   an existing one answers ValidationException "Cannot create already existing …";
 * - Describe/Delete of an unknown model, configuration or endpoint answers ValidationException
 *   "Could not find …";
 * - an endpoint configuration needs existing models; an endpoint an existing configuration;
 * - endpoints are `Creating` after CreateEndpoint, `Updating` after UpdateEndpoint (which is refused
 *   unless the endpoint is InService), `Deleting` after DeleteEndpoint; DescribeEndpoint shows the
 *   running configuration and, during an update, the new one under PendingDeploymentSummary; a failed
 *   update rolls back to InService on the old configuration with a FailureReason;
 * - CreateModelPackage needs an existing model package group; a repeated ClientToken answers the
 *   version it created before; versions without validation complete at once;
 * - InvokeEndpoint on an endpoint that is not InService answers ValidationError (HTTP 400).
 *
 * Nothing progresses on its own: the test moves endpoints on (`settleEndpoints`, `failEndpoint`).
 */

export class FakeAssetError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}
const validation = (message: string) => new FakeAssetError(400, 'ValidationException', message);

const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const ROLE_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;

export type FakeTag = { Key: string; Value: string };

export interface FakeModel {
  readonly name: string;
  readonly arn: string;
  readonly request: Record<string, unknown>;
  readonly tags: FakeTag[];
}

export interface FakeModelPackage {
  readonly group: string;
  readonly version: number;
  readonly arn: string;
  status: 'Pending' | 'InProgress' | 'Completed' | 'Failed' | 'Deleting';
  readonly clientToken?: string;
  readonly request: Record<string, unknown>;
  readonly tags: FakeTag[];
}

export interface FakeEndpointConfig {
  readonly name: string;
  readonly arn: string;
  readonly variants: Array<Record<string, unknown>>;
  readonly tags: FakeTag[];
}

export type FakeEndpointStatus = 'Creating' | 'Updating' | 'InService' | 'Deleting' | 'Failed';

export interface FakeEndpoint {
  readonly name: string;
  readonly arn: string;
  status: FakeEndpointStatus;
  configName: string;
  pendingConfig?: string;
  failureReason?: string;
  readonly tags: FakeTag[];
  readonly creationTime: number;
  lastModifiedTime: number;
}

/** What the model behind an endpoint answers: the default scores each instance. */
export type InvokeHandler = (
  endpoint: FakeEndpoint,
  request: { contentType: string; accept: string; body: string; explain: boolean },
) => { status?: number; contentType?: string; body: string };

export const defaultInvokeHandler: InvokeHandler = (endpoint, request) => {
  let instances: unknown[] = [];
  if (request.contentType.startsWith('application/json')) {
    const parsed = JSON.parse(request.body || '{}') as { instances?: unknown[]; data?: unknown[] };
    instances = parsed.instances ?? parsed.data ?? [parsed];
  } else {
    instances = request.body.split('\n').filter(Boolean);
  }
  const predictions = instances.map((_, i) => ({ score: Number((0.9 - i * 0.1).toFixed(2)), label: 1 }));
  const body = {
    predictions,
    endpoint: endpoint.name,
    ...(request.explain && {
      explanations: { kernel_shap: instances.map(() => [{ feature: 'f0', attribution: 0.42 }]) },
    }),
  };
  return { contentType: 'application/json', body: JSON.stringify(body) };
};

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export class FakeSageMakerAssets {
  readonly models = new Map<string, FakeModel>();
  readonly modelPackageGroups = new Set<string>();
  readonly modelPackages: FakeModelPackage[] = [];
  readonly configs = new Map<string, FakeEndpointConfig>();
  readonly endpoints = new Map<string, FakeEndpoint>();
  /** Successful creates per resource (`CreateModel:<name>` …): more than one would be a duplicate. */
  readonly creates = new Map<string, number>();
  invokeHandler: InvokeHandler = defaultInvokeHandler;

  constructor(
    private readonly region: string,
    private readonly accountId: string,
    private readonly tick: () => number,
  ) {}

  static readonly OPS = new Set([
    'CreateModel',
    'DescribeModel',
    'DeleteModel',
    'CreateModelPackage',
    'DescribeModelPackage',
    'DeleteModelPackage',
    'CreateEndpointConfig',
    'DescribeEndpointConfig',
    'DeleteEndpointConfig',
    'CreateEndpoint',
    'DescribeEndpoint',
    'UpdateEndpoint',
    'DeleteEndpoint',
  ]);

  // ---- test controls ---------------------------------------------------------------------------

  model(name: string): FakeModel | undefined {
    return this.models.get(name.toLowerCase());
  }

  endpoint(name: string): FakeEndpoint | undefined {
    return this.endpoints.get(name.toLowerCase());
  }

  config(name: string): FakeEndpointConfig | undefined {
    return this.configs.get(name.toLowerCase());
  }

  /** Moves every endpoint on as SageMaker would: Creating/Updating → InService, Deleting → gone. */
  settleEndpoints(): void {
    for (const [key, e] of this.endpoints) {
      if (e.status === 'Creating') e.status = 'InService';
      else if (e.status === 'Updating') {
        e.status = 'InService';
        e.configName = e.pendingConfig ?? e.configName;
        e.pendingConfig = undefined;
      } else if (e.status === 'Deleting') this.endpoints.delete(key);
      e.lastModifiedTime = this.tick();
    }
  }

  /** A creation fails (→ Failed), an update rolls back (→ InService on the old configuration). */
  failEndpoint(name: string, reason: string): void {
    const e = this.endpoint(name);
    if (!e) throw new Error(`fake has no endpoint ${name}`);
    if (e.status === 'Updating') {
      e.status = 'InService';
      e.pendingConfig = undefined;
    } else e.status = 'Failed';
    e.failureReason = reason;
    e.lastModifiedTime = this.tick();
  }

  // ---- operations --------------------------------------------------------------------------------

  dispatch(op: string, b: Record<string, unknown>): Record<string, unknown> {
    switch (op) {
      case 'CreateModel':
        return this.createModel(b);
      case 'DescribeModel': {
        const m = this.mustModel(b.ModelName);
        return {
          ModelName: m.name,
          ModelArn: m.arn,
          PrimaryContainer: m.request.PrimaryContainer,
          ExecutionRoleArn: m.request.ExecutionRoleArn,
          CreationTime: this.tick() / 1000,
        };
      }
      case 'DeleteModel':
        this.models.delete(this.mustModel(b.ModelName).name.toLowerCase());
        return {};
      case 'CreateModelPackage':
        return this.createModelPackage(b);
      case 'DescribeModelPackage': {
        const p = this.mustPackage(b.ModelPackageName);
        return {
          ModelPackageName: p.group,
          ModelPackageGroupName: p.group,
          ModelPackageVersion: p.version,
          ModelPackageArn: p.arn,
          ModelPackageStatus: p.status,
          ModelApprovalStatus: p.request.ModelApprovalStatus,
          InferenceSpecification: p.request.InferenceSpecification,
          CreationTime: this.tick() / 1000,
        };
      }
      case 'DeleteModelPackage': {
        const p = this.mustPackage(b.ModelPackageName);
        this.modelPackages.splice(this.modelPackages.indexOf(p), 1);
        return {};
      }
      case 'CreateEndpointConfig':
        return this.createConfig(b);
      case 'DescribeEndpointConfig': {
        const c = this.mustConfig(b.EndpointConfigName);
        return {
          EndpointConfigName: c.name,
          EndpointConfigArn: c.arn,
          ProductionVariants: c.variants,
          CreationTime: this.tick() / 1000,
        };
      }
      case 'DeleteEndpointConfig':
        this.configs.delete(this.mustConfig(b.EndpointConfigName).name.toLowerCase());
        return {};
      case 'CreateEndpoint':
        return this.createEndpoint(b);
      case 'DescribeEndpoint':
        return this.describeEndpoint(this.mustEndpoint(b.EndpointName));
      case 'UpdateEndpoint': {
        const e = this.mustEndpoint(b.EndpointName);
        if (e.status !== 'InService') throw validation(`Cannot update in-progress endpoint "${e.arn}".`);
        const c = this.mustConfig(b.EndpointConfigName);
        e.status = 'Updating';
        e.pendingConfig = c.name;
        e.failureReason = undefined;
        e.lastModifiedTime = this.tick();
        return { EndpointArn: e.arn };
      }
      case 'DeleteEndpoint': {
        const e = this.mustEndpoint(b.EndpointName);
        e.status = 'Deleting';
        e.lastModifiedTime = this.tick();
        return {};
      }
      default:
        throw new FakeAssetError(400, 'UnknownOperationException', `SageMaker.${op} is not implemented by the fake`);
    }
  }

  /** SageMaker Runtime InvokeEndpoint. */
  invoke(
    name: string,
    request: { contentType: string; accept: string; body: string; explain: boolean },
  ): { status: number; contentType: string; body: string; variant: string } {
    const e = this.endpoint(name);
    if (!e)
      throw new FakeAssetError(400, 'ValidationError', `Endpoint ${name} of account ${this.accountId} not found.`);
    if (e.status !== 'InService' && e.status !== 'Updating')
      throw new FakeAssetError(400, 'ValidationError', `Endpoint ${name} is not in service (${e.status}).`);
    const out = this.invokeHandler(e, request);
    const variant = String(this.config(e.configName)?.variants[0]?.VariantName ?? 'AllTraffic');
    return { status: out.status ?? 200, contentType: out.contentType ?? 'application/json', body: out.body, variant };
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private arn(type: string, name: string): string {
    return `arn:aws:sagemaker:${this.region}:${this.accountId}:${type}/${name.toLowerCase()}`;
  }

  private count(op: string, name: string): void {
    const key = `${op}:${name.toLowerCase()}`;
    this.creates.set(key, (this.creates.get(key) ?? 0) + 1);
  }

  private checkName(field: string, name: unknown): string {
    if (typeof name !== 'string' || name.length === 0)
      throw validation(
        `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
      );
    if (name.length > 63)
      throw validation(
        `1 validation error detected: Value '${name}' at '${field}' failed to satisfy constraint: Member must have length less than or equal to 63`,
      );
    if (!NAME_PATTERN.test(name))
      throw validation(
        `1 validation error detected: Value '${name}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*`,
      );
    return name;
  }

  private checkTags(tags: unknown): FakeTag[] {
    if (tags === undefined) return [];
    if (!Array.isArray(tags) || tags.length > 50) throw validation('Tags: at most 50 tags');
    for (const t of tags as FakeTag[]) {
      if (typeof t.Key !== 'string' || t.Key.length < 1 || t.Key.length > 128 || typeof t.Value !== 'string')
        throw validation('Tags: every tag needs a Key (1-128) and a Value');
    }
    return tags as FakeTag[];
  }

  private mustModel(name: unknown): FakeModel {
    const m = typeof name === 'string' ? this.model(name) : undefined;
    if (!m) throw validation(`Could not find model "${this.arn('model', String(name))}".`);
    return m;
  }

  private mustConfig(name: unknown): FakeEndpointConfig {
    const c = typeof name === 'string' ? this.config(name) : undefined;
    if (!c) throw validation(`Could not find endpoint configuration "${this.arn('endpoint-config', String(name))}".`);
    return c;
  }

  private mustEndpoint(name: unknown): FakeEndpoint {
    const e = typeof name === 'string' ? this.endpoint(name) : undefined;
    if (!e) throw validation(`Could not find endpoint "${String(name)}".`);
    return e;
  }

  private mustPackage(nameOrArn: unknown): FakeModelPackage {
    const p = this.modelPackages.find((x) => x.arn === nameOrArn);
    if (!p) throw validation(`Model Package ${String(nameOrArn)} does not exist.`);
    return p;
  }

  private createModel(b: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName('modelName', b.ModelName);
    if (b.ExecutionRoleArn !== undefined && !ROLE_PATTERN.test(String(b.ExecutionRoleArn)))
      throw validation(`Value '${String(b.ExecutionRoleArn)}' at 'executionRoleArn' failed to satisfy constraint`);
    const container = obj(b.PrimaryContainer);
    if (!container && !Array.isArray(b.Containers))
      throw validation('Either PrimaryContainer or Containers must be specified.');
    if (container) {
      const pkg = container.ModelPackageName;
      if (pkg !== undefined) this.mustPackage(pkg);
      else if (typeof container.Image !== 'string' || !container.Image)
        throw validation('PrimaryContainer needs an Image or a ModelPackageName.');
      if (container.ModelDataUrl !== undefined && !/^(https|s3):\/\//.test(String(container.ModelDataUrl)))
        throw validation(
          `Value '${String(container.ModelDataUrl)}' at 'primaryContainer.modelDataUrl' failed to satisfy constraint`,
        );
    }
    const tags = this.checkTags(b.Tags);
    const existing = this.model(name);
    if (existing) throw validation(`Cannot create already existing model "${existing.arn}".`);
    const m: FakeModel = { name, arn: this.arn('model', name), request: b, tags };
    this.models.set(name.toLowerCase(), m);
    this.count('CreateModel', name);
    return { ModelArn: m.arn };
  }

  private createModelPackage(b: Record<string, unknown>): Record<string, unknown> {
    const group = this.checkName('modelPackageGroupName', b.ModelPackageGroupName);
    if (!this.modelPackageGroups.has(group.toLowerCase()))
      throw validation(`Model Package Group ${group} does not exist.`);
    const token = typeof b.ClientToken === 'string' ? b.ClientToken : undefined;
    if (token !== undefined && !/^[a-zA-Z0-9-]{1,36}$/.test(token))
      throw validation(`Value '${token}' at 'clientToken' failed to satisfy constraint`);
    const again = token && this.modelPackages.find((p) => p.clientToken === token);
    if (again) return { ModelPackageArn: again.arn };
    const spec = obj(b.InferenceSpecification);
    if (!spec || !Array.isArray(spec.Containers) || spec.Containers.length === 0)
      throw validation('InferenceSpecification.Containers must not be empty.');
    const version = this.modelPackages.filter((p) => p.group.toLowerCase() === group.toLowerCase()).length + 1;
    const p: FakeModelPackage = {
      group,
      version,
      arn: `${this.arn('model-package', group)}/${version}`,
      status: 'Completed',
      ...(token && { clientToken: token }),
      request: b,
      tags: this.checkTags(b.Tags),
    };
    this.modelPackages.push(p);
    this.count('CreateModelPackage', p.arn);
    return { ModelPackageArn: p.arn };
  }

  private createConfig(b: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName('endpointConfigName', b.EndpointConfigName);
    const variants = b.ProductionVariants;
    if (!Array.isArray(variants) || variants.length < 1 || variants.length > 10)
      throw validation(
        "Value at 'productionVariants' failed to satisfy constraint: Member must have length between 1 and 10",
      );
    const names = new Set<string>();
    for (const v of variants as Array<Record<string, unknown>>) {
      const vn = this.checkName('productionVariants.member.variantName', v.VariantName);
      if (names.has(vn.toLowerCase())) throw validation(`Variant names must be unique: ${vn}`);
      names.add(vn.toLowerCase());
      this.mustModel(v.ModelName);
      if (typeof v.InstanceType !== 'string' || !/^ml\.[a-z0-9]+\.[a-z0-9]+$/.test(v.InstanceType))
        throw validation(
          `Value '${String(v.InstanceType)}' at 'productionVariants.member.instanceType' failed to satisfy constraint`,
        );
      if (!Number.isInteger(v.InitialInstanceCount) || (v.InitialInstanceCount as number) < 1)
        throw validation('InitialInstanceCount must be at least 1.');
    }
    const tags = this.checkTags(b.Tags);
    const existing = this.config(name);
    if (existing) throw validation(`Cannot create already existing endpoint configuration "${existing.arn}".`);
    const c: FakeEndpointConfig = {
      name,
      arn: this.arn('endpoint-config', name),
      variants: variants as Array<Record<string, unknown>>,
      tags,
    };
    this.configs.set(name.toLowerCase(), c);
    this.count('CreateEndpointConfig', name);
    return { EndpointConfigArn: c.arn };
  }

  private createEndpoint(b: Record<string, unknown>): Record<string, unknown> {
    const name = this.checkName('endpointName', b.EndpointName);
    const config = this.mustConfig(b.EndpointConfigName);
    const tags = this.checkTags(b.Tags);
    const existing = this.endpoint(name);
    if (existing) throw validation(`Cannot create already existing endpoint "${existing.arn}".`);
    const now = this.tick();
    const e: FakeEndpoint = {
      name,
      arn: this.arn('endpoint', name),
      status: 'Creating',
      configName: config.name,
      tags,
      creationTime: now,
      lastModifiedTime: now,
    };
    this.endpoints.set(name.toLowerCase(), e);
    this.count('CreateEndpoint', name);
    return { EndpointArn: e.arn };
  }

  private describeEndpoint(e: FakeEndpoint): Record<string, unknown> {
    const variants = this.config(e.configName)?.variants ?? [];
    return {
      EndpointName: e.name,
      EndpointArn: e.arn,
      EndpointConfigName: e.configName,
      EndpointStatus: e.status,
      ...(e.failureReason && { FailureReason: e.failureReason }),
      ...(e.pendingConfig && {
        PendingDeploymentSummary: { EndpointConfigName: e.pendingConfig, StartTime: e.lastModifiedTime / 1000 },
      }),
      ProductionVariants:
        e.status === 'Creating'
          ? undefined
          : variants.map((v) => ({
              VariantName: v.VariantName,
              CurrentWeight: v.InitialVariantWeight ?? 1,
              CurrentInstanceCount: v.InitialInstanceCount,
            })),
      CreationTime: e.creationTime / 1000,
      LastModifiedTime: e.lastModifiedTime / 1000,
    };
  }
}
