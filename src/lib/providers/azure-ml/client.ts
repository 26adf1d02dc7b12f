import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient, Pipeline, PipelineResponse } from '@azure/core-rest-pipeline';
import {
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  describeError,
} from '../../errors.js';
import { backoffDelay, parseRetryAfter, sleep as realSleep, withRetries, type TokenBucket } from '../../retry.js';

/**
 * A thin Resource Manager client over the Azure core REST pipeline.
 *
 * Why not `@azure/arm-machinelearning`: its newest release here (2.1.1) speaks api-version
 * 2022-10-01 and its serializer silently drops AutoML `primaryMetric`, `limitSettings` and
 * `forecastingSettings` — an AutoML job would start with service defaults nobody asked for. It
 * also cannot pass the list filters we poll with. The raw pipeline lets the api-version be a
 * setting (default 2024-04-01), sends our JSON as is, and keeps the same auth (bearer policy with
 * `DefaultAzureCredential`), TLS and request-id behaviour as the generated clients.
 *
 * Retries: 5xx and network failures are retried a few times in-call (cheap, and a single 503 in
 * the middle of a paged list would otherwise waste the whole poll cycle). 429 is never slept on
 * here: it surfaces at once as {@link ProviderThrottledError} with the service's Retry-After, so a
 * timer function hands the wait to its caller instead of burning its own time budget.
 *
 * Reads are paced by a client-side token bucket sized to ARM's documented read quota (refill per
 * second per principal into a bucket), so a mass completion does not run into 429s in the first
 * place; a 429 that still comes empties the bucket until its Retry-After has passed.
 */

export const PROVIDER = 'azure-ml';

/** Longest Retry-After we sleep in-call on a 5xx; longer waits surface to the caller. */
const MAX_INLINE_WAIT_MS = 5_000;
/** Used when a 429 carries no Retry-After (ARM normally sends one). */
const DEFAULT_THROTTLE_MS = 30_000;

export interface ArmClientOptions {
  /** Resource Manager origin, https only. */
  readonly endpoint: string;
  readonly apiVersion: string;
  readonly credential: TokenCredential;
  readonly requestTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  /** Extra CA certificates to trust (PEM): tests use it for a self-signed local fake. */
  readonly trustedCa?: string;
  /** Injected for tests that must not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Replaces the node HTTP client (tests); the bearer policy still runs. */
  readonly httpClient?: HttpClient;
  /** Paces GETs (ARM counts reads and writes against separate quotas). */
  readonly readLimiter?: TokenBucket;
}

export interface ArmResponse {
  readonly status: number;
  header(name: string): string | undefined;
  readonly body: unknown;
}

/** The `{"error":{"code","message"}}` envelope ARM and Azure ML use for failures. */
export interface ArmErrorBody {
  readonly code: string;
  readonly message: string;
  /** Innermost `innerError.code`, where Azure ML puts the precise reason (`JobPropertyImmutable`). */
  readonly innerCode?: string;
}

export function armError(res: ArmResponse): ArmErrorBody {
  const e = (res.body as { error?: Record<string, unknown> } | undefined)?.error;
  let inner: unknown = e?.innerError;
  let innerCode: string | undefined;
  while (inner && typeof inner === 'object') {
    const c = (inner as { code?: unknown }).code;
    if (typeof c === 'string') innerCode = c;
    inner = (inner as { innerError?: unknown }).innerError;
  }
  return {
    code: typeof e?.code === 'string' ? e.code : `Http${res.status}`,
    message: typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`,
    ...(innerCode !== undefined && { innerCode }),
  };
}

export class ArmClient {
  private constructor(
    private readonly opts: ArmClientOptions,
    private readonly pipeline: Pipeline,
    private readonly httpClient: HttpClient,
    private readonly createRequest: typeof import('@azure/core-rest-pipeline').createPipelineRequest,
    private readonly createHeaders: typeof import('@azure/core-rest-pipeline').createHttpHeaders,
  ) {}

  /** Loads the core pipeline lazily (cold start) and builds the auth pipeline. */
  static async create(opts: ArmClientOptions): Promise<ArmClient> {
    const core = await import('@azure/core-rest-pipeline');
    const pipeline = core.createEmptyPipeline();
    pipeline.addPolicy(core.userAgentPolicy({ userAgentPrefix: 'cloud-job-orchestrator' }));
    pipeline.addPolicy(core.setClientRequestIdPolicy());
    if (opts.trustedCa !== undefined) pipeline.addPolicy(core.tlsPolicy({ ca: opts.trustedCa }));
    // Same audience the generated ARM clients ask for: "<endpoint>/.default".
    pipeline.addPolicy(
      core.bearerTokenAuthenticationPolicy({ credential: opts.credential, scopes: [`${opts.endpoint}/.default`] }),
    );
    return new ArmClient(
      opts,
      pipeline,
      opts.httpClient ?? core.createDefaultHttpClient(),
      core.createPipelineRequest,
      core.createHttpHeaders,
    );
  }

  get endpoint(): string {
    return this.opts.endpoint;
  }

  /**
   * Sends one request. `target` is a path under the endpoint (the api-version is added) or an
   * absolute URL the service handed us (a nextLink, an operation Location), which must point at
   * the same endpoint so the bearer token never leaves Resource Manager.
   *
   * Returns 2xx–4xx responses for the caller to interpret; throws {@link ProviderThrottledError}
   * on 429 and {@link ProviderUnavailableError} on 5xx or network failure (after the in-call retries).
   */
  async send(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH',
    target: string,
    body?: unknown,
  ): Promise<ArmResponse> {
    const url = this.resolve(target);
    const limiter = method === 'GET' ? this.opts.readLimiter : undefined;
    // Failures that never reached the service: retried on back-off alone (there is no Retry-After).
    const unsent = new WeakSet<object>();
    return withRetries(
      async () => {
        let res: PipelineResponse;
        try {
          const req = this.createRequest({
            url,
            method,
            timeout: this.opts.requestTimeoutMs,
            headers: this.createHeaders({
              accept: 'application/json',
              ...(body !== undefined && { 'content-type': 'application/json' }),
            }),
            ...(body !== undefined && { body: JSON.stringify(body) }),
          });
          res = await this.pipeline.sendRequest(this.httpClient, req);
        } catch (error) {
          const failure = new ProviderUnavailableError(
            PROVIDER,
            `${method} ${new URL(url).pathname} failed: ${describeError(error)}`,
            error,
          );
          unsent.add(failure);
          throw failure;
        }
        const response = toArmResponse(res);
        const retryAfterMs = parseRetryAfter(response.header('retry-after'));
        if (response.status === 429) {
          const e = armError(response);
          // Other reads of this process wait out a short Retry-After; a long one is the poller's to honour.
          limiter?.pause(Math.min(retryAfterMs ?? DEFAULT_THROTTLE_MS, MAX_INLINE_WAIT_MS));
          throw new ProviderThrottledError(
            PROVIDER,
            retryAfterMs ?? DEFAULT_THROTTLE_MS,
            new Error(`${e.code}: ${e.message}`),
          );
        }
        if (response.status >= 500) {
          const e = armError(response);
          throw new ProviderUnavailableError(
            PROVIDER,
            `${method} ${new URL(url).pathname} answered ${response.status} ${e.code}: ${e.message}`,
            undefined,
            retryAfterMs,
          );
        }
        return response;
      },
      {
        attempts: this.opts.retries + 1,
        ...(limiter && { beforeAttempt: () => limiter.take() }),
        sleep: this.opts.sleep ?? realSleep,
        // 429 goes straight to the caller; a 5xx is retried while its wait is short enough to sit out.
        delayMs: (error, attempt) => {
          if (!(error instanceof ProviderUnavailableError)) return undefined;
          const wait = error.retryAfterMs ?? backoffDelay(attempt, this.opts.retryDelayMs);
          return unsent.has(error) || wait <= MAX_INLINE_WAIT_MS ? wait : undefined;
        },
      },
    );
  }

  private resolve(target: string): string {
    if (target.startsWith('/')) {
      const url = new URL(target, this.opts.endpoint);
      if (!url.searchParams.has('api-version')) url.searchParams.set('api-version', this.opts.apiVersion);
      return url.toString();
    }
    const url = new URL(target);
    if (url.origin !== new URL(this.opts.endpoint).origin) {
      // A nextLink or Location elsewhere would receive our ARM token: refuse rather than follow.
      throw new ProviderUnavailableError(
        PROVIDER,
        `refusing to follow a link outside ${this.opts.endpoint}: ${url.origin}`,
      );
    }
    // ARM's links carry the api-version; add ours if one ever does not, rather than get a 400.
    if (!url.searchParams.has('api-version')) url.searchParams.set('api-version', this.opts.apiVersion);
    return url.toString();
  }
}

function toArmResponse(res: PipelineResponse): ArmResponse {
  let body: unknown;
  const text = res.bodyAsText;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = { error: { code: `Http${res.status}`, message: text.slice(0, 500) } };
    }
  }
  return { status: res.status, header: (name) => res.headers.get(name) ?? undefined, body };
}

export interface ScoringClientOptions {
  readonly credential: TokenCredential;
  /** Entra scope of the inference token (`https://ml.azure.com/.default`). */
  readonly scope: string;
  /** Hosts a scoring URI may name; a leading `.` matches any subdomain. */
  readonly allowedHosts: readonly string[];
  readonly timeoutMs: number;
  readonly trustedCa?: string;
}

/** True when `host` is one of `allowed` (exact) or below one that starts with `.`. */
export function isAllowedScoringHost(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((a) => (a.startsWith('.') ? h.endsWith(a) && h.length > a.length : h === a));
}

/**
 * Calls online endpoints' scoring URIs with an Entra token (authMode AADToken). The token is a
 * data-plane token for Azure ML, so it only goes to https URLs on AZUREML_SCORING_HOSTS: a scoring
 * URI is read from Resource Manager, but a record or a misconfigured endpoint must not be able to
 * send our token elsewhere. No in-call retry: an inference is the caller's to repeat.
 */
export class ScoringClient {
  private constructor(
    private readonly opts: ScoringClientOptions,
    private readonly pipeline: Pipeline,
    private readonly httpClient: HttpClient,
    private readonly core: typeof import('@azure/core-rest-pipeline'),
  ) {}

  static async create(opts: ScoringClientOptions): Promise<ScoringClient> {
    const core = await import('@azure/core-rest-pipeline');
    const pipeline = core.createEmptyPipeline();
    pipeline.addPolicy(core.userAgentPolicy({ userAgentPrefix: 'cloud-job-orchestrator' }));
    pipeline.addPolicy(core.setClientRequestIdPolicy());
    if (opts.trustedCa !== undefined) pipeline.addPolicy(core.tlsPolicy({ ca: opts.trustedCa }));
    pipeline.addPolicy(core.bearerTokenAuthenticationPolicy({ credential: opts.credential, scopes: [opts.scope] }));
    return new ScoringClient(opts, pipeline, core.createDefaultHttpClient(), core);
  }

  /**
   * POSTs `body` as JSON and returns the parsed reply (text when it is not JSON). A 4xx is the
   * request's fault ({@link ProviderRejectedError}); 429 and 5xx heal with time.
   */
  async score(scoringUri: string, body: unknown): Promise<unknown> {
    let url: URL;
    try {
      url = new URL(scoringUri);
    } catch {
      throw new ProviderRejectedError(PROVIDER, 'InvalidScoringUri', `not a URL: '${scoringUri}'`);
    }
    if (url.protocol !== 'https:' || !isAllowedScoringHost(url.hostname, this.opts.allowedHosts)) {
      throw new ProviderRejectedError(
        PROVIDER,
        'ScoringHostNotAllowed',
        `the scoring URI ${url.origin} is not an https URL on AZUREML_SCORING_HOSTS; no token was sent`,
      );
    }
    let res: PipelineResponse;
    try {
      res = await this.pipeline.sendRequest(
        this.httpClient,
        this.core.createPipelineRequest({
          url: url.toString(),
          method: 'POST',
          timeout: this.opts.timeoutMs,
          headers: this.core.createHttpHeaders({ accept: 'application/json', 'content-type': 'application/json' }),
          body: JSON.stringify(body ?? null),
        }),
      );
    } catch (error) {
      throw new ProviderUnavailableError(PROVIDER, `scoring ${url.origin} failed: ${describeError(error)}`, error);
    }
    const text = res.bodyAsText ?? '';
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // A scoring script may answer plain text; hand it back as is.
    }
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    if (res.status === 429) throw new ProviderThrottledError(PROVIDER, retryAfterMs ?? DEFAULT_SCORING_THROTTLE_MS);
    if (res.status >= 500)
      throw new ProviderUnavailableError(
        PROVIDER,
        `scoring answered ${res.status}: ${text.slice(0, 300)}`,
        undefined,
        retryAfterMs,
      );
    if (res.status >= 400) {
      throw new ProviderRejectedError(PROVIDER, `Scoring${res.status}`, text.slice(0, 1000) || `HTTP ${res.status}`);
    }
    return parsed;
  }
}

/** Used when a throttled scoring reply carries no Retry-After. */
const DEFAULT_SCORING_THROTTLE_MS = 1_000;
