import { loadConfig, type Config } from './config.js';
import { parseEssedumSettings } from './essedum-settings.js';
import type { BlobStore } from './ports/blob-store.js';
import type { CapacityStore } from './ports/capacity-store.js';
import type { JobStore } from './ports/job-store.js';
import type { ProviderRegistry } from './ports/provider.js';
import type { QueueTransport } from './ports/queue.js';
import type { AssetOp, AssetRefs } from './app/essedum/assets-types.js';
import type { Webhooks } from './app/webhooks/notifier.js';
import type { Costs } from './app/costs/costs.js';
import { instrumentedStore } from './telemetry/instrumented-store.js';
import { createLogger, parseLogLevel, processLogger, type Logger } from './telemetry/logger.js';

/** Everything a use case may touch. Built once per host by {@link createDeps}. */
export interface Deps {
  readonly config: Config;
  readonly store: JobStore;
  /** Claim-check-wrapped transport: bodies of any size can be sent. */
  readonly queues: QueueTransport;
  readonly blobs: BlobStore;
  readonly providers: ProviderRegistry;
  readonly now: () => Date;
  readonly log: Logger;
  /**
   * Admission state shared by all instances (caps per provider); absent on hosts built without
   * storage (some tests), where dispatch applies no caps.
   */
  readonly capacity?: CapacityStore;
  /** Webhook subscriptions and deliveries; absent on hosts built without them (some tests). */
  readonly webhooks?: Webhooks;
  /** Price table, cost ledger and budgets; absent on hosts built without storage (some tests). */
  readonly costs?: Costs;

  /**
   * Essedum asset translation for providers a host brings itself (tests with scripted providers);
   * absent: each provider's own `translate/<provider>.ts` `fromEssedumAsset`.
   */
  readonly assetTranslation?: AssetTranslation;
}

/** Essedum body → provider job kind and spec for one asset operation (app/essedum/assets-types.ts). */
export type AssetTranslation = (
  provider: string,
  op: AssetOp,
  body: Record<string, unknown>,
  refs: AssetRefs,
) => { kind: string; spec: Record<string, unknown> };

export type { Logger };

/** The process logger at LOG_LEVEL from the environment (createDeps builds one from the config's settings). */
export const consoleLogger: Logger = processLogger;

/**
 * The composition root: the Functions app, the local runner and the worker all start here. Tests
 * pass overrides (a store on its own tables, a provider registry with a fake) instead of patching.
 * Adapters are imported lazily so the SDKs load on first use, not at cold start.
 */
export async function createDeps(config: Config, overrides: Partial<Deps> = {}): Promise<Deps> {
  let blobs: BlobStore;
  if (overrides.blobs) blobs = overrides.blobs;
  else {
    const { AzureBlobStore } = await import('./adapters/azure-blob-store.js');
    blobs = await AzureBlobStore.create(config);
  }
  let store: JobStore;
  if (overrides.store) store = overrides.store;
  else {
    const { TableJobStore } = await import('./adapters/table-job-store.js');
    store = await TableJobStore.create(config);
  }
  store = instrumentedStore(store);
  const queues = overrides.queues ?? (await createTransport(config, blobs));
  let providers: ProviderRegistry;
  if (overrides.providers) providers = overrides.providers;
  else {
    const { createProviderRegistry } = await import('./providers/registry.js');
    providers = createProviderRegistry({ config, blobs });
  }
  const log = overrides.log ?? createLogger({ level: parseLogLevel(config.env.LOG_LEVEL) });
  // Webhook state lives on the jobs storage account; a host given a store but no account (tests
  // with an in-memory store) runs without webhooks.
  const hasStorage = Boolean(config.storage.connectionString || config.storage.tableServiceUri);
  const webhooks = 'webhooks' in overrides ? overrides.webhooks : hasStorage ? await createWebhooks(config) : undefined;
  const capacity =
    'capacity' in overrides ? overrides.capacity : hasStorage ? await createCapacityStore(config) : undefined;
  if (capacity) {
    // Every committed transition gives back the admission state the job no longer needs.
    const [{ CapacityReleasingJobStore }, { parseCapacitySettings }] = await Promise.all([
      import('./app/capacity/releasing-store.js'),
      import('./capacity-settings.js'),
    ]);
    const capped = Object.entries(parseCapacitySettings(config.env).limits)
      .filter(([, l]) => l.concurrent !== undefined)
      .map(([p]) => p);
    store = new CapacityReleasingJobStore(store, capacity, new Set(capped), log);
  }

  // The ledger is the job store's own: its rows commit with the writes that finish jobs.
  const ledgerStore = store;
  const costs =
    'costs' in overrides
      ? overrides.costs
      : hasStorage
        ? await createCosts(config, { rows: (from, to) => ledgerStore.ledgerRows(from, to) })
        : undefined;
  // Every write that finishes a job carries its actual cost, and with it its ledger row (before the
  // notifier, so webhook payloads see the cost).
  if (costs) {
    const { CostingJobStore } = await import('./app/costs/costing-store.js');
    store = new CostingJobStore(store, costs, config);
  }
  // Every committed transition passes the notifier, whichever use case or worker made it.
  if (webhooks) {
    const { NotifyingJobStore } = await import('./app/webhooks/notifier.js');
    store = new NotifyingJobStore(store, webhooks, queues, config.webhookQueue, log);
  }
  return {
    config,
    store,
    queues,
    blobs,
    providers,
    now: overrides.now ?? (() => new Date()),
    log,
    ...(capacity && { capacity }),
    ...(webhooks && { webhooks }),
    ...(costs && { costs }),

    ...(overrides.assetTranslation && { assetTranslation: overrides.assetTranslation }),
  };
}

/** The admission state table on the configured storage account. */
async function createCapacityStore(config: Config): Promise<CapacityStore> {
  const [{ parseCapacitySettings }, { TableCapacityStore }] = await Promise.all([
    import('./capacity-settings.js'),
    import('./adapters/table-capacity-store.js'),
  ]);
  return TableCapacityStore.create(config, parseCapacitySettings(config.env).table);
}

/** The webhook store and settings on the configured storage account. */
export async function createWebhooks(
  config: Config,
  store?: import('./ports/webhook-store.js').WebhookStore,
): Promise<Webhooks> {
  const [{ parseWebhookSettings }, { SubscriptionCache }] = await Promise.all([
    import('./webhook-settings.js'),
    import('./app/webhooks/notifier.js'),
  ]);
  const settings = parseWebhookSettings(config.env);
  let webhookStore = store;
  if (!webhookStore) {
    const { TableWebhookStore } = await import('./adapters/table-webhook-store.js');
    webhookStore = await TableWebhookStore.create(config, settings);
  }
  return {
    settings,
    store: webhookStore,
    subscriptions: new SubscriptionCache(webhookStore, settings.subscriptionCacheMs),
  };
}

/** The cost settings, the cost ledger (read from the job store) and the budget cache. */
export async function createCosts(config: Config, ledger: import('./ports/cost-ledger.js').CostLedger): Promise<Costs> {
  const [{ parseCostSettings }, { BudgetSpendCache }] = await Promise.all([
    import('./cost-settings.js'),
    import('./app/costs/costs.js'),
  ]);
  const settings = parseCostSettings(config.env, { stuckAfterSec: config.stuckAfterSec });
  return { settings, ledger, spend: new BudgetSpendCache(ledger, settings.budgetCacheMs) };
}

/** The configured transport wrapped with the claim check. */
export async function createTransport(config: Config, blobs: BlobStore): Promise<QueueTransport> {
  const { ClaimCheckTransport } = await import('./adapters/claim-check-transport.js');
  let inner: QueueTransport;
  switch (config.transport) {
    case 'storage': {
      const { StorageQueueTransport } = await import('./adapters/storage-queue-transport.js');
      inner = await StorageQueueTransport.create(config);
      break;
    }
    case 'servicebus': {
      const { ServiceBusTransport } = await import('./adapters/servicebus-transport.js');
      inner = await ServiceBusTransport.create(config);
      break;
    }
    default: {
      const unreachable: never = config.transport;
      throw new Error(`unknown transport ${String(unreachable)}`);
    }
  }
  return new ClaimCheckTransport(inner, blobs, config.containers.payloads, config.claimCheckThresholdBytes);
}

/** Creates every table, queue and container the system uses (idempotent). */
export async function ensureResources(deps: Deps): Promise<void> {
  const { config } = deps;
  await Promise.all([
    deps.store.ensure(),
    deps.webhooks?.store.ensure(),
    deps.capacity?.ensure(),
    deps.queues.ensure([...Object.values(config.queues), config.webhookQueue]),
    deps.blobs.ensure([
      config.containers.results,
      config.containers.payloads,
      parseEssedumSettings(config.env).artifactsContainer,
    ]),
  ]);
}

let shared: Promise<Deps> | undefined;

/** Process-wide dependencies for the Functions host, built on first invocation from app settings. */
export function getDeps(): Promise<Deps> {
  shared ??= createDeps(loadConfig()).catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** Lets a host that built its own dependencies (the local runner) share them with the functions. */
export function setSharedDeps(deps: Deps | undefined): void {
  shared = deps ? Promise.resolve(deps) : undefined;
}
