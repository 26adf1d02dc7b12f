import type { ProviderContext, ProviderModule } from '../provider-context.js';
import type { JobProvider } from '../../ports/provider.js';
import { isVertexConfigured, parseVertexSettings, type VertexSettings } from './settings.js';
import { createSdkVertexApi, type VertexClientDeps } from './vertex-api.js';
import { VertexProvider } from './vertex-provider.js';

export { VERTEX_SETTINGS, parseVertexSettings, type VertexSettings } from './settings.js';
export { fromEssedumTrainingPipeline, fromEssedumBatchPrediction, parseVertexJobSpec, VERTEX_KINDS, type VertexKind } from './job-kinds.js';
export { VertexProvider } from './vertex-provider.js';
export type { VertexClientDeps } from './vertex-api.js';

/** True when VERTEX_PROJECT and VERTEX_LOCATION are set. */
export function isConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return isVertexConfigured(env);
}

/**
 * Builds the provider from already-parsed settings; tests pass an auth client (and, for gRPC,
 * insecure channel credentials). The SDK is loaded here, on first use.
 */
export async function createVertexProvider(settings: VertexSettings, deps: VertexClientDeps = {}): Promise<VertexProvider> {
  return new VertexProvider(settings, await createSdkVertexApi(settings, deps));
}

/** The provider module entry point (registry name `vertex`). */
export async function createProvider(ctx: ProviderContext): Promise<JobProvider> {
  return createVertexProvider(parseVertexSettings(ctx.config.env));
}

export const vertexModule: ProviderModule = { isConfigured, createProvider };
