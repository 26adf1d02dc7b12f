import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Broker, QueueState } from './broker.js';
import { checkSasToken } from './sas.js';

/** What the administration stand-in saw, for tests that check how the SDK calls it. */
export interface AdminRequestRecord {
  readonly method: string;
  readonly path: string;
  readonly apiVersion: string | null;
  readonly auth: 'sas' | 'bearer' | 'none';
  readonly status: number;
}

export interface AdminServerOptions {
  readonly port?: number;
  readonly host?: string;
  readonly keys: Readonly<Record<string, string>>;
  /**
   * Key names whose policy lacks the Manage right (Listen/Send only, like a worker's Data Receiver
   * role): the service refuses them every administration call with 401.
   */
  readonly withoutManage?: ReadonlySet<string>;
  /** Accept any bearer token (identity-based clients). */
  readonly acceptBearer?: boolean;
  /** Public namespace host used in ids and links (the SDK reads names from the entry title). */
  readonly namespaceHost: string;
}

const ATOM = 'http://www.w3.org/2005/Atom';
const SB_CONNECT = 'http://schemas.microsoft.com/netservices/2010/10/servicebus/connect';
const SB_2011 = 'http://schemas.microsoft.com/netservices/2011/06/servicebus';

/**
 * The Service Bus administration endpoint (ATOM over HTTPS on the real service, plain HTTP here):
 * `GET /<queue>` answers a QueueDescription entry with CountDetails; an unknown entity answers 200
 * with an empty feed (that is how the real service replies, and what the SDK's `queueExists` relies
 * on); `PUT /<queue>` creates (201) or conflicts (409); `DELETE /<queue>` removes.
 */
export class ServiceBusAdminServer {
  readonly requests: AdminRequestRecord[] = [];
  private server: Server | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly options: AdminServerOptions,
  ) {}

  async listen(): Promise<number> {
    const server = createServer((req, res) => {
      void this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end(errorXml(500, String(error)));
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
    const apiVersion = url.searchParams.get('api-version');
    const body = await readBody(req);
    const authHeader = req.headers.authorization ?? '';
    const auth: AdminRequestRecord['auth'] = authHeader.startsWith('SharedAccessSignature ')
      ? 'sas'
      : authHeader.startsWith('Bearer ')
        ? 'bearer'
        : 'none';
    const send = (status: number, xml: string) => {
      this.requests.push({ method: req.method ?? '', path, apiVersion, auth, status });
      res.writeHead(status, { 'content-type': 'application/atom+xml;type=entry;charset=utf-8' });
      res.end(xml);
    };

    if (!apiVersion) return send(400, errorXml(400, 'The api-version query parameter is required.'));
    if (auth === 'sas') {
      const check = checkSasToken(authHeader, this.options.keys, this.broker.clock.now());
      if (!check.ok) return send(401, errorXml(401, `InvalidSignature: ${check.reason}`));
      // The SDK signs the https URL of the namespace (this stand-in is reached by rewriting it).
      if (!check.token.resource.startsWith(`https://${this.options.namespaceHost.toLowerCase()}/`)) {
        return send(
          401,
          errorXml(401, `InvalidAudience: '${check.token.resource}' is not a URL of ${this.options.namespaceHost}`),
        );
      }
      if (this.options.withoutManage?.has(check.token.keyName)) {
        return send(
          401,
          errorXml(
            401,
            `Unauthorized: Manage,EntityRead claims required for this operation (key '${check.token.keyName}').`,
          ),
        );
      }
    } else if (!(auth === 'bearer' && this.options.acceptBearer)) {
      return send(401, errorXml(401, 'MissingToken: The request has no valid authorization header.'));
    }
    if (!path || path.includes('/')) return send(400, errorXml(400, `The stand-in only serves queues, not '${path}'.`));

    switch (req.method) {
      case 'GET': {
        const queue = this.broker.queue(path);
        if (!queue) return send(200, emptyFeed(this.options.namespaceHost));
        return send(200, this.entry(queue, apiVersion));
      }
      case 'PUT': {
        if (!/<QueueDescription\b/.test(body))
          return send(400, errorXml(400, 'The request body must be an ATOM entry with a QueueDescription.'));
        if (this.broker.queue(path)) {
          if (req.headers['if-match'] === '*') return send(200, this.entry(this.broker.queue(path)!, apiVersion));
          return send(
            409,
            errorXml(
              409,
              `SubCode=40900. Conflict. The messaging entity '${this.options.namespaceHost}/${path}' already exists. To know more visit https://aka.ms/sbResourceMgrExceptions.`,
            ),
          );
        }
        const lock = /<LockDuration>([^<]+)<\/LockDuration>/.exec(body)?.[1];
        const maxDelivery = /<MaxDeliveryCount>(\d+)<\/MaxDeliveryCount>/.exec(body)?.[1];
        const lockDurationMs = lock ? parseIsoDuration(lock) : undefined;
        const { queue } = this.broker.createQueue(path, {
          ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
          ...(maxDelivery ? { maxDeliveryCount: Number(maxDelivery) } : {}),
        });
        return send(201, this.entry(queue, apiVersion));
      }
      case 'DELETE': {
        if (!this.broker.deleteQueue(path))
          return send(404, errorXml(404, `The messaging entity '${path}' could not be found.`));
        return send(200, '');
      }
      default:
        return send(405, errorXml(405, `Method ${req.method} is not allowed.`));
    }
  }

  private entry(queue: QueueState, apiVersion: string): string {
    const host = this.options.namespaceHost;
    const c = this.broker.counts(queue.name)!;
    const m = queue.main;
    const total = c.active + c.deadLetter + c.scheduled + c.deferred;
    return (
      `<entry xmlns="${ATOM}"><id>https://${host}/${queue.name}?api-version=${apiVersion}</id>` +
      `<title type="text">${escapeXml(queue.name)}</title><published>${m.createdAt.toISOString()}</published><updated>${m.updatedAt.toISOString()}</updated>` +
      `<author><name>${escapeXml(host.split('.')[0] ?? host)}</name></author><link rel="self" href="https://${host}/${queue.name}?api-version=${apiVersion}"/>` +
      `<content type="application/xml"><QueueDescription xmlns="${SB_CONNECT}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
      `<LockDuration>${isoDuration(queue.lockDurationMs)}</LockDuration><MaxSizeInMegabytes>1024</MaxSizeInMegabytes>` +
      `<RequiresDuplicateDetection>false</RequiresDuplicateDetection><RequiresSession>false</RequiresSession>` +
      `<DefaultMessageTimeToLive>P10675199DT2H48M5.4775807S</DefaultMessageTimeToLive><DeadLetteringOnMessageExpiration>false</DeadLetteringOnMessageExpiration>` +
      `<DuplicateDetectionHistoryTimeWindow>PT10M</DuplicateDetectionHistoryTimeWindow><MaxDeliveryCount>${queue.maxDeliveryCount}</MaxDeliveryCount>` +
      `<EnableBatchedOperations>true</EnableBatchedOperations><SizeInBytes>0</SizeInBytes><MessageCount>${total}</MessageCount>` +
      `<IsAnonymousAccessible>false</IsAnonymousAccessible><AuthorizationRules/><Status>Active</Status>` +
      `<CreatedAt>${m.createdAt.toISOString()}</CreatedAt><UpdatedAt>${m.updatedAt.toISOString()}</UpdatedAt><AccessedAt>${m.accessedAt.toISOString()}</AccessedAt>` +
      `<SupportOrdering>true</SupportOrdering><CountDetails xmlns:d2p1="${SB_2011}">` +
      `<d2p1:ActiveMessageCount>${c.active}</d2p1:ActiveMessageCount><d2p1:DeadLetterMessageCount>${c.deadLetter}</d2p1:DeadLetterMessageCount>` +
      `<d2p1:ScheduledMessageCount>${c.scheduled}</d2p1:ScheduledMessageCount><d2p1:TransferMessageCount>0</d2p1:TransferMessageCount>` +
      `<d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount></CountDetails>` +
      `<AutoDeleteOnIdle>P10675199DT2H48M5.4775807S</AutoDeleteOnIdle><EnablePartitioning>false</EnablePartitioning>` +
      `<EntityAvailabilityStatus>Available</EntityAvailabilityStatus><EnableExpress>false</EnableExpress>` +
      `</QueueDescription></content></entry>`
    );
  }
}

function emptyFeed(host: string): string {
  return (
    `<feed xmlns="${ATOM}"><title type="text">Publicly Listed Services</title>` +
    `<subtitle type="text">This is the list of publicly-listed services currently available.</subtitle>` +
    `<id>uuid:${host}</id><updated>${new Date().toISOString()}</updated><generator>Service Bus 1.1</generator></feed>`
  );
}

function errorXml(code: number, detail: string): string {
  return `<Error><Code>${code}</Code><Detail>${escapeXml(detail)}</Detail></Error>`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** ISO 8601 duration of a lock (PT1M, PT30S, PT0.5S). */
export function isoDuration(ms: number): string {
  const s = ms / 1000;
  if (s >= 60 && s % 60 === 0) return `PT${s / 60}M`;
  return `PT${s}S`;
}

/** Parses the durations the SDK sends (PT1M, PT30S, PT1H, P1D, PT0.5S). */
export function parseIsoDuration(text: string): number | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Math.round(Number(s ?? 0) * 1000);
}
