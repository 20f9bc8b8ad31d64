import fs from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { mulberry32 } from '../../src/common/random';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import type { Fault } from '../fakes/faults';
import { FakeZendeskServer, type FakeTicket } from '../fakes/zendesk-server';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startHubProcess } from '../support/hub-process';
import { startTestHub, TEST_SECRET_KEY, unique, type GqlResult, type TestHub } from '../harness';

const CREATE = `mutation($i: CreateConnectorInput!) {
  createConnector(input: $i) { id name kind config secretNames schedule enabled }
}`;
const SYNC = `mutation($id: ID!, $k: String) { syncConnector(id: $id, idempotencyKey: $k) { id status trigger } }`;
const RUN = `query($id: ID!) {
  connector(id: $id) {
    lastRun { id status error errorKind finishedAt streams { stream status pages records error errorKind } }
    streams { stream state recordsSynced }
  }
}`;

interface Run {
  id: string;
  status: string;
  error: string | null;
  errorKind: string | null;
  streams: Array<{ stream: string; status: string; pages: number; records: number; error: string | null }>;
}

const FAULTS: Fault[] = [
  { kind: 'status', status: 429, headers: { 'retry-after': '0' }, body: { error: 'APIRateLimitExceeded' } },
  { kind: 'status', status: 500, body: { error: 'InternalError' } },
  { kind: 'status', status: 503, body: { error: 'ServiceUnavailable' } },
  { kind: 'malformed' },
  { kind: 'reset' },
  { kind: 'hang' },
];

/** What a synced ticket row must equal: the fake's ticket, as Zendesk serves it. */
const expected = (t: FakeTicket, routingFieldId: number, requestKeyFieldId: number) => ({
  external_id: String(t.id),
  status: t.status,
  subject: t.subject,
  priority: t.priority,
  tags: t.tags,
  routing: (t.customFields[routingFieldId] as string | null) ?? null,
  request_key: (t.customFields[requestKeyFieldId] as string | null) ?? null,
  updated_at: new Date(t.updatedAt * 1000).toISOString(),
  replies: t.metrics?.replies ?? null,
  solved_at: t.metrics?.solvedAt ? new Date(t.metrics.solvedAt * 1000).toISOString() : null,
});

describe('connectors', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };
  const fakes: FakeZendeskServer[] = [];

  const failure = (res: GqlResult<unknown>) => {
    expect(res.errors).toHaveLength(1);
    return { ...res.errors![0].extensions, message: res.errors![0].message };
  };

  const newProject = async () =>
    (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('crm'), name: 'Connectors' } },
      )
    ).createProject;

  async function fake(tickets: number, seed = 1): Promise<{ server: FakeZendeskServer; url: string }> {
    const server = new FakeZendeskServer({ tickets, seed });
    fakes.push(server);
    return { server, url: await server.start() };
  }

  const zendeskInput = (server: FakeZendeskServer, url: string, extra: Record<string, unknown> = {}) => ({
    project: project.slug,
    name: unique('zendesk'),
    kind: 'zendesk',
    config: {
      baseUrl: url,
      email: server.email,
      pageSize: 100,
      routingFieldId: server.routingFieldId,
      requestKeyFieldId: server.requestKeyFieldId,
    },
    secrets: { apiToken: server.token },
    ...extra,
  });

  async function createConnector(input: Record<string, unknown>): Promise<string> {
    return (await hub.gqlOk<{ createConnector: { id: string } }>(CREATE, { i: input })).createConnector.id;
  }

  /** A one-feature router model with a version per bias, served (version 1) on a new endpoint of the project. */
  async function router(biases: number[][]): Promise<string> {
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: project.slug, name: unique('router'), task: 'CLASSIFICATION' } },
    );
    const spec = { version: 1, features: [{ name: 'x', kind: 'numeric' }] };
    for (const bias of biases) {
      const sha = await uploadArtifact(
        hub,
        linearClassifierOnnx({ features: 1, classes: 2, weights: [[1, -1]], bias }),
        project.slug,
      );
      await hub.gqlOk('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
        i: { modelId: createModel.id, artifactSha256: sha, labels: ['a', 'b'], preprocessing: spec },
      });
    }
    const endpoint = unique('router');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: project.slug, name: endpoint, model: createModel.id, version: 1 },
    });
    return endpoint;
  }

  const PREDICT_BATCH =
    'mutation($e: String!, $i: [JSONObject!]!, $k: [String!]) { predictBatch(endpoint: $e, inputs: $i, requestKeys: $k) { predictions { modelVersion } } }';

  async function finished(id: string): Promise<Run> {
    for (;;) {
      const { connector } = await hub.gqlOk<{ connector: { lastRun: Run | null } }>(RUN, { id });
      if (connector.lastRun && connector.lastRun.status !== 'RUNNING') return connector.lastRun;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function sync(id: string): Promise<Run> {
    await hub.gqlOk(SYNC, { id });
    return finished(id);
  }

  async function table(connectorId: string) {
    return (await hub.db.query(
      `SELECT external_id, status, subject, priority, tags, routing, request_key, updated_at, replies, solved_at
         FROM ticket WHERE connector_id = $1 ORDER BY external_id::int`,
      [connectorId],
    )) as Array<Record<string, unknown>>;
  }

  const normalized = (rows: Array<Record<string, unknown>>) =>
    rows.map((r) => ({
      ...r,
      updated_at: (r.updated_at as Date).toISOString(),
      solved_at: r.solved_at ? (r.solved_at as Date).toISOString() : null,
    }));

  const fakeTable = (server: FakeZendeskServer) =>
    server.tickets().map((t) => expected(t, server.routingFieldId, server.requestKeyFieldId));

  beforeAll(async () => {
    hub = await startTestHub(
      {},
      { services: { connectorHttp: { timeoutMs: 300, backoffMs: 1, maxBackoffMs: 5, maxRetries: 12 } } },
    );
    project = await newProject();
  });
  afterAll(async () => {
    await hub.close();
    await Promise.all(fakes.map((f) => f.close()));
  });

  it('keeps credentials encrypted and write-only', async () => {
    const { server, url } = await fake(5);
    const res = await hub.gql(CREATE, { i: zendeskInput(server, url) });
    expect(res.errors).toBeUndefined();
    const body = JSON.stringify(res);
    expect(body).not.toContain(server.token);
    const { id, secretNames } = (res.data as { createConnector: { id: string; secretNames: string[] } })
      .createConnector;
    expect(secretNames).toEqual(['apiToken']);
    const [row] = (await hub.db.query('SELECT secrets_ciphertext, config FROM connector WHERE id = $1', [
      id,
    ])) as Array<{
      secrets_ciphertext: string;
      config: unknown;
    }>;
    expect(row.secrets_ciphertext).toMatch(/^v1\./);
    expect(row.secrets_ciphertext).not.toContain(server.token);
    expect(JSON.stringify(row.config)).not.toContain(server.token);
    expect(Buffer.from(row.secrets_ciphertext.split('.')[3], 'base64url').toString('latin1')).not.toContain(
      server.token,
    );
    const read = await hub.gql(`query($id: ID!) { connector(id: $id) { config secretNames } }`, { id });
    expect(JSON.stringify(read)).not.toContain(server.token);
    // Rotating one secret keeps the connector working with the new value.
    server.revokeToken();
    expect((await sync(id)).errorKind).toBe('PERMANENT');
  });

  it('refuses bad config naming the field, and writes nothing', async () => {
    const { server, url } = await fake(1);
    const before = (await hub.db.query('SELECT count(*)::int AS n FROM connector WHERE project_id = $1', [
      project.id,
    ])) as Array<{ n: number }>;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: 'salesforce' }, 'kind'],
      [{ config: { baseUrl: 'not a url', email: server.email } }, 'config.baseUrl'],
      [{ config: { baseUrl: url } }, 'config.email'],
      [{ config: { baseUrl: url, email: server.email, pageSize: 5000 } }, 'config.pageSize'],
      [{ config: { baseUrl: url, email: server.email, colour: 'red' } }, 'config.colour'],
      [{ secrets: {} }, 'secrets.apiToken'],
      [{ schedule: 'every day at noon' }, 'schedule'],
    ];
    for (const [patch, field] of cases) {
      const res = await hub.gql(CREATE, { i: { ...zendeskInput(server, url), ...patch } });
      expect(failure(res)).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(JSON.stringify(res)).not.toContain(server.token);
    }
    const after = (await hub.db.query('SELECT count(*)::int AS n FROM connector WHERE project_id = $1', [
      project.id,
    ])) as Array<{ n: number }>;
    expect(after[0].n).toBe(before[0].n);
    // An update is held to the same spec, and a refused one changes nothing.
    const id = await createConnector(zendeskInput(server, url));
    const UPDATE = `mutation($id: ID!, $i: UpdateConnectorInput!) { updateConnector(id: $id, input: $i) { config } }`;
    const refused = await hub.gql(UPDATE, {
      id,
      i: { config: { baseUrl: url, email: server.email, pageSize: 0 }, schedule: '*/5 * * * *' },
    });
    expect(failure(refused)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.pageSize' });
    expect(failure(await hub.gql(UPDATE, { id, i: { secrets: { apiToken: 7 } } }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'secrets.apiToken',
    });
    const [row] = (await hub.db.query('SELECT config, schedule FROM connector WHERE id = $1', [
      id,
    ])) as Array<{
      config: { pageSize: number };
      schedule: string | null;
    }>;
    expect(row).toMatchObject({ config: { pageSize: 100 }, schedule: null });
  });

  it('fails the check of bad credentials clearly, without blocking another connector', async () => {
    const { server, url } = await fake(300, 5);
    const bad = await createConnector({
      ...zendeskInput(server, url),
      secrets: { apiToken: 'wrong-token-123456' },
    });
    const good = await createConnector(zendeskInput(server, url));
    const { checkConnector } = await hub.gqlOk<{
      checkConnector: { ok: boolean; message: string; errorKind: string };
    }>('mutation($id: ID!) { checkConnector(id: $id) { ok message errorKind } }', { id: bad });
    expect(checkConnector).toMatchObject({ ok: false, errorKind: 'PERMANENT' });
    expect(checkConnector.message).toMatch(/401/);
    expect(checkConnector.message).not.toContain('wrong-token-123456');
    // Both start at once: the bad one fails fast, the good one is not held up by it.
    await hub.gqlOk(SYNC, { id: bad });
    await hub.gqlOk(SYNC, { id: good });
    const [badRun, goodRun] = await Promise.all([finished(bad), finished(good)]);
    expect(badRun).toMatchObject({ status: 'FAILED', errorKind: 'PERMANENT' });
    expect(badRun.error).toMatch(/401/);
    expect(goodRun.status).toBe('SUCCEEDED');
    expect(normalized(await table(good))).toEqual(fakeTable(server));
    const { alerts } = await hub.gqlOk<{
      alerts: { edges: Array<{ node: { kind: string; evidence: { connectorId: string } } }> };
    }>(
      'query($p: String!) { alerts(project: $p, kinds: [CONNECTOR]) { edges { node { kind evidence } } } }',
      { p: project.slug },
    );
    expect(alerts.edges.some((e) => e.node.evidence.connectorId === bad)).toBe(true);
    expect(alerts.edges.some((e) => e.node.evidence.connectorId === good)).toBe(false);
  });

  it('syncs thousands of tickets through 429s, 5xx, timeouts and garbage, each exactly once', async () => {
    const { server, url } = await fake(3_000, 11);
    server.faults.randomly(0.15, FAULTS, 3);
    const id = await createConnector(zendeskInput(server, url));
    const run = await sync(id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(Object.values(server.faults.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
    const rows = normalized(await table(id));
    expect(rows).toHaveLength(3_000);
    expect(rows).toEqual(fakeTable(server));

    // Changes since: only they are read again, and the table follows the vendor.
    for (const t of [3, 50, 700]) server.modifyTicket(t, { status: 'solved', tags: ['vip'] });
    server.addTicket('new one');
    server.deleteTicket(10);
    const second = await sync(id);
    expect(second.status).toBe('SUCCEEDED');
    expect(second.streams[0].records).toBe(5);
    expect(normalized(await table(id))).toEqual(fakeTable(server));
  });

  it('resumes a sync killed at a random page to the same final table as an uninterrupted one', async () => {
    const seed = 21;
    const random = mulberry32(seed);
    const { server: reference, url: referenceUrl } = await fake(3_000, seed);
    const { server: crashing, url: crashingUrl } = await fake(3_000, seed);
    const uninterrupted = await createConnector(zendeskInput(reference, referenceUrl));
    expect((await sync(uninterrupted)).status).toBe('SUCCEEDED');

    const id = await createConnector(zendeskInput(crashing, crashingUrl));
    // Another hub process runs the sync and is killed (SIGKILL) after a random number of pages.
    const killAfter = 100 * (3 + Math.floor(random() * 20));
    crashing.faults.randomly(0.5, [{ kind: 'status', status: 503, headers: { 'retry-after': '0.2' } }], seed);
    const other = await startHubProcess({ NERVE_SECRET_KEY: TEST_SECRET_KEY, REDIS_URL: '' });
    try {
      const url = other.url;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
        body: JSON.stringify({ query: SYNC, variables: { id } }),
      });
      expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
      for (;;) {
        const [row] = (await hub.db.query(
          `SELECT records_synced FROM connector_stream WHERE connector_id = $1`,
          [id],
        )) as Array<{ records_synced: string }>;
        if (row && Number(row.records_synced) >= killAfter) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      other.child.kill('SIGKILL');
      await new Promise((r) => other.child.once('exit', r));
    } finally {
      if (other.child.exitCode === null) other.child.kill('SIGKILL');
      fs.rmSync(other.dataDir, { recursive: true, force: true });
    }
    const partial = (await hub.db.query('SELECT count(*)::int AS n FROM ticket WHERE connector_id = $1', [
      id,
    ])) as Array<{
      n: number;
    }>;
    expect(partial[0].n).toBeGreaterThanOrEqual(killAfter);
    expect(partial[0].n).toBeLessThan(3_000);

    crashing.faults.clear();
    const resumed = await sync(id);
    expect(resumed.status).toBe('SUCCEEDED');
    // Only what the killed sync had not written was read again (a page at most twice).
    expect(resumed.streams[0].records).toBeLessThanOrEqual(3_000 - partial[0].n + 100);
    expect(normalized(await table(id))).toEqual(normalized(await table(uninterrupted)));
    const { syncRuns } = await hub.gqlOk<{
      syncRuns: { edges: Array<{ node: { status: string; error: string | null } }> };
    }>('query($c: ID!) { syncRuns(connector: $c) { edges { node { status error } } } }', { c: id });
    expect(syncRuns.edges.map((e) => e.node.status)).toEqual(['SUCCEEDED', 'FAILED']);
    expect(syncRuns.edges[1].node.error).toMatch(/stopped/);
  });

  it('streams sync progress to subscribers and never overlaps two syncs of one connector', async () => {
    const { server, url } = await fake(1_000, 8);
    const id = await createConnector(zendeskInput(server, url));
    const subscribersBefore = hub.services.events.subscribers;
    const client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${hub.adminKey}` },
      retryAttempts: 0,
    });
    const events: Array<{ id: string; status: string; streams: Array<{ pages: number }> }> = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe(
        {
          query: `subscription($p: String!, $c: ID) { syncRunChanged(project: $p, connector: $c) { id status streams { pages records } } }`,
          variables: { p: project.slug, c: id },
        },
        {
          next: ({ data, errors }) => {
            if (errors) return reject(new Error(JSON.stringify(errors)));
            const run = (data as { syncRunChanged: (typeof events)[number] }).syncRunChanged;
            events.push(run);
            if (run.status !== 'RUNNING') resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    // The subscription is live once the bus counts it: events published before would be missed.
    while (hub.services.events.subscribers === subscribersBefore) await new Promise((r) => setTimeout(r, 10));
    const first = (await hub.gqlOk<{ syncConnector: { id: string } }>(SYNC, { id, k: 'sync-once' }))
      .syncConnector;
    const again = (await hub.gqlOk<{ syncConnector: { id: string } }>(SYNC, { id })).syncConnector;
    expect(again.id).toBe(first.id);
    await done;
    await client.dispose();
    expect(events[0]).toMatchObject({ id: first.id, status: 'RUNNING' });
    expect(events.at(-1)).toMatchObject({ id: first.id, status: 'SUCCEEDED' });
    const pages = events.map((e) => e.streams[0]?.pages ?? 0);
    expect(pages.at(-1)).toBe(10);
    expect([...pages].sort((a, b) => a - b)).toEqual(pages);
    // The same idempotency key, after it finished, returns that run rather than syncing again.
    const replay = (
      await hub.gqlOk<{ syncConnector: { id: string; status: string } }>(SYNC, { id, k: 'sync-once' })
    ).syncConnector;
    expect(replay).toMatchObject({ id: first.id, status: 'SUCCEEDED' });
    // One audit event for the one sync started, written with its run.
    const { auditLog } = await hub.gqlOk<{
      auditLog: { edges: Array<{ node: { subjectId: string; after: { syncRunId: string } } }> };
    }>(
      'query($p: String!) { auditLog(project: $p, actions: ["syncConnector"], first: 100) { edges { node { subjectId after } } } }',
      { p: project.slug },
    );
    expect(auditLog.edges.filter((e) => e.node.subjectId === id).map((e) => e.node.after.syncRunId)).toEqual([
      first.id,
    ]);
  });

  it('turns a model decision into a Zendesk ticket once, and sets a ticket’s routing field', async () => {
    const { server, url } = await fake(3, 2);
    const id = await createConnector(zendeskInput(server, url));
    const ACT = `mutation($i: RunConnectorActionInput!) { runConnectorAction(input: $i) { externalId stream raw } }`;
    const input = {
      connector: id,
      action: 'createTicket',
      input: {
        subject: 'Drift on ticket-router',
        comment: 'PSI 0.4 on body',
        priority: 'high',
        routing: 'ml-ops',
      },
      idempotencyKey: 'alert-42',
    };
    const first = await hub.gqlOk<{ runConnectorAction: { externalId: string } }>(ACT, { i: input });
    const second = await hub.gqlOk<{ runConnectorAction: { externalId: string } }>(ACT, { i: input });
    expect(second.runConnectorAction.externalId).toBe(first.runConnectorAction.externalId);
    expect(server.tickets()).toHaveLength(4);
    const created = server.ticket(Number(first.runConnectorAction.externalId))!;
    expect(created.customFields[server.routingFieldId]).toBe('ml-ops');

    await hub.gqlOk(ACT, {
      i: {
        connector: id,
        action: 'updateTicket',
        input: { ticketId: 1, routing: 'billing', requestKey: 'req-x' },
      },
    });
    expect(server.ticket(1)!.customFields[server.routingFieldId]).toBe('billing');
    expect(
      failure(await hub.gql(ACT, { i: { connector: id, action: 'closeEverything', input: {} } })),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'action' });
    expect(
      failure(await hub.gql(ACT, { i: { connector: id, action: 'updateTicket', input: { routing: 'x' } } })),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.ticketId' });
    // A viewer may read synced data but not act.
    const viewer = await hub.key(Role.VIEWER);
    expect(failure(await hub.gql(ACT, { i: input }, viewer))).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('attributes ticket KPIs to the model version whose prediction touched each ticket', async () => {
    const { server, url } = await fake(2_000, 31);
    // A project of its own: the other tests' tickets would count among the unattributed ones.
    const shared = project;
    project = await newProject();
    // Two versions of a router; half the tickets with a request key were routed by each.
    const endpoint = await router([
      [0, 0.1],
      [0.1, 0],
    ]);
    const keyed = server.tickets().filter((t) => t.customFields[server.requestKeyFieldId]);
    const groups = [keyed.filter((t) => t.id % 2 === 0), keyed.filter((t) => t.id % 2 === 1)];
    for (const [i, group] of groups.entries()) {
      if (i === 1) {
        await hub.gqlOk('mutation($i: SetEndpointTrafficInput!) { setEndpointTraffic(input: $i) { id } }', {
          i: { endpoint, stableVersion: 2 },
        });
      }
      await hub.gqlOk(PREDICT_BATCH, {
        e: endpoint,
        i: group.map((t) => ({ x: t.id })),
        k: group.map((t) => t.customFields[server.requestKeyFieldId]),
      });
    }
    await hub.services.predictionLog.flush();
    const id = await createConnector(zendeskInput(server, url));
    expect((await sync(id)).status).toBe('SUCCEEDED');

    const hours = (t: FakeTicket) => (t.metrics!.solvedAt! - t.createdAt) / 3600;
    const solved = (g: FakeTicket[]) => g.filter((t) => t.status !== 'deleted' && t.metrics?.solvedAt);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const { kpiSeries } = await hub.gqlOk<{
      kpiSeries: {
        lines: Array<{
          modelVersion: { version: number } | null;
          summary: { count: number; value: number; low: number; high: number };
        }>;
        comparisons: Array<{
          baseline: { version: number };
          candidate: { version: number };
          difference: number;
          low: number;
          high: number;
        }>;
      };
    }>(
      `query($p: String!, $from: DateTimeISO!, $to: DateTimeISO!) {
        kpiSeries(project: $p, kpi: "ticket_handling_time", from: $from, to: $to, granularity: DAY, byModelVersion: true) {
          lines { modelVersion { version } summary { count value low high } buckets { start count value } }
          comparisons { baseline { version } candidate { version } difference low high better worse }
        }
      }`,
      { p: project.slug, from: '2023-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' },
    );
    const line = (v: number | null) => kpiSeries.lines.find((l) => (l.modelVersion?.version ?? null) === v)!;
    for (const [i, group] of groups.entries()) {
      const values = solved(group).map(hours);
      expect(line(i + 1).summary.count).toBe(values.length);
      expect(line(i + 1).summary.value).toBeCloseTo(mean(values), 6);
      expect(line(i + 1).summary.low).toBeLessThan(mean(values));
    }
    const unattributed = solved(server.tickets().filter((t) => !t.customFields[server.requestKeyFieldId]));
    expect(line(null).summary.count).toBe(unattributed.length);
    expect(kpiSeries.comparisons).toHaveLength(1);
    const [cmp] = kpiSeries.comparisons;
    expect(cmp).toMatchObject({ baseline: { version: 1 }, candidate: { version: 2 } });
    expect(cmp.difference).toBeCloseTo(
      mean(solved(groups[1]).map(hours)) - mean(solved(groups[0]).map(hours)),
      6,
    );
    expect(cmp.low).toBeLessThan(cmp.difference);
    expect(cmp.high).toBeGreaterThan(cmp.difference);
    project = shared;
  });
  it('attributes a ticket synced before the prediction that touched it once that prediction is logged', async () => {
    const shared = project;
    project = await newProject();
    try {
      const { server, url } = await fake(400, 44);
      const id = await createConnector(zendeskInput(server, url));
      expect((await sync(id)).status).toBe('SUCCEEDED');
      const points = async () =>
        (await hub.db.query(
          `SELECT count(*) FILTER (WHERE model_version_id IS NOT NULL)::int AS attributed,
                  count(*) FILTER (WHERE request_key IS NOT NULL)::int AS keyed
             FROM kpi_point WHERE project_id = $1`,
          [project.id],
        )) as Array<{ attributed: number; keyed: number }>;
      const [before] = await points();
      expect(before.attributed).toBe(0);
      expect(before.keyed).toBeGreaterThan(0);

      // The bot predicts for those tickets only now; the records do not change in Zendesk.
      const endpoint = await router([[0, 0.1]]);
      const keyed = server.tickets().filter((t) => t.customFields[server.requestKeyFieldId]);
      await hub.gqlOk(PREDICT_BATCH, {
        e: endpoint,
        i: keyed.map((t) => ({ x: t.id })),
        k: keyed.map((t) => t.customFields[server.requestKeyFieldId]),
      });
      await hub.services.predictionLog.flush();
      // The fake's tickets are from 2023: a window wide enough to reach them.
      expect(await hub.services.kpis.reattribute(10_000)).toBe(before.keyed);
      const [after] = await points();
      expect(after).toEqual({ attributed: before.keyed, keyed: before.keyed });
      // Nothing left to do: a second pass attributes nothing.
      expect(await hub.services.kpis.reattribute(10_000)).toBe(0);
    } finally {
      project = shared;
    }
  });
});
