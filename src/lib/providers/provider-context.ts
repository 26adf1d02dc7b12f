import type { Config } from '../config.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { JobProvider } from '../ports/provider.js';

/** What every provider factory receives. Providers read their own settings from `config.env`. */
export interface ProviderContext {
  readonly config: Config;
  readonly blobs: BlobStore;
}

/** Each provider module exports one of these from `src/lib/providers/<name>/index.ts`. */
export interface ProviderModule {
  /** True when the settings this provider needs are present (pollers skip unconfigured providers). */
  isConfigured(env: Readonly<Record<string, string | undefined>>): boolean;
  createProvider(ctx: ProviderContext): Promise<JobProvider> | JobProvider;
}
