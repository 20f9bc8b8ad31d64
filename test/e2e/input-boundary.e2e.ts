import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { MAX_JSON_DEPTH } from '../../src/common/json-scalar';
import { startTestHub, unique, type TestHub } from '../harness';
import { ProjectFixture } from '../support/fixture';

type Failure = { message: string; path?: string[]; extensions?: Record<string, unknown> };
type Reply = { status: number; text: string; errors?: Failure[]; data?: Record<string, unknown> | null };

const PREDICT =
  'mutation($e: String!, $i: JSONObject!, $k: String) { predict(endpoint: $e, input: $i, requestKey: $k) { requestKey } }';
const START_RUN = 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }';
const CREATE_KEY = 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key { id projectIds } } }';

/** `{"a":{"a":…1…}}` nested `levels` deep, as text: JSON.stringify itself cannot build 100,000 levels. */
const nestedJson = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
/** The same as a GraphQL literal. */
const nestedLiteral = (levels: number): string => '{a: '.repeat(levels) + '1' + '}'.repeat(levels);

describe('the input boundary', () => {
  let hub: TestHub;
  let fx: ProjectFixture;
  beforeAll(async () => {
    hub = await startTestHub();
    fx = await new ProjectFixture(hub).build();
  });
  afterAll(async () => {
    await fx?.close();
    await hub?.close();
  });
  afterEach(async () => {
    expect((await hub.gqlOk<{ me: { role: string } }>('{ me { role } }')).me.role).toBe('ADMIN');
  });

  /** POSTs a body given as text, so that it can hold what JSON.stringify cannot make. */
  async function post(body: string): Promise<Reply> {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
      body,
    });
    const text = await res.text();
    return { status: res.status, text, ...(JSON.parse(text) as object) };
  }
  const gql = (query: string, variables?: Record<string, unknown>): Promise<Reply> =>
    post(JSON.stringify({ query, variables }));
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await hub.db.query<Array<{ n: string }>>(sql, params))[0].n);

  it('refuses a NUL in a request key, naming it, and goes on logging the predictions after it', async () => {
    const refused = await gql(PREDICT, { e: fx.endpoint, i: { tenure: 1, spend: 2 }, k: 'a\u0000b' });
    expect(refused.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'requestKey' });
    expect(refused.data).toBeNull();

    const key = unique('after-nul');
    await hub.gqlOk(PREDICT, { e: fx.endpoint, i: { tenure: 3, spend: 4 }, k: key });
    await hub.services.predictionLog.flush();
    expect(await count('SELECT count(*) AS n FROM prediction_log WHERE request_key = $1', [key])).toBe(1);
    // On the fixture's endpoint: other suites log predictions to the shared database meanwhile. The
    // key logged after it may itself end in 'b' (a random suffix), so it is left out.
    const refusedKeys = await count(
      `SELECT count(*) AS n FROM prediction_log
        WHERE endpoint_id = (SELECT id FROM endpoint WHERE name = $1) AND request_key LIKE 'a%b'
          AND request_key <> $2`,
      [fx.endpoint, key],
    );
    expect(refusedKeys).toBe(0);
  });

  it('names where a NUL or a lone surrogate is: list items, nested JSON values and JSON keys', async () => {
    const points = (region: string) =>
      Array.from({ length: 4 }, (_, i) => ({
        kpi: fx.kpi,
        time: `2026-10-0${i + 1}T00:00:00Z`,
        value: i,
        dimensions: { region: i === 3 ? region : 'eu' },
      }));
    // The fixture project's points only: other suites write KPI points to the shared database meanwhile.
    const projectPoints = (): Promise<number> =>
      count('SELECT count(*) AS n FROM kpi_point p JOIN kpi k ON k.id = p.kpi_id WHERE k.project_id = $1', [
        fx.projectId,
      ]);
    const before = await projectPoints();
    const record = 'mutation($i: RecordKpiPointsInput!) { recordKpiPoints(input: $i) { recorded } }';
    for (const region of ['eu\ud800', 'eu\udc00x', 'e\u0000u']) {
      const reply = await gql(record, { i: { project: fx.slug, points: points(region) } });
      expect(reply.errors?.[0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'input.points.3.dimensions.region',
      });
    }
    // A surrogate pair is a character like any other.
    await hub.gqlOk(record, { i: { project: fx.slug, points: points('eu \ud83d\ude00') } });
    expect(await projectPoints()).toBe(before + 4);

    const batch = await gql(
      'mutation($e: String!, $i: [JSONObject!]!) { predictBatch(endpoint: $e, inputs: $i) { predictions { requestKey } } }',
      {
        e: fx.endpoint,
        i: [
          { tenure: 1, spend: 1 },
          { tenure: 1, spend: 1 },
          { 'ten\u0000ure': 1, spend: 1 },
        ],
      },
    );
    expect(batch.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'inputs.2' });
    expect(batch.errors?.[0].message).toMatch(/^inputs\.2: has a key that contains a NUL character/);

    const slug = unique('p');
    const project = await gql('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug, name: 'x\ud800' },
    });
    expect(project.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.name' });
    expect(await count('SELECT count(*) AS n FROM project WHERE slug = $1', [slug])).toBe(0);
  });

  it('refuses the same over WebSocket, subscriptions included', async () => {
    const client: Client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${hub.adminKey}` },
      retryAttempts: 0,
    });
    const first = (query: string, variables: Record<string, unknown>) =>
      new Promise<Failure[] | undefined>((resolve) => {
        client.subscribe(
          { query, variables },
          {
            next: (result) => resolve(result.errors as Failure[] | undefined),
            error: (error) => resolve(error as Failure[]),
            complete: () => resolve(undefined),
          },
        );
      });
    try {
      const viaMutation = await first(PREDICT, { e: fx.endpoint, i: { 'a\ud800': 1 }, k: 'ok' });
      expect(viaMutation?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input' });
      const viaSubscription = await first(
        'subscription($e: String!) { endpointStats(endpoint: $e) { endpoint } }',
        {
          e: 'x\u0000',
        },
      );
      expect(viaSubscription?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'endpoint' });
      // Variable errors are BAD_USER_INPUT over WebSocket too, and quote no value.
      const tooMany = await first(CREATE_KEY, {
        i: {
          name: 'x',
          role: 'ADMIN',
          projectIds: Array.from({ length: 60 }, () => ({ secret: 'ws-s3cr3t' })),
        },
      });
      expect(tooMany?.length).toBe(51);
      for (const error of tooMany ?? []) expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(tooMany)).not.toContain('ws-s3cr3t');
    } finally {
      await client.dispose();
    }
  });

  it(`refuses JSON nested deeper than ${MAX_JSON_DEPTH} levels, in variables and literals, even 100,000 deep`, async () => {
    const name = unique('deep');
    const viaVariable = (levels: number) =>
      post(
        `{"query":${JSON.stringify(START_RUN)},"variables":{"i":{"project":"${fx.slug}","kind":"TRAINING",` +
          `"name":"${name}","params":${nestedJson(levels)}}}}`,
      );
    for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
      const reply = await viaVariable(levels);
      expect(reply.status).toBe(400);
      expect(reply.errors).toHaveLength(1);
      expect(reply.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'i.params' });
      expect(reply.errors?.[0].message).toBe(
        `Variable "$i" has an invalid value at "i.params": JSONObject cannot represent a value nested deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
    expect(await count('SELECT count(*) AS n FROM run WHERE name = $1', [name])).toBe(0);
    // The limit itself is allowed.
    expect((await viaVariable(MAX_JSON_DEPTH)).errors).toBeUndefined();

    const literal = (levels: number) =>
      gql(
        `mutation { startRun(input: { project: "${fx.slug}", kind: TRAINING, name: "${unique('deep')}", ` +
          `params: ${nestedLiteral(levels)} }) { id } }`,
      );
    for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
      const reply = await literal(levels);
      expect(reply.status).toBe(400);
      expect(reply.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'query' });
    }
    expect((await literal(MAX_JSON_DEPTH)).errors).toBeUndefined();

    // Deep JSON anywhere in the body, even where no argument reads it, is only parsed.
    const unread = await post(`{"query":"{ me { role } }","variables":{"x":${nestedJson(100_000)}}}`);
    expect(unread.data).toEqual({ me: { role: 'ADMIN' } });
  });

  it('answers more than 50 badly typed list items with BAD_USER_INPUT only, quoting no value', async () => {
    const reply = await gql(CREATE_KEY, {
      i: {
        name: 'x',
        role: 'ADMIN',
        projectIds: Array.from({ length: 60 }, () => ({ token: 's3cr3t-item' })),
      },
    });
    expect(reply.status).toBe(400);
    expect(reply.errors).toHaveLength(51);
    expect(reply.errors?.[0]).toMatchObject({
      message: 'Variable "$i" has an invalid value at "i.projectIds[0]": ID cannot represent value',
      extensions: { code: 'BAD_USER_INPUT', field: 'i.projectIds.0' },
    });
    expect(reply.errors?.[50].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'variables' });
    expect(reply.text).not.toContain('s3cr3t-item');
  });

  it('names a missing field without quoting the secrets beside it', async () => {
    const token = `zd-${unique('token')}`;
    const reply = await gql('mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }', {
      i: { project: fx.slug, kind: 'zendesk', name: 'no-config', secrets: { apiToken: token } },
    });
    expect(reply.errors?.[0]).toMatchObject({
      message:
        'Variable "$i" has an invalid value at "i": Field "config" of required type "JSONObject!" was not provided.',
      extensions: { code: 'BAD_USER_INPUT', field: 'i.config' },
    });
    expect(reply.text).not.toContain(token);

    // A key the schema does not know is named when it could be a name, and not quoted when it is a megabyte.
    const unknown = await gql('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: unique('p'), name: 'x', ['k'.repeat(1024 * 1024)]: 1, bogus: 2 },
    });
    expect(unknown.errors?.map((e) => e.extensions)).toEqual([
      { code: 'BAD_USER_INPUT', field: 'i' },
      { code: 'BAD_USER_INPUT', field: 'i.bogus' },
    ]);
    expect(unknown.text.length).toBeLessThan(2_000);

    // Nor a megabyte sent where a number belongs, nor a date that is not one.
    const big = 'y'.repeat(1024 * 1024);
    const wrong = await gql(
      'mutation($i: RecordKpiPointsInput!) { recordKpiPoints(input: $i) { recorded } }',
      {
        i: { project: fx.slug, points: [{ kpi: fx.kpi, time: `2026-13-45 ${token}`, value: big }] },
      },
    );
    expect(wrong.errors?.map((e) => e.extensions)).toEqual([
      { code: 'BAD_USER_INPUT', field: 'i.points.0.time' },
      { code: 'BAD_USER_INPUT', field: 'i.points.0.value' },
    ]);
    expect(wrong.text.length).toBeLessThan(2_000);
    expect(wrong.text).not.toContain(token);
  });

  it('scopes a key to a project named 10,001 times once, with one audit event', async () => {
    const upper = fx.projectId.toUpperCase();
    const projectIds = Array.from({ length: 10_001 }, (_, i) => (i % 2 ? upper : fx.projectId));
    const created = await hub.gqlOk<{ createApiKey: { key: { id: string; projectIds: string[] } } }>(
      CREATE_KEY,
      {
        i: { name: unique('dup'), role: 'VIEWER', projectIds },
      },
    );
    expect(created.createApiKey.key.projectIds).toEqual([fx.projectId]);
    expect(
      await count("SELECT count(*) AS n FROM audit_event WHERE action = 'createApiKey' AND subject_id = $1", [
        created.createApiKey.key.id,
      ]),
    ).toBe(1);

    const tooMany = await gql(CREATE_KEY, {
      i: {
        name: unique('many'),
        role: 'VIEWER',
        projectIds: Array.from({ length: 1_001 }, () => randomUUID()),
      },
    });
    expect(tooMany.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'projectIds' });
    const notAnId = await gql(CREATE_KEY, {
      i: { name: unique('bad'), role: 'VIEWER', projectIds: [fx.projectId, 'x'] },
    });
    expect(notAnId.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'projectIds.1' });
  });
});
