import { randomUUID } from 'node:crypto';
import { webhookHeaders } from '../../src/common/standard-webhooks';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { startTestHub, unique, type TestHub } from '../harness';
import { recordSecret } from '../support/run-record';

// Automations over HTTP: vendor webhooks into a connector (verified, de-duplicated, stored), the
// support team's loop they start (predict, then write the routing back to Zendesk once per ticket),
// signed requests into an automation, and signed webhooks out to a receiver.
describe('automations', () => {
  let hub: TestHub;
  let base: string;
  let projectId: string;
  let slug: string;
  let endpoint: string;
  let zendesk: FakeZendeskServer;
  let connectorId: string;
  const webhookSecret = `zendesk-signing-${randomUUID()}`;

  const CREATE = `mutation($i: CreateAutomationInput!) { createAutomation(input: $i) { id } }`;
  const RUNS = `query($a: ID!, $after: String) { automationRuns(automation: $a, first: 100, after: $after) {
    edges { node { id status triggerKey attempts steps { name status output error } } }
    pageInfo { hasNextPage endCursor } } }`;

  type Run = {
    id: string;
    status: string;
    triggerKey: string;
    attempts: number;
    steps: Array<{
      name: string;
      status: string;
      output: Record<string, unknown> | null;
      error: string | null;
    }>;
  };
  type RunsPage = {
    automationRuns: { edges: Array<{ node: Run }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
  };
  /** Every run of an automation, page by page. */
  const runsOf = async (automation: string): Promise<Run[]> => {
    const runs: Run[] = [];
    for (let after: string | null = null; ;) {
      const page: RunsPage = await hub.gqlOk<RunsPage>(RUNS, { a: automation, after });
      runs.push(...page.automationRuns.edges.map((e) => e.node));
      if (!page.automationRuns.pageInfo.hasNextPage) return runs;
      after = page.automationRuns.pageInfo.endCursor;
    }
  };

  /** What the worker does: dispatch the outbox into runs and carry out this project's due runs, until idle. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      while (await hub.services.automationDispatcher.step());
      if ((await hub.services.automationRunner.drain([projectId])) === 0) return;
    }
    throw new Error('automation runs did not settle');
  };

  beforeAll(async () => {
    // Retries at once (the backoff is the runner's, tested with its clock elsewhere); vendor calls once.
    hub = await startTestHub(
      {},
      {
        services: {
          automationRunner: { retryBaseMs: 0, retryMaxMs: 0 },
          connectorHttp: { maxRetries: 0 },
        },
      },
    );
    base = hub.url.replace(/\/graphql$/, '');
    slug = unique('loop');
    projectId = (
      await hub.gqlOk<{ createProject: { id: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        { i: { slug, name: 'Support loop' } },
      )
    ).createProject.id;
    const model = unique('router');
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: slug, name: model, task: 'CLASSIFICATION' } },
    );
    // "yes" exactly for high-priority tickets (b = 1).
    const onnx = linearClassifierOnnx({
      features: 2,
      classes: 2,
      weights: [
        [0, 0],
        [0, 5],
      ],
      bias: [1, 0],
    });
    const sha = await uploadArtifact(hub, onnx, slug);
    await hub.gqlOk('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
      i: { modelId: createModel.id, artifactSha256: sha, featureNames: ['a', 'b'], labels: ['no', 'yes'] },
    });
    endpoint = unique('route');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: slug, name: endpoint, model, version: 1 },
    });
    zendesk = new FakeZendeskServer({ tickets: 0 });
    const url = await zendesk.start();
    recordSecret('Zendesk webhook signing secret', webhookSecret);
    connectorId = (
      await hub.gqlOk<{ createConnector: { id: string } }>(
        'mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }',
        {
          i: {
            project: slug,
            name: unique('zendesk'),
            kind: 'zendesk',
            config: {
              baseUrl: url,
              email: zendesk.email,
              routingFieldId: zendesk.routingFieldId,
              requestKeyFieldId: zendesk.requestKeyFieldId,
            },
            secrets: { apiToken: zendesk.token, webhookSecret },
          },
        },
      )
    ).createConnector.id;
  }, 60_000);
  afterAll(async () => {
    await zendesk?.close();
    await hub?.close();
  });

  const webhookUrl = (): string => `${base}/webhooks/connectors/${connectorId}`;
  const storedTickets = async (): Promise<number> =>
    Number(
      (await hub.db.query('SELECT count(*)::int AS n FROM ticket WHERE connector_id = $1', [connectorId]))[0]
        .n,
    );

  it('refuses what it cannot trust and stores nothing: bad signature, stale, replayed, oversize, unknown connector', async () => {
    const ticket = zendesk.addTicket('never stored');
    const before = await storedTickets();
    const bad = await zendesk.sendWebhook(webhookUrl(), webhookSecret, {
      type: 'ticket.created',
      ticketId: ticket.id,
      badSignature: true,
    });
    expect(bad.status).toBe(401);
    const stale = await zendesk.sendWebhook(webhookUrl(), webhookSecret, {
      type: 'ticket.created',
      ticketId: ticket.id,
      at: new Date(Date.now() - 3_600_000),
    });
    expect(stale.status).toBe(401);
    const wrongSecret = await zendesk.sendWebhook(webhookUrl(), 'not-the-secret', {
      type: 'ticket.created',
      ticketId: ticket.id,
    });
    expect(wrongSecret.status).toBe(401);
    expect(JSON.stringify([bad.body, stale.body, wrongSecret.body])).not.toContain(webhookSecret);
    const unknown = await fetch(`${base}/webhooks/connectors/${randomUUID()}`, {
      method: 'POST',
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    const huge = await fetch(webhookUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    expect(await storedTickets()).toBe(before);

    // Authentic, then the same delivery again: stored once, the replay refused.
    const twice = await zendesk.sendWebhook(webhookUrl(), webhookSecret, {
      type: 'ticket.created',
      ticketId: ticket.id,
      times: 2,
    });
    expect(twice.replies.map((r) => r.status)).toEqual([200, 409]);
    expect(await storedTickets()).toBe(before + 1);
    // An event type the adapter does not model: acknowledged, ignored.
    const other = await zendesk.sendWebhook(webhookUrl(), webhookSecret, {
      type: 'zen:event-type:organization.created',
      ticketId: ticket.id,
    });
    expect(other.status).toBe(200);
    expect(await storedTickets()).toBe(before + 1);
  });

  it('routes tickets delivered by webhook, each once, through 429s and 503s, and attributes handling time to the routing version', async () => {
    const { createAutomation } = await hub.gqlOk<{ createAutomation: { id: string } }>(CREATE, {
      i: {
        project: slug,
        name: unique('route-tickets'),
        trigger: { kind: 'EVENT', event: 'records.synced', connector: connectorId, stream: 'tickets' },
        steps: [
          {
            name: 'score',
            kind: 'PREDICT',
            settings: { endpoint },
            input:
              '{ "input": { "a": $length(record.subject), "b": $lowercase(record.priority) = "high" ? 1 : 0 } }',
          },
          {
            name: 'route',
            kind: 'CONNECTOR_ACTION',
            when: 'steps.score.label = "yes"',
            settings: { connector: connectorId, action: 'updateTicket' },
            input:
              '{ "ticketId": $number(record.externalId), "routing": "urgent", "requestKey": steps.score.requestKey }',
          },
          {
            name: 'review',
            kind: 'CONNECTOR_ACTION',
            when: 'steps.score.label = "no"',
            settings: { connector: connectorId, action: 'updateTicket' },
            input:
              '{ "ticketId": $number(record.externalId), "tags": ["needs-review"], "requestKey": steps.score.requestKey }',
          },
        ],
        maxConcurrentRuns: 8,
        // A fifth of all vendor calls fail below, and a retried update reads the ticket first (two calls).
        maxAttempts: 10,
      },
    });
    const tickets = Array.from({ length: 120 }, (_, i) => {
      const t = zendesk.addTicket(`ticket ${i}`);
      return i % 3 === 0 ? zendesk.modifyTicket(t.id, { priority: 'high' }) : t;
    });
    for (const t of tickets) {
      const sent = await zendesk.sendWebhook(webhookUrl(), webhookSecret, {
        type: 'ticket.created',
        ticketId: t.id,
      });
      expect(sent.status).toBe(200);
    }
    // A fifth of the writes meet a 429 (Retry-After 0) or a 503: those runs retry.
    zendesk.faults.randomly(
      0.2,
      [
        { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
        { kind: 'status', status: 503 },
      ],
      5,
    );
    await settle();
    zendesk.faults.clear();
    await settle();

    const runs = await runsOf(createAutomation.id);
    expect(runs).toHaveLength(tickets.length);
    expect(runs.filter((r) => r.status !== 'SUCCEEDED')).toEqual([]);
    expect(runs.some((r) => r.attempts > 0)).toBe(true);
    for (const t of tickets) {
      // Exactly one update reached Zendesk per ticket, whatever was retried.
      expect(zendesk.updatesOf.get(t.id)).toBe(1);
      const now = zendesk.ticket(t.id)!;
      if (t.priority === 'high') expect(now.customFields[zendesk.routingFieldId]).toBe('urgent');
      else expect(now.tags).toContain('needs-review');
      expect(now.customFields[zendesk.requestKeyFieldId]).toBe(String(t.id));
    }

    // The tickets are solved later; a sync reads them back, with the request keys the routing wrote.
    for (const t of tickets.slice(0, 30)) zendesk.modifyTicket(t.id, { status: 'solved' });
    await hub.gqlOk('mutation($id: ID!) { syncConnector(id: $id) { id } }', { id: connectorId });
    for (let i = 0; i < 500; i++) {
      const { connector } = await hub.gqlOk<{ connector: { lastRun: { status: string } } }>(
        'query($id: ID!) { connector(id: $id) { lastRun { status } } }',
        { id: connectorId },
      );
      if (connector.lastRun.status !== 'RUNNING') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [{ attributed }] = await hub.db.query(
      `SELECT count(*)::int AS attributed FROM kpi_point p JOIN kpi k ON k.id = p.kpi_id
        WHERE k.project_id = $1 AND k.key = 'ticket_handling_time' AND p.model_version_id IS NOT NULL`,
      [projectId],
    );
    expect(attributed).toBe(30);
  });

  it('starts a run from a signed request of any system, once per webhook-id, and signs its own webhooks out', async () => {
    const { createAutomation } = await hub.gqlOk<{ createAutomation: { id: string } }>(CREATE, {
      i: {
        project: slug,
        name: unique('relay'),
        trigger: { kind: 'WEBHOOK', filter: 'webhook.payload.severity = "CRITICAL"' },
        steps: [{ name: 'notify', kind: 'WEBHOOK', settings: { url: 'http://127.0.0.1:1/placeholder' } }],
      },
    });
    const id = createAutomation.id;
    const { automationSigningSecret: secret } = await hub.gqlOk<{ automationSigningSecret: string }>(
      'query($id: ID!) { automationSigningSecret(id: $id) }',
      { id },
    );
    recordSecret('automation signing secret', secret);
    const receiver = new FakeWebhookReceiver({ secrets: [secret] });
    const receiverUrl = await receiver.start();
    try {
      await hub.gqlOk('mutation($i: UpdateAutomationInput!) { updateAutomation(input: $i) { id } }', {
        i: {
          automation: id,
          steps: [
            {
              name: 'notify',
              kind: 'WEBHOOK',
              settings: { url: `${receiverUrl}/hooks/nerve` },
              input: '{ "text": "Critical: " & webhook.payload.title }',
            },
          ],
        },
      });
      const send = (payload: unknown, webhookId: string, signWith = secret) => {
        const body = JSON.stringify(payload);
        return fetch(`${base}/webhooks/automations/${id}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...webhookHeaders(signWith, webhookId, new Date(), body),
          },
          body,
        });
      };
      const critical = { severity: 'CRITICAL', title: 'checkout down' };
      expect((await send(critical, 'msg_1')).status).toBe(202);
      expect((await send(critical, 'msg_1')).status).toBe(409);
      expect((await send({ severity: 'INFO', title: 'fyi' }, 'msg_2')).status).toBe(200);
      expect((await send(critical, 'msg_3', 'whsec_' + Buffer.alloc(32, 7).toString('base64'))).status).toBe(
        401,
      );
      receiver.failNext(500, 1);
      await settle();
      await settle();
      const runs = await runsOf(id);
      expect(runs.map((r) => [r.triggerKey, r.status])).toEqual([['webhook:msg_1', 'SUCCEEDED']]);
      const accepted = receiver.accepted();
      // Retried after the 500 under the same webhook-id: the receiver verified both, accepted one.
      expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
      expect(accepted).toHaveLength(1);
      expect(receiver.attemptsFor(accepted[0].id!)).toBe(2);
      expect(accepted[0].json).toEqual({ text: 'Critical: checkout down' });
    } finally {
      await receiver.close();
    }
  });
});
