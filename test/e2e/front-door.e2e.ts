import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { ConfigError, loadConfig } from '../../src/config/config';
import { startTestHub, unique, type TestHub } from '../harness';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One HTTP request with exactly the headers given (an Origin, no key), as a browser or curl sends it. */
function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts a POST that declares `declared` body bytes but sends only `sent` of them, then waits: resolves
 * with the response the server gives while the rest of the body has not been sent (it cannot have
 * read bytes that were never sent), and whether it then closed the connection.
 */
function partialPost(
  url: string,
  headers: Record<string, string>,
  declared: number,
  sent: number,
): Promise<{ head: string; body: string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    let received = '';
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const body = received.slice(end + 4);
      if (body.length >= length) resolve({ head, body, closed });
    });
    const lines = Object.entries({
      host: `${hostname}:${port}`,
      'content-type': 'application/json',
      'content-length': String(declared),
      ...headers,
    }).map(([name, value]) => `${name}: ${value}`);
    socket.write(`POST /graphql HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
    // The start of a real document; the rest never comes.
    socket.write(`{"query":"{ ${'me { role } '.repeat(sent / 12)}`.slice(0, sent));
  });
}

describe('the front door: keys before bodies, parse limits, CORS', () => {
  const appOrigin = 'https://app.example.com';
  let hub: TestHub;
  beforeAll(async () => {
    // A body limit above 10 MB, so that only the key check can refuse the anonymous documents below.
    hub = await startTestHub({ corsOrigins: [appOrigin], maxRequestBytes: 16 * 1024 * 1024 });
  });
  afterAll(() => hub.close());

  it('refuses a missing key and a bad key alike, 401 UNAUTHENTICATED, introspection included', async () => {
    const introspection = JSON.stringify({ query: '{ __schema { queryType { name } } }' });
    for (const authorization of [undefined, 'Bearer nrv_not_a_key', 'Basic dXNlcjpwdw==']) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization) headers.authorization = authorization;
      for (const body of [JSON.stringify({ query: '{ me { role } }' }), introspection]) {
        const res = await request(hub.url, 'POST', headers, body);
        expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
        const { errors, data } = JSON.parse(res.text) as {
          data?: unknown;
          errors: Array<{ extensions: { code: string } }>;
        };
        expect(data).toBeUndefined();
        expect(errors.map((e) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
      }
    }
    const get = await request(`${hub.url}?query=${encodeURIComponent('{ me { role } }')}`, 'GET', {
      'apollo-require-preflight': 'true',
    });
    expect(get.status).toBe(401);
    // With a key, introspection answers.
    const schema = await hub.gqlOk<{ __schema: { queryType: { name: string } } }>(
      '{ __schema { queryType { name } } }',
    );
    expect(schema.__schema.queryType.name).toBe('Query');
  });

  it('refuses anonymous 10 MB documents on their headers, before reading them, and serves others meanwhile', async () => {
    const declared = 10 * 1024 * 1024;
    const sent = 64 * 1024;
    const anonymous = await Promise.all(
      Array.from({ length: 3 }, () => partialPost(hub.url, {}, declared, sent)),
    );
    const served = await hub.gqlOk<{ me: { role: string } }>('{ me { role } }');
    expect(served.me.role).toBe('ADMIN');
    for (const { head, body, closed } of anonymous) {
      // Answered with 64 KiB of the 10 MiB sent: the server did not wait for, or read, the rest.
      expect(head).toMatch(/^HTTP\/1\.1 401 /);
      expect(head).toMatch(/\r\nconnection: close\r\n/i);
      expect(JSON.parse(body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      await closed;
    }
    // A bad key is refused the same way.
    const bad = await partialPost(hub.url, { authorization: 'Bearer nrv_not_a_key' }, declared, sent);
    expect(bad.head).toMatch(/^HTTP\/1\.1 401 /);
    await bad.closed;
  });

  it('answers Expect: 100-continue only once the key is accepted', async () => {
    const anonymous = await partialPost(hub.url, { expect: '100-continue' }, 10 * 1024 * 1024, 0);
    expect(anonymous.head).toMatch(/^HTTP\/1\.1 401 /);
    await anonymous.closed;

    /** A request that sends its body only when invited to, as curl does for large bodies. */
    const invited = (method: string, url: string, body: Buffer | string, contentType: string) =>
      new Promise<{ continued: boolean; status: number; text: string }>((resolve, reject) => {
        let continued = false;
        const req = http.request(
          url,
          {
            method,
            agent: false,
            headers: {
              expect: '100-continue',
              'content-type': contentType,
              'content-length': String(Buffer.byteLength(body)),
              authorization: `Bearer ${hub.adminKey}`,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({ continued, status: res.statusCode!, text: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('error', reject);
      });
    const query = await invited(
      'POST',
      hub.url,
      JSON.stringify({ query: '{ me { role } }' }),
      'application/json',
    );
    expect({ ...query, text: JSON.parse(query.text) }).toEqual({
      continued: true,
      status: 200,
      text: { data: { me: { role: 'ADMIN' } } },
    });
    const project = unique('continue');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: 'Continue' },
    });
    const blob = randomBytes(1024);
    const sha256 = createHash('sha256').update(blob).digest('hex');
    const upload = await invited(
      'PUT',
      hub.url.replace('/graphql', `/artifacts/sha256/${sha256}?project=${project}`),
      blob,
      'application/octet-stream',
    );
    expect({ continued: upload.continued, status: upload.status }).toEqual({ continued: true, status: 201 });
  });

  it('refuses a 4 MiB document from a valid key at parse time, BAD_USER_INPUT, and stays responsive', async () => {
    const huge = `{ ${'me { role } '.repeat((4 * 1024 * 1024) / 12)} }`;
    const refused = fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
      body: JSON.stringify({ query: huge }),
    });
    const health = await fetch(hub.url.replace('/graphql', '/healthz'));
    expect(health.status).toBe(200);
    const res = await refused;
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      errors: [
        {
          message: 'query is longer than the limit of 10000 tokens',
          extensions: { code: 'BAD_USER_INPUT', field: 'query' },
        },
      ],
    });
    // Just under the limit (1,249 operations of 8 tokens) is parsed and answered as usual.
    const operations = Array.from({ length: 1249 }, (_, i) => `query Q${i} { me { role } }`).join('\n');
    const fits = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
      body: JSON.stringify({ query: operations, operationName: 'Q1248' }),
    });
    expect(await fits.json()).toEqual({ data: { me: { role: 'ADMIN' } } });
  });

  describe('CORS', () => {
    const preflightHeaders = (origin: string): Record<string, string> => ({
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    });

    it('answers a listed origin’s preflight and requests with its CORS headers', async () => {
      const preflight = await request(hub.url, 'OPTIONS', preflightHeaders(appOrigin));
      expect(preflight.status).toBe(204);
      expect(preflight.headers).toMatchObject({
        'access-control-allow-origin': appOrigin,
        'access-control-allow-methods': expect.stringContaining('POST'),
        'access-control-allow-headers': 'authorization, content-type, x-request-id, apollo-require-preflight',
        'access-control-max-age': '600',
        vary: 'Origin',
      });
      const body = JSON.stringify({ query: '{ me { role } }' });
      const ok = await request(
        hub.url,
        'POST',
        { origin: appOrigin, 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
        body,
      );
      expect(ok.status).toBe(200);
      expect(ok.headers).toMatchObject({
        'access-control-allow-origin': appOrigin,
        'access-control-expose-headers': 'x-request-id, retry-after',
        vary: 'Origin',
      });
      // The page can read why it was refused.
      const refused = await request(
        hub.url,
        'POST',
        { origin: appOrigin, 'content-type': 'application/json' },
        body,
      );
      expect(refused.status).toBe(401);
      expect(refused.headers['access-control-allow-origin']).toBe(appOrigin);
    });

    it('gives any other origin no CORS header, and keeps CSRF prevention on', async () => {
      const other = 'https://evil.example.net';
      const preflight = await request(hub.url, 'OPTIONS', preflightHeaders(other));
      expect(preflight.status).toBe(204);
      expect(Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      const res = await request(
        hub.url,
        'POST',
        { origin: other, 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
        JSON.stringify({ query: '{ me { role } }' }),
      );
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      // A simple GET (no preflight) from a page is still refused by Apollo's CSRF prevention.
      const simple = await request(`${hub.url}?query=${encodeURIComponent('{ me { role } }')}`, 'GET', {
        origin: appOrigin,
        authorization: `Bearer ${hub.adminKey}`,
      });
      expect(simple.status).toBe(400);
      expect(simple.text).toMatch(/CSRF/);
    });

    it('sends no CORS header at all by default', async () => {
      const plain = await startTestHub();
      try {
        const preflight = await request(plain.url, 'OPTIONS', preflightHeaders(appOrigin));
        expect(preflight.status).toBe(204);
        expect(Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      } finally {
        await plain.close();
      }
    });

    it('refuses a wildcard or a non-origin in NERVE_CORS_ORIGINS', () => {
      for (const bad of ['*', 'https://app.example.com/path', 'app.example.com', 'ftp://x.example']) {
        expect(() => loadConfig({ NERVE_CORS_ORIGINS: bad })).toThrow(ConfigError);
      }
      expect(
        loadConfig({ NERVE_CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins,
      ).toEqual(['https://a.example', 'http://localhost:5173']);
    });
  });
});
