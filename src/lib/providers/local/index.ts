import type { ProviderContext } from '../provider-context.js';
import { LocalProvider } from './local-provider.js';

/** The local provider needs no settings beyond LOCAL_PROVIDER_DIR, which has a default. */
export function isConfigured(): boolean {
  return true;
}

export function createProvider(ctx: ProviderContext): LocalProvider {
  return new LocalProvider(ctx);
}
