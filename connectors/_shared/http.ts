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
  /**
   * Credentials the adapter holds, scrubbed from every error even when this request did not carry them
   * (a vendor may echo a client secret sent to another host, or a token in a reply to the token request).
   */
  secrets?: string[];
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
  /** Sent as these exact bytes (JSON that was signed as it is sent, e.g. a Standard Webhooks body). */
  raw?: { body: string; contentType: string };
  /** `text`: a 2xx reply is taken as it is, not parsed as JSON (webhook receivers answer "ok"). Default json. */
  reply?: 'json' | 'text';
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
    } else if (req.raw) {
      headers['content-type'] = req.raw.contentType;
      body = req.raw.body;
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
    // A refusal is read only for its message: cleaned before anyone (classify included) sees it, and
    // again once parsed, since JSON can spell a secret with \u escapes.
    const forms = res.ok ? [] : this.sentBy(req, auth, url);
    if (!res.ok) text = scrub(text, forms);
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parseFailed = true;
      }
    }
    // Strings inside the body may hold JSON of their own, escaped once more on the wire.
    if (!res.ok) parsed = scrubLeaves(parsed, forms);
    if (res.ok) {
      if (req.reply === 'text') return { status: res.status, headers: res.headers, body: text as T };
      if (parseFailed)
        throw temporary(`${what}: the reply is not valid JSON (status ${res.status})`, {
          status: res.status,
        });
      return { status: res.status, headers: res.headers, body: parsed as T };
    }
    const classified = this.options.classify?.(res.status, parsed, res.headers);
    if (classified) {
      classified.message = scrub(classified.message, forms);
      throw classified;
    }
    const details = { status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      throw temporary(`${what} answered ${res.status}`, details);
    }
    if (res.status === 401) throw permanent(`${what} answered 401: the credentials were refused`, details);
    if (res.status === 403) throw permanent(`${what} answered 403: the credentials lack the right`, details);
    throw permanent(scrub(`${what} answered ${res.status}${vendorMessage(parsed)}`, forms), details);
  }

  /** What the request carried (headers, query, form, JSON values) and the adapter's credentials, in every spelling. */
  private sentBy(req: HttpRequest, auth: Record<string, string>, url: URL): string[] {
    const values = [
      ...Object.values({ ...req.headers, ...auth }),
      ...url.searchParams.values(),
      ...Object.values(req.form ?? {}),
      ...stringLeaves(req.json),
    ];
    return secretForms(values, this.options.secrets ?? []);
  }
}

/** Values under 8 characters are too short to be secrets and too likely to be ordinary words. */
const MIN_SECRET = 8;

/**
 * Every spelling of a credential a vendor might echo: as sent, its parts (a header's scheme and value,
 * basic auth's `user:password` decoded, Zendesk's `{email}/token:{token}`), and each of those
 * percent-encoded (either hex case, `+` for space), JSON-escaped, and in base64 and base64url.
 */
export function secretForms(sent: string[], secrets: string[]): string[] {
  const plain = new Set<string>();
  const add = (value: string, min = MIN_SECRET) => {
    if (value.length >= min) plain.add(value);
  };
  for (const value of sent) {
    add(value);
    for (const part of value.split(/\s+/)) {
      add(part);
      const basic = decodeBasic(part);
      if (basic) for (const piece of [basic, ...basic.split(':'), ...basic.split(/[:/]/)]) add(piece);
    }
  }
  for (const secret of secrets) add(secret, 4);
  const forms = new Set<string>();
  for (const value of plain) {
    const encoded = encodeURIComponent(value);
    const base64 = Buffer.from(value, 'utf8').toString('base64');
    for (const form of [
      value,
      encoded,
      encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      new URLSearchParams({ v: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
      base64,
      base64.replace(/=+$/, ''),
      Buffer.from(value, 'utf8').toString('base64url'),
    ])
      forms.add(form);
  }
  // Longest first, so a value is replaced whole before a part of it could leave the rest showing.
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Every string in a JSON value. */
function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(stringLeaves);
}

/** `user:password` from a base64 basic-auth credential, if the value is one. */
function decodeBasic(value: string): string | undefined {
  if (value.length < MIN_SECRET || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const binary = [...decoded].some((c) => c < ' ' || c === '\ufffd');
  return decoded.includes(':') && !binary ? decoded : undefined;
}

/** A JSON value with every string scrubbed. */
function scrubLeaves(value: unknown, forms: string[]): unknown {
  if (typeof value === 'string') return scrub(value, forms);
  if (Array.isArray(value)) return value.map((v) => scrubLeaves(v, forms));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubLeaves(v, forms)]));
}

/** Replaces every form in `text` with `[redacted]`. */
export function scrub(text: string, forms: string[]): string {
  return forms.reduce((t, form) => (t.includes(form) ? t.split(form).join('[redacted]') : t), text);
}

/**
 * A short vendor error message from a JSON error body (already scrubbed of what the request sent), if
 * it has one; never the whole body.
 */
function vendorMessage(body: unknown): string {
  const clean = (text: string): string => text.slice(0, 200);
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
