/**
 * What a browser page may send cross-origin: the key (no cookies are ever read, so credentials mode is
 * not needed), a JSON body, a request id, and Apollo's CSRF-prevention header.
 */
const ALLOWED_HEADERS = 'authorization, content-type, x-request-id, apollo-require-preflight';
/** Artifacts are PUT; GraphQL is GET or POST. */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, OPTIONS';
/** What a page may read from a response: the id to quote in a report, and when to retry. */
const EXPOSED_HEADERS = 'x-request-id, retry-after';
/** Seconds a browser may reuse a preflight answer. */
const MAX_AGE_SECONDS = 600;

/**
 * CORS for the origins an operator listed (`NERVE_CORS_ORIGINS`): exact matches only. Any other
 * origin gets no CORS header at all, so its page cannot read a response (nor send a preflighted one).
 */
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.origins = new Set(origins);
  }

  /** The headers of a response to a request from `origin`; a preflight also learns what it may send. */
  headersFor(origin: string | undefined, preflight: boolean): Record<string, string> {
    if (this.origins.size === 0) return {};
    // Answers differ by origin: a shared cache must not serve one origin's answer to another.
    const headers: Record<string, string> = { vary: 'Origin' };
    if (!origin || !this.origins.has(origin)) return headers;
    headers['access-control-allow-origin'] = origin;
    if (preflight) {
      headers['access-control-allow-methods'] = ALLOWED_METHODS;
      headers['access-control-allow-headers'] = ALLOWED_HEADERS;
      headers['access-control-max-age'] = String(MAX_AGE_SECONDS);
    } else {
      headers['access-control-expose-headers'] = EXPOSED_HEADERS;
    }
    return headers;
  }
}
