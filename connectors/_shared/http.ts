import { setTimeout as delay } from 'node:timers/promises';
import { ConnectorError, permanent, temporary } from './errors';

/** How a connector's HTTP client waits, retries and authenticates. */
export interface HttpOptions {
  /** The vendor's name in error messages ("HubSpot"). */
  vendor: string;
  /** Scheme, host and optional path prefix; no credentials. */
  baseUrl: string;
  /** Per attempt, in ms. Default 15,000. */
  timeoutMs?: number;
  /** Retries after the first attempt for TEMPORARY failures. Default 6. */
  maxRetries?: number;
  /** Retry n waits random() × min(maxBackoffMs, backoffMs × 2^n) unless the vendor says how long. Default 500. */
  backoffMs?: number;
  /** Default 30,000. */
  maxBackoffMs?: number;
  /** A `Retry-After` longer than this ends the call with a TEMPORARY error carrying it. Default 120,000. */
  maxRetryAfterMs?: number;
  /** In [0, 1). Default Math.random. */
  random?: () => number;
  /** Default: real timers. Tests pass a recorder. */
  sleep?: (ms: number) => Promise<void>;
  /** Default: Node's global fetch. */
  fetch?: typeof fetch;
  /**
   * Headers added to every request (auth). Called per attempt, so a refreshed token is picked up.
   * `refresh` is true after a 401, asking for a new token.
   */
  authorize?: (refresh: boolean) => Promise<Record<string, string>> | Record<string, string>;
  /**
   * Vendor-specific reading of a failed response, before the generic rules: return an error to
   * throw it (e.g. a PERMANENT one for an exhausted daily quota), or undefined for the generic rules.
   */
  classify?: (status: number, body: unknown, headers: Headers) => ConnectorError | undefined;
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Appended to baseUrl. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Shown in errors instead of the path ("list contacts"). */
  operation: string;
  /** When false, a 401 is not answered by refreshing the token (the token request itself). Default true. */
  authorize?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** Parses `Retry-After`: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * JSON over HTTP for connectors: a timeout per attempt; TEMPORARY failures (network errors, timeouts,
 * 408, 429, 5xx, unparseable bodies) retried with exponential backoff and full jitter, honouring
 * `Retry-After`; one token refresh on 401; PERMANENT failures (401 after refresh, 403, other 4xx)
 * thrown at once. Errors name the vendor, operation and status, never the URL's query or a header.
 */
export class HttpClient {
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly fetch: typeof fetch;
  private readonly base: string;

  constructor(private readonly options: HttpOptions) {
    const url = new URL(options.baseUrl);
    if (url.username || url.password)
      throw permanent(`${options.vendor}: credentials do not belong in the URL`);
    this.base = url.toString().replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxRetries = options.maxRetries ?? 6;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.fetch = options.fetch ?? fetch;
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    let refreshed = false;
    let refreshNext = false;
    for (let attempt = 0; ; attempt++) {
      const refresh = refreshNext;
      refreshNext = false;
      try {
        return await this.attempt<T>(req, refresh);
      } catch (error) {
        if (!(error instanceof ConnectorError)) throw error;
        if (error.details.status === 401 && req.authorize !== false && this.options.authorize && !refreshed) {
          refreshed = true;
          refreshNext = true;
          attempt--;
          continue;
        }
        if (error.kind === 'PERMANENT' || attempt >= this.maxRetries) throw error;
        const asked = error.details.retryAfterMs;
        if (asked !== undefined && asked > this.maxRetryAfterMs) throw error;
        await this.sleep(
          asked ?? Math.floor(this.random() * Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt)),
        );
      }
    }
  }

  private async attempt<T>(req: HttpRequest, refresh: boolean): Promise<HttpResponse<T>> {
    const what = `${this.options.vendor} ${req.operation}`;
    const url = new URL(this.base + req.path);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const auth =
      req.authorize !== false && this.options.authorize ? await this.options.authorize(refresh) : {};
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers, ...auth };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(url, { method: req.method ?? 'GET', headers, body, signal });
      text = await res.text();
    } catch (error) {
      if (signal.aborted) throw temporary(`${what} timed out after ${this.timeoutMs} ms`);
      // undici says "fetch failed" and keeps the useful part (ECONNREFUSED, ECONNRESET) in the cause.
      const cause = (error as { cause?: { code?: string } }).cause;
      throw temporary(`${what} failed: ${cause?.code ?? (error as Error).name}`);
    }
    let parsed: unknown = undefined;
    let parseFailed = false;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parseFailed = true;
      }
    }
    if (res.ok) {
      if (parseFailed)
        throw temporary(`${what}: the reply is not valid JSON (status ${res.status})`, {
          status: res.status,
        });
      return { status: res.status, headers: res.headers, body: parsed as T };
    }
    const classified = this.options.classify?.(res.status, parsed, res.headers);
    if (classified) throw classified;
    const details = { status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      throw temporary(`${what} answered ${res.status}`, details);
    }
    if (res.status === 401) throw permanent(`${what} answered 401: the credentials were refused`, details);
    if (res.status === 403) throw permanent(`${what} answered 403: the credentials lack the right`, details);
    // What the request carried (tokens, keys), in case the vendor echoes it back.
    const sent = [
      ...Object.values({ ...req.headers, ...auth }).flatMap((v) => v.split(/\s+/)),
      ...url.searchParams.values(),
    ];
    throw permanent(`${what} answered ${res.status}${vendorMessage(parsed, sent)}`, details);
  }
}

/**
 * A short vendor error message from a JSON error body, if it has one; never the whole body, and never
 * a value the request sent (values under 8 characters are too short to be secrets and too likely to be
 * ordinary words).
 */
function vendorMessage(body: unknown, sent: string[]): string {
  const clean = (text: string): string =>
    sent
      .filter((v) => v.length >= 8)
      .reduce((t, v) => t.split(v).join('[redacted]'), text)
      .slice(0, 200);
  if (typeof body !== 'object' || body === null) return '';
  const b = body as Record<string, unknown>;
  const candidate = b.message ?? b.error_description ?? b.description ?? b.error;
  if (typeof candidate === 'string') return `: ${clean(candidate)}`;
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof (candidate as { message?: unknown }).message === 'string'
  )
    return `: ${clean((candidate as { message: string }).message)}`;
  return '';
}
