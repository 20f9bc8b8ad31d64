import type { Fault } from '../fakes/faults';
import { FakeHubspotServer, type FakeCrmObject, type FakeObjectType } from '../fakes/hubspot-server';
import { FakeUiPathServer } from '../fakes/uipath-server';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const CREATE = `mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }`;
const SYNC = `mutation($id: ID!) { syncConnector(id: $id) { id status } }`;
const RUN = `query($id: ID!) {
  connector(id: $id) {
    lastRun { id status error errorKind streams { stream status pages records error errorKind } }
  }
}`;
const CHECK = 'mutation($id: ID!) { checkConnector(id: $id) { ok message errorKind } }';
const ACT = `mutation($i: RunConnectorActionInput!) { runConnectorAction(input: $i) { externalId stream raw } }`;
const KPIS = `query($p: String!) { kpis(project: $p, first: 100) { edges { node { key aggregation source points } } } }`;
const SERIES = `query($p: String!, $k: String!, $from: DateTimeISO!, $to: DateTimeISO!) {
  kpiSeries(project: $p, kpi: $k, from: $from, to: $to, granularity: DAY) {
    lines { modelVersion { id } summary { count value } buckets { start count value } }
  }
}`;
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

interface Run {
  id: string;
  status: string;
  error: string | null;
  errorKind: string | null;
  streams: Array<{ stream: string; status: string; pages: number; records: number; error: string | null }>;
}

interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

type Row = Record<string, unknown>;
type UiPathRow = ReturnType<FakeUiPathServer['snapshot']>[number];

const FAULTS: Fault[] = [
  { kind: 'status', status: 429, headers: { 'retry-after': '0' }, body: { message: 'Too many requests' } },
  { kind: 'status', status: 500, body: { message: 'An error has occurred.' } },
  { kind: 'status', status: 503, body: { message: 'Service Unavailable' } },
  { kind: 'malformed' },
  { kind: 'reset' },
  { kind: 'hang' },
];

/** The fake Orchestrator's queues of the connector's folder. */
const QUEUE_NAMES: Record<number, string> = { 11: 'Invoices', 12: 'Claims' };
const FROM = '2023-01-01T00:00:00.000Z';
const TO = '2030-01-01T00:00:00.000Z';

const iso = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? new Date(Date.parse(value)).toISOString() : null;
const text = (value: string | null | undefined): string | null => (value ? value : null);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const byId = (a: Row, b: Row): number => Number(a.external_id) - Number(b.external_id);

/** What a crm_contact row must hold: the fake's contact, as HubSpot serves it. */
const expectedContact = (o: FakeCrmObject): Row => ({
  external_id: o.id,
  email: text(o.properties.email),
  first_name: text(o.properties.firstname),
  last_name: text(o.properties.lastname),
  company: text(o.properties.company),
  lifecycle_stage: text(o.properties.lifecyclestage),
  request_key: text(o.properties.nerve_request_key),
  updated_at: new Date(o.modifiedMs).toISOString(),
});

/** A deal is won or lost only once HubSpot says it is closed; until then closedate is only a forecast. */
const expectedDeal = (o: FakeCrmObject): Row => {
  const closed = o.properties.hs_is_closed === 'true';
  return {
    external_id: o.id,
    name: text(o.properties.dealname),
    pipeline: text(o.properties.pipeline),
    stage: text(o.properties.dealstage),
    amount: o.properties.amount ? Number(o.properties.amount) : null,
    won: closed ? o.properties.hs_is_closed_won === 'true' : null,
    closed_at: closed ? iso(o.properties.closedate) : null,
    request_key: text(o.properties.nerve_request_key),
    updated_at: new Date(o.modifiedMs).toISOString(),
  };
};

const expectedJob = (j: UiPathRow): Row => ({
  external_id: String(j.Id),
  state: j.State,
  release_name: (j.ReleaseName as string | null) ?? null,
  robot_name: (j.RobotRef as { Name: string } | undefined)?.Name ?? null,
  request_key:
    (JSON.parse(j.InputArguments as string) as { NerveRequestKey?: string }).NerveRequestKey ?? null,
  created_at: iso(j.CreationTime),
  started_at: iso(j.StartTime),
  ended_at: iso(j.EndTime),
  updated_at: iso(j.LastModificationTime ?? j.CreationTime),
});

const expectedItem = (i: UiPathRow): Row => ({
  external_id: String(i.Id),
  queue_name: QUEUE_NAMES[i.QueueDefinitionId as number] ?? null,
  reference: (i.Reference as string | null) ?? null,
  status: i.Status,
  priority: (i.Priority as string | null) ?? null,
  request_key: (i.SpecificContent as { NerveRequestKey?: string }).NerveRequestKey ?? null,
  created_at: iso(i.CreationTime),
  started_at: iso(i.StartProcessing),
  ended_at: iso(i.EndProcessing),
  updated_at: iso(i.LastModificationTime ?? i.CreationTime),
});

/**
 * Expires every token the fake issued as it receives its nth Orchestrator requests: a token dies
 * mid-sync at a fixed point, whatever the timing.
 */
function expireTokensAt(server: FakeUiPathServer, at: number[]): void {
  const apply = server.faults.apply.bind(server.faults);
  let seen = 0;
  server.faults.apply = (res, hung) => {
    seen++;
    if (at.includes(seen)) server.expireTokens();
    return apply(res, hung);
  };
}

describe('vendor connectors (HubSpot, UiPath)', () => {
  let hub: TestHub;
  const closers: Array<{ close(): Promise<void> }> = [];

  const failure = (res: GqlResult<unknown>) => {
    expect(res.errors).toHaveLength(1);
    return { ...res.errors![0].extensions, message: res.errors![0].message };
  };

  async function newProject(): Promise<string> {
    const slug = unique('vendors');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug, name: 'Vendor connectors' },
    });
    return slug;
  }

  async function hubspotFake(options: ConstructorParameters<typeof FakeHubspotServer>[0]) {
    const server = new FakeHubspotServer(options);
    closers.push(server);
    return { server, url: await server.start() };
  }

  async function uipathFake(options: ConstructorParameters<typeof FakeUiPathServer>[0]) {
    const server = new FakeUiPathServer(options);
    closers.push(server);
    return { server, urls: await server.start() };
  }

  const hubspotInput = (project: string, server: FakeHubspotServer, url: string) => ({
    project,
    name: unique('hubspot'),
    kind: 'hubspot',
    config: { baseUrl: url, pageSize: 100 },
    secrets: { accessToken: server.token },
  });

  const uipathInput = (
    project: string,
    server: FakeUiPathServer,
    urls: { orchestratorUrl: string; identityUrl: string },
    secrets: Record<string, string> = {},
  ) => ({
    project,
    name: unique('uipath'),
    kind: 'uipath',
    config: { ...urls, folderId: server.folderId, pageSize: 100 },
    secrets: { clientId: 'nerve-app', clientSecret: 'fake-client-secret-1234', ...secrets },
  });

  async function createConnector(input: Record<string, unknown>): Promise<string> {
    return (await hub.gqlOk<{ createConnector: { id: string } }>(CREATE, { i: input })).createConnector.id;
  }

  async function sync(id: string): Promise<Run> {
    await hub.gqlOk(SYNC, { id });
    for (;;) {
      const { connector } = await hub.gqlOk<{ connector: { lastRun: Run | null } }>(RUN, { id });
      if (connector.lastRun && connector.lastRun.status !== 'RUNNING') return connector.lastRun;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const records = (run: Run, stream: string): number => run.streams.find((s) => s.stream === stream)!.records;

  /** A synced table's rows of one connector, dates as ISO strings, by vendor id. */
  async function table(name: string, columns: string[], connectorId: string): Promise<Row[]> {
    const rows = (await hub.db.query(
      `SELECT ${columns.join(', ')} FROM ${name} WHERE connector_id = $1 ORDER BY external_id::bigint`,
      [connectorId],
    )) as Row[];
    return rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v] as const),
      ),
    );
  }

  const crmTables = async (id: string, server: FakeHubspotServer) => {
    const contacts = [...server.objects.contacts.values()].map(expectedContact).sort(byId);
    const deals = [...server.objects.deals.values()].map(expectedDeal).sort(byId);
    return {
      contacts: { actual: await table('crm_contact', Object.keys(contacts[0]), id), expected: contacts },
      deals: { actual: await table('crm_deal', Object.keys(deals[0]), id), expected: deals },
    };
  };

  const rpaTables = async (id: string, server: FakeUiPathServer) => {
    const jobs = server.snapshot('jobs').map(expectedJob).sort(byId);
    const items = server.snapshot('queueItems').map(expectedItem).sort(byId);
    return {
      jobs: { actual: await table('rpa_job', Object.keys(jobs[0]), id), expected: jobs },
      items: { actual: await table('rpa_queue_item', Object.keys(items[0]), id), expected: items },
    };
  };

  /** Every page of a Relay connection, checking pageInfo on the way. */
  async function allPages<N>(
    query: string,
    field: string,
    variables: Record<string, unknown>,
    first: number,
  ): Promise<{ nodes: N[]; pages: number }> {
    const nodes: N[] = [];
    let after: string | null = null;
    for (let pages = 1; ; pages++) {
      const data: Record<string, { edges: Array<{ cursor: string; node: N }>; pageInfo: PageInfo }> =
        await hub.gqlOk(query, { ...variables, first, after });
      const { edges, pageInfo } = data[field];
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      nodes.push(...edges.map((e) => e.node));
      if (!pageInfo.hasNextPage) return { nodes, pages };
      expect(edges).toHaveLength(first);
      after = pageInfo.endCursor;
    }
  }

  async function series(project: string, kpi: string) {
    const { kpiSeries } = await hub.gqlOk<{
      kpiSeries: {
        lines: Array<{
          modelVersion: unknown;
          summary: { count: number; value: number };
          buckets: Array<{ start: string; count: number; value: number }>;
        }>;
      };
    }>(SERIES, { p: project, k: kpi, from: FROM, to: TO });
    expect(kpiSeries.lines).toHaveLength(1);
    expect(kpiSeries.lines[0].modelVersion).toBeNull();
    return kpiSeries.lines[0];
  }

  async function kpis(project: string) {
    const { kpis } = await hub.gqlOk<{
      kpis: { edges: Array<{ node: { key: string; aggregation: string; source: string; points: number } }> };
    }>(KPIS, { p: project });
    return kpis.edges.map((e) => e.node);
  }

  /** Expected daily buckets of points (time, value): per UTC day, the count and the mean or the sum. */
  function daily(points: Array<{ time: string; value: number }>, sum: boolean) {
    const days = new Map<string, number[]>();
    for (const p of points) {
      const day = `${p.time.slice(0, 10)}T00:00:00.000Z`;
      days.set(day, [...(days.get(day) ?? []), p.value]);
    }
    return [...days.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([start, values]) => ({
        start,
        count: values.length,
        value: sum ? values.reduce((a, b) => a + b, 0) : mean(values),
      }));
  }

  function expectBuckets(
    actual: Array<{ start: string; count: number; value: number }>,
    expected: Array<{ start: string; count: number; value: number }>,
  ): void {
    expect(actual.map((b) => [b.start, b.count])).toEqual(expected.map((b) => [b.start, b.count]));
    for (const [i, b] of expected.entries()) expect(actual[i].value).toBeCloseTo(b.value, 9);
  }

  /** deal_conversion_rate against the fake: closed deals only, won = 1, on the day they closed. */
  async function expectDealConversion(project: string, server: FakeHubspotServer): Promise<void> {
    const closed = [...server.objects.deals.values()].map(expectedDeal).filter((d) => d.won !== null);
    const points = closed.map((d) => ({
      time: (d.closed_at ?? d.updated_at) as string,
      value: d.won ? 1 : 0,
    }));
    const won = closed.filter((d) => d.won).length;
    const line = await series(project, 'deal_conversion_rate');
    expect(line.summary.count).toBe(closed.length);
    expect(line.summary.value).toBeCloseTo(won / closed.length, 9);
    expectBuckets(line.buckets, daily(points, false));
  }

  beforeAll(async () => {
    hub = await startTestHub(
      {},
      { services: { connectorHttp: { timeoutMs: 300, backoffMs: 1, maxBackoffMs: 5, maxRetries: 12 } } },
    );
  });
  afterAll(async () => {
    await hub.close();
    await Promise.all(closers.map((c) => c.close()));
  });

  describe('HubSpot', () => {
    it('syncs thousands of contacts and deals through faults, each once, then only what changed', async () => {
      const project = await newProject();
      const { server, url } = await hubspotFake({ contacts: 2_500, deals: 3_000, seed: 17 });
      server.faults.randomly(0.15, FAULTS, 5);
      const id = await createConnector(hubspotInput(project, server, url));

      const first = await sync(id);
      expect(first).toMatchObject({ status: 'SUCCEEDED', error: null, errorKind: null });
      expect(first.streams.map((s) => [s.stream, s.status])).toEqual([
        ['contacts', 'SUCCEEDED'],
        ['deals', 'SUCCEEDED'],
      ]);
      expect(Object.values(server.faults.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
      let tables = await crmTables(id, server);
      expect(tables.contacts.actual).toHaveLength(2_500);
      expect(tables.contacts.actual).toEqual(tables.contacts.expected);
      expect(tables.deals.actual).toHaveLength(3_000);
      expect(tables.deals.actual).toEqual(tables.deals.expected);
      await expectDealConversion(project, server);

      // Changes in HubSpot: single edits, one bulk edit (a tie), an open deal won, a won deal reopened,
      // a lost one won, and a new contact.
      const newest = (type: FakeObjectType) =>
        Math.max(...[...server.objects[type].values()].map((o) => o.modifiedMs));
      const since = { contacts: newest('contacts'), deals: newest('deals') };
      const atSince = (type: FakeObjectType) =>
        [...server.objects[type].values()].filter((o) => o.modifiedMs === since[type]).length;
      const ties = { contacts: atSince('contacts'), deals: atSince('deals') };
      const deals = [...server.objects.deals.values()];
      const open = deals.find((d) => d.properties.hs_is_closed === 'false')!;
      const won = deals.find((d) => d.properties.hs_is_closed_won === 'true')!;
      const lost = deals.find(
        (d) => d.properties.hs_is_closed === 'true' && d.properties.hs_is_closed_won === 'false',
      )!;
      server.update('contacts', '4', { lifecyclestage: 'customer', company: 'Acme' });
      server.update('contacts', '900', { email: '', firstname: 'Renamed' });
      server.bulkUpdate('contacts', ['10', '11', '12', '13'], { lifecyclestage: 'opportunity' });
      server.create('contacts', { email: 'new@example.com', firstname: 'New', lastname: 'Person' });
      server.update('deals', open.id, {
        dealstage: 'closedwon',
        hs_is_closed: 'true',
        hs_is_closed_won: 'true',
        closedate: '2024-07-15T09:30:00.000Z',
      });
      server.update('deals', won.id, {
        dealstage: 'contractsent',
        hs_is_closed: 'false',
        hs_is_closed_won: 'false',
      });
      server.update('deals', lost.id, {
        dealstage: 'closedwon',
        hs_is_closed_won: 'true',
        amount: '4321.50',
        closedate: '2024-07-16T00:00:00.000Z',
      });

      const mark = server.requests.length;
      const second = await sync(id);
      expect(second).toMatchObject({ status: 'SUCCEEDED', error: null });
      // Read again: the changes, plus the records sharing the newest instant already read (GTE keyset).
      expect(records(second, 'contacts')).toBe(2 + 4 + 1 + ties.contacts);
      expect(records(second, 'deals')).toBe(3 + ties.deals);
      expect(
        server.requests
          .slice(mark)
          .filter((r) => r.outcome === 200)
          .map((r) => r.filters),
      ).toEqual([[`lastmodifieddate GTE ${since.contacts}`], [`hs_lastmodifieddate GTE ${since.deals}`]]);
      tables = await crmTables(id, server);
      expect(tables.contacts.actual).toHaveLength(2_501);
      expect(tables.contacts.actual).toEqual(tables.contacts.expected);
      expect(tables.deals.actual).toEqual(tables.deals.expected);
      expect(tables.deals.actual.find((d) => d.external_id === open.id)).toMatchObject({
        won: true,
        closed_at: '2024-07-15T09:30:00.000Z',
      });
      expect(tables.deals.actual.find((d) => d.external_id === won.id)).toMatchObject({
        won: null,
        closed_at: null,
      });
      await expectDealConversion(project, server);
    }, 180_000);

    it('serves synced contacts and deals filtered and Relay-paged, and derives deal conversion', async () => {
      const project = await newProject();
      const { server, url } = await hubspotFake({ contacts: 300, deals: 400, seed: 23 });
      const id = await createConnector(hubspotInput(project, server, url));
      expect((await sync(id)).status).toBe('SUCCEEDED');

      const DEALS = `query($p: String!, $won: Boolean, $first: Int, $after: String) {
        crmDeals(project: $p, won: $won, first: $first, after: $after) {
          edges { cursor node { externalId connectorId won stage amount closedAt updatedAt } } ${PAGE_INFO}
        }
      }`;
      type Deal = { externalId: string; connectorId: string; won: boolean | null; updatedAt: string };
      const expected = [...server.objects.deals.values()].map(expectedDeal);
      for (const flag of [true, false]) {
        const { nodes, pages } = await allPages<Deal>(DEALS, 'crmDeals', { p: project, won: flag }, 25);
        const want = expected.filter((d) => d.won === flag).map((d) => d.external_id as string);
        expect(want.length).toBeGreaterThan(50);
        expect(pages).toBe(Math.ceil(want.length / 25));
        expect(nodes.map((n) => n.externalId).sort()).toEqual(want.sort());
        expect(new Set(nodes.map((n) => n.externalId)).size).toBe(nodes.length);
        expect(nodes.every((n) => n.won === flag && n.connectorId === id)).toBe(true);
        // Most recently changed first.
        const times = nodes.map((n) => Date.parse(n.updatedAt));
        expect(times).toEqual([...times].sort((a, b) => b - a));
      }
      const all = await allPages<Deal>(DEALS, 'crmDeals', { p: project }, 100);
      expect(all.nodes).toHaveLength(400);

      const CONTACTS = `query($p: String!, $email: String, $first: Int, $after: String) {
        crmContacts(project: $p, email: $email, first: $first, after: $after) {
          edges { cursor node { externalId email firstName lastName company lifecycleStage requestKey } } ${PAGE_INFO}
        }
      }`;
      const contact = [...server.objects.contacts.values()].find(
        (c) => c.properties.email === 'contact42@example.com',
      )!;
      const { nodes } = await allPages<Row>(
        CONTACTS,
        'crmContacts',
        { p: project, email: 'Contact42@EXAMPLE.com' },
        10,
      );
      expect(nodes).toEqual([
        {
          externalId: contact.id,
          email: 'contact42@example.com',
          firstName: 'First42',
          lastName: 'Last42',
          company: 'Company 2',
          lifecycleStage: contact.properties.lifecyclestage,
          requestKey: 'req-contacts-42',
        },
      ]);
      expect(
        (await allPages<Row>(CONTACTS, 'crmContacts', { p: project, email: 'nobody@example.com' }, 10)).nodes,
      ).toEqual([]);

      expect(failure(await hub.gql(DEALS, { p: project, first: 10, after: 'not-a-cursor' }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'after',
      });

      const derived = await kpis(project);
      const conversion = derived.find((k) => k.key === 'deal_conversion_rate');
      expect(conversion).toMatchObject({ aggregation: 'MEAN', source: 'DERIVED' });
      expect(conversion!.points).toBe(expected.filter((d) => d.won !== null).length);
      await expectDealConversion(project, server);
    }, 120_000);
  });

  describe('UiPath', () => {
    it('syncs thousands of jobs and queue items through faults and an expired token, then only what changed', async () => {
      const project = await newProject();
      const { server, urls } = await uipathFake({ jobs: 2_500, queueItems: 3_000, seed: 4 });
      server.faults.randomly(0.15, FAULTS, 9);
      expireTokensAt(server, [20, 45]);
      const id = await createConnector(uipathInput(project, server, urls));

      const first = await sync(id);
      expect(first).toMatchObject({ status: 'SUCCEEDED', error: null, errorKind: null });
      expect(first.streams.map((s) => [s.stream, s.status])).toEqual([
        ['jobs', 'SUCCEEDED'],
        ['queueItems', 'SUCCEEDED'],
      ]);
      expect(Object.values(server.faults.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
      // Each expired token was answered 401 once, then replaced; the sync went on.
      expect(server.unauthenticated).toBe(2);
      expect(server.tokensIssued).toBe(3);
      // The other folder's records never leak in.
      expect(server.requests.filter((r) => r.path.includes('/odata/')).every((r) => r.folder === '7')).toBe(
        true,
      );
      let tables = await rpaTables(id, server);
      expect(tables.jobs.actual).toHaveLength(2_500);
      expect(tables.jobs.actual).toEqual(tables.jobs.expected);
      expect(tables.items.actual).toHaveLength(3_000);
      expect(tables.items.actual).toEqual(tables.items.expected);

      // Changes in Orchestrator, each batch in one transaction (a shared LastModificationTime): jobs
      // faulted and stopped on other days, queue items processed on other days, a new job.
      const jobs = server.ids('jobs');
      const items = server.ids('queueItems');
      server.modifyJobs(jobs.slice(0, 7), () => ({
        State: 'Faulted',
        EndTime: '2024-01-02T08:00:00.1234567Z',
      }));
      server.modifyJobs(jobs.slice(100, 103), () => ({
        State: 'Stopped',
        EndTime: '2024-01-03T23:59:59.9999999Z',
      }));
      server.modifyJobs(jobs.slice(200, 205), () => ({ EndTime: '2024-01-03T10:00:00.0000001Z' }));
      server.modifyQueueItems(items.slice(0, 12), () => ({ EndProcessing: '2024-01-03T12:00:00.0000000Z' }));
      server.modifyQueueItems(items.slice(500, 509), () => ({
        EndProcessing: '2024-01-05T00:00:00.0000000Z',
      }));
      server.modifyQueueItems(items.slice(900, 904), (item) => ({
        Status: 'Failed',
        EndProcessing: '2024-01-05T01:00:00.0000000Z',
        SpecificContent: { ...(item.SpecificContent as object), NerveRequestKey: `late-${item.Id}` },
      }));
      server.addJob({
        ReleaseName: 'KYC_Check',
        InputArguments: JSON.stringify({ NerveRequestKey: 'req-new-job' }),
      });

      const second = await sync(id);
      expect(second).toMatchObject({ status: 'SUCCEEDED', error: null });
      // Keyset (LastModificationTime, Id) strictly after the last row read: only the changes.
      expect(records(second, 'jobs')).toBe(7 + 3 + 5 + 1);
      expect(records(second, 'queueItems')).toBe(12 + 9 + 4);
      tables = await rpaTables(id, server);
      expect(tables.jobs.actual).toHaveLength(2_501);
      expect(tables.jobs.actual).toEqual(tables.jobs.expected);
      expect(tables.items.actual).toEqual(tables.items.expected);

      // Derived KPIs follow the vendor's records.
      const derived = await kpis(project);
      expect(derived.map((k) => [k.key, k.aggregation, k.source])).toEqual([
        ['queue_item_throughput', 'SUM', 'DERIVED'],
        ['rpa_job_success_rate', 'MEAN', 'DERIVED'],
      ]);
      const finished = tables.jobs.expected.filter(
        (j) => j.ended_at !== null && ['Successful', 'Faulted', 'Stopped'].includes(j.state as string),
      );
      const jobPoints = finished.map((j) => ({
        time: j.ended_at as string,
        value: j.state === 'Successful' ? 1 : 0,
      }));
      const success = await series(project, 'rpa_job_success_rate');
      expect(success.summary.count).toBe(finished.length);
      expect(success.summary.value).toBeCloseTo(mean(jobPoints.map((p) => p.value)), 9);
      expectBuckets(success.buckets, daily(jobPoints, false));
      expect(success.buckets.map((b) => b.start)).toEqual([
        '2024-01-01T00:00:00.000Z',
        '2024-01-02T00:00:00.000Z',
        '2024-01-03T00:00:00.000Z',
      ]);

      const processed = tables.items.expected.filter((i) => i.status === 'Successful' && i.ended_at !== null);
      const perDay = daily(
        processed.map((i) => ({ time: i.ended_at as string, value: 1 })),
        true,
      );
      expect(perDay.map((b) => b.start)).toEqual([
        '2024-01-01T00:00:00.000Z',
        '2024-01-03T00:00:00.000Z',
        '2024-01-05T00:00:00.000Z',
      ]);
      expect(perDay.slice(1).map((b) => b.value)).toEqual([12, 9]);
      const throughput = await series(project, 'queue_item_throughput');
      expect(throughput.summary.count).toBe(processed.length);
      // SUM: a bucket is the day's count; the summary is the mean daily count.
      expectBuckets(throughput.buckets, perDay);
      expect(throughput.summary.value).toBeCloseTo(mean(perDay.map((b) => b.value)), 9);
      expect(derived.find((k) => k.key === 'queue_item_throughput')!.points).toBe(processed.length);
    }, 180_000);

    it('serves synced jobs and queue items filtered by state and status', async () => {
      const project = await newProject();
      const { server, urls } = await uipathFake({ jobs: 400, queueItems: 600, seed: 12 });
      const id = await createConnector(uipathInput(project, server, urls));
      expect((await sync(id)).status).toBe('SUCCEEDED');

      const JOBS = `query($p: String!, $states: [String!], $first: Int, $after: String) {
        rpaJobs(project: $p, states: $states, first: $first, after: $after) {
          edges { cursor node { externalId state releaseName robotName requestKey } } ${PAGE_INFO}
        }
      }`;
      const jobs = server.snapshot('jobs').map(expectedJob);
      for (const states of [['Faulted', 'Stopped'], ['Pending'], ['Successful']]) {
        const { nodes } = await allPages<Row>(JOBS, 'rpaJobs', { p: project, states }, 30);
        const want = jobs.filter((j) => states.includes(j.state as string));
        expect(want.length).toBeGreaterThan(30);
        expect(nodes.map((n) => n.externalId).sort()).toEqual(want.map((j) => j.external_id).sort());
        const one = want[want.length >> 1];
        expect(nodes.find((n) => n.externalId === one.external_id)).toEqual({
          externalId: one.external_id,
          state: one.state,
          releaseName: one.release_name,
          robotName: one.robot_name,
          requestKey: one.request_key,
        });
      }

      const ITEMS = `query($p: String!, $statuses: [String!], $queue: String, $first: Int, $after: String) {
        queueItems(project: $p, statuses: $statuses, queueName: $queue, first: $first, after: $after) {
          edges { cursor node { externalId status queueName reference } } ${PAGE_INFO}
        }
      }`;
      const items = server.snapshot('queueItems').map(expectedItem);
      for (const [statuses, queue] of [
        [['Successful'], null],
        [['Failed', 'Abandoned'], null],
        [['New'], 'Claims'],
      ] as const) {
        const { nodes } = await allPages<Row>(ITEMS, 'queueItems', { p: project, statuses, queue }, 40);
        const want = items.filter(
          (i) =>
            (statuses as readonly string[]).includes(i.status as string) &&
            (queue === null || i.queue_name === queue),
        );
        expect(want.length).toBeGreaterThan(20);
        expect(nodes.map((n) => n.externalId).sort()).toEqual(want.map((i) => i.external_id).sort());
        expect(nodes.every((n) => (statuses as readonly string[]).includes(n.status as string))).toBe(true);
      }
    }, 120_000);

    it('adds a queue item for a model decision once, and syncs it back with its request key', async () => {
      const project = await newProject();
      const { server, urls } = await uipathFake({ jobs: 20, queueItems: 30, seed: 3 });
      const id = await createConnector(uipathInput(project, server, urls));
      const input = {
        connector: id,
        action: 'addQueueItem',
        input: {
          queueName: 'Claims',
          specificContent: { ClaimId: 'CLM-77', Amount: 120.5, Urgent: true },
          requestKey: 'req-decision-77',
        },
        idempotencyKey: 'decision-77',
      };
      // The first reply is lost after Orchestrator stored the item (a queue without unique references).
      server.loseAddQueueItemReplies = 1;
      const first = (
        await hub.gqlOk<{ runConnectorAction: { externalId: string; stream: string } }>(ACT, { i: input })
      ).runConnectorAction;
      const again = (await hub.gqlOk<{ runConnectorAction: { externalId: string } }>(ACT, { i: input }))
        .runConnectorAction;
      expect(server.loseAddQueueItemReplies).toBe(0);
      expect(first.stream).toBe('queueItems');
      expect(again.externalId).toBe(first.externalId);
      const stored = server.itemsWithReference('Claims', 'decision-77');
      expect(stored).toHaveLength(1);
      expect(String(stored[0].Id)).toBe(first.externalId);
      expect(stored[0].SpecificContent).toEqual({
        ClaimId: 'CLM-77',
        Amount: 120.5,
        Urgent: true,
        NerveRequestKey: 'req-decision-77',
      });
      expect(server.snapshot('queueItems')).toHaveLength(31);

      expect((await sync(id)).status).toBe('SUCCEEDED');
      const [row] = (await hub.db.query(
        'SELECT queue_name, reference, status, request_key FROM rpa_queue_item WHERE connector_id = $1 AND external_id = $2',
        [id, first.externalId],
      )) as Row[];
      expect(row).toEqual({
        queue_name: 'Claims',
        reference: 'decision-77',
        status: 'New',
        request_key: 'req-decision-77',
      });
      const { queueItems } = await hub.gqlOk<{
        queueItems: { edges: Array<{ node: { externalId: string } }> };
      }>(
        'query($p: String!, $k: String) { queueItems(project: $p, requestKey: $k) { edges { node { externalId } } } }',
        { p: project, k: 'req-decision-77' },
      );
      expect(queueItems.edges.map((e) => e.node.externalId)).toEqual([first.externalId]);

      expect(
        failure(
          await hub.gql(ACT, { i: { ...input, idempotencyKey: null, input: { queueName: 'Nowhere' } } }),
        ),
      ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.queueName' });
      expect(server.snapshot('queueItems')).toHaveLength(31);
    }, 60_000);
  });

  describe('config and credentials', () => {
    it('refuses a bad config or secret naming the field, for HubSpot and UiPath, and writes nothing', async () => {
      const project = await newProject();
      const { server: hs, url } = await hubspotFake({ contacts: 1, deals: 1 });
      const { server: ui, urls } = await uipathFake({ jobs: 1, queueItems: 1 });
      const count = async () =>
        (
          (await hub.db.query(
            'SELECT count(*)::int AS n FROM connector c JOIN project p ON p.id = c.project_id WHERE p.slug = $1',
            [project],
          )) as Array<{ n: number }>
        )[0].n;
      const before = await count();
      const hubspot = hubspotInput(project, hs, url);
      const uipath = uipathInput(project, ui, urls);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...hubspot, config: { baseUrl: 'not a url' } }, 'config.baseUrl'],
        [{ ...hubspot, config: { baseUrl: 'ftp://127.0.0.1/' } }, 'config.baseUrl'],
        [{ ...hubspot, config: { baseUrl: url, pageSize: 500 } }, 'config.pageSize'],
        [{ ...hubspot, config: { baseUrl: url, pageSize: 'ten' } }, 'config.pageSize'],
        [{ ...hubspot, config: { baseUrl: url, portalId: 42 } }, 'config.portalId'],
        [{ ...hubspot, secrets: {} }, 'secrets.accessToken'],
        [{ ...uipath, config: { ...uipath.config, folderId: undefined } }, 'config.folderId'],
        [{ ...uipath, config: { ...uipath.config, folderId: 0 } }, 'config.folderId'],
        [{ ...uipath, config: { ...uipath.config, folderId: 7.5 } }, 'config.folderId'],
        [
          { ...uipath, config: { ...uipath.config, orchestratorUrl: 'orchestrator' } },
          'config.orchestratorUrl',
        ],
        [
          { ...uipath, config: { ...uipath.config, identityUrl: 'http://app:secret@127.0.0.1/identity_' } },
          'config.identityUrl',
        ],
        [{ ...uipath, config: { ...uipath.config, pageSize: 5_000 } }, 'config.pageSize'],
        [{ ...uipath, config: { ...uipath.config, tenant: 'x' } }, 'config.tenant'],
        [{ ...uipath, secrets: { clientId: 'nerve-app' } }, 'secrets.clientSecret'],
      ];
      for (const [input, field] of cases) {
        const res = await hub.gql(CREATE, { i: input });
        expect([field, failure(res)]).toMatchObject([field, { code: 'BAD_USER_INPUT', field }]);
        expect(JSON.stringify(res)).not.toContain(hs.token);
        expect(JSON.stringify(res)).not.toContain('fake-client-secret-1234');
      }
      expect(await count()).toBe(before);
    });

    it('fails the check of a wrong UiPath client secret as PERMANENT without echoing it', async () => {
      const project = await newProject();
      const { server, urls } = await uipathFake({ jobs: 5, queueItems: 5 });
      const wrong = 'wrong-client-secret-5f2a91';
      const bad = await createConnector(uipathInput(project, server, urls, { clientSecret: wrong }));
      const good = await createConnector(uipathInput(project, server, urls));
      const res = await hub.gql<{ checkConnector: { ok: boolean; message: string; errorKind: string } }>(
        CHECK,
        {
          id: bad,
        },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.checkConnector).toMatchObject({ ok: false, errorKind: 'PERMANENT' });
      expect(res.data!.checkConnector.message).toMatch(/client credentials were refused/);
      expect(JSON.stringify(res)).not.toContain(wrong);
      expect(server.tokensIssued).toBe(0);

      const run = await sync(bad);
      expect(run).toMatchObject({ status: 'FAILED', errorKind: 'PERMANENT' });
      expect(JSON.stringify(run)).not.toContain(wrong);

      expect((await hub.gqlOk<{ checkConnector: unknown }>(CHECK, { id: good })).checkConnector).toEqual({
        ok: true,
        message: 'ok',
        errorKind: null,
      });
      // A folder the application cannot see is named as the config field to fix.
      const elsewhere = await createConnector({
        ...uipathInput(project, server, urls),
        config: { ...urls, folderId: 99 },
      });
      const folder = (
        await hub.gqlOk<{ checkConnector: { ok: boolean; message: string; errorKind: string } }>(CHECK, {
          id: elsewhere,
        })
      ).checkConnector;
      expect(folder).toMatchObject({ ok: false, errorKind: 'PERMANENT' });
      expect(folder.message).toMatch(/folder 99/);
    });
  });
});
