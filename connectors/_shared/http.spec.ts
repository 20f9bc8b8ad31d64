import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorError, permanent } from './errors';
import { HttpClient, type HttpOptions, retryAfterMs } from './http';

/** What the fake vendor saw of one request. */
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Reply = (res: http.ServerResponse, req: Seen) => void;

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
const raw =
  (status: number, text: string): Reply =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  };
const hang: Reply = () => undefined;
const reset: Reply = (res) => res.socket?.destroy();

/**
 * A vendor on 127.0.0.1 that answers each request with the next scripted reply, then with `fallback`
 * (200 `{ ok: true }`), recording every request.
 */
class FakeVendor {
  readonly seen: Seen[] = [];
  private script: Reply[] = [];
  private fallback: Reply = json(200, { ok: true });
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const seen: Seen = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      this.seen.push(seen);
      (this.script.shift() ?? this.fallback)(res, seen);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  next(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  always(reply: Reply): this {
    this.fallback = reply;
    return this;
  }

  reset(): void {
    this.seen.length = 0;
    this.script = [];
    this.fallback = json(200, { ok: true });
  }

  async stop(): Promise<void> {
    // Hung requests keep their sockets open; close() alone would wait for them.
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }
}

const TOKEN = 'tok_S3CRET_do_not_leak_91c2';
const API_KEY = 'key_S3CRET_query_value_77ab';

const vendor = new FakeVendor();
let baseUrl: string;
let waits: number[];

beforeAll(async () => {
  baseUrl = await vendor.start();
});
afterAll(() => vendor.stop());
beforeEach(() => {
  vendor.reset();
  waits = [];
});

/** A client that never really waits: `sleep` records, `random` is 0.5. */
function client(options: Partial<HttpOptions> = {}): HttpClient {
  return new HttpClient({
    vendor: 'Acme',
    baseUrl,
    random: () => 0.5,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
}

/** The ConnectorError a call rejects with (fails the test if it resolves or throws something else). */
async function failure(call: Promise<unknown>): Promise<ConnectorError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

describe('retryAfterMs', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('0', now)).toBe(0);
    expect(retryAfterMs('1.5', now)).toBe(1500);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(retryAfterMs('Wed, 01 May 2024 12:00:07 GMT', now)).toBe(7000);
    expect(retryAfterMs('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
  });

  it('clamps a negative delta to 0', () => {
    expect(retryAfterMs('-5', now)).toBe(0);
  });

  it('ignores missing, blank and unreadable values', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('', now)).toBeUndefined();
    expect(retryAfterMs('   ', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('HttpClient', () => {
  describe('requests', () => {
    it('GETs baseUrl + path and returns status, headers and the parsed JSON body', async () => {
      vendor.next(json(200, { items: [1, 2] }, { 'x-page': 'next' }));
      const res = await client().request<{ items: number[] }>({ path: '/v1/items', operation: 'list items' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [1, 2] });
      expect(res.headers.get('x-page')).toBe('next');
      expect(vendor.seen).toHaveLength(1);
      expect(vendor.seen[0]).toMatchObject({ method: 'GET', path: '/v1/items', body: '' });
      expect(vendor.seen[0].headers.accept).toBe('application/json');
      expect(waits).toEqual([]);
    });

    it('keeps a path prefix of baseUrl and drops its trailing slash', async () => {
      await client({ baseUrl: `${baseUrl}/api/` }).request({ path: '/v2/things', operation: 'list things' });
      expect(vendor.seen[0].path).toBe('/api/v2/things');
    });

    it('returns an undefined body for an empty reply', async () => {
      vendor.next((res) => {
        res.writeHead(204);
        res.end();
      });
      const res = await client().request({ method: 'DELETE', path: '/v1/items/1', operation: 'delete item' });
      expect(res.status).toBe(204);
      expect(res.body).toBeUndefined();
      expect(vendor.seen[0].method).toBe('DELETE');
    });

    it('sends query parameters, stringified, skipping undefined ones', async () => {
      await client().request({
        path: '/v1/items',
        operation: 'list items',
        query: { limit: 50, archived: false, after: 'c/1 &=', skipped: undefined },
      });
      const query = vendor.seen[0].query;
      expect(query.get('limit')).toBe('50');
      expect(query.get('archived')).toBe('false');
      expect(query.get('after')).toBe('c/1 &=');
      expect(query.has('skipped')).toBe(false);
    });

    it('sends a JSON body with its content type', async () => {
      vendor.next(json(201, { id: 'x1' }));
      const res = await client().request({
        method: 'POST',
        path: '/v1/items',
        operation: 'create item',
        json: { name: 'Ünïcode', tags: ['a'] },
      });
      expect(res.status).toBe(201);
      expect(vendor.seen[0].method).toBe('POST');
      expect(vendor.seen[0].headers['content-type']).toBe('application/json');
      expect(JSON.parse(vendor.seen[0].body)).toEqual({ name: 'Ünïcode', tags: ['a'] });
    });

    it('sends a form body urlencoded', async () => {
      await client().request({
        method: 'POST',
        path: '/oauth/token',
        operation: 'refresh token',
        form: { grant_type: 'refresh_token', refresh_token: 'a b&c' },
      });
      expect(vendor.seen[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
      const form = new URLSearchParams(vendor.seen[0].body);
      expect(form.get('grant_type')).toBe('refresh_token');
      expect(form.get('refresh_token')).toBe('a b&c');
    });

    it('adds request headers and the authorize() headers', async () => {
      const authorize = jest.fn(() => ({ authorization: `Bearer ${TOKEN}` }));
      await client({ authorize }).request({
        method: 'PATCH',
        path: '/v1/items/1',
        operation: 'update item',
        headers: { 'idempotency-key': 'k-1' },
        json: {},
      });
      expect(authorize).toHaveBeenCalledWith(false);
      expect(vendor.seen[0].method).toBe('PATCH');
      expect(vendor.seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(vendor.seen[0].headers['idempotency-key']).toBe('k-1');
    });

    it('does not call authorize() for a request with authorize: false', async () => {
      const authorize = jest.fn(() => ({ authorization: `Bearer ${TOKEN}` }));
      await client({ authorize }).request({ path: '/oauth/token', operation: 'get token', authorize: false });
      expect(authorize).not.toHaveBeenCalled();
      expect(vendor.seen[0].headers.authorization).toBeUndefined();
    });
  });

  describe('credentials in baseUrl', () => {
    it.each(['http://user:pass@127.0.0.1:1', 'http://user@127.0.0.1:1', 'http://:pass@127.0.0.1:1'])(
      'refuses %s with a PERMANENT error that does not repeat them',
      (url) => {
        let error: unknown;
        try {
          new HttpClient({ vendor: 'Acme', baseUrl: url });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConnectorError);
        expect((error as ConnectorError).kind).toBe('PERMANENT');
        expect((error as ConnectorError).message).toBe('Acme: credentials do not belong in the URL');
      },
    );
  });

  describe('Retry-After', () => {
    it('waits the seconds a 429 asks for, then succeeds', async () => {
      vendor.next(json(429, { message: 'slow down' }, { 'retry-after': '7' }));
      const res = await client().request({ path: '/v1/items', operation: 'list items' });
      expect(res.status).toBe(200);
      expect(waits).toEqual([7000]);
      expect(vendor.seen).toHaveLength(2);
    });

    it('waits until the HTTP date a 429 asks for', async () => {
      const at = new Date(Date.now() + 10_000);
      vendor.next(json(429, {}, { 'retry-after': at.toUTCString() }));
      await client().request({ path: '/v1/items', operation: 'list items' });
      expect(waits).toHaveLength(1);
      // HTTP dates have whole seconds, and a little time passes before the header is read.
      expect(waits[0]).toBeGreaterThan(8000);
      expect(waits[0]).toBeLessThanOrEqual(10_000);
    });

    it('honours Retry-After on a 503 too', async () => {
      vendor.next(json(503, {}, { 'retry-after': '2' }));
      await client().request({ path: '/v1/items', operation: 'list items' });
      expect(waits).toEqual([2000]);
    });

    it('ends the call at once when Retry-After exceeds maxRetryAfterMs, carrying it', async () => {
      vendor.always(json(429, {}, { 'retry-after': '3600' }));
      const error = await failure(
        client({ maxRetryAfterMs: 60_000 }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('TEMPORARY');
      expect(error.details).toEqual({ status: 429, retryAfterMs: 3_600_000 });
      expect(error.message).toBe('Acme list items answered 429');
      expect(vendor.seen).toHaveLength(1);
      expect(waits).toEqual([]);
    });

    it('waits a Retry-After exactly at maxRetryAfterMs', async () => {
      vendor.next(json(429, {}, { 'retry-after': '60' }));
      await client({ maxRetryAfterMs: 60_000 }).request({ path: '/v1/items', operation: 'list items' });
      expect(waits).toEqual([60_000]);
    });
  });

  describe('backoff', () => {
    it.each([429, 500, 502, 503, 408])(
      'retries %i with exponential backoff and full jitter',
      async (status) => {
        vendor.next(...Array.from({ length: 4 }, () => json(status, { message: 'busy' })));
        const res = await client({ backoffMs: 100, maxBackoffMs: 10_000 }).request({
          path: '/v1/items',
          operation: 'list items',
        });
        expect(res.status).toBe(200);
        // random() = 0.5 of 100, 200, 400, 800.
        expect(waits).toEqual([50, 100, 200, 400]);
        expect(vendor.seen).toHaveLength(5);
      },
    );

    it('bounds each wait by maxBackoffMs', async () => {
      vendor.always(json(500, {}));
      await failure(
        client({ backoffMs: 100, maxBackoffMs: 500, maxRetries: 6 }).request({
          path: '/v1/items',
          operation: 'list items',
        }),
      );
      // 0.5 × min(500, 100 × 2^n).
      expect(waits).toEqual([50, 100, 200, 250, 250, 250]);
    });

    it('uses the documented defaults: 500 ms doubling up to 30 s, 6 retries', async () => {
      vendor.always(json(502, {}));
      await failure(client().request({ path: '/v1/items', operation: 'list items' }));
      expect(waits).toEqual([250, 500, 1000, 2000, 4000, 8000]);
      expect(vendor.seen).toHaveLength(7);
    });

    it('scales the wait by random(): 0 retries at once, just under 1 waits the full step', async () => {
      vendor.next(json(500, {}), json(500, {}));
      await client({ random: () => 0, backoffMs: 100 }).request({ path: '/x', operation: 'op' });
      expect(waits).toEqual([0, 0]);
      waits = [];
      vendor.next(json(500, {}), json(500, {}));
      await client({ random: () => 0.999, backoffMs: 100 }).request({ path: '/x', operation: 'op' });
      expect(waits).toEqual([99, 199]);
    });

    it('gives up after maxRetries with a TEMPORARY error naming vendor, operation and status', async () => {
      vendor.always(json(503, { message: 'maintenance' }));
      const error = await failure(
        client({ maxRetries: 2, backoffMs: 10 }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('TEMPORARY');
      expect(error.message).toBe('Acme list items answered 503');
      expect(error.details.status).toBe(503);
      expect(vendor.seen).toHaveLength(3);
      expect(waits).toEqual([5, 10]);
    });

    it('makes one attempt when maxRetries is 0', async () => {
      vendor.always(json(500, {}));
      await failure(client({ maxRetries: 0 }).request({ path: '/v1/items', operation: 'list items' }));
      expect(vendor.seen).toHaveLength(1);
      expect(waits).toEqual([]);
    });
  });

  describe('network failures', () => {
    it('times out an attempt that gets no answer: TEMPORARY "timed out", retried', async () => {
      vendor.always(hang);
      const error = await failure(
        client({ timeoutMs: 100, maxRetries: 1, backoffMs: 10 }).request({
          path: '/v1/items',
          operation: 'list items',
        }),
      );
      expect(error.kind).toBe('TEMPORARY');
      expect(error.message).toBe('Acme list items timed out after 100 ms');
      expect(vendor.seen).toHaveLength(2);
      expect(waits).toEqual([5]);
    });

    it('succeeds after a timed-out attempt', async () => {
      vendor.next(hang);
      const res = await client({ timeoutMs: 100 }).request({ path: '/v1/items', operation: 'list items' });
      expect(res.body).toEqual({ ok: true });
      expect(waits).toEqual([250]);
    });

    it('times out a body that stalls after the headers', async () => {
      vendor.next((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"items": [');
      });
      const res = await client({ timeoutMs: 100 }).request({ path: '/v1/items', operation: 'list items' });
      expect(res.body).toEqual({ ok: true });
      expect(vendor.seen).toHaveLength(2);
    });

    it('treats a dropped connection as TEMPORARY and retries it', async () => {
      vendor.next(reset);
      const res = await client().request({ path: '/v1/items', operation: 'list items' });
      expect(res.body).toEqual({ ok: true });
      expect(vendor.seen).toHaveLength(2);
      expect(waits).toEqual([250]);
    });

    it('names the network error code when it gives up on dropped connections', async () => {
      vendor.always(reset);
      const error = await failure(
        client({ maxRetries: 1 }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('TEMPORARY');
      expect(error.message).toMatch(/^Acme list items failed: \S+$/);
      expect(error.details.status).toBeUndefined();
    });

    it('treats a refused connection as TEMPORARY with its code', async () => {
      // A port that was just free: nothing listens there.
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const error = await failure(
        client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 }).request({
          path: '/',
          operation: 'ping',
        }),
      );
      expect(error.kind).toBe('TEMPORARY');
      expect(error.message).toBe('Acme ping failed: ECONNREFUSED');
      expect(waits).toHaveLength(1);
    });

    it('names the error when fetch fails without a cause', async () => {
      const failing = jest.fn(() => Promise.reject(new TypeError('boom')));
      const error = await failure(
        client({ fetch: failing, maxRetries: 0 }).request({ path: '/', operation: 'ping' }),
      );
      expect(error.message).toBe('Acme ping failed: TypeError');
    });
  });

  describe('unreadable replies', () => {
    it('treats malformed JSON on a 200 as TEMPORARY and retries it', async () => {
      vendor.next(raw(200, '{"items": [ {"id": "1", "prop'));
      const res = await client().request({ path: '/v1/items', operation: 'list items' });
      expect(res.body).toEqual({ ok: true });
      expect(waits).toEqual([250]);
    });

    it('gives up on malformed JSON with a TEMPORARY error carrying the status', async () => {
      vendor.always(raw(200, '<html>oops</html>'));
      const error = await failure(
        client({ maxRetries: 1 }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('TEMPORARY');
      expect(error.message).toBe('Acme list items: the reply is not valid JSON (status 200)');
      expect(error.details.status).toBe(200);
      expect(error.message).not.toContain('oops');
    });

    it('reads a non-JSON error reply by its status', async () => {
      vendor.next(raw(404, '<html>Not Found</html>'));
      const error = await failure(client().request({ path: '/v1/nope', operation: 'get item' }));
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toBe('Acme get item answered 404');
    });
  });

  describe('authorization', () => {
    it('answers a 401 by asking authorize() for a fresh token once, then retrying without waiting', async () => {
      let token = 'old-token';
      const authorize = jest.fn((refresh: boolean) => {
        if (refresh) token = 'new-token';
        return { authorization: `Bearer ${token}` };
      });
      vendor.next(json(401, { message: 'expired' }));
      const res = await client({ authorize }).request({ path: '/v1/items', operation: 'list items' });
      expect(res.status).toBe(200);
      expect(authorize.mock.calls).toEqual([[false], [true]]);
      expect(vendor.seen.map((s) => s.headers.authorization)).toEqual([
        'Bearer old-token',
        'Bearer new-token',
      ]);
      expect(waits).toEqual([]);
    });

    it('does not count the refresh against maxRetries', async () => {
      const authorize = jest.fn(() => ({ authorization: 'Bearer t' }));
      vendor.next(json(401, {}), json(500, {}));
      const res = await client({ authorize, maxRetries: 1 }).request({ path: '/v1/items', operation: 'op' });
      expect(res.status).toBe(200);
      expect(vendor.seen).toHaveLength(3);
    });

    it('accepts an async authorize()', async () => {
      const authorize = jest.fn(async () => ({ authorization: 'Bearer async' }));
      await client({ authorize }).request({ path: '/v1/items', operation: 'list items' });
      expect(vendor.seen[0].headers.authorization).toBe('Bearer async');
    });

    it('throws PERMANENT on a second 401', async () => {
      const authorize = jest.fn(() => ({ authorization: `Bearer ${TOKEN}` }));
      vendor.always(json(401, { message: 'invalid token' }));
      const error = await failure(
        client({ authorize }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toBe('Acme list items answered 401: the credentials were refused');
      expect(error.details.status).toBe(401);
      expect(authorize.mock.calls).toEqual([[false], [true]]);
      expect(vendor.seen).toHaveLength(2);
      expect(waits).toEqual([]);
    });

    it('throws PERMANENT on a 401 at once for a request with authorize: false', async () => {
      const authorize = jest.fn(() => ({ authorization: `Bearer ${TOKEN}` }));
      vendor.always(json(401, { error: 'invalid_client' }));
      const error = await failure(
        client({ authorize }).request({
          method: 'POST',
          path: '/oauth/token',
          operation: 'get token',
          form: { grant_type: 'client_credentials' },
          authorize: false,
        }),
      );
      expect(error.kind).toBe('PERMANENT');
      expect(error.details.status).toBe(401);
      expect(authorize).not.toHaveBeenCalled();
      expect(vendor.seen).toHaveLength(1);
    });

    it('throws PERMANENT on a 401 at once when there is no authorize()', async () => {
      vendor.always(json(401, {}));
      const error = await failure(client().request({ path: '/v1/items', operation: 'list items' }));
      expect(error.kind).toBe('PERMANENT');
      expect(vendor.seen).toHaveLength(1);
    });

    it('passes an error thrown by authorize() through untouched', async () => {
      const boom = new Error('vault is down');
      const error = await client({ authorize: () => Promise.reject(boom) })
        .request({ path: '/v1/items', operation: 'list items' })
        .catch((e: unknown) => e);
      expect(error).toBe(boom);
      expect(vendor.seen).toHaveLength(0);
    });

    // A refresh is asked for on the attempt right after the 401 only: a vendor that rotates refresh
    // tokens or rate-limits its token endpoint is not hit again on each backoff retry.
    it('asks for a refresh only on the attempt right after the 401', async () => {
      const authorize = jest.fn(() => ({ authorization: 'Bearer t' }));
      vendor.next(json(401, {}), json(503, {}), json(503, {}));
      await client({ authorize }).request({ path: '/v1/items', operation: 'list items' });
      expect(authorize.mock.calls).toEqual([[false], [true], [false], [false]]);
    });

    it('throws PERMANENT on a 403 at once, without refreshing or retrying', async () => {
      const authorize = jest.fn(() => ({ authorization: 'Bearer t' }));
      vendor.always(json(403, { message: 'missing scope crm.objects.read' }));
      const error = await failure(
        client({ authorize }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toBe('Acme list items answered 403: the credentials lack the right');
      expect(error.details.status).toBe(403);
      expect(authorize.mock.calls).toEqual([[false]]);
      expect(vendor.seen).toHaveLength(1);
      expect(waits).toEqual([]);
    });
  });

  describe('other client errors', () => {
    it.each([
      [404, { message: 'Contact 9 not found' }, 'Acme get contact answered 404: Contact 9 not found'],
      [400, { error: 'invalid_grant' }, 'Acme get contact answered 400: invalid_grant'],
      [422, { error_description: 'email is malformed' }, 'Acme get contact answered 422: email is malformed'],
      [400, { description: 'bad cursor' }, 'Acme get contact answered 400: bad cursor'],
      [400, { error: { message: 'nested reason', code: 7 } }, 'Acme get contact answered 400: nested reason'],
      [422, { errors: [{ field: 'email' }] }, 'Acme get contact answered 422'],
      [400, ['not', 'an', 'object'], 'Acme get contact answered 400'],
      [409, { message: 42 }, 'Acme get contact answered 409'],
    ])('throws PERMANENT on %i at once with the vendor short message', async (status, body, message) => {
      vendor.always(json(status, body));
      const error = await failure(client().request({ path: '/v1/contacts/9', operation: 'get contact' }));
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toBe(message);
      expect(error.details.status).toBe(status);
      expect(vendor.seen).toHaveLength(1);
      expect(waits).toEqual([]);
    });

    it('prefers message over error_description over error', async () => {
      vendor.next(json(400, { error: 'invalid_request', error_description: 'the scope is unknown' }));
      const first = await failure(client().request({ path: '/x', operation: 'op' }));
      expect(first.message).toBe('Acme op answered 400: the scope is unknown');
      vendor.next(json(400, { error: 'e', error_description: 'd', message: 'm' }));
      const second = await failure(client().request({ path: '/x', operation: 'op' }));
      expect(second.message).toBe('Acme op answered 400: m');
    });

    it('cuts a long vendor message to 200 characters', async () => {
      vendor.next(json(400, { message: 'x'.repeat(5000) }));
      const error = await failure(client().request({ path: '/x', operation: 'op' }));
      expect(error.message).toBe(`Acme op answered 400: ${'x'.repeat(200)}`);
    });
  });

  describe('classify', () => {
    it('lets the vendor hook turn a 429 quota body into a PERMANENT error, seeing status, body and headers', async () => {
      const classify = jest.fn((status: number, body: unknown, headers: Headers) =>
        status === 429 && (body as { policy?: string }).policy === 'DAILY'
          ? permanent(`Acme daily quota exhausted (resets ${headers.get('x-reset')})`, { status })
          : undefined,
      );
      vendor.always(json(429, { policy: 'DAILY' }, { 'retry-after': '1', 'x-reset': 'midnight' }));
      const error = await failure(
        client({ classify }).request({ path: '/v1/items', operation: 'list items' }),
      );
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toBe('Acme daily quota exhausted (resets midnight)');
      expect(classify).toHaveBeenCalledTimes(1);
      expect(classify).toHaveBeenCalledWith(429, { policy: 'DAILY' }, expect.any(Headers));
      expect(vendor.seen).toHaveLength(1);
      expect(waits).toEqual([]);
    });

    it('falls back to the generic rules when the hook returns undefined', async () => {
      const classify = jest.fn(() => undefined);
      vendor.next(json(429, { policy: 'SECONDLY' }, { 'retry-after': '1' }));
      const res = await client({ classify }).request({ path: '/v1/items', operation: 'list items' });
      expect(res.status).toBe(200);
      expect(waits).toEqual([1000]);
    });

    it('is not consulted for successful replies', async () => {
      const classify = jest.fn(() => permanent('never'));
      await client({ classify }).request({ path: '/v1/items', operation: 'list items' });
      expect(classify).not.toHaveBeenCalled();
    });
  });

  describe('secrets stay out of error messages', () => {
    const secretRequest = {
      path: '/v1/items',
      operation: 'list items',
      query: { api_key: API_KEY, limit: 10 },
      headers: { 'x-api-key': API_KEY },
    };
    const authorize = (): Record<string, string> => ({ authorization: `Bearer ${TOKEN}` });

    function expectClean(error: ConnectorError): void {
      for (const text of [error.message, error.stack ?? '', JSON.stringify(error.details)]) {
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain(API_KEY);
        expect(text).not.toContain('api_key=');
      }
    }

    it.each<[string, Reply, Partial<HttpOptions>]>([
      ['5xx', json(500, { message: 'internal' }), {}],
      ['429', json(429, {}, { 'retry-after': '999999' }), {}],
      ['401', json(401, { message: 'invalid token' }), {}],
      ['403', json(403, {}), {}],
      ['404', json(404, { error: 'not_found' }), {}],
      ['malformed JSON', raw(200, '{"a":'), {}],
      ['a timeout', hang, { timeoutMs: 100 }],
      ['a dropped connection', reset, {}],
    ])('after %s', async (_name, reply, options) => {
      vendor.always(reply);
      const error = await failure(
        client({ authorize, maxRetries: 1, ...options }).request({ ...secretRequest }),
      );
      // The secrets did reach the vendor: the assertion below is not vacuous.
      expect(vendor.seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(vendor.seen[0].query.get('api_key')).toBe(API_KEY);
      expectClean(error);
    });

    it('after a refused connection', async () => {
      const error = await failure(
        client({ baseUrl: 'http://127.0.0.1:1', authorize, maxRetries: 0 }).request({ ...secretRequest }),
      );
      expectClean(error);
    });

    // Echoes come back encoded: in a URL, as JSON, as the base64 of a basic credential; and through an
    // adapter's own reading of the body (`classify`), which builds its message from the body's text.
    it.each<[string, (secret: string) => string]>([
      ['as sent', (v) => v],
      ['percent-encoded', (v) => encodeURIComponent(v)],
      [
        'percent-encoded with lower-case hex',
        (v) => encodeURIComponent(v).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      ],
      ['form-encoded', (v) => new URLSearchParams({ v }).toString().slice(2)],
      ['JSON-escaped', (v) => JSON.stringify(v).slice(1, -1)],
      ['in base64', (v) => Buffer.from(v).toString('base64')],
      ['in base64url', (v) => Buffer.from(v).toString('base64url')],
    ])('even when the vendor echoes a credential %s, through classify or not', async (_name, spell) => {
      const password = 'pa ss/wo"rd+9=x';
      const basic = Buffer.from(`me@example.com/token:${password}`).toString('base64');
      const secret = 'client-secret-never-sent-1';
      for (const classify of [undefined, (_s: number, body: unknown) => permanent(JSON.stringify(body))]) {
        vendor.reset();
        const echo = `${spell(password)} ${spell(basic)} ${spell(secret)} ${spell(API_KEY)}`;
        vendor.always(json(400, { message: echo, nested: { again: `{"echo":${JSON.stringify(echo)}}` } }));
        const error = await failure(
          client({ classify, secrets: [secret] }).request({
            ...secretRequest,
            headers: { authorization: `Basic ${basic}` },
          }),
        );
        expect(error.message).toContain('[redacted]');
        for (const value of [password, basic, secret, API_KEY])
          for (const text of [value, spell(value), JSON.stringify(spell(value)).slice(1, -1)])
            expect(error.message).not.toContain(text);
      }
    });

    // A vendor that echoes the key it was sent ("invalid api_key ...") must not put it into sync runs.
    it('even when the vendor echoes the secret in its error message', async () => {
      vendor.always(json(400, { message: `invalid api_key ${API_KEY} for token ${TOKEN}` }));
      const error = await failure(client({ authorize }).request({ ...secretRequest }));
      expectClean(error);
    });
  });
});
