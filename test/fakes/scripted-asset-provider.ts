import { runKey, type JobRecord } from '../../src/lib/core/job.js';
import type { Deps } from '../../src/lib/deps.js';
import { ProviderNotConfiguredError, ProviderRejectedError, ValidationError } from '../../src/lib/errors.js';
import type { JobProvider } from '../../src/lib/ports/provider.js';
import { ASSET_OPS, type AssetOp, type AssetRefs } from '../../src/lib/app/essedum/assets-types.js';
import { ScriptedProvider } from './scripted-provider.js';

/** What the scripted cloud holds, by resource id. */
export interface ScriptedResource {
  kind: 'dataset' | 'model' | 'endpoint';
  id: string;
  name: string;
  uri: string;
  tags: Record<string, string>;
  instanceType?: string;
  instanceCount?: number;
  deployedModels: string[];
}

const isAssetOp = (kind: unknown): kind is AssetOp => (ASSET_OPS as readonly unknown[]).includes(kind);

/**
 * The Essedum asset translation of the scripted provider (the shape MLOPS.md §2 gives every
 * provider's `fromEssedumAsset`): creates need a `name`; a deploy needs the model (a record ref or a
 * `model_name`); anything on an existing asset needs that asset in `refs`. The spec names the
 * provider resources the operation acts on, read from the refs' `result.asset` as a real provider does.
 */
export function scriptedFromEssedumAsset(
  op: AssetOp,
  body: Record<string, unknown>,
  refs: AssetRefs,
): { kind: string; spec: Record<string, unknown> } {
  const resourceOf = (job: JobRecord | undefined) =>
    (job?.result?.summary as { asset?: { id?: string } } | undefined)?.asset?.id;
  const need = (field: string, ok: boolean, message: string) => {
    if (!ok) throw new ValidationError([{ field, message }]);
  };
  switch (op) {
    case 'dataset-create':
    case 'model-register':
    case 'endpoint-create':
      need('name', typeof body.name === 'string' && /^[a-z0-9-]{1,63}$/.test(body.name), 'required: 1-63 of a-z 0-9 -');
      if (body.instance_count !== undefined)
        need('instance_count', Number.isInteger(body.instance_count), 'must be a whole number');
      return { kind: op, spec: { ...body } };
    case 'endpoint-deploy': {
      const model = resourceOf(refs.model) ?? (typeof body.model_name === 'string' ? body.model_name : undefined);
      need('model_id', model !== undefined, 'name a registered model (its record id) or model_name');
      return { kind: op, spec: { endpoint: resourceOf(refs.endpoint), model } };
    }
    case 'dataset-export':
    case 'model-export':
    case 'dataset-delete':
    case 'model-delete':
    case 'endpoint-undeploy':
    case 'endpoint-delete': {
      const target = resourceOf(refs.dataset ?? refs.model ?? refs.endpoint);
      need('', target !== undefined, 'the asset this operation acts on is unknown');
      return { kind: op, spec: { target, ...body } };
    }
    default: {
      const unreachable: never = op;
      throw new Error(String(unreachable));
    }
  }
}

/**
 * A scripted provider that also runs the asset kinds the way MLOPS.md §1 asks of a real one: a run
 * stays `dispatched` until the test calls {@link complete}, which applies the operation to the
 * scripted cloud and makes the next poll report `succeeded` with `result.asset`. A delete or an
 * undeploy is therefore confirmed only when the test says the cloud finished it. `invokeEndpoint`
 * answers from an endpoint with deployed models and refuses one without (a 4xx at the endpoint).
 */
export class ScriptedAssetProvider extends ScriptedProvider {
  readonly resources = new Map<string, ScriptedResource>();
  readonly invocations: { endpoint: string; operation: string; body: unknown }[] = [];
  readonly tag = { 'cjo-deployment': 'test' };

  constructor(name: string) {
    super(name);
  }

  /** The provider finishes `job`'s operation: the resource changes, the next poll says succeeded. */
  complete(job: JobRecord): ScriptedResource {
    const kind = job.spec.kind;
    if (!isAssetOp(kind)) throw new Error(`${job.id} is not an asset job`);
    const spec = job.spec.spec ?? {};
    const key = runKey(job);
    let resource: ScriptedResource;
    if (kind === 'dataset-create' || kind === 'model-register' || kind === 'endpoint-create') {
      const type = kind === 'dataset-create' ? 'dataset' : kind === 'model-register' ? 'model' : 'endpoint';
      resource = {
        kind: type,
        id: `${type}/${String(spec.name)}-${key}`,
        name: String(spec.name),
        uri: `scripted://${type}s/${String(spec.name)}`,
        tags: { ...this.tag },
        deployedModels: [],
        ...(type === 'endpoint' && {
          instanceType: String(spec.instance_type ?? 'ml.m5.large'),
          instanceCount: Number(spec.instance_count ?? 1),
        }),
      };
      this.resources.set(resource.id, resource);
    } else {
      const id = String(spec.target ?? spec.endpoint);
      const found = this.resources.get(id);
      if (!found) throw new Error(`scripted cloud has no ${id}`);
      resource = found;
      if (kind.endsWith('-delete')) this.resources.delete(id);
      if (kind === 'endpoint-deploy') resource.deployedModels = [...resource.deployedModels, String(spec.model)];
      if (kind === 'endpoint-undeploy') resource.deployedModels = [];
    }
    const exported = kind.endsWith('-export') ? { uri: `scripted://exports/${key}` } : {};
    this.setRun(job, {
      status: 'succeeded',
      nativeStatus: 'Done',
      report: {
        result: {
          asset: {
            kind: resource.kind,
            id: resource.id,
            name: resource.name,
            uri: resource.uri,
            ...(resource.instanceType && { instanceType: resource.instanceType }),
            ...(resource.instanceCount && { instanceCount: resource.instanceCount }),
            ...(resource.kind === 'endpoint' && { deployedModels: [...resource.deployedModels] }),
            ...exported,
          },
        },
      },
    });
    return resource;
  }

  /** The provider reports `job`'s operation failed with `code`. */
  fail(job: JobRecord, code: string, message: string): void {
    this.setRun(job, { status: 'failed', nativeStatus: 'Failed', report: { error: { code, message } } });
  }

  async invokeEndpoint(endpoint: JobRecord, operation: 'infer' | 'explain', body: unknown): Promise<unknown> {
    const id = (endpoint.result?.summary as { asset?: { id?: string } } | undefined)?.asset?.id ?? '';
    this.invocations.push({ endpoint: id, operation, body });
    const resource = this.resources.get(id);
    if (!resource || resource.deployedModels.length === 0)
      throw new ProviderRejectedError(this.name, 'ModelNotReady', `endpoint ${id} has no deployed model`);
    const rows = Array.isArray((body as { instances?: unknown }).instances)
      ? (body as { instances: unknown[] }).instances
      : [];
    return operation === 'infer'
      ? { predictions: rows.map((_, i) => i % 2), model: resource.deployedModels[0] }
      : { explanations: rows.map(() => ({ attributions: [0.5, 0.5] })), model: resource.deployedModels[0] };
  }
}

/**
 * Dependency overrides that make `providers` (named like real ones, e.g. `sagemaker`) the deployment's
 * providers, with the scripted Essedum asset translation and spec checks in place of the real
 * providers' own: asset kinds are accepted as the scripted translation built them; any other kind
 * goes to the real descriptor's check.
 */
export function scriptedAssetDeps(
  providers: ReadonlyMap<string, JobProvider>,
): Pick<Deps, 'providers' | 'assetTranslation'> {
  return {
    providers: {
      configured: () => [...providers.keys()],
      get: async (name) => {
        const p = providers.get(name);
        if (!p) throw new ProviderNotConfiguredError(name);
        return p;
      },
      validateSpec: async (provider, kind, spec) => {
        if (isAssetOp(kind)) return;
        const { validateProviderSpec } = await import('../../src/lib/providers/registry.js');
        await validateProviderSpec(provider, kind, spec);
      },
    },
    assetTranslation: (_provider, op, body, refs) => scriptedFromEssedumAsset(op, body, refs),
  };
}
