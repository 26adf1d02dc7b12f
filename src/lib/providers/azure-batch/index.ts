/**
 * Azure Batch provider module (see {@link ProviderModule}). Nothing heavy is imported here: the Batch
 * SDK loads inside `createProvider`, so other functions' cold starts do not pay for it.
 */
import type { JobProvider } from '../../ports/provider.js';
import type { ProviderContext, ProviderModule } from '../provider-context.js';
import { isAzureBatchConfigured } from './settings.js';

export { AZURE_BATCH_SETTINGS } from './settings.js';

/** True when `AZURE_BATCH_ACCOUNT_URL` is set. */
export function isConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return isAzureBatchConfigured(env);
}

/** Builds the provider from `ctx.config.env` (throws ConfigurationError on bad settings). */
export async function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  const { createAzureBatchProvider } = await import('./azure-batch-provider.js');
  return createAzureBatchProvider(ctx);
}

export default { isConfigured, createProvider } satisfies ProviderModule;
