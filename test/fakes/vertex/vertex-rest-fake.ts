import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  FAKE_KINDS,
  FakeRpcError,
  RPC_STATUS,
  VertexFakeService,
  statesOf,
  type AssetKind,
  type FakeKind,
  type FakeOperation,
  type FakeOptions,
  type StoredAsset,
  type StoredResource,
  type Verb,
} from './vertex-fake-service.js';

/**
 * HTTP/JSON front end of the Vertex fake, speaking what the REST transcoding of aiplatform v1
 * defines (`google.api.http` rules in job_service.proto / pipeline_service.proto):
 *
 *   POST /v1/{parent}/{collection}            create (body: the resource)
 *   GET  /v1/{parent}/{collection}?filter&pageSize&pageToken   list
 *   GET  /v1/{name}                           get
 *   POST /v1/{name}:cancel                    cancel (body: {}), answers {}
 *
 * Errors are Google's JSON error envelope with the HTTP status Google maps each canonical code to.
 * `$alt=json;enum-encoding=int` (which google-gax always sends over REST) is honoured: enums go
 * out as numbers, as the real service does.
 */
export class VertexRestFake {
  readonly service: VertexFakeService;
  private server: Server | undefined;
  port = 0;

  constructor(opts: FakeOptions = {}) {
    this.service = new VertexFakeService(opts);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /**
   * The asset routes (dataset_service / model_service / endpoint_service / prediction_service
   * transcoding, plus google.longrunning GetOperation under /v1 and /ui). Undefined: not an asset route.
   */
  private handleAsset(
    method: string,
    path: string,
    url: URL,
    raw: string,
    headers: Record<string, string>,
    intEnums: boolean,
  ): Record<string, unknown> | undefined {
    const svc = this.service;
    const transport = 'rest' as const;
    const body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
    const op =
      /^\/(?:v1|ui)\/(projects\/[^/]+\/locations\/[^/]+\/(?:datasets|models|endpoints)\/[^/]+\/operations\/[^/:]+)$/.exec(
        path,
      );
    if (op && method === 'GET') {
      svc.begin({ verb: 'get', kind: 'operations', target: op[1]!, headers, transport });
      return renderOperation(svc.getOperation(op[1]!));
    }
    const m =
      /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/(datasets|models|endpoints)(?:\/([^/:]+))?(?::([A-Za-z]+))?$/.exec(
        path,
      );
    if (!m) return undefined;
    const parent = m[1]!;
    const kind = m[2] as AssetKind;
    const id = m[3];
    const action = m[4];
    const name = `${parent}/${kind}/${id}`;
    const begin = (verb: Verb, target: string, extra: object = {}) =>
      svc.begin({ verb, kind, target, ...extra, headers, transport });
    if (!id) {
      if (method === 'GET' && !action) {
        const filter = url.searchParams.get('filter') ?? '';
        const pageSize = Number(url.searchParams.get('pageSize') ?? '0');
        begin('list', parent, { filter, pageSize });
        return { [kind]: svc.listAssets(kind, parent, filter, pageSize).map((a) => renderAsset(a, intEnums)) };
      }
      if (method === 'POST' && kind === 'datasets' && !action) {
        begin('create', parent, { body });
        return renderOperation(svc.createDataset(parent, body));
      }
      if (method === 'POST' && kind === 'models' && action === 'upload') {
        begin('create', parent, { body });
        const model = (body.model ?? {}) as Record<string, unknown>;
        return renderOperation(
          svc.uploadModel(parent, fromWire(model), String(body.modelId ?? ''), body.parentModel as string | undefined),
        );
      }
      if (method === 'POST' && kind === 'endpoints' && !action) {
        const endpointId = url.searchParams.get('endpointId') ?? url.searchParams.get('endpoint_id') ?? '';
        begin('create', parent, { body: { ...body, endpointId } });
        return renderOperation(svc.createEndpoint(parent, body, endpointId));
      }
      return undefined;
    }
    if (method === 'GET' && !action) {
      begin('get', name);
      return renderAsset(svc.getAsset(kind, name), intEnums);
    }
    if (method === 'DELETE' && !action) {
      begin('delete', name);
      return renderOperation(svc.deleteAsset(kind, name));
    }
    if (method !== 'POST') return undefined;
    switch (`${kind}:${action}`) {
      case 'datasets:import':
        begin('import', name, { body });
        return renderOperation(svc.importData(name, body.importConfigs));
      case 'datasets:export':
        begin('export', name, { body });
        return renderOperation(svc.exportData(name, body.exportConfig as Record<string, unknown> | undefined));
      case 'models:export':
        begin('export', name, { body });
        return renderOperation(svc.exportModel(name, body.outputConfig as Record<string, unknown> | undefined));
      case 'endpoints:deployModel':
        begin('deploy', name, { body });
        return renderOperation(
          svc.deployModel(
            name,
            fromWire((body.deployedModel ?? {}) as Record<string, unknown>),
            (body.trafficSplit ?? {}) as Record<string, number>,
          ),
        );
      case 'endpoints:undeployModel':
        begin('undeploy', name, { body });
        return renderOperation(svc.undeployModel(name, String(body.deployedModelId ?? '')));
      case 'endpoints:predict':
      case 'endpoints:explain':
        begin(action === 'predict' ? 'predict' : 'explain', name, { body });
        return svc.predict(name, body.instances as unknown[], body.parameters, action === 'explain');
      default:
        return undefined;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const intEnums = (url.searchParams.get('$alt') ?? '').includes('enum-encoding=int');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    );
    const svc = this.service;
    try {
      const path = decodeURIComponent(url.pathname);
      const asset = this.handleAsset(req.method ?? 'GET', path, url, raw, headers, intEnums);
      if (asset) return send(res, 200, asset);
      const m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/([A-Za-z]+)(?:\/([^/:]+))?(:cancel)?$/.exec(path);
      const kind = m?.[2] as FakeKind | undefined;
      if (!m || !kind || !FAKE_KINDS.includes(kind))
        throw new FakeRpcError('NOT_FOUND', `No route for ${req.method} ${path}`);
      const parent = m[1]!;
      const id = m[3];
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      const transport = 'rest' as const;
      if (req.method === 'POST' && !id) {
        svc.begin({ verb: 'create', kind, target: parent, body: body ?? {}, headers, transport });
        const r = svc.create(kind, parent, fromWire(body ?? {}));
        return send(res, 200, render(r, intEnums));
      }
      if (req.method === 'GET' && !id) {
        const filter = url.searchParams.get('filter') ?? '';
        const pageSize = Number(url.searchParams.get('pageSize') ?? '0');
        const pageToken = url.searchParams.get('pageToken') ?? '';
        svc.begin({ verb: 'list', kind, target: parent, filter, pageSize, pageToken, headers, transport });
        const page = svc.list(kind, parent, filter, pageSize, pageToken);
        return send(res, 200, {
          [kind]: page.items.map((r) => render(r, intEnums)),
          ...(page.nextPageToken && { nextPageToken: page.nextPageToken }),
        });
      }
      const name = `${parent}/${kind}/${id}`;
      if (req.method === 'GET' && id && !m[4]) {
        svc.begin({ verb: 'get', kind, target: name, headers, transport });
        return send(res, 200, render(svc.get(kind, name), intEnums));
      }
      if (req.method === 'POST' && id && m[4]) {
        svc.begin({ verb: 'cancel', kind, target: name, ...(body && { body }), headers, transport });
        svc.cancel(kind, name);
        return send(res, 200, {});
      }
      throw new FakeRpcError('NOT_FOUND', `No route for ${req.method} ${path}`);
    } catch (error) {
      const e = error instanceof FakeRpcError ? error : new FakeRpcError('INTERNAL', String(error));
      const last = svc.calls.at(-1);
      if (last) last.outcome = e.status;
      const { http } = RPC_STATUS[e.status];
      return send(res, http, {
        error: {
          code: http,
          message: e.message,
          status: e.status,
          ...(e.retryDelaySec !== undefined && {
            details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${e.retryDelaySec}s` }],
          }),
        },
      });
    }
  }
}

/** An operation as REST JSON: the response is an Any with its `@type`. */
function renderOperation(op: FakeOperation): Record<string, unknown> {
  return {
    name: op.name,
    done: op.done,
    ...(op.error && { error: op.error }),
    ...(op.done &&
      !op.error && { response: { '@type': `type.googleapis.com/${op.responseType}`, ...(op.response ?? {}) } }),
  };
}

function renderAsset(a: StoredAsset, intEnums: boolean): Record<string, unknown> {
  const out = structuredClone(a.body);
  if (!intEnums) return out;
  for (const d of (out.deployedModels ?? []) as { dedicatedResources?: { machineSpec?: Record<string, unknown> } }[]) {
    const spec = d.dedicatedResources?.machineSpec;
    if (typeof spec?.acceleratorType === 'string') spec.acceleratorType = ACCELERATORS[spec.acceleratorType] ?? 0;
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const ACCELERATORS: Record<string, number> = {
  ACCELERATOR_TYPE_UNSPECIFIED: 0,
  NVIDIA_TESLA_P100: 2,
  NVIDIA_TESLA_V100: 3,
  NVIDIA_TESLA_P4: 4,
  NVIDIA_TESLA_T4: 5,
  TPU_V2: 6,
  TPU_V3: 7,
  NVIDIA_TESLA_A100: 8,
  NVIDIA_A100_80GB: 9,
  TPU_V4_POD: 10,
  NVIDIA_L4: 11,
  TPU_V5_LITEPOD: 12,
  NVIDIA_H100_80GB: 13,
  NVIDIA_H100_MEGA_80GB: 14,
  NVIDIA_H200_141GB: 15,
  NVIDIA_B200: 16,
  NVIDIA_GB200: 17,
  NVIDIA_RTX_PRO_6000: 18,
};
const STRATEGIES: Record<string, number> = {
  STRATEGY_UNSPECIFIED: 0,
  ON_DEMAND: 1,
  LOW_COST: 2,
  STANDARD: 3,
  SPOT: 4,
  FLEX_START: 6,
};
const nameOf = (table: Record<string, number>, v: unknown) =>
  typeof v === 'number' ? (Object.entries(table).find(([, n]) => n === v)?.[0] ?? v) : v;

/** Incoming enums may be numbers (int encoding): store names, like the service's own model. */
function fromWire(body: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(body);
  const pools = copy.jobSpec as
    | { workerPoolSpecs?: { machineSpec?: Record<string, unknown> }[]; scheduling?: Record<string, unknown> }
    | undefined;
  for (const p of pools?.workerPoolSpecs ?? []) {
    if (p.machineSpec?.acceleratorType !== undefined)
      p.machineSpec.acceleratorType = nameOf(ACCELERATORS, p.machineSpec.acceleratorType);
  }
  if (pools?.scheduling?.strategy !== undefined)
    pools.scheduling.strategy = nameOf(STRATEGIES, pools.scheduling.strategy);
  const dedicated = copy.dedicatedResources as { machineSpec?: Record<string, unknown> } | undefined;
  if (dedicated?.machineSpec?.acceleratorType !== undefined)
    dedicated.machineSpec.acceleratorType = nameOf(ACCELERATORS, dedicated.machineSpec.acceleratorType);
  return copy;
}

/** A stored resource as JSON on the wire, enums as numbers when the client asked for that. */
function render(r: StoredResource, intEnums: boolean): Record<string, unknown> {
  const out = structuredClone(r.body);
  if (!intEnums) return out;
  out.state = statesOf(r.kind).indexOf(String(out.state));
  const spec = out.jobSpec as
    | { workerPoolSpecs?: { machineSpec?: Record<string, unknown> }[]; scheduling?: Record<string, unknown> }
    | undefined;
  for (const p of spec?.workerPoolSpecs ?? []) {
    const a = p.machineSpec?.acceleratorType;
    if (typeof a === 'string' && p.machineSpec) p.machineSpec.acceleratorType = ACCELERATORS[a] ?? 0;
  }
  const s = spec?.scheduling?.strategy;
  if (typeof s === 'string' && spec?.scheduling) spec.scheduling.strategy = STRATEGIES[s] ?? 0;
  return out;
}
