/**
 * The HTTP client behind the `cjo` command line: base URL and function key, JSON in and out, and
 * problem documents turned into an {@link ApiError} that carries their title and detail.
 */

export interface Problem {
  readonly title?: string;
  readonly detail?: string;
  readonly status?: number;
  readonly errors?: readonly { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(
      problem.detail ? `${problem.title ?? 'Request failed'}: ${problem.detail}` : (problem.title ?? `HTTP ${status}`),
    );
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  /** Base URL of the app, with or without the trailing `/api`. */
  readonly url: string;
  readonly key?: string;
  readonly timeoutMs?: number;
}

export class CjoClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '').replace(/\/api$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const all: Record<string, string> = { accept: 'application/json, application/problem+json', ...headers };
    if (this.options.key) all['x-functions-key'] = this.options.key;
    if (body !== undefined) all['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}/api${path}`, {
        method,
        headers: all,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      const inner = (error as { cause?: { code?: string; message?: string } }).cause;
      const cause = inner?.code ?? inner?.message ?? (error as Error).message;
      throw new ApiError(0, { title: 'Cannot reach the orchestrator', detail: `${this.base} (${cause})` });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const p = (parsed && typeof parsed === 'object' ? parsed : {}) as Problem & { error?: string };
      throw new ApiError(res.status, {
        ...p,
        title: p.title ?? p.error ?? `HTTP ${res.status}`,
        ...(p.detail === undefined && !p.title && text && !parsed && { detail: text.slice(0, 200) }),
      });
    }
    return parsed as T;
  }
}
