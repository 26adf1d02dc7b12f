import { descriptor as azureBatch } from './azure-batch/index.js';
import { descriptor as azureMl } from './azure-ml/index.js';
import { descriptor as local } from './local/index.js';
import type { ProviderDescriptor } from './provider-context.js';
import { descriptor as sagemaker } from './sagemaker/index.js';
import { descriptor as vertex } from './vertex/index.js';

/**
 * The one list of providers. The registry, the provider names settings accept, the settings
 * catalogue, the poll functions and submit-time spec checks all read it; a new provider adds its
 * folder and one line here. Light: descriptors import neither zod nor an SDK.
 */
export const PROVIDERS = [local, azureBatch, azureMl, sagemaker, vertex] as const;

export type ProviderName = (typeof PROVIDERS)[number]['name'];

/** The settings holding each provider's poll schedule. */
export type ProviderPollSetting = (typeof PROVIDERS)[number]['pollSchedule']['name'];

/** Names of every provider this build can run, configured or not. */
export const PROVIDER_NAMES = PROVIDERS.map((p) => p.name) as unknown as readonly [ProviderName, ...ProviderName[]];

/** The descriptor of a provider, or `undefined` for a name no provider has. */
export function providerDescriptor(name: string): ProviderDescriptor | undefined {
  return PROVIDERS.find((p) => p.name === name);
}
