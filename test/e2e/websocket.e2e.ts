import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestHub, type TestHub } from '../harness';

type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;
type WsError = { message: string; extensions?: Record<string, unknown> };

/** The outcome of one operation: its results, or the errors it was rejected with. */
async function run(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ results: Result[]; errors?: WsError[] }> {
  const results: Result[] = [];
  return new Promise((resolve) => {
    client.subscribe(
      { query, variables },
      {
        next: (result) => void results.push(result),
        error: (error) =>
          resolve({
            results,
            errors: Array.isArray(error) ? (error as WsError[]) : [{ message: String(error) }],
          }),
        complete: () => resolve({ results }),
      },
    );
  });
}

describe('GraphQL over WebSocket', () => {
  let hub: TestHub;
  const clients: Client[] = [];
  const connect = (authorization?: string): Client => {
    const client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: authorization ? { authorization } : {},
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    hub = await startTestHub({ limits: { maxDepth: 12, maxAliases: 30, maxCost: 50_000 } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await hub.close();
  });

  it('executes a query with the key from connectionParams', async () => {
    const { results, errors } = await run(connect(`Bearer ${hub.adminKey}`), '{ me { role } }');
    expect(errors).toBeUndefined();
    expect(results).toEqual([{ data: { me: { role: 'ADMIN' } } }]);
  });

  it('answers UNAUTHENTICATED without a key and with a bad one', async () => {
    const anonymous = await run(connect(), '{ me { role } }');
    expect(anonymous.errors).toBeUndefined();
    expect(anonymous.results).toHaveLength(1);
    expect(anonymous.results[0].data).toBeNull();
    expect(anonymous.results[0].errors?.[0]).toMatchObject({
      path: ['me'],
      extensions: { code: 'UNAUTHENTICATED' },
    });

    const bad = await run(connect('Bearer nrv_not_a_key'), '{ me { role } }');
    expect(bad.errors).toEqual([
      { message: 'the API key is unknown, revoked or expired', extensions: { code: 'UNAUTHENTICATED' } },
    ]);
  });

  it('applies the same depth, alias and cost limits as HTTP, with the same codes', async () => {
    const client = connect(`Bearer ${hub.adminKey}`);
    const deep = `{ __schema { types { ${'fields { type { '.repeat(6)}name${' } }'.repeat(6)} } } }`;
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { role }`).join(' ')} }`;
    const fields = 'id slug name description riskLevel createdAt updatedAt '.repeat(3);
    const page = `projects(first: 100) { edges { node { ${fields} } } }`;
    const costly = `query($n: Int) { ${Array.from({ length: 30 }, (_, i) => `p${i}: ${page.replace('100', '$n')}`).join(' ')} }`;
    for (const query of [deep, aliases, costly]) {
      const overWs = await run(client, query, { n: 100 });
      const overHttp = await hub.gql(query, { n: 100 });
      expect(overWs.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'query' } });
      expect(overWs.errors?.[0]).toEqual({ ...overHttp.errors?.[0] });
    }
  });

  it('formats request and execution errors as HTTP does, without stacks', async () => {
    const client = connect(`Bearer ${hub.adminKey}`);
    const cases: Array<[string, Record<string, unknown>?]> = [
      ['{ me { nope } }'],
      ['{ me { role }'],
      ['query($n: Int) { projects(first: $n) { edges { cursor } } }', { n: 'abc' }],
      ['{ projects(first: -1) { edges { cursor } } }'],
    ];
    for (const [query, variables] of cases) {
      const overWs = await run(client, query, variables);
      const overHttp = await hub.gql(query, variables);
      const wsErrors = overWs.errors ?? overWs.results[0]?.errors;
      expect(wsErrors).toEqual(overHttp.errors);
      expect(JSON.stringify(wsErrors)).not.toMatch(/stack|\.ts:\d+|\.js:\d+/);
    }
  });

  it('hides an unexpected error behind INTERNAL_SERVER_ERROR with a request id', async () => {
    const service = hub.services.projects;
    const list = service.list.bind(service);
    service.list = () => {
      throw new Error('SELECT * FROM "project" failed: connection reset');
    };
    try {
      const { results } = await run(connect(`Bearer ${hub.adminKey}`), '{ projects { edges { cursor } } }');
      expect(results).toEqual([
        {
          data: null,
          errors: [
            {
              message: 'Internal server error',
              path: ['projects'],
              extensions: {
                code: 'INTERNAL_SERVER_ERROR',
                requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
              },
            },
          ],
        },
      ]);
    } finally {
      service.list = list;
    }
  });
});
