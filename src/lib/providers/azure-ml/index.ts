import { azureCredential } from '../../adapters/azure-credential.js';
import type { JobProvider } from '../../ports/provider.js';
import type { ProviderContext, ProviderModule } from '../provider-context.js';
import { isAzureMlConfigured, parseAzureMlSettings } from './settings.js';

export { AZURE_ML_SETTINGS } from './settings.js';
export { fromEssedumTrain, parseAzureMlJobSpec, AZURE_ML_JOB_KINDS } from './job-spec.js';

/** True when AZUREML_SUBSCRIPTION_ID, AZUREML_RESOURCE_GROUP and AZUREML_WORKSPACE are set. */
export function isConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return isAzureMlConfigured(env);
}

/**
 * Builds the Azure ML provider with the shared `DefaultAzureCredential`. The provider module and the
 * core REST pipeline are imported here, on first use, not when the Functions host loads.
 */
export async function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  const settings = parseAzureMlSettings(ctx.config.env);
  const [{ createAzureMlProvider }, credential] = await Promise.all([import('./azure-ml-provider.js'), azureCredential(ctx.config)]);
  return createAzureMlProvider(settings, { credential });
}

/** Type check: this module is a {@link ProviderModule}. */
export const azureMlModule: ProviderModule = { isConfigured, createProvider };
