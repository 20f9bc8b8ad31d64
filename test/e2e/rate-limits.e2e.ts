import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { DEFAULT_RATE_LIMITS } from '../../src/config/config';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { startTestHub, unique, type TestHub } from '../harness';

type WsError = { message: string; extensions?: Record<string, unknown> };
type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;

/** BOT keys get 5 requests a minute here: one more every 12 s. */
const BOT_LIMIT = 5;
const ME = '{ me { name role } }';

interface Answer {
  status: number;
  retryAfter: string | null;
  data?: Record<string, unknown> | null;
  errors?: WsError[];
}

describe('per-key rate limits', () => {
  let hub: TestHub;
  let base: string;
  let clock = new Date('2031-03-01T09:00:00Z');
  const clients: Client[] = [];
  const advance = (ms: number): void => {
    clock = new Date(clock.getTime() + ms);
  };

  const post = async (key: string, query = ME, variables?: Record<string, unknown>): Promise<Answer> => {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as Pick<Answer, 'data' | 'errors'>;
    return { status: res.status, retryAfter: res.headers.get('retry-after'), ...body };
  };

  /** `n` requests one after another, so the order they reach the bucket is the order they were sent. */
  const posts = async (key: string, n: number): Promise<Answer[]> => {
    const out: Answer[] = [];
    for (let i = 0; i < n; i++) out.push(await post(key));
    return out;
  };

  const connect = (key: string): Client => {
    const client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };

  /** Runs one operation to its end (a query) or to its first result or error (a subscription). */
  const overWs = (
    client: Client,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ results: Result[]; errors?: WsError[] }> =>
    new Promise((resolve) => {
      const results: Result[] = [];
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

  const keyName = async (key: string): Promise<string> => {
    const me = await hub.gql<{ me: { name: string } }>(ME, {}, key);
    return me.data!.me.name;
  };

  beforeAll(async () => {
    hub = await startTestHub(
      { rateLimits: { ...DEFAULT_RATE_LIMITS, BOT: BOT_LIMIT, ADMIN: 1_000 } },
      { now: () => clock },
    );
    base = hub.url.replace('/graphql', '');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await hub.close();
  });

  it('answers a key over its limit RATE_LIMITED with retryAfterSeconds, HTTP 429 and Retry-After', async () => {
    const bot = await hub.key(Role.BOT);
    const name = await keyName(bot); // the first of its 5
    const admitted = await posts(bot, BOT_LIMIT - 1);
    expect(admitted.map((a) => [a.status, a.errors])).toEqual(Array(BOT_LIMIT - 1).fill([200, undefined]));

    const refused = await post(bot);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('12');
    expect(refused.data).toBeUndefined();
    expect(refused.errors).toEqual([
      {
        message: `BOT key "${name}" is over 5 requests per minute; retry in 12 s`,
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 12 },
      },
    ]);

    // Refusals take nothing; time passing shortens the wait, rounded up to whole seconds.
    advance(4_500);
    const later = await post(bot);
    expect([later.status, later.retryAfter, later.errors?.[0].extensions]).toEqual([
      429,
      '8',
      { code: 'RATE_LIMITED', retryAfterSeconds: 8 },
    ]);

    // A batch is one operation, whatever it carries; a mutation counts like a query.
    const other = await hub.key(Role.BOT);
    const batch = await post(
      other,
      'mutation($e: String!, $i: [JSONObject!]!) { predictBatch(endpoint: $e, inputs: $i) { latencyMs } }',
      { e: unique('no-such-endpoint'), i: Array.from({ length: 50 }, (_, x) => ({ x })) },
    );
    expect(batch.status).not.toBe(429);
    expect(batch.errors?.[0].extensions?.code).not.toBe('RATE_LIMITED');
    expect((await posts(other, BOT_LIMIT - 1)).every((a) => a.status === 200)).toBe(true);
    expect((await post(other)).status).toBe(429);
  });

  it('limits each key on its own: another key of the role, and an ADMIN with its own limit, go on', async () => {
    const [runaway, sibling] = [await hub.key(Role.BOT), await hub.key(Role.BOT)];
    await posts(runaway, BOT_LIMIT);
    expect((await post(runaway)).status).toBe(429);

    const siblings = await posts(sibling, BOT_LIMIT);
    expect(siblings.every((a) => a.status === 200 && a.data?.me)).toBe(true);
    expect((await post(sibling)).status).toBe(429);

    // ADMIN is at 1000 a minute here: far more than a BOT's 5, and untouched by them.
    const admin = await posts(hub.adminKey, 30);
    expect(admin.every((a) => a.status === 200 && !a.errors)).toBe(true);

    // A role the override left alone keeps its default.
    const viewer = await hub.key(Role.VIEWER);
    expect((await posts(viewer, 20)).every((a) => a.status === 200)).toBe(true);
    expect(DEFAULT_RATE_LIMITS.VIEWER).toBeGreaterThan(20);
  });

  it('admits the key again once its bucket has refilled, at the rate of its limit', async () => {
    const bot = await hub.key(Role.BOT);
    await posts(bot, BOT_LIMIT);
    const refused = await post(bot);
    expect(refused.errors?.[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 12 });

    advance(11_999);
    expect((await post(bot)).retryAfter).toBe('1');
    advance(1);
    const again = await post(bot);
    expect(again.status).toBe(200);
    expect(again.data).toMatchObject({ me: { role: 'BOT' } });
    expect((await post(bot)).status).toBe(429);

    // A whole minute refills the whole burst, and no more.
    advance(10 * 60_000);
    const burst = await posts(bot, BOT_LIMIT + 1);
    expect(burst.map((a) => a.status)).toEqual([...Array(BOT_LIMIT).fill(200), 429]);
  });

  it('counts each WebSocket operation, a subscribe included, against the same bucket as HTTP', async () => {
    const project = unique('rl');
    const created = await hub.gql('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: project },
    });
    expect(created.errors).toBeUndefined();

    const bot = await hub.key(Role.BOT);
    // Connecting costs nothing: all five requests are still there after it.
    const client = connect(bot);
    await posts(bot, 2);
    for (let i = 0; i < BOT_LIMIT - 2; i++) {
      const { results, errors } = await overWs(client, ME);
      expect(errors).toBeUndefined();
      expect(results).toEqual([{ data: { me: { name: expect.any(String), role: 'BOT' } } }]);
    }

    const subscription = await overWs(
      client,
      'subscription($p: String!) { alertRaised(project: $p) { change } }',
      { p: project },
    );
    expect(subscription.results).toEqual([]);
    expect(subscription.errors).toEqual([
      {
        message: expect.stringMatching(/^BOT key ".+" is over 5 requests per minute; retry in 12 s$/),
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 12 },
      },
    ]);
    // The connection stays up, and serves the key again once it may.
    advance(12_000);
    const after = await overWs(client, ME);
    expect(after.errors).toBeUndefined();
    expect(after.results[0].data).toMatchObject({ me: { role: 'BOT' } });
  });

  it('limits the artifact routes too, with a 429 and Retry-After', async () => {
    const bot = await hub.key(Role.BOT);
    await posts(bot, BOT_LIMIT);
    const path = `${base}/artifacts/sha256/${'ab'.repeat(32)}`;
    const get = await fetch(path, { headers: { authorization: `Bearer ${bot}` } });
    expect(get.status).toBe(429);
    expect(get.headers.get('retry-after')).toBe('12');
    expect(((await get.json()) as { errors: WsError[] }).errors[0].extensions).toEqual({
      code: 'RATE_LIMITED',
      retryAfterSeconds: 12,
    });
    const put = await fetch(path, {
      method: 'PUT',
      headers: { authorization: `Bearer ${bot}`, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(1024),
    });
    expect(put.status).toBe(429);
    expect(put.headers.get('retry-after')).toBe('12');
    await put.body?.cancel();

    // Under its limit, the same route answers as it always does (nothing stored under that hash).
    const fresh = await hub.key(Role.BOT);
    expect((await fetch(path, { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(404);
  });

  it('never limits health, readiness or metrics, and counts refusals by role in /metrics', async () => {
    const bot = await hub.key(Role.BOT);
    await posts(bot, BOT_LIMIT);
    const scrape = async (): Promise<string> => {
      const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${bot}` } });
      expect(res.status).toBe(200);
      return res.text();
    };
    const refusals = (text: string, role: string): number =>
      Number(
        new RegExp(`^nerve_rate_limited_requests_total\\{role="${role}"\\} (\\d+)$`, 'm').exec(text)?.[1],
      );

    const before = await scrape();
    expect(refusals(before, 'VIEWER')).toBe(0);
    expect((await post(bot)).status).toBe(429);
    expect((await post(bot)).status).toBe(429);
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    }
    const after = await scrape();
    expect(refusals(after, 'BOT') - refusals(before, 'BOT')).toBe(2);
  });
});
