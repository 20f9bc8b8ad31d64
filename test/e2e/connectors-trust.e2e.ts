import { FakeHubspotServer } from '../fakes/hubspot-server';
import { FakeUiPathServer } from '../fakes/uipath-server';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const CREATE = `mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }`;
const SYNC = `mutation($id: ID!) { syncConnector(id: $id) { id status } }`;
const RUN = `query($id: ID!) {
  connector(id: $id) { lastRun { id status error errorKind streams { stream status records error } } }
}`;
const CHECK = 'mutation($id: ID!) { checkConnector(id: $id) { ok message errorKind } }';
const ACT = `mutation($i: RunConnectorActionInput!) { runConnectorAction(input: $i) { externalId stream } }`;

interface Run {
  id: string;
  status: string;
  error: string | null;
  errorKind: string | null;
  streams: Array<{ stream: string; status: string; records: number; error: string | null }>;
}

type Acted = GqlResult<{ runConnectorAction: { externalId: string; stream: string } }>;

/** Faults at the connector boundary: short pages, echoed credentials, concurrent actions with one key. */
describe('connectors under faults and concurrency', () => {
  let hub: TestHub;
  let project: string;
  const closers: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    hub = await startTestHub(
      {},
      {
        services: {
          connectorHttp: { timeoutMs: 2_000, backoffMs: 1, maxBackoffMs: 5, maxRetries: 2 },
          idempotencyClaims: { pollMs: 5 },
        },
      },
    );
    project = unique('trust');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: 'Connector trust' },
    });
  });
  afterAll(async () => {
    await hub.close();
    await Promise.all(closers.map((c) => c.close()));
  });

  async function createConnector(input: Record<string, unknown>): Promise<string> {
    const { createConnector } = await hub.gqlOk<{ createConnector: { id: string } }>(CREATE, {
      i: { project, ...input },
    });
    return createConnector.id;
  }

  async function sync(id: string): Promise<Run> {
    await hub.gqlOk(SYNC, { id });
    for (;;) {
      const { connector } = await hub.gqlOk<{ connector: { lastRun: Run | null } }>(RUN, { id });
      if (connector.lastRun && connector.lastRun.status !== 'RUNNING') return connector.lastRun;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function uipath(): Promise<{ server: FakeUiPathServer; id: string }> {
    const server = new FakeUiPathServer({ jobs: 2, queueItems: 3 });
    closers.push(server);
    const urls = await server.start();
    const id = await createConnector({
      name: unique('uipath'),
      kind: 'uipath',
      config: { ...urls, folderId: server.folderId },
      secrets: { clientId: 'nerve-app', clientSecret: 'fake-client-secret-1234' },
    });
    return { server, id };
  }

  async function zendesk(token?: string): Promise<{ server: FakeZendeskServer; id: string }> {
    const server = new FakeZendeskServer({ tickets: 3 });
    closers.push(server);
    const url = await server.start();
    const id = await createConnector({
      name: unique('zendesk'),
      kind: 'zendesk',
      config: { baseUrl: url, email: server.email },
      secrets: { apiToken: token ?? server.token },
    });
    return { server, id };
  }

  const claimOf = async (key: string) =>
    (
      (await hub.db.query(
        `SELECT state, result IS NOT NULL AS stored FROM idempotency_record
          WHERE scope LIKE 'runConnectorAction:%' AND key = $1`,
        [key],
      )) as Array<{ state: string; stored: boolean }>
    )[0];

  it('syncs every contact when HubSpot serves 3 results a page with a next link', async () => {
    const server = new FakeHubspotServer({ contacts: 57, deals: 8 });
    closers.push(server);
    const url = await server.start();
    server.maxResultsPerPage = 3;
    const id = await createConnector({
      name: unique('hubspot'),
      kind: 'hubspot',
      config: { baseUrl: url, pageSize: 100 },
      secrets: { accessToken: server.token },
    });
    const run = await sync(id);
    expect(run.status).toBe('SUCCEEDED');
    // Records sharing a page's newest timestamp are read again (upserted), so count the rows, not reads.
    expect(run.streams.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const rows = (await hub.db.query('SELECT count(*)::int AS n FROM crm_contact WHERE connector_id = $1', [
      id,
    ])) as Array<{ n: number }>;
    expect(rows[0].n).toBe(57);
    const deals = (await hub.db.query('SELECT count(*)::int AS n FROM crm_deal WHERE connector_id = $1', [
      id,
    ])) as Array<{ n: number }>;
    expect(deals[0].n).toBe(8);
  });

  it('keeps every spelling of an echoed Zendesk token out of the check and the sync run', async () => {
    const token = 'zd/To"ken+with space\\and=0123456789';
    const { server, id } = await zendesk(token);
    server.echoCredentials = true;
    const basic = Buffer.from(`${server.email}/token:${token}`).toString('base64');
    const spellings = [
      token,
      encodeURIComponent(token),
      JSON.stringify(token).slice(1, -1),
      Buffer.from(token).toString('base64'),
      basic,
    ];

    const check = await hub.gql<{ checkConnector: { ok: boolean; message: string; errorKind: string } }>(
      CHECK,
      { id },
    );
    expect(check.data?.checkConnector).toMatchObject({ ok: false, errorKind: 'PERMANENT' });
    expect(check.data?.checkConnector.message).toMatch(/Couldn't authenticate you/);
    const run = await sync(id);
    expect(run).toMatchObject({ status: 'FAILED', errorKind: 'PERMANENT' });
    expect(run.error).toMatch(/answered 401/);
    const stored = (await hub.db.query('SELECT error FROM sync_run WHERE id = $1', [run.id])) as Array<{
      error: string;
    }>;
    for (const text of [JSON.stringify(check), JSON.stringify(run), stored[0].error])
      for (const spelling of spellings) expect(text).not.toContain(spelling);
  });

  it('adds one UiPath queue item for six concurrent actions with one key, and tells all six its id', async () => {
    const { server, id } = await uipath();
    // Claims does not enforce unique references (Orchestrator's default), and the vendor is slow.
    server.addQueueItemDelayMs = 300;
    const key = unique('decision');
    const input = {
      connector: id,
      action: 'addQueueItem',
      input: { queueName: 'Claims', specificContent: { ClaimId: 'CLM-1' } },
      idempotencyKey: key,
    };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => hub.gql(ACT, { i: input }) as Promise<Acted>),
    );
    expect(results.map((r) => r.errors)).toEqual(Array(6).fill(undefined));
    const ids = new Set(results.map((r) => r.data!.runConnectorAction.externalId));
    const stored = server.itemsWithReference('Claims', key);
    expect(stored).toHaveLength(1);
    expect([...ids]).toEqual([String(stored[0].Id)]);
    expect(server.requests.filter((r) => r.path.endsWith('AddQueueItem'))).toHaveLength(1);
    expect(await claimOf(key)).toEqual({ state: 'DONE', stored: true });
    const audits = (await hub.db.query(
      `SELECT count(*)::int AS n FROM audit_event
        WHERE action = 'runConnectorAction' AND subject_id = $1`,
      [id],
    )) as Array<{ n: number }>;
    expect(audits[0].n).toBe(1);
  });

  it('opens one Zendesk ticket for six concurrent createTicket actions with one key', async () => {
    const { server, id } = await zendesk();
    server.createDelayMs = 300;
    const before = server.tickets().length;
    const input = {
      connector: id,
      action: 'createTicket',
      input: { subject: 'Drift on churn model', comment: 'PSI 0.31 on tenure' },
      idempotencyKey: unique('alert'),
    };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => hub.gql(ACT, { i: input }) as Promise<Acted>),
    );
    expect(results.map((r) => r.errors)).toEqual(Array(6).fill(undefined));
    const tickets = server.tickets();
    expect(tickets).toHaveLength(before + 1);
    expect(new Set(results.map((r) => r.data!.runConnectorAction.externalId))).toEqual(
      new Set([String(tickets.at(-1)!.id)]),
    );
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('releases the claim of a failed action, so a retry with the key tries again', async () => {
    const { server, id } = await zendesk();
    const key = unique('alert');
    const input = {
      connector: id,
      action: 'createTicket',
      input: { subject: 'SLA breach', comment: 'p95 over 250 ms' },
      idempotencyKey: key,
    };
    // More 503s than the hub's retries: the first call fails TEMPORARY.
    const unavailable = { kind: 'status', status: 503, body: { error: 'ServiceUnavailable' } } as const;
    server.faults.next(unavailable, unavailable, unavailable);
    const failed = await hub.gql(ACT, { i: input });
    expect(failed.errors?.[0].extensions).toMatchObject({ code: 'UNAVAILABLE', errorKind: 'TEMPORARY' });
    expect(await claimOf(key)).toEqual({ state: 'FAILED', stored: false });

    const before = server.tickets().length;
    const retried = (await hub.gql(ACT, { i: input })) as Acted;
    expect(retried.errors).toBeUndefined();
    expect(server.tickets()).toHaveLength(before + 1);
    expect(retried.data!.runConnectorAction.externalId).toBe(String(server.tickets().at(-1)!.id));
    expect(await claimOf(key)).toEqual({ state: 'DONE', stored: true });
  });

  it('takes over a claim left by a dead process once its lease ran out', async () => {
    const { server, id } = await uipath();
    const key = unique('decision');
    const input = {
      connector: id,
      action: 'addQueueItem',
      input: { queueName: 'Claims' },
      idempotencyKey: key,
    };
    const first = (await hub.gql(ACT, { i: input })) as Acted;
    expect(first.errors).toBeUndefined();
    // A process added the item and died before storing the result: its claim is PENDING, lease over.
    const claimedBy = async (lease: string) =>
      hub.db.query(
        `UPDATE idempotency_record SET state = 'PENDING', result = NULL, claim_id = gen_random_uuid(),
                lease_until = now() + $2::interval
          WHERE scope LIKE 'runConnectorAction:%' AND key = $1`,
        [key, lease],
      );
    await claimedBy('-1 second');
    const again = (await hub.gql(ACT, { i: input })) as Acted;
    expect(again.errors).toBeUndefined();
    // The adapter found the dead call's item by its reference instead of adding a second one.
    expect(again.data!.runConnectorAction.externalId).toBe(first.data!.runConnectorAction.externalId);
    expect(server.itemsWithReference('Claims', key)).toHaveLength(1);
    expect(await claimOf(key)).toEqual({ state: 'DONE', stored: true });
  });

  it('refuses one key reused with other input as CONFLICT, calling nothing', async () => {
    const { server, id } = await uipath();
    const key = unique('decision');
    const input = {
      connector: id,
      action: 'addQueueItem',
      input: { queueName: 'Claims' },
      idempotencyKey: key,
    };
    expect(((await hub.gql(ACT, { i: input })) as Acted).errors).toBeUndefined();
    const requests = server.requests.length;
    const other = await hub.gql(ACT, { i: { ...input, input: { queueName: 'Invoices' } } });
    expect(other.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(server.requests).toHaveLength(requests);
  });

  // A live claim (a call still running elsewhere) is waited on, then answered CONFLICT, not duplicated.
  it('waits a bounded time on a live claim, then answers CONFLICT without calling the vendor', async () => {
    const quick = await startTestHub({}, { services: { idempotencyClaims: { maxWaitMs: 100, pollMs: 5 } } });
    try {
      const server = new FakeUiPathServer({ jobs: 1, queueItems: 1 });
      closers.push(server);
      const urls = await server.start();
      const slug = unique('trust');
      await quick.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
        i: { slug, name: 'Connector trust' },
      });
      const { createConnector: connector } = await quick.gqlOk<{ createConnector: { id: string } }>(CREATE, {
        i: {
          project: slug,
          name: unique('uipath'),
          kind: 'uipath',
          config: { ...urls, folderId: server.folderId },
          secrets: { clientId: 'nerve-app', clientSecret: 'fake-client-secret-1234' },
        },
      });
      const key = unique('decision');
      const input = {
        connector: connector.id,
        action: 'addQueueItem',
        input: { queueName: 'Claims' },
        idempotencyKey: key,
      };
      expect(((await quick.gql(ACT, { i: input })) as Acted).errors).toBeUndefined();
      await quick.db.query(
        `UPDATE idempotency_record SET state = 'PENDING', result = NULL, claim_id = gen_random_uuid(),
                lease_until = now() + interval '1 hour'
          WHERE scope LIKE 'runConnectorAction:%' AND key = $1`,
        [key],
      );
      const requests = server.requests.length;
      const busy = await quick.gql(ACT, { i: input });
      expect(busy.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
      expect(busy.errors?.[0].message).toMatch(/still in progress/);
      expect(server.requests).toHaveLength(requests);
    } finally {
      await quick.close();
    }
  });
});
