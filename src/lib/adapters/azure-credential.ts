import type { TokenCredential } from '@azure/core-auth';
import type { Config } from '../config.js';

let cached: Promise<TokenCredential> | undefined;

/**
 * DefaultAzureCredential, loaded lazily (identity pulls in MSAL) and shared by every adapter.
 * A user-assigned managed identity is selected by `JobsStorage__clientId` (Bicep sets it).
 */
export function azureCredential(config: Config): Promise<TokenCredential> {
  cached ??= import('@azure/identity').then(({ DefaultAzureCredential }) => {
    const clientId = config.storage.managedIdentityClientId;
    return clientId ? new DefaultAzureCredential({ managedIdentityClientId: clientId }) : new DefaultAzureCredential();
  });
  return cached;
}
