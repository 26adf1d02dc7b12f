import type { TableClient, TableEntity } from '@azure/data-tables';
import type { Config } from '../config.js';
import type { DeliveryAttempt, JobNotifyTarget, Subscription } from '../core/webhooks.js';
import type { WebhookStore } from '../ports/webhook-store.js';
import type { WebhookSettings } from '../webhook-settings.js';
import { azureCredential } from './azure-credential.js';

/**
 * Webhook state in Azure Table Storage.
 *
 * Layout:
 *   subscriptions: PK = 'sub', RK = subscriptionId → the subscription (JSON in `doc`, secret included)
 *                  PK = 'job', RK = jobId          → the job's own notify target and secret
 *   deliveries:    PK = 'j~<jobId>' | 's~<subscriptionId>', RK = '<inverted time>~<webhookId>~<attempt>'
 *                  → one attempt, written under its job and (for a subscription's) its subscription,
 *                  so both lists are one partition read, newest first.
 * Subscriptions are few (one partition holds them all); an attempt row is small and fixed-size.
 */
export class TableWebhookStore implements WebhookStore {
  constructor(
    private readonly subs: TableClient,
    private readonly deliveries: TableClient,
  ) {}

  static async create(
    config: Config,
    settings: Pick<WebhookSettings, 'subscriptionsTable' | 'deliveriesTable'>,
  ): Promise<TableWebhookStore> {
    const { TableClient } = await import('@azure/data-tables');
    const { connectionString, tableServiceUri } = config.storage;
    const make = async (name: string): Promise<TableClient> => {
      if (connectionString)
        return TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
      if (!tableServiceUri) throw new Error('JobsStorage or JobsStorage__tableServiceUri is required');
      return new TableClient(tableServiceUri, name, await azureCredential(config));
    };
    return new TableWebhookStore(await make(settings.subscriptionsTable), await make(settings.deliveriesTable));
  }

  async ensure(): Promise<void> {
    await Promise.all([this.subs.createTable(), this.deliveries.createTable()]);
  }

  async createSubscription(sub: Subscription): Promise<void> {
    await this.subs.createEntity({ partitionKey: 'sub', rowKey: sub.id, doc: JSON.stringify(sub) });
  }

  async getSubscription(id: string): Promise<Subscription | undefined> {
    if (!isSafeKey(id)) return undefined;
    return this.readDoc<Subscription>('sub', id);
  }

  async listSubscriptions(limit = 1000): Promise<Subscription[]> {
    const { odata } = await import('@azure/data-tables');
    const out: Subscription[] = [];
    const iter = this.subs.listEntities<TableEntity<{ doc: string }>>({
      queryOptions: { filter: odata`PartitionKey eq ${'sub'}` },
    });
    try {
      for await (const e of iter) {
        out.push(JSON.parse(e.doc) as Subscription);
        if (out.length >= limit) break;
      }
    } catch (error) {
      // No table yet (a host that never ran ensure): no subscriptions, rather than an error per transition.
      if (statusOf(error) === 404) return [];
      throw error;
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async deleteSubscription(id: string): Promise<boolean> {
    if (!isSafeKey(id)) return false;
    try {
      await this.subs.deleteEntity('sub', id);
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async createJobTarget(target: JobNotifyTarget): Promise<boolean> {
    try {
      await this.subs.createEntity({ partitionKey: 'job', rowKey: target.jobId, doc: JSON.stringify(target) });
      return true;
    } catch (error) {
      if (statusOf(error) === 409) return false;
      throw error;
    }
  }

  async getJobTarget(jobId: string): Promise<JobNotifyTarget | undefined> {
    if (!isSafeKey(jobId)) return undefined;
    return this.readDoc<JobNotifyTarget>('job', jobId);
  }

  async recordAttempt(attempt: DeliveryAttempt): Promise<void> {
    const inverted = String(MAX_TIME - Date.parse(attempt.at)).padStart(13, '0');
    const rowKey = `${inverted}~${attempt.webhookId}~${String(attempt.attempt).padStart(3, '0')}`;
    const doc = JSON.stringify(attempt);
    const partitions = [`j~${attempt.jobId}`, ...(attempt.subscriptionId ? [`s~${attempt.subscriptionId}`] : [])];
    // Upsert: a redelivered message records the same attempt again without a conflict.
    await Promise.all(
      partitions.map((pk) => this.deliveries.upsertEntity({ partitionKey: pk, rowKey, doc }, 'Replace')),
    );
  }

  deliveriesOfJob(jobId: string, limit: number): Promise<DeliveryAttempt[]> {
    return isSafeKey(jobId) ? this.attempts(`j~${jobId}`, limit) : Promise.resolve([]);
  }

  deliveriesOfSubscription(id: string, limit: number): Promise<DeliveryAttempt[]> {
    return isSafeKey(id) ? this.attempts(`s~${id}`, limit) : Promise.resolve([]);
  }

  private async attempts(partitionKey: string, limit: number): Promise<DeliveryAttempt[]> {
    const { odata } = await import('@azure/data-tables');
    const out: DeliveryAttempt[] = [];
    const iter = this.deliveries.listEntities<TableEntity<{ doc: string }>>({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
    });
    for await (const e of iter) {
      out.push(JSON.parse(e.doc) as DeliveryAttempt);
      if (out.length >= limit) break;
    }
    return out;
  }

  private async readDoc<T>(pk: string, rk: string): Promise<T | undefined> {
    try {
      const e = await this.subs.getEntity<{ doc: string }>(pk, rk);
      return JSON.parse(e.doc) as T;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}

const MAX_TIME = 9_999_999_999_999;

/** Ids are ours (`sub_…`, job ids); anything else never reaches a key. */
function isSafeKey(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(id);
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}
