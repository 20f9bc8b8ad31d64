import http from 'node:http';
import net from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { Client } from 'pg';
import { startTestHub, unique, type TestHub } from '../harness';

type Json = {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
};

interface Reply {
  status: number;
  headers: Headers | http.IncomingHttpHeaders;
  json: Json;
  text: string;
}

const CREATE = 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }';

/** POSTs a raw body to /graphql. */
async function post(hub: TestHub, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}`, ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as Json };
}

const gql = (hub: TestHub, query: string, variables?: Record<string, unknown>): Promise<Reply> =>
  post(hub, JSON.stringify({ query, variables }));

/** An error must never carry a stack trace or SQL, whatever went wrong. */
function expectNoLeak(reply: Reply): void {
  expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+|stacktrace|"stack"|SELECT |INSERT |UPDATE |FROM "/i);
}

async function projectExists(hub: TestHub, slug: string): Promise<boolean> {
  const rows: unknown[] = await hub.db.query('SELECT 1 FROM project WHERE slug = $1', [slug]);
  return rows.length > 0;
}

/** The hub still answers an authenticated query. */
async function expectServing(hub: TestHub): Promise<void> {
  const me = await hub.gql<{ me: { role: string } }>('{ me { role } }');
  expect(me.status).toBe(200);
  expect(me.data?.me.role).toBe('ADMIN');
}

/** Nests `inner` in `wrap` n times: nest(2, 'a { ', 'x', ' }') is 'a { a { x } }'. */
const nest = (n: number, open: string, inner: string, close: string): string =>
  open.repeat(n) + inner + close.repeat(n);

describe('robustness over HTTP', () => {
  let hub: TestHub;
  beforeAll(async () => {
    // Limits pinned here, so the figures below test the mechanism whatever the defaults become.
    hub = await startTestHub({
      maxRequestBytes: 64 * 1024,
      limits: { maxDepth: 12, maxAliases: 30, maxCost: 50_000 },
    });
  });
  afterAll(() => hub.close());
  afterEach(() => expectServing(hub));

  it('answers malformed JSON with 400 BAD_USER_INPUT and writes nothing', async () => {
    const slug = unique('p');
    const body = JSON.stringify({ query: CREATE, variables: { i: { slug, name: slug } } }).slice(0, -2);
    const reply = await post(hub, body);
    expect(reply.status).toBe(400);
    expect(reply.json.errors).toEqual([
      { message: 'request body is not valid JSON', extensions: { code: 'BAD_USER_INPUT', field: 'body' } },
    ]);
    expect(await projectExists(hub, slug)).toBe(false);
  });

  it('rejects unknown and missing input fields, naming the field', async () => {
    const slug = unique('p');
    const unknown = await gql(hub, CREATE, { i: { slug, name: slug, bogus: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.data).toBeUndefined();
    expect(unknown.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'i.bogus' });

    const missing = await gql(hub, CREATE, { i: { slug } });
    expect(missing.status).toBe(400);
    expect(missing.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'i.name' });

    const noVariable = await gql(hub, CREATE, {});
    expect(noVariable.status).toBe(400);
    expect(noVariable.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'i' });

    // In the document itself it is a validation error, found before anything runs.
    const literal = await gql(
      hub,
      `mutation { createProject(input: { slug: "${slug}", name: "x", bogus: 1 }) { id } }`,
    );
    expect(literal.status).toBe(400);
    expect(literal.json.errors?.[0].extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });

    expect(await projectExists(hub, slug)).toBe(false);
  });

  it('rejects variables of the wrong type, naming the variable', async () => {
    const slug = unique('p');
    const notString = await gql(hub, CREATE, { i: { slug, name: 5 } });
    expect(notString.status).toBe(400);
    expect(notString.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'i.name' });

    const page = 'query($n: Int) { projects(first: $n) { edges { cursor } } }';
    const notInt = await gql(hub, page, { n: 'abc' });
    expect(notInt.status).toBe(400);
    expect(notInt.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'n' });
    const notInt32 = await gql(hub, page, { n: 2 ** 31 });
    expect(notInt32.status).toBe(400);
    expect(notInt32.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'n' });

    const badEnum = await gql(hub, CREATE, { i: { slug, name: slug, riskLevel: 'CATASTROPHIC' } });
    expect(badEnum.status).toBe(400);
    expect(badEnum.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'i.riskLevel' });

    const literal = await gql(hub, '{ projects(first: "ten") { edges { cursor } } }');
    expect(literal.status).toBe(400);
    expect(literal.json.errors?.[0].extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });

    expect(await projectExists(hub, slug)).toBe(false);
  });

  it('rejects page sizes out of range', async () => {
    for (const first of [-1, 0, 101]) {
      const reply = await gql(hub, `{ projects(first: ${first}) { edges { cursor } } }`);
      expect(reply.status).toBe(200);
      expect(reply.json.data).toBeNull();
      expect(reply.json.errors?.[0]).toMatchObject({
        path: ['projects'],
        extensions: { code: 'BAD_USER_INPUT', field: 'first' },
      });
    }
    const viaVariable = await gql(hub, 'query($n: Int) { projects(first: $n) { edges { cursor } } }', {
      n: 100_000,
    });
    expect(viaVariable.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    // A literal this large is priced before it runs: the cost limit turns it away.
    const huge = await gql(hub, '{ projects(first: 100000) { edges { cursor } } }');
    expect(huge.status).toBe(400);
    expect(huge.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'query' });
    expect(huge.json.errors?.[0].message).toMatch(/^query cost \d+ exceeds the limit of 50000$/);
  });

  it('answers a body over NERVE_MAX_REQUEST_BYTES with 413 and closes the connection cleanly', async () => {
    const slug = unique('p');
    const padding = 'x'.repeat(70 * 1024);
    const declared = await post(
      hub,
      JSON.stringify({ query: CREATE, variables: { i: { slug, name: slug, description: padding } } }),
    );
    expect(declared.status).toBe(413);
    expect(declared.json.errors?.[0].extensions).toEqual({ code: 'PAYLOAD_TOO_LARGE', limit: 64 * 1024 });

    // Chunked, no length declared: cut off once past the limit, with the 413 still delivered whole.
    const chunked = await new Promise<{ status: number; connection?: string; body: string; closed: boolean }>(
      (resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: hub.port,
            method: 'POST',
            path: '/graphql',
            agent: false,
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${hub.adminKey}`,
              'transfer-encoding': 'chunked',
            },
          },
          (res) => {
            answered = true;
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () => {
              const socket = res.socket;
              const done = (): void =>
                resolve({
                  status: res.statusCode ?? 0,
                  connection: res.headers.connection,
                  body,
                  closed: true,
                });
              if (!socket || socket.destroyed) done();
              else socket.once('close', done);
            });
          },
        );
        let answered = false;
        req.on('error', (error) => {
          if (!answered) reject(error);
        });
        const chunk = Buffer.alloc(16 * 1024, 'x');
        let sent = 0;
        const pump = (): void => {
          // Bounded: four times the limit at most.
          while (!answered && sent < 256 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!answered) req.end();
        };
        req.write('{"query":"{ me { role } }","pad":"');
        pump();
      },
    );
    expect(chunked.status).toBe(413);
    expect(chunked.connection).toBe('close');
    expect(JSON.parse(chunked.body).errors[0].extensions).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      limit: 64 * 1024,
    });
    expect(chunked.closed).toBe(true);
    expect(await projectExists(hub, slug)).toBe(false);
  });

  it('rejects a query deeper than the limit, also through fragments and introspection', async () => {
    const deepIntrospection = `{ __schema { types { ${nest(6, 'fields { type { ', 'name', ' } }')} } } }`;
    const viaFragments = `
      query { __schema { types { ...A } } }
      fragment A on __Type { fields { type { ...B } } }
      fragment B on __Type { fields { type { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } }`;
    for (const query of [deepIntrospection, viaFragments]) {
      const reply = await gql(hub, query);
      expect(reply.status).toBe(400);
      // graphql-js may add its own "Maximum introspection depth exceeded"; ours comes first.
      expect(reply.json.errors?.[0]).toMatchObject({
        message: 'query is deeper than the limit of 12',
        extensions: { code: 'BAD_USER_INPUT', field: 'query' },
      });
    }
    // What GraphQL tooling sends to learn the schema is not turned away.
    const standard = await gql(hub, getIntrospectionQuery());
    expect(standard.status).toBe(200);
    expect(standard.json.errors).toBeUndefined();
  });

  it('rejects too many aliases', async () => {
    const aliased = (n: number): string =>
      `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { role }`).join(' ')} }`;
    const ok = await gql(hub, aliased(30));
    expect(ok.status).toBe(200);
    const reply = await gql(hub, aliased(31));
    expect(reply.status).toBe(400);
    expect(reply.json.errors?.[0]).toMatchObject({
      message: 'query uses 31 aliases, more than the limit of 30',
      extensions: { code: 'BAD_USER_INPUT', field: 'query' },
    });
  });

  it('rejects a query whose cost is over the limit, variables included', async () => {
    const page = (first: string): string =>
      `projects(first: ${first}) { edges { cursor node { id slug name description riskLevel createdAt updatedAt } } }`;
    // A full page is affordable many times over...
    const affordable = await gql(
      hub,
      `{ ${Array.from({ length: 10 }, (_, i) => `p${i}: ${page('100')}`).join(' ')} }`,
    );
    expect(affordable.status).toBe(200);
    expect(affordable.json.errors).toBeUndefined();
    // ...but not when every alias repeats it with a page per field.
    const fields = Array.from(
      { length: 8 },
      () => 'id slug name description riskLevel createdAt updatedAt',
    ).join(' ');
    const heavy = `p: projects(first: 100) { edges { node { ${fields} } } }`;
    const expensive = await gql(
      hub,
      `{ ${Array.from({ length: 10 }, (_, i) => heavy.replace('p:', `p${i}:`)).join(' ')} }`,
    );
    expect(expensive.status).toBe(400);
    expect(expensive.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'query' });
    expect(expensive.json.errors?.[0].message).toBe('query cost 58010 exceeds the limit of 50000');
    // A variable page size is priced at the largest page, not the default one.
    const viaVariables = await gql(
      hub,
      `query($n: Int) { ${Array.from({ length: 10 }, (_, i) => heavy.replace('p:', `p${i}:`).replace('100', '$n')).join(' ')} }`,
      { n: 100 },
    );
    expect(viaVariables.status).toBe(400);
    expect(viaVariables.json.errors?.[0].message).toBe('query cost 58010 exceeds the limit of 50000');
  });

  it('rejects a mutation over GET, and a GET without a CSRF preflight header', async () => {
    const slug = unique('p');
    const mutation = encodeURIComponent(
      `mutation { createProject(input: { slug: "${slug}", name: "x" }) { id } }`,
    );
    const getMutation = await fetch(`${hub.url}?query=${mutation}`, {
      headers: { authorization: `Bearer ${hub.adminKey}`, 'apollo-require-preflight': 'true' },
    });
    expect(getMutation.status).toBe(405);
    expect(getMutation.headers.get('allow')).toBe('POST');
    const getMutationBody = (await getMutation.json()) as Json;
    expect(getMutationBody.errors?.[0].extensions).toEqual({ code: 'BAD_REQUEST' });

    const query = encodeURIComponent('{ me { role } }');
    const csrf = await fetch(`${hub.url}?query=${query}`, {
      headers: { authorization: `Bearer ${hub.adminKey}` },
    });
    expect(csrf.status).toBe(400);
    const csrfBody = (await csrf.json()) as Json;
    expect(csrfBody.errors?.[0].extensions).toEqual({ code: 'BAD_REQUEST' });
    expect(csrfBody.errors?.[0].message).toMatch(/Cross-Site Request Forgery/);

    const preflighted = await fetch(`${hub.url}?query=${query}`, {
      headers: { authorization: `Bearer ${hub.adminKey}`, 'apollo-require-preflight': 'true' },
    });
    expect(preflighted.status).toBe(200);
    expect(((await preflighted.json()) as Json).data).toEqual({ me: { role: 'ADMIN' } });
    expect(await projectExists(hub, slug)).toBe(false);
  });

  it('hides an unexpected error behind INTERNAL_SERVER_ERROR with the request id', async () => {
    const service = hub.services.projects;
    const list = service.list.bind(service);
    service.list = () => {
      const error = new Error('relation "project" does not exist: SELECT "p"."id" FROM "project" "p"');
      throw Object.assign(error, { code: '42P01' });
    };
    try {
      const res = await fetch(hub.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${hub.adminKey}`,
          'x-request-id': 'req-robust-1',
        },
        body: JSON.stringify({ query: '{ projects { edges { cursor } } }' }),
      });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('req-robust-1');
      expect(JSON.parse(text)).toEqual({
        data: null,
        errors: [
          {
            message: 'Internal server error',
            path: ['projects'],
            extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-robust-1' },
          },
        ],
      });
      expectNoLeak({ status: res.status, headers: res.headers, text, json: {} });

      // Without a client-chosen id the server makes one up, and says which.
      const anonymousId = await gql(hub, '{ projects { edges { cursor } } }');
      expect(anonymousId.json.errors?.[0].extensions?.requestId).toBe(
        anonymousId.headers instanceof Headers ? anonymousId.headers.get('x-request-id') : undefined,
      );
      expect(anonymousId.json.errors?.[0].extensions?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      service.list = list;
    }
  });

  it('refuses a string the database cannot store with BAD_USER_INPUT naming the argument', async () => {
    const reply = await gql(hub, 'query($s: String!) { project(slug: $s) { id } }', { s: 'a\u0000b' });
    expect(reply.status).toBe(200);
    expect(reply.json.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'slug' });
    expectNoLeak(reply);
  });
});

/** A TCP proxy in front of the database that a test can cut, as a network partition would. */
class Partition {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  private cut = false;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(databaseUrl: string): Promise<{ partition: Partition; url: string }> {
    const target = new URL(databaseUrl);
    const partition = new Partition({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await partition.listen(0);
    target.hostname = '127.0.0.1';
    target.port = String(port);
    return { partition, url: target.toString() };
  }

  private listen(port: number): Promise<number> {
    const server = net.createServer((client) => {
      if (this.cut) return void client.destroy();
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve) =>
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
    );
  }

  /** Drops every connection and refuses new ones. */
  sever(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  heal(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/** Polls `check` until it holds or `ms` pass; returns whether it held. */
async function until(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

const ready = async (hub: TestHub): Promise<number> =>
  (await fetch(hub.url.replace('/graphql', '/readyz'))).status;

describe('database faults', () => {
  it('fails in-flight requests cleanly when the database goes away, and recovers when it returns', async () => {
    const { partition, url } = await Partition.start(process.env.DATABASE_URL!);
    const hub = await startTestHub({ databaseUrl: url, dbPoolSize: 4 });
    try {
      await expectServing(hub);
      expect(await ready(hub)).toBe(200);

      partition.sever();
      // API keys are cached for a few seconds: a fresh key forces the database on every path.
      const during = await Promise.all(
        Array.from({ length: 8 }, () =>
          hub.gql('{ projects(first: 5) { edges { cursor } } }', {}, `nrv_${unique('k')}`),
        ),
      );
      // A lost database is retryable, not a bad key and not a bug: UNAVAILABLE, saying when to retry.
      for (const reply of during) {
        expect(reply.status).toBe(503);
        expect(reply.errors).toEqual([
          {
            message: 'the database is unavailable; retry',
            extensions: { code: 'UNAVAILABLE', retryAfterSeconds: 1, requestId: expect.any(String) },
          },
        ]);
      }
      const query = await hub.gql('{ projects(first: 5) { edges { cursor } } }');
      expect(query.errors?.[0]).toMatchObject({
        message: 'the database is unavailable; retry',
        extensions: { code: 'UNAVAILABLE', retryAfterSeconds: 1, requestId: expect.any(String) },
      });
      expect(await ready(hub)).toBe(503);
      expect(await (await fetch(hub.url.replace('/graphql', '/healthz'))).json()).toEqual({ status: 'ok' });

      partition.heal();
      expect(await until(async () => (await ready(hub)) === 200)).toBe(true);
      const slug = unique('p');
      const created = await hub.gql(CREATE, { i: { slug, name: slug } });
      expect(created.errors).toBeUndefined();
      await expectServing(hub);
    } finally {
      await hub.close();
      await partition.close();
    }
  });

  const realPostgres = process.env.NERVE_TEST_EMBEDDED !== '1';
  (realPostgres ? it : it.skip)(
    'survives pg_terminate_backend of its connections under load (real PostgreSQL only: PGlite has no backends to terminate)',
    async () => {
      const applicationName = unique('nerve-test');
      const hub = await startTestHub({ dbApplicationName: applicationName, dbPoolSize: 4 });
      const admin = new Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      try {
        await expectServing(hub);
        let stop = false;
        const outcomes: Array<'ok' | 'unavailable'> = [];
        const unexpected: unknown[] = [];
        const worker = async (): Promise<void> => {
          // Bounded: each worker gives up after 200 requests even if never told to stop.
          for (let i = 0; i < 200 && !stop; i++) {
            const reply = await hub.gql<{ projects: unknown }>('{ projects(first: 3) { edges { cursor } } }');
            if (reply.data?.projects && !reply.errors) outcomes.push('ok');
            else if (
              reply.errors?.[0].extensions?.code === 'UNAVAILABLE' &&
              reply.errors[0].message === 'the database is unavailable; retry'
            )
              outcomes.push('unavailable');
            else unexpected.push(reply);
          }
        };
        const load = Promise.all(Array.from({ length: 6 }, worker));
        expect(await until(async () => outcomes.length >= 20)).toBe(true);
        const killed = await admin.query<{ pid: number }>(
          'SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        );
        expect(killed.rowCount).toBeGreaterThan(0);
        const before = outcomes.length;
        expect(await until(async () => outcomes.length >= before + 30)).toBe(true);
        stop = true;
        await load;
        expect(unexpected).toEqual([]);
        // Whatever failed, failed as a clean, retryable UNAVAILABLE; and the pool healed.
        expect(outcomes.slice(-10)).toEqual(Array(10).fill('ok'));
        expect(await until(async () => (await ready(hub)) === 200)).toBe(true);
        await expectServing(hub);
      } finally {
        await admin.end();
        await hub.close();
      }
    },
  );
});
