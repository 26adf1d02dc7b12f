import { z } from 'zod';
import { parseOrThrow } from '../core/job.js';
import type { Deps } from '../deps.js';
import { ESSEDUM_PIPELINE_PROVIDERS, parseEssedumSettings } from '../essedum-settings.js';
import { assetMeta, deployedModels, idleSince, liveEndpoints, resultAsset } from './essedum/assets.js';

/** Most endpoints on one reply (the scan behind it is bounded too: the newest 2 000 asset jobs). */
export const MAX_ENDPOINTS = 500;

/** `GET /api/endpoints` query. Not strict: Azure adds `code` (the function key) to keyed calls. */
export const EndpointsQuerySchema = z.object({
  provider: z.enum(ESSEDUM_PIPELINE_PROVIDERS).optional().describe('Only endpoints at this provider'),
  adapter: z.string().min(1).max(128).optional().describe('Only endpoints created through this Essedum adapter'),
  project: z.string().min(1).max(256).optional().describe('Only endpoints of this Essedum project'),
  limit: z.coerce.number().int().min(1).max(MAX_ENDPOINTS).default(100),
});

export interface LiveEndpoint {
  readonly id: string;
  readonly name: string;
  readonly provider: string | null;
  readonly adapter: string | null;
  readonly project: string | null;
  /** Our job status of the endpoint's creation (running while the provider still creates it). */
  readonly status: string;
  readonly resourceId: string | null;
  readonly uri: string | null;
  readonly instanceType: string | null;
  readonly instanceCount: number | null;
  readonly deployedModels: readonly string[];
  readonly createdAt: string;
  readonly ageSec: number;
  readonly lastInvokedAt: string | null;
  readonly idleSec: number;
  /** When the idle check undeploys it (ENDPOINT_IDLE_TTL_SEC), if it has models and the check is on. */
  readonly idleUndeployAt: string | null;
  readonly lastOperation: Record<string, unknown> | null;
}

/**
 * The money guard: every endpoint the orchestrator created and has not deleted (a deleted one
 * stops costing money only once its delete is confirmed), with where it runs, on what, since when
 * and when it was last called — newest first.
 */
export async function listLiveEndpoints(
  deps: Deps,
  query: Record<string, string | undefined>,
): Promise<{ endpoints: LiveEndpoint[]; idleTtlSec: number | null }> {
  const q = parseOrThrow(EndpointsQuerySchema, query);
  const ttl = parseEssedumSettings(deps.config.env).endpointIdleTtlSec ?? null;
  const now = deps.now().getTime();
  const endpoints: LiveEndpoint[] = [];
  for (const record of await liveEndpoints(deps, MAX_ENDPOINTS * 4)) {
    const m = assetMeta(record);
    const provider = record.provider ?? record.spec.target ?? null;
    if (q.provider && provider !== q.provider) continue;
    if (q.adapter && m?.adapter !== q.adapter) continue;
    if (q.project && m?.project !== q.project) continue;
    const a = resultAsset(record);
    const models = deployedModels(record);
    const since = idleSince(record);
    endpoints.push({
      id: record.id,
      name: m?.name ?? a?.name ?? record.id,
      provider,
      adapter: m?.adapter ?? null,
      project: m?.project ?? null,
      status: record.status,
      resourceId: a?.id ?? null,
      uri: a?.uri ?? null,
      instanceType: a?.instanceType ?? null,
      instanceCount: typeof a?.instanceCount === 'number' ? a.instanceCount : null,
      deployedModels: models,
      createdAt: record.createdAt,
      ageSec: Math.max(0, Math.floor((now - Date.parse(record.createdAt)) / 1000)),
      lastInvokedAt: record.asset?.lastInvokedAt ?? null,
      idleSec: Math.max(0, Math.floor((now - since) / 1000)),
      idleUndeployAt:
        ttl && models.length > 0 && record.status === 'succeeded' ? new Date(since + ttl * 1000).toISOString() : null,
      lastOperation: record.asset?.lastOperation ? { ...record.asset.lastOperation } : null,
    });
    if (endpoints.length >= q.limit) break;
  }
  return { endpoints, idleTtlSec: ttl };
}
