import { ProviderNotConfiguredError } from '../errors.js';
import type { JobProvider, ProviderRegistry } from '../ports/provider.js';
import { PROVIDER_NAMES, providerDescriptor } from './all.js';
import type { ProviderContext } from './provider-context.js';
import { tracedProvider } from '../telemetry/traced-provider.js';

/**
 * Every provider by name, from the descriptors in `providers/all.ts`. `isConfigured` reads settings
 * only; `load` imports the provider and its SDK on first use, so a deployment that never routes to
 * SageMaker never loads the AWS SDK and cold starts stay fast.
 */

/** Names of every provider this build can run, configured or not. */
export function knownProviders(): string[] {
  return [...PROVIDER_NAMES];
}

/** Every provider the registry hands out is traced (one span and one count per port call). */
export function createProviderRegistry(
  ctx: ProviderContext,
  extraProviders: Record<string, JobProvider> = {},
): ProviderRegistry {
  const built = new Map<string, Promise<JobProvider>>();
  const configured = (name: string) => providerDescriptor(name)?.isConfigured(ctx.config.env) ?? false;
  const extra = Object.fromEntries(Object.entries(extraProviders).map(([n, p]) => [n, tracedProvider(p)]));
  return {
    configured: () => [...new Set([...Object.keys(extra), ...PROVIDER_NAMES.filter(configured)])],
    get(name: string): Promise<JobProvider> {
      const fixed = extra[name];
      if (fixed) return Promise.resolve(fixed);
      const entry = providerDescriptor(name);
      if (!entry?.isConfigured(ctx.config.env)) return Promise.reject(new ProviderNotConfiguredError(name));
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
 * `undefined` for providers that run any job (local, Azure Batch, the workers).
 */
export async function requiredJobKinds(provider: string): Promise<readonly string[] | undefined> {
  return providerDescriptor(provider)?.jobKinds;
}

/**
 * Checks a job's provider-specific `kind`/`spec` at submission, so a bad spec is a 400 naming the
 * field rather than a job that fails at dispatch. Loads only the provider's schema module (zod),
 * never its SDK. Unknown providers accept anything (routing rejects them).
 */
export async function validateProviderSpec(
  provider: string,
  kind: string | undefined,
  spec: Record<string, unknown> | undefined,
): Promise<void> {
  await providerDescriptor(provider)?.validateSpec(kind, spec);
}
