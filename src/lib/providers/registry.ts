import { PROVIDER_NAMES, type Config } from '../config.js';
import { ProviderNotConfiguredError } from '../errors.js';
import type { JobProvider, ProviderRegistry } from '../ports/provider.js';
import type { ProviderContext, ProviderModule } from './provider-context.js';

/**
 * Provider modules by name, each imported only when first used: a deployment that never routes to
 * SageMaker never loads the AWS SDK.
 */
const MODULES: Record<string, () => Promise<ProviderModule>> = {
  local: () => import('./local/index.js'),
};

export function createProviderRegistry(ctx: ProviderContext, extra: Record<string, JobProvider> = {}): ProviderRegistry {
  const built = new Map<string, Promise<JobProvider>>();
  const configuredNames = (): string[] => {
    const names = new Set<string>(Object.keys(extra));
    for (const name of PROVIDER_NAMES) if (isConfigured(name, ctx.config)) names.add(name);
    return [...names];
  };
  return {
    configured: configuredNames,
    get(name: string): Promise<JobProvider> {
      const fixed = extra[name];
      if (fixed) return Promise.resolve(fixed);
      let p = built.get(name);
      if (!p) {
        const load = MODULES[name];
        if (!load || !isConfigured(name, ctx.config)) return Promise.reject(new ProviderNotConfiguredError(name));
        p = load().then((m) => m.createProvider(ctx));
        p.catch(() => built.delete(name));
        built.set(name, p);
      }
      return p;
    },
  };
}

/** Cheap check without importing the provider module (settings are known statically). */
function isConfigured(name: string, config: Config): boolean {
  return PROVIDER_CONFIGURED[name]?.(config.env) ?? false;
}

/** Mirrors each module's `isConfigured` so pollers can skip providers without loading them. */
const PROVIDER_CONFIGURED: Record<string, (env: Config['env']) => boolean> = {
  local: () => true,
};
