import type { Config } from '../config.js';
import { ProviderNotConfiguredError } from '../errors.js';
import type { JobProvider, ProviderRegistry } from '../ports/provider.js';
import { isAzureBatchConfigured } from './azure-batch/settings.js';
import { isAzureMlConfigured } from './azure-ml/settings.js';
import { isSageMakerConfigured } from './sagemaker/settings.js';
import { isVertexConfigured } from './vertex/settings.js';
import type { ProviderContext, ProviderModule } from './provider-context.js';
import { tracedProvider } from '../telemetry/traced-provider.js';

type Env = Config['env'];

/**
 * Every provider by name. `isConfigured` reads settings only (light modules, imported eagerly);
 * `load` imports the provider and its SDK on first use, so a deployment that never routes to
 * SageMaker never loads the AWS SDK and cold starts stay fast.
 */
const PROVIDERS: Record<string, { isConfigured(env: Env): boolean; load(): Promise<ProviderModule> }> = {
  local: { isConfigured: () => true, load: () => import('./local/index.js') },
  'azure-batch': { isConfigured: isAzureBatchConfigured, load: () => import('./azure-batch/index.js') },
  'azure-ml': { isConfigured: isAzureMlConfigured, load: () => import('./azure-ml/index.js') },
  sagemaker: { isConfigured: isSageMakerConfigured, load: () => import('./sagemaker/index.js') },
  vertex: { isConfigured: isVertexConfigured, load: () => import('./vertex/index.js') },
};

/** Names of every provider this build can run, configured or not. */
export function knownProviders(): string[] {
  return Object.keys(PROVIDERS);
}

/** Every provider the registry hands out is traced (one span and one count per port call). */
export function createProviderRegistry(ctx: ProviderContext, extraProviders: Record<string, JobProvider> = {}): ProviderRegistry {
  const built = new Map<string, Promise<JobProvider>>();
  const extra = Object.fromEntries(Object.entries(extraProviders).map(([n, p]) => [n, tracedProvider(p)]));
  return {
    configured: () => [...new Set([...Object.keys(extra), ...Object.keys(PROVIDERS).filter((n) => PROVIDERS[n]!.isConfigured(ctx.config.env))])],
    get(name: string): Promise<JobProvider> {
      const fixed = extra[name];
      if (fixed) return Promise.resolve(fixed);
      const entry = PROVIDERS[name];
      if (!entry || !entry.isConfigured(ctx.config.env)) return Promise.reject(new ProviderNotConfiguredError(name));
      let p = built.get(name);
      if (!p) {
        p = entry.load().then(async (m) => tracedProvider(await m.createProvider(ctx)));
        p.catch(() => built.delete(name));
        built.set(name, p);
      }
      return p;
    },
  };
}

/**
 * The job kinds a provider runs when it runs only jobs that name one (and carry its spec), or
 * `undefined` for providers that run any job (local, Azure Batch, the workers). Loads only the
 * provider's light constants module, never its SDK.
 */
export async function requiredJobKinds(provider: string): Promise<readonly string[] | undefined> {
  switch (provider) {
    case 'azure-ml':
      return (await import('./azure-ml/job-spec.js')).AZURE_ML_JOB_KINDS;
    case 'sagemaker':
      return (await import('./sagemaker/names.js')).SAGEMAKER_KINDS;
    case 'vertex':
      return (await import('./vertex/job-kinds.js')).VERTEX_KINDS;
    default:
      return undefined;
  }
}

/**
 * Checks a job's provider-specific `kind`/`spec` at submission, so a bad spec is a 400 naming the
 * field rather than a job that fails at dispatch. Loads only the provider's schema module (zod),
 * never its SDK. Providers without job kinds accept anything.
 */
export async function validateProviderSpec(provider: string, kind: string | undefined, spec: Record<string, unknown> | undefined): Promise<void> {
  switch (provider) {
    case 'azure-ml': {
      const { parseAzureMlJobSpec } = await import('./azure-ml/job-spec.js');
      parseAzureMlJobSpec(kind, spec);
      return;
    }
    case 'sagemaker': {
      const { validateSageMakerSpec } = await import('./sagemaker/job-specs.js');
      validateSageMakerSpec(kind, spec, { kind: 'kind', spec: 'spec' });
      return;
    }
    case 'azure-batch': {
      // Per-job task options (VM size, retries, environment names) are checked again at dispatch
      // against the provider's settings; the environment rule needs none, so it holds here already.
      const { BatchJobOptionsSchema } = await import('./azure-batch/mapping.js');
      const { parseOrThrow } = await import('../core/job.js');
      parseOrThrow(BatchJobOptionsSchema, spec ?? {}, 'spec');
      return;
    }
    case 'vertex': {
      const { parseVertexJobSpec } = await import('./vertex/job-kinds.js');
      parseVertexJobSpec({ ...(kind !== undefined && { kind }), ...(spec !== undefined && { spec }) });
      return;
    }
    default:
      return;
  }
}
