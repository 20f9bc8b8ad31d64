import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { startTestHub, unique, type TestHub } from '../harness';
import { init } from '../support/ws';

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
    hub = await startTestHub({
      limits: { maxDepth: 12, maxAliases: 30, maxCost: 50_000 },
      wsMaxConnectionsPerKey: 3,
    });
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

  it('refuses connection_init without a valid key (4401), and accepts the key as a header too', async () => {
    const anonymous = await init(hub.url, {});
    expect(anonymous).toMatchObject({ acked: false, close: { code: 4401, reason: 'API key required' } });
    const bad = await init(hub.url, { authorization: 'Bearer nrv_not_a_key' });
    expect(bad).toMatchObject({
      acked: false,
      close: { code: 4401, reason: 'API key unknown, revoked or expired' },
    });
    const byHeader = await init(hub.url, {}, { authorization: `Bearer ${hub.adminKey}` });
    expect(byHeader.acked).toBe(true);
    byHeader.socket.close();
    await byHeader.closed;
  });

  it('applies the same depth, alias and cost limits as HTTP, with the same codes', async () => {
    const client = connect(`Bearer ${hub.adminKey}`);
    const deep = `{ __schema { types { ${'fields { type { '.repeat(6)}name${' } }'.repeat(6)} } } }`;
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { role }`).join(' ')} }`;
    const fields = 'id slug name description riskLevel createdAt updatedAt '.repeat(3);
    const page = `projects(first: 100) { edges { node { ${fields} } } }`;
    const costly = `query($n: Int) { ${Array.from({ length: 30 }, (_, i) => `p${i}: ${page.replace('100', '$n')}`).join(' ')} }`;
    const tooLong = `{ ${'me { role } '.repeat(3000)} }`;
    for (const query of [deep, aliases, costly, tooLong]) {
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

  it('caps the open connections of one key (4403), per key, and frees a slot when one closes', async () => {
    const key = await hub.key(Role.VIEWER);
    const held = await Promise.all([1, 2, 3].map(() => init(hub.url, { authorization: `Bearer ${key}` })));
    expect(held.map((c) => c.acked)).toEqual([true, true, true]);
    const over = await init(hub.url, { authorization: `Bearer ${key}` });
    expect(over).toMatchObject({
      acked: false,
      close: { code: 4403, reason: 'more than 3 connections for this API key' },
    });
    // Another key has its own allowance.
    const other = await init(hub.url, { authorization: `Bearer ${await hub.key(Role.VIEWER)}` });
    expect(other.acked).toBe(true);
    held[0].socket.close();
    await held[0].closed;
    const again = await init(hub.url, { authorization: `Bearer ${key}` });
    expect(again.acked).toBe(true);
    for (const c of [...held, other, again]) c.socket.close();
    await Promise.all([...held, other, again].map((c) => c.closed));
  });

  it('closes every connection of a revoked key, 4403 "API key revoked", live subscriptions included', async () => {
    const project = await hub.gqlOk<{ createProject: { slug: string } }>(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { slug } }',
      { i: { slug: unique('ws-revoke'), name: 'Revoked' } },
    );
    const created = await hub.gqlOk<{ createApiKey: { secret: string; key: { id: string } } }>(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret key { id } } }',
      { i: { name: unique('revoked'), role: 'VIEWER' } },
    );
    const { secret, key } = created.createApiKey;
    const before = hub.services.events.subscribers;
    const [subscribed, idle] = await Promise.all([
      init(hub.url, { authorization: `Bearer ${secret}` }),
      init(hub.url, { authorization: `Bearer ${secret}` }),
    ]);
    subscribed.socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: {
          query: 'subscription($p: String!) { alertRaised(project: $p) { change } }',
          variables: { p: project.createProject.slug },
        },
      }),
    );
    while (hub.services.events.subscribers === before) await new Promise((r) => setTimeout(r, 10));
    expect(subscribed.messages).toEqual([]);

    await hub.gqlOk('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id });
    expect(await subscribed.closed).toEqual({ code: 4403, reason: 'API key revoked' });
    expect(await idle.closed).toEqual({ code: 4403, reason: 'API key revoked' });
    // Its subscription is gone from the bus, and the key cannot come back.
    while (hub.services.events.subscribers > before) await new Promise((r) => setTimeout(r, 10));
    const back = await init(hub.url, { authorization: `Bearer ${secret}` });
    expect(back.close).toEqual({ code: 4401, reason: 'API key unknown, revoked or expired' });
  });
});

describe('idle WebSockets', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ wsIdleTimeoutMs: 200 });
  });
  afterAll(() => hub.close());

  it('closes a connection with no operation running for the idle timeout, not one with a subscription', async () => {
    const project = await hub.gqlOk<{ createProject: { slug: string } }>(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { slug } }',
      { i: { slug: unique('ws-idle'), name: 'Idle' } },
    );
    const authorization = `Bearer ${hub.adminKey}`;
    const before = hub.services.events.subscribers;
    const busy = await init(hub.url, { authorization });
    busy.socket.send(
      JSON.stringify({
        id: 'live',
        type: 'subscribe',
        payload: {
          query: 'subscription($p: String!) { alertRaised(project: $p) { change } }',
          variables: { p: project.createProject.slug },
        },
      }),
    );
    while (hub.services.events.subscribers === before) await new Promise((r) => setTimeout(r, 10));

    // One operation, answered; then nothing.
    const quiet = await init(hub.url, { authorization });
    quiet.socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: '{ me { role } }' } }));
    expect(await quiet.closed).toEqual({ code: 1000, reason: 'idle timeout' });
    expect(quiet.messages.map((m) => m.type)).toEqual(['next', 'complete']);
    const silent = await init(hub.url, { authorization });
    expect(await silent.closed).toEqual({ code: 1000, reason: 'idle timeout' });

    // Several idle periods later, the subscribed connection is still open.
    expect(busy.socket.readyState).toBe(WebSocket.OPEN);
    busy.socket.close();
    await busy.closed;
  });
});

describe('keys of open WebSockets', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({}, { keyRecheckMs: 20 });
  });
  afterAll(() => hub.close());

  it('are re-checked: a revocation whose event never came, or an expiry, still closes the sockets', async () => {
    const create = async (): Promise<{ secret: string; id: string }> => {
      const created = await hub.gqlOk<{ createApiKey: { secret: string; key: { id: string } } }>(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret key { id } } }',
        { i: { name: unique('rechecked'), role: 'VIEWER' } },
      );
      return { secret: created.createApiKey.secret, id: created.createApiKey.key.id };
    };
    const [revoked, expiring, kept] = await Promise.all([create(), create(), create()]);
    const [revokedSocket, expiringSocket, keptSocket] = await Promise.all(
      [revoked, expiring, kept].map((k) => init(hub.url, { authorization: `Bearer ${k.secret}` })),
    );
    expect([revokedSocket, expiringSocket, keptSocket].map((s) => s.acked)).toEqual([true, true, true]);

    // Written behind the hub's back, as another replica would whose event was lost on the way.
    await hub.db.query('UPDATE api_key SET revoked_at = now() WHERE id = $1', [revoked.id]);
    await hub.db.query(`UPDATE api_key SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      expiring.id,
    ]);
    expect(await revokedSocket.closed).toEqual({ code: 4403, reason: 'API key revoked' });
    expect(await expiringSocket.closed).toEqual({ code: 4403, reason: 'API key expired' });
    expect(keptSocket.socket.readyState).toBe(WebSocket.OPEN);
    keptSocket.socket.close();
    await keptSocket.closed;
  });
});
