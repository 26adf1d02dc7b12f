import { runKey, type JobRecord, type ProviderRef } from '../../core/job.js';
import { ProviderRejectedError, ProviderUnavailableError } from '../../errors.js';
import type { PollReport, SubmitOutcome } from '../../ports/provider.js';
import {
  type AzureMlAssetSpec,
  derivedEndpointName,
  type EndpointDeploySpec,
  type EndpointUndeploySpec,
  modelVersionOf,
} from './asset-spec.js';
import { armError, type ArmClient, type ArmResponse, PROVIDER, type ScoringClient } from './client.js';
import type { AzureMlSettings } from './settings.js';
import { mapOperationStatus, mapProvisioningState, type ProvisioningPhase } from './status.js';

/**
 * The asset operations of issue 18 that are not workspace jobs: data and model versions, managed
 * online endpoints and their deployments (exports are copy jobs, see provider.ts).
 *
 * Each operation is driven from the resource's state at Resource Manager rather than from what we
 * remember, so a redelivered dispatch or a lost providerRef converges on the same resources:
 * - submit reads first and attaches to a resource carrying our tag (tag key AZUREML_TAG_KEY = our
 *   job id), refuses one carrying another's, and creates only what is missing;
 * - creates and updates of endpoints and deployments are long-running operations: the poll follows
 *   the `Azure-AsyncOperation` document ARM hands back (falling back to the resource's
 *   `provisioningState` when that is gone) and reads the resource once it ends;
 * - deletes and undeploys report success only once a GET answers 404.
 * Multi-step operations (deploy → route traffic; move traffic off → delete) advance in the poll;
 * a step change is reported as a note, which stores the new providerRef.
 */

/** The parts of ARM resources the operations read. */
interface ArmResource {
  readonly id?: string;
  readonly name?: string;
  readonly location?: string;
  readonly tags?: Record<string, string> | null;
  readonly identity?: { readonly type?: string } | null;
  readonly kind?: string;
  readonly sku?: { readonly name?: string; readonly capacity?: number } | null;
  readonly properties?: Record<string, unknown> & {
    readonly provisioningState?: string;
    readonly tags?: Record<string, string> | null;
    readonly traffic?: Record<string, number> | null;
    readonly scoringUri?: string;
    readonly model?: string;
    readonly instanceType?: string;
    readonly dataUri?: string;
    readonly modelUri?: string;
  };
}

interface OperationDoc {
  readonly status?: string;
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** What `result.asset` says (MLOPS.md §1). */
export interface AssetSummary {
  readonly kind: 'dataset' | 'model' | 'endpoint';
  readonly id: string;
  readonly name: string;
  readonly uri?: string;
  readonly instanceType?: string;
  readonly instanceCount?: number;
  readonly deployedModels?: string[];
}

type Phase = { readonly phase: ProvisioningPhase; readonly error?: { code: string; message: string } };

export class AzureMlAssets {
  private location: Promise<string> | undefined;

  constructor(
    private readonly settings: AzureMlSettings,
    private readonly client: ArmClient,
    private readonly ws: string,
    private readonly scoring: () => Promise<ScoringClient>,
  ) {}

  private dataPath(name: string, version: string): string {
    return `${this.ws}/data/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  }
  private modelPath(name: string, version: string): string {
    return `${this.ws}/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  }
  private endpointPath(name: string): string {
    return `${this.ws}/onlineEndpoints/${encodeURIComponent(name)}`;
  }
  private deploymentPath(endpoint: string, deployment: string): string {
    return `${this.endpointPath(endpoint)}/deployments/${encodeURIComponent(deployment)}`;
  }

  /** Tags on everything we create: the request's, the job's labels, then ours (which nothing overrides). */
  private tags(job: JobRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, ...job.spec.labels, [this.settings.tagKey]: job.id };
  }

  private ownerOf(doc: ArmResource): string | undefined {
    return (doc.tags ?? doc.properties?.tags ?? undefined)?.[this.settings.tagKey];
  }

  /** Online endpoints and deployments are tracked resources: they need the workspace's region. */
  private workspaceLocation(): Promise<string> {
    this.location ??= this.client.send('GET', this.ws).then((res) => {
      const location = (res.body as ArmResource | undefined)?.location;
      if (res.status !== 200 || !location) {
        this.location = undefined;
        throw unavailable(res, 'get workspace');
      }
      return location;
    });
    return this.location;
  }

  /** Starts one asset operation. Throws ProviderRejectedError for what will never succeed. */
  async submit(job: JobRecord, parsed: AzureMlAssetSpec): Promise<SubmitOutcome> {
    switch (parsed.kind) {
      case 'dataset-create': {
        const s = parsed.spec;
        const path = this.dataPath(s.name, s.version);
        return this.createVersion(job, path, {
          properties: {
            dataType: s.dataType,
            dataUri: s.dataUri,
            ...(s.description !== undefined && { description: s.description }),
            tags: this.tags(job, s.tags),
            properties: { 'cjo.source': job.source },
          },
        });
      }
      case 'model-register': {
        const s = parsed.spec;
        const path = this.modelPath(s.name, s.version);
        return this.createVersion(job, path, {
          properties: {
            modelType: s.modelType,
            modelUri: s.modelUri,
            ...(s.description !== undefined && { description: s.description }),
            tags: this.tags(job, s.tags),
            properties: { 'cjo.source': job.source },
          },
        });
      }
      case 'dataset-delete':
        return this.deleteResource(this.dataPath(parsed.spec.name, parsed.spec.version));
      case 'model-delete':
        return this.deleteResource(this.modelPath(parsed.spec.name, parsed.spec.version));
      case 'endpoint-create':
        return this.createEndpoint(job, parsed.spec.name ?? derivedEndpointName(runKey(job)), parsed.spec);
      case 'endpoint-deploy':
        return this.deploy(job, parsed.spec);
      case 'endpoint-undeploy':
        return this.undeploy(parsed.spec);
      case 'endpoint-delete': {
        const outcome = await this.deleteResource(this.endpointPath(parsed.spec.endpointName));
        return { ...outcome, ref: { ...outcome.ref, endpointName: parsed.spec.endpointName } };
      }
      case 'dataset-export':
      case 'model-export':
        // Exports are copy jobs; the provider submits them through its job path.
        throw new Error(`${parsed.kind} is a workspace job, not an asset operation`);
      default: {
        const unreachable: never = parsed;
        throw new Error(`unhandled asset kind ${String((unreachable as { kind: string }).kind)}`);
      }
    }
  }

  /** The ARM path an operation works on, from its spec (the same on every redelivery). */
  private resourceOf(
    job: JobRecord,
    parsed: Extract<
      AzureMlAssetSpec,
      { kind: 'dataset-create' | 'model-register' | 'dataset-delete' | 'model-delete' | 'endpoint-delete' }
    >,
  ): string {
    switch (parsed.kind) {
      case 'dataset-create':
      case 'dataset-delete':
        return this.dataPath(parsed.spec.name, parsed.spec.version);
      case 'model-register':
      case 'model-delete':
        return this.modelPath(parsed.spec.name, parsed.spec.version);
      case 'endpoint-delete':
        return this.endpointPath(parsed.spec.endpointName);
      default: {
        const unreachable: never = parsed;
        throw new Error(`no resource for ${String((unreachable as { kind: string }).kind)} of ${job.id}`);
      }
    }
  }

  /** One job's report, or undefined when nothing changed. */
  async poll(job: JobRecord, parsed: AzureMlAssetSpec): Promise<PollReport | undefined> {
    const ref = job.providerRef ?? {};
    switch (parsed.kind) {
      case 'dataset-create':
      case 'model-register': {
        const path = this.resourceOf(job, parsed);
        const res = await this.client.send('GET', path);
        if (res.status === 404) return { jobId: job.id, status: 'missing', notes: [`Azure ML has no asset ${path}`] };
        if (res.status !== 200) throw unavailable(res, 'get asset');
        const doc = res.body as ArmResource;
        const isData = parsed.kind === 'dataset-create';
        const asset: AssetSummary = {
          kind: isData ? 'dataset' : 'model',
          id: doc.id ?? path,
          name: parsed.spec.name,
          uri: isData ? doc.properties?.dataUri : doc.properties?.modelUri,
        };
        return this.done(job, 'Succeeded', {
          asset,
          version: parsed.spec.version,
          ...(isData ? { dataType: doc.properties?.dataType } : { modelType: doc.properties?.modelType }),
        });
      }
      case 'dataset-delete':
      case 'model-delete':
      case 'endpoint-delete': {
        const path = this.resourceOf(job, parsed);
        const res = await this.client.send('GET', path);
        if (res.status === 404) {
          const name = parsed.kind === 'endpoint-delete' ? parsed.spec.endpointName : parsed.spec.name;
          const kind =
            parsed.kind === 'dataset-delete' ? 'dataset' : parsed.kind === 'model-delete' ? 'model' : 'endpoint';
          return this.done(job, 'Deleted', {
            asset: { kind, id: path, name, ...(kind === 'endpoint' && { deployedModels: [] }) },
            deleted: true,
          });
        }
        if (res.status !== 200) throw unavailable(res, 'get asset');
        const state = (res.body as ArmResource).properties?.provisioningState;
        if (state === 'Failed') {
          const op = await this.operation(ref);
          return this.failed(job, state, op?.error ?? { code: 'DeleteFailed', message: `${path} is Failed` });
        }
        // Still there and not deleting (a delete that did not take, or data/model versions,
        // which delete synchronously): ask again, it is idempotent.
        if (state !== 'Deleting') await this.client.send('DELETE', path);
        return this.running(job, state ?? 'Deleting');
      }
      case 'endpoint-create': {
        const name = String(ref.endpointName ?? parsed.spec.name ?? derivedEndpointName(runKey(job)));
        const phase = await this.phaseOf(ref, this.endpointPath(name));
        if (phase === undefined)
          return { jobId: job.id, status: 'missing', notes: [`Azure ML has no endpoint '${name}'`] };
        if (phase.phase === 'failed') return this.failed(job, 'Failed', phase.error);
        if (phase.phase === 'in-progress') return this.running(job, 'Creating');
        return this.done(job, 'Succeeded', { asset: await this.describeEndpoint(name) });
      }
      case 'endpoint-deploy':
        return this.pollDeploy(job, parsed.spec);
      case 'endpoint-undeploy':
        return this.pollUndeploy(job, parsed.spec);
      case 'dataset-export':
      case 'model-export':
        throw new Error(`${parsed.kind} is a workspace job, not an asset operation`);
      default: {
        const unreachable: never = parsed;
        throw new Error(`unhandled asset kind ${String((unreachable as { kind: string }).kind)}`);
      }
    }
  }

  /** Calls the endpoint an endpoint-create (or -deploy) job made. Only AADToken endpoints. */
  async invoke(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    if (operation === 'explain') {
      // Managed online endpoints serve one route, /score; Azure ML has no explain call for them
      // (explanations are Responsible AI jobs). Refused rather than sent to /score in disguise.
      throw new ProviderRejectedError(
        PROVIDER,
        'ExplainNotSupported',
        'Azure ML managed online endpoints have no explain operation; call infer, or run an explanation job',
      );
    }
    const asset = assetOf(endpoint);
    if (endpoint.status !== 'succeeded' || asset?.kind !== 'endpoint') {
      throw new ProviderRejectedError(
        PROVIDER,
        'EndpointNotReady',
        `job ${endpoint.id} did not create a live endpoint`,
      );
    }
    const authMode = (endpoint.spec.spec as { authMode?: unknown } | undefined)?.authMode ?? 'AADToken';
    if (authMode !== 'AADToken') {
      throw new ProviderRejectedError(
        PROVIDER,
        'UnsupportedAuthMode',
        `endpoint '${asset.name}' uses authMode ${String(authMode)}; the orchestrator calls AADToken endpoints only`,
      );
    }
    let uri = asset.uri;
    if (!uri) {
      const res = await this.client.send('GET', this.endpointPath(asset.name));
      if (res.status === 404)
        throw new ProviderRejectedError(PROVIDER, 'EndpointNotFound', `no endpoint '${asset.name}'`);
      if (res.status !== 200) throw unavailable(res, 'get endpoint');
      uri = (res.body as ArmResource).properties?.scoringUri;
      if (!uri) throw new ProviderUnavailableError(PROVIDER, `endpoint '${asset.name}' has no scoring URI yet`);
    }
    return (await this.scoring()).score(uri, body);
  }

  // ---- submit helpers ------------------------------------------------------------------------

  /** Data and model versions: immutable once made; an existing one of ours is attached to. */
  private async createVersion(job: JobRecord, path: string, body: unknown): Promise<SubmitOutcome> {
    const existing = await this.client.send('GET', path);
    if (existing.status === 200) return this.attach(job, path, existing.body as ArmResource);
    if (existing.status !== 404) throw rejection(existing, 'get asset');
    const res = await this.client.send('PUT', path, body);
    if (res.status === 200 || res.status === 201) return started({ resource: path }, false, 'Succeeded');
    if (res.status === 409) {
      // Someone created it between our read and our write: ours (a concurrent redelivery) or not.
      const again = await this.client.send('GET', path);
      if (again.status === 200) return this.attach(job, path, again.body as ArmResource);
    }
    throw rejection(res, 'PUT asset');
  }

  private attach(job: JobRecord, path: string, doc: ArmResource, extra: ProviderRef = {}): SubmitOutcome {
    const owner = this.ownerOf(doc);
    if (owner !== job.id) {
      throw new ProviderRejectedError(
        PROVIDER,
        'AssetExists',
        `${path.slice(this.ws.length + 1)} exists already${owner ? ` (made by job ${owner})` : ''}; use a new name or version`,
      );
    }
    return started({ ...extra, resource: path }, true, doc.properties?.provisioningState ?? 'Succeeded');
  }

  /** DELETE; success is confirmed by a poll that finds the resource gone. */
  private async deleteResource(path: string): Promise<SubmitOutcome> {
    const res = await this.client.send('DELETE', path);
    if (![200, 202, 204, 404].includes(res.status)) throw rejection(res, 'DELETE');
    const operation = operationUrl(res);
    return started({ resource: path, ...(operation && { operation }) }, false, 'Deleting');
  }

  private async createEndpoint(
    job: JobRecord,
    name: string,
    spec: { authMode: string; description?: string; tags?: Record<string, string> },
  ): Promise<SubmitOutcome> {
    const path = this.endpointPath(name);
    const extra = { endpointName: name };
    const existing = await this.client.send('GET', path);
    if (existing.status === 200) return this.attach(job, path, existing.body as ArmResource, extra);
    if (existing.status !== 404) throw rejection(existing, 'get endpoint');
    const res = await this.client.send('PUT', path, {
      location: await this.workspaceLocation(),
      kind: 'Managed',
      identity: { type: 'SystemAssigned' },
      tags: this.tags(job, spec.tags),
      properties: {
        authMode: spec.authMode,
        ...(spec.description !== undefined && { description: spec.description }),
      },
    });
    if (res.status === 200 || res.status === 201) {
      const operation = operationUrl(res);
      return started({ ...extra, resource: path, ...(operation && { operation }) }, false, 'Creating');
    }
    if (res.status === 409) {
      const again = await this.client.send('GET', path);
      if (again.status === 200) return this.attach(job, path, again.body as ArmResource, extra);
    }
    throw rejection(res, 'PUT endpoint');
  }

  private modelArmId(model: string): string {
    if (model.startsWith('azureml://')) return model;
    const mv = modelVersionOf(model);
    return mv ? this.modelPath(mv.name, mv.version) : model;
  }

  private async deploy(job: JobRecord, s: EndpointDeploySpec): Promise<SubmitOutcome> {
    const deployment = s.deploymentName ?? derivedEndpointName(runKey(job), 'd');
    const path = this.deploymentPath(s.endpointName, deployment);
    const extra = { endpointName: s.endpointName, deploymentName: deployment, step: 'deploy' };
    const existing = await this.client.send('GET', path);
    if (existing.status === 200) return this.attach(job, path, existing.body as ArmResource, extra);
    if (existing.status !== 404) throw rejection(existing, 'get deployment');
    const endpoint = await this.client.send('GET', this.endpointPath(s.endpointName));
    if (endpoint.status === 404)
      throw new ProviderRejectedError(PROVIDER, 'EndpointNotFound', `no online endpoint '${s.endpointName}'`);
    if (endpoint.status !== 200) throw rejection(endpoint, 'get endpoint');
    // A deployment cannot be added while the endpoint is being created or updated: wait, not fail.
    if (mapProvisioningState((endpoint.body as ArmResource).properties?.provisioningState) === 'in-progress')
      throw busy(s.endpointName);
    const location = (endpoint.body as ArmResource).location ?? (await this.workspaceLocation());
    const res = await this.client.send('PUT', path, {
      location,
      kind: 'Managed',
      tags: this.tags(job),
      sku: { name: 'Default', capacity: s.instanceCount },
      properties: {
        endpointComputeType: 'Managed',
        model: this.modelArmId(s.model),
        instanceType: s.instanceType ?? this.settings.endpointInstanceType,
        scaleSettings: { scaleType: 'Default' },
        ...(s.environment !== undefined && { environmentId: s.environment }),
        ...(s.codeId !== undefined && { codeConfiguration: { codeId: s.codeId, scoringScript: s.scoringScript } }),
        ...(s.environmentVariables !== undefined && { environmentVariables: s.environmentVariables }),
      },
    });
    if (res.status === 200 || res.status === 201) {
      const operation = operationUrl(res);
      return started({ ...extra, resource: path, ...(operation && { operation }) }, false, 'Creating');
    }
    if (res.status === 409) {
      const again = await this.client.send('GET', path);
      if (again.status === 200) return this.attach(job, path, again.body as ArmResource, extra);
      throw busy(s.endpointName);
    }
    throw rejection(res, 'PUT deployment');
  }

  /** Moves traffic off the chosen deployments first (the service refuses to delete one with traffic). */
  private async undeploy(s: EndpointUndeploySpec): Promise<SubmitOutcome> {
    const endpointPath = this.endpointPath(s.endpointName);
    const endpoint = await this.client.send('GET', endpointPath);
    if (endpoint.status === 404)
      throw new ProviderRejectedError(PROVIDER, 'EndpointNotFound', `no online endpoint '${s.endpointName}'`);
    if (endpoint.status !== 200) throw rejection(endpoint, 'get endpoint');
    const deployments = await this.listDeployments(s.endpointName);
    const wantedModels = new Set((s.models ?? []).map((m) => this.modelArmId(m).toLowerCase()));
    const targets = deployments
      .filter((d) =>
        s.deployments !== undefined
          ? s.deployments.includes(d.name ?? '')
          : s.models !== undefined
            ? wantedModels.has(String(d.properties?.model ?? '').toLowerCase())
            : true,
      )
      .map((d) => d.name ?? '')
      .filter(Boolean);
    const ref = { endpointName: s.endpointName, resource: endpointPath, deployments: targets.join(',') };
    const traffic = (endpoint.body as ArmResource).properties?.traffic ?? {};
    if (targets.some((t) => (traffic[t] ?? 0) > 0)) {
      const operation = await this.setTraffic(endpoint.body as ArmResource, withoutTraffic(traffic, targets));
      if (operation === 'busy') throw busy(s.endpointName);
      return started({ ...ref, step: 'traffic', ...(operation && { operation }) }, false, 'Updating');
    }
    for (const t of targets) await this.deleteDeployment(s.endpointName, t);
    return started({ ...ref, step: 'delete' }, false, 'Deleting');
  }

  private async deleteDeployment(endpoint: string, deployment: string): Promise<void> {
    const res = await this.client.send('DELETE', this.deploymentPath(endpoint, deployment));
    if (![200, 202, 204, 404].includes(res.status)) throw rejection(res, 'DELETE deployment');
  }

  /**
   * PUT of the endpoint as read, with new traffic; returns the operation URL, or `busy` when
   * another operation holds the endpoint (409: try again later, it is not a failure).
   */
  private async setTraffic(doc: ArmResource, traffic: Record<string, number>): Promise<string | 'busy' | undefined> {
    const { provisioningState: _ro, scoringUri: _s, swaggerUri: _w, ...writable } = doc.properties ?? {};
    const res = await this.client.send('PUT', this.endpointPath(doc.name ?? ''), {
      location: doc.location,
      ...(doc.kind !== undefined && { kind: doc.kind }),
      ...(doc.identity?.type !== undefined && { identity: { type: doc.identity.type } }),
      ...(doc.tags && { tags: doc.tags }),
      properties: { ...writable, traffic },
    });
    if (res.status === 409) return 'busy';
    if (res.status !== 200 && res.status !== 201) throw rejection(res, 'PUT endpoint traffic');
    return operationUrl(res);
  }

  // ---- poll helpers --------------------------------------------------------------------------

  private async pollDeploy(job: JobRecord, s: EndpointDeploySpec): Promise<PollReport | undefined> {
    const ref = job.providerRef ?? {};
    const endpointName = String(ref.endpointName ?? s.endpointName);
    const deployment = String(ref.deploymentName ?? s.deploymentName ?? derivedEndpointName(runKey(job), 'd'));
    if (ref.step !== 'traffic') {
      const phase = await this.phaseOf(ref, this.deploymentPath(endpointName, deployment));
      if (phase === undefined)
        return { jobId: job.id, status: 'missing', notes: [`Azure ML has no deployment '${deployment}'`] };
      if (phase.phase === 'failed') return this.failed(job, 'Failed', phase.error);
      if (phase.phase === 'in-progress') return this.running(job, 'Creating');
    } else {
      const op = await this.operation(ref);
      if (op?.phase === 'failed') return this.failed(job, 'Failed', op.error);
      if (op?.phase === 'in-progress') return this.running(job, 'Updating');
    }
    // The deployment is live: make its share of the endpoint's traffic what was asked.
    const res = await this.client.send('GET', this.endpointPath(endpointName));
    if (res.status === 404)
      return this.failed(job, 'Deleted', { code: 'EndpointNotFound', message: `endpoint '${endpointName}' is gone` });
    if (res.status !== 200) throw unavailable(res, 'get endpoint');
    const doc = res.body as ArmResource;
    if (mapProvisioningState(doc.properties?.provisioningState) === 'in-progress') return this.running(job, 'Updating');
    const traffic = doc.properties?.traffic ?? {};
    if ((traffic[deployment] ?? 0) !== s.trafficPercent) {
      const operation = await this.setTraffic(doc, withTraffic(traffic, deployment, s.trafficPercent));
      if (operation === 'busy') return this.running(job, 'Updating');
      const newRef = { ...ref, step: 'traffic', operation: operation ?? '' };
      return {
        jobId: job.id,
        status: 'running',
        nativeStatus: 'Updating',
        notes: [`deployment '${deployment}' is live; routing ${s.trafficPercent} % of the endpoint's traffic to it`],
        ref: newRef,
      };
    }
    return this.done(job, 'Succeeded', { asset: await this.describeEndpoint(endpointName, doc), deployment });
  }

  private async pollUndeploy(job: JobRecord, s: EndpointUndeploySpec): Promise<PollReport | undefined> {
    const ref = job.providerRef ?? {};
    const endpointName = String(ref.endpointName ?? s.endpointName);
    const targets = String(ref.deployments ?? '')
      .split(',')
      .filter(Boolean);
    if (ref.step === 'traffic') {
      const op = await this.operation(ref);
      if (op?.phase === 'failed') return this.failed(job, 'Failed', op.error);
      if (op?.phase === 'in-progress') return this.running(job, 'Updating');
      const res = await this.client.send('GET', this.endpointPath(endpointName));
      if (res.status !== 200 && res.status !== 404) throw unavailable(res, 'get endpoint');
      if (res.status === 200) {
        const doc = res.body as ArmResource;
        if (mapProvisioningState(doc.properties?.provisioningState) === 'in-progress')
          return this.running(job, 'Updating');
        const traffic = doc.properties?.traffic ?? {};
        // Someone routed traffic back meanwhile: move it off again rather than have the delete refused.
        if (targets.some((t) => (traffic[t] ?? 0) > 0)) {
          const operation = await this.setTraffic(doc, withoutTraffic(traffic, targets));
          if (operation === 'busy') return this.running(job, 'Updating');
          return {
            jobId: job.id,
            status: 'running',
            nativeStatus: 'Updating',
            notes: [`traffic was routed back to ${targets.join(', ')}; moving it off again`],
            ref: { ...ref, operation: operation ?? '' },
          };
        }
      }
      for (const t of targets) await this.deleteDeployment(endpointName, t);
      return {
        jobId: job.id,
        status: 'running',
        nativeStatus: 'Deleting',
        notes: [`traffic moved off ${targets.join(', ')}; deleting the deployment(s)`],
        ref: { ...ref, step: 'delete', operation: '' },
      };
    }
    let remaining = 0;
    for (const t of targets) {
      const res = await this.client.send('GET', this.deploymentPath(endpointName, t));
      if (res.status === 404) continue;
      if (res.status !== 200) throw unavailable(res, 'get deployment');
      remaining += 1;
      const state = (res.body as ArmResource).properties?.provisioningState;
      if (state === 'Failed') {
        return this.failed(job, state, { code: 'UndeployFailed', message: `deployment '${t}' failed to delete` });
      }
      if (state !== 'Deleting') await this.deleteDeployment(endpointName, t);
    }
    if (remaining > 0) return this.running(job, 'Deleting');
    return this.done(job, 'Succeeded', { asset: await this.describeEndpoint(endpointName), undeployed: targets });
  }

  /**
   * Where a create/update stands: the Azure-AsyncOperation document when we have one (it carries
   * the error of a failure), else the resource's provisioningState. Undefined: the resource is gone.
   */
  private async phaseOf(ref: ProviderRef, path: string): Promise<Phase | undefined> {
    const op = await this.operation(ref);
    if (op?.phase === 'in-progress' || op?.phase === 'failed') return op;
    const res = await this.client.send('GET', path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw unavailable(res, 'get resource');
    const state = (res.body as ArmResource).properties?.provisioningState;
    const phase = mapProvisioningState(state);
    return phase === 'failed'
      ? { phase, error: op?.error ?? { code: `Provisioning${state}`, message: `${path} is ${state}` } }
      : { phase };
  }

  /** The operation document of `ref.operation`; undefined when there is none or it expired. */
  private async operation(ref: ProviderRef): Promise<Phase | undefined> {
    const url = typeof ref.operation === 'string' && ref.operation !== '' ? ref.operation : undefined;
    if (url === undefined) return undefined;
    const res = await this.client.send('GET', url);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw unavailable(res, 'get operation');
    const doc = (res.body ?? {}) as OperationDoc;
    const phase = mapOperationStatus(doc.status);
    if (phase !== 'failed') return { phase };
    return {
      phase,
      error: {
        code: doc.error?.code ?? `Operation${doc.status}`,
        message: doc.error?.message ?? `the Azure ML operation ended ${doc.status}`,
      },
    };
  }

  private async listDeployments(endpoint: string): Promise<ArmResource[]> {
    const out: ArmResource[] = [];
    let next: string | undefined = `${this.endpointPath(endpoint)}/deployments`;
    while (next !== undefined) {
      const res = await this.client.send('GET', next);
      if (res.status !== 200) throw unavailable(res, 'list deployments');
      const page = (res.body ?? {}) as { value?: ArmResource[]; nextLink?: string | null };
      out.push(...(page.value ?? []));
      next = page.nextLink ?? undefined;
    }
    return out;
  }

  /** The endpoint as `result.asset`: scoring URI and what its deployments serve. */
  private async describeEndpoint(name: string, known?: ArmResource): Promise<AssetSummary> {
    let doc = known;
    if (doc === undefined) {
      const res = await this.client.send('GET', this.endpointPath(name));
      if (res.status !== 200) throw unavailable(res, 'get endpoint');
      doc = res.body as ArmResource;
    }
    const deployments = await this.listDeployments(name);
    const live = deployments.filter((d) => d.properties?.provisioningState !== 'Deleting');
    const first = live[0];
    return {
      kind: 'endpoint',
      id: doc.id ?? this.endpointPath(name),
      name,
      ...(doc.properties?.scoringUri && { uri: doc.properties.scoringUri }),
      ...(first?.properties?.instanceType && { instanceType: first.properties.instanceType }),
      ...(live.length > 0 && { instanceCount: live.reduce((n, d) => n + (d.sku?.capacity ?? 1), 0) }),
      deployedModels: live.map((d) => String(d.properties?.model ?? '')).filter(Boolean),
    };
  }

  private running(job: JobRecord, native: string, ref?: ProviderRef): PollReport | undefined {
    if (job.status === 'running' && job.providerRef?.nativeStatus === native && ref === undefined) return undefined;
    return {
      jobId: job.id,
      status: job.status === 'cancelling' ? 'cancelling' : 'running',
      nativeStatus: native,
      ref: { ...job.providerRef, ...ref, nativeStatus: native },
    };
  }

  private done(job: JobRecord, native: string, result: Record<string, unknown>): PollReport {
    return {
      jobId: job.id,
      status: 'succeeded',
      nativeStatus: native,
      result,
      ref: { ...job.providerRef, nativeStatus: native },
    };
  }

  private failed(job: JobRecord, native: string, error: { code: string; message: string } | undefined): PollReport {
    return {
      jobId: job.id,
      status: 'failed',
      nativeStatus: native,
      error: {
        code: error?.code ?? 'AzureMLOperationFailed',
        message: error?.message ?? 'the operation failed',
        category: 'provider',
      },
      ref: { ...job.providerRef, nativeStatus: native },
    };
  }
}

function started(ref: ProviderRef, attached: boolean, native: string): SubmitOutcome {
  return { ref: { ...ref, nativeStatus: native }, attached, status: 'running' };
}

function operationUrl(res: ArmResponse): string | undefined {
  return res.header('azure-asyncoperation') ?? undefined;
}

/** `result.asset` of a finished job, where the poll put it. */
export function assetOf(job: JobRecord): AssetSummary | undefined {
  const asset = (job.result?.summary as { asset?: unknown } | undefined)?.asset as AssetSummary | undefined;
  return asset && typeof asset.name === 'string' ? asset : undefined;
}

/** Traffic with `deployment` at `percent` and the others scaled to share the rest (sum 100). */
export function withTraffic(
  traffic: Record<string, number>,
  deployment: string,
  percent: number,
): Record<string, number> {
  const others = Object.entries(traffic).filter(([k]) => k !== deployment);
  const otherSum = others.reduce((n, [, v]) => n + v, 0);
  // Alone on the endpoint: it takes everything (the service wants a sum of 100 once traffic is set).
  if (otherSum === 0)
    return { ...Object.fromEntries(others.map(([k]) => [k, 0])), [deployment]: percent === 0 ? 0 : 100 };
  return { ...scaleTo(Object.fromEntries(others), 100 - percent), [deployment]: percent };
}

/** Traffic with `removed` at 0 and what they had spread over the others in proportion. */
export function withoutTraffic(traffic: Record<string, number>, removed: readonly string[]): Record<string, number> {
  const kept = Object.fromEntries(Object.entries(traffic).filter(([k]) => !removed.includes(k)));
  const keptSum = Object.values(kept).reduce((n, v) => n + v, 0);
  const scaled = keptSum === 0 ? kept : scaleTo(kept, 100);
  return { ...scaled, ...Object.fromEntries(removed.filter((r) => r in traffic).map((r) => [r, 0])) };
}

/** Whole percentages in proportion to `shares`, summing to `total` (the remainder to the largest). */
function scaleTo(shares: Record<string, number>, total: number): Record<string, number> {
  const sum = Object.values(shares).reduce((n, v) => n + v, 0);
  if (sum === 0) return shares;
  const out = Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, Math.floor((v * total) / sum)]));
  const largest = Object.entries(shares).sort((a, b) => b[1] - a[1])[0]![0];
  out[largest] = out[largest]! + total - Object.values(out).reduce((n, v) => n + v, 0);
  return out;
}

/** A 4xx on a write: configuration trouble (auth, missing workspace) heals; anything else is final. */
function rejection(res: ArmResponse, what: string): Error {
  const e = armError(res);
  if (res.status === 401 || res.status === 403) {
    return new ProviderUnavailableError(PROVIDER, `${what} answered ${res.status} ${e.code}: ${e.message}`);
  }
  return new ProviderRejectedError(PROVIDER, e.innerCode ?? e.code, e.message);
}

/** The endpoint is in another operation: the dispatch is redelivered later instead of failing. */
function busy(endpoint: string): Error {
  return new ProviderUnavailableError(PROVIDER, `online endpoint '${endpoint}' is busy with another operation`);
}

function unavailable(res: ArmResponse, what: string): Error {
  const e = armError(res);
  return new ProviderUnavailableError(PROVIDER, `${what} answered ${res.status} ${e.code}: ${e.message}`);
}
