import type { SettingInfo } from '../config.js';
import type { Config } from '../config.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { JobProvider } from '../ports/provider.js';

/** What every provider factory receives. Providers read their own settings from `config.env`. */
export interface ProviderContext {
  readonly config: Config;
  readonly blobs: BlobStore;
}

type Env = Readonly<Record<string, string | undefined>>;

/** What a descriptor's `load()` resolves to: the provider's `provider.ts` module. */
export interface ProviderModule {
  createProvider(ctx: ProviderContext): Promise<JobProvider> | JobProvider;
}

/** A poll schedule setting: `POLL_<NAME>_SCHEDULE`, read by the provider's timer function. */
export type PollScheduleSetting = `POLL_${string}_SCHEDULE`;

/**
 * Everything the rest of the product knows about one provider. Each `providers/<name>/index.ts`
 * exports one as `descriptor`; the registry, the provider names, the settings catalogue, the poll
 * functions and submit-time spec checks are all derived from the list in `providers/all.ts`.
 *
 * A descriptor module must stay light: it is imported by the Functions entry (the poll functions),
 * so it may import neither zod nor a cloud SDK at module load. Everything heavy is behind `load`
 * and `validateSpec`, which import on first use.
 */
export interface ProviderDescriptor<N extends string = string, S extends PollScheduleSetting = PollScheduleSetting> {
  readonly name: N;
  /** Name of the provider's timer function in the Functions host (e.g. `pollAzureMl`). */
  readonly pollFunction: string;
  /** The setting holding the poller's NCRONTAB schedule (scope `app`, with its default). */
  readonly pollSchedule: SettingInfo & { readonly name: S; readonly default: string };
  /** Settings the provider reads (scope `provider`), for the catalogue, README and Bicep checks. */
  readonly settings: readonly SettingInfo[];
  /**
   * The job kinds the provider runs when it runs only jobs that name one (and carry its spec), or
   * `undefined` when it runs any job.
   */
  readonly jobKinds?: readonly string[];
  /** True when the settings the provider needs are present (pollers skip unconfigured providers). */
  isConfigured(env: Env): boolean;
  /** Imports the provider implementation (and, through it, its SDK) on first use. */
  load(): Promise<ProviderModule>;
  /**
   * Checks a job's provider-specific `kind`/`spec` at submission, throwing ValidationError naming
   * the field. Loads only the provider's schema module, never its SDK.
   */
  validateSpec(kind: string | undefined, spec: Record<string, unknown> | undefined): Promise<void>;
}

/** Keeps the descriptor's names literal, so provider names and schedule settings are closed unions. */
export function defineProvider<const N extends string, const S extends PollScheduleSetting>(
  descriptor: ProviderDescriptor<N, S>,
): ProviderDescriptor<N, S> {
  return descriptor;
}
