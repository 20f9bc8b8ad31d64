import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { startTestHub, unique, type TestHub } from '../harness';
import { startHubProcess, type HubProcess } from '../support/hub-process';
import { ownDatabase, type OwnDatabase } from '../support/own-database';
import { recordSecret } from '../support/run-record';

const realPostgres = process.env.NERVE_TEST_EMBEDDED !== '1';
const TICKETS = 1_000;

// The support team's loop through a crash: 1,000 tickets delivered by signed webhooks to a hub process
// that routes them (predict, then updateTicket), SIGKILLed mid-burst while updates are in flight (Zendesk
// applies them and answers late); a second process takes the runs over. Every ticket is routed, and
// Zendesk applies exactly one update per ticket: Zendesk takes no idempotency key for updates, so a step
// resumed from a dead process's claim reads the ticket first and finds its update already there.
// Its own database: the worker processes would otherwise carry out other suites' runs. PostgreSQL only
// (the embedded database is one in-process server the test processes share).
(realPostgres ? describe : describe.skip)('automations through a hub killed mid-burst', () => {
  let own: OwnDatabase | undefined;
  let url: string;
  let hub: TestHub;
  let zendesk: FakeZendeskServer;
  const processes: HubProcess[] = [];
  const webhookSecret = `zendesk-signing-${randomUUID()}`;
  const secretKey = randomBytes(32).toString('base64');

  beforeAll(async () => {
    own = await ownDatabase('crash');
    url = own.url;
    // Arranges data and reads results; its scheduler is off, so it carries out no run itself.
    hub = await startTestHub({ databaseUrl: url, secretKey });
    zendesk = new FakeZendeskServer({ tickets: 0 });
    recordSecret('Zendesk webhook signing secret', webhookSecret);
  }, 60_000);

  afterAll(async () => {
    for (const p of processes)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    for (const p of processes) fs.rmSync(p.dataDir, { recursive: true, force: true });
    await zendesk?.close();
    await hub?.close();
    await own?.drop();
  });

  /** A hub process with the worker running automations, short leases so a dead one's runs move on soon. */
  const worker = async (): Promise<HubProcess> => {
    const started = await startHubProcess({
      DATABASE_URL: url,
      NERVE_SECRET_KEY: secretKey,
      // The artifact store is a local folder: every process reads the model from the arranging hub's.
      NERVE_DATA_DIR: hub.services.config.dataDir,
      NERVE_SCHEDULER: 'true',
      NERVE_AUTOMATION_LEASE_SECONDS: '2',
      NERVE_CLAIM_LEASE_SECONDS: '2',
    });
    processes.push(started);
    return started;
  };

  it('routes every ticket once, with one update applied per ticket, across a SIGKILL', async () => {
    const slug = unique('crash');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug, name: 'Crash' },
    });
    const model = unique('router');
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: slug, name: model, task: 'CLASSIFICATION' } },
    );
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 2 }), slug);
    await hub.gqlOk('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
      i: {
        modelId: createModel.id,
        artifactSha256: sha,
        featureNames: ['a', 'b'],
        labels: ['billing', 'tech'],
      },
    });
    const endpoint = unique('route');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: slug, name: endpoint, model, version: 1 },
    });
    const zendeskUrl = await zendesk.start();
    const { createConnector } = await hub.gqlOk<{ createConnector: { id: string } }>(
      'mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }',
      {
        i: {
          project: slug,
          name: unique('zendesk'),
          kind: 'zendesk',
          config: {
            baseUrl: zendeskUrl,
            email: zendesk.email,
            routingFieldId: zendesk.routingFieldId,
            requestKeyFieldId: zendesk.requestKeyFieldId,
          },
          secrets: { apiToken: zendesk.token, webhookSecret },
        },
      },
    );
    const connector = createConnector.id;
    const { createAutomation } = await hub.gqlOk<{ createAutomation: { id: string } }>(
      'mutation($i: CreateAutomationInput!) { createAutomation(input: $i) { id } }',
      {
        i: {
          project: slug,
          name: 'route-tickets',
          trigger: { kind: 'EVENT', event: 'records.synced', connector, stream: 'tickets' },
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
              settings: { connector, action: 'updateTicket' },
              input:
                '{ "ticketId": $number(record.externalId), "routing": steps.score.label, "requestKey": steps.score.requestKey }',
            },
          ],
          maxConcurrentRuns: 16,
        },
      },
    );

    const tickets = Array.from({ length: TICKETS }, (_, i) => zendesk.addTicket(`ticket ${i}`).id);
    zendesk.updateReplyDelayMs = 40;
    const first = await worker();
    const unsent = new Set(tickets);
    /** Delivers the unsent tickets' webhooks to `target` with 16 senders; a refused connection leaves one unsent. */
    const deliver = async (target: string, stop: () => boolean): Promise<void> => {
      const queue = [...unsent];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let id = queue.shift(); id !== undefined && !stop(); id = queue.shift()) {
            try {
              const sent = await zendesk.sendWebhook(
                `${target}/webhooks/connectors/${connector}`,
                webhookSecret,
                {
                  type: 'ticket.created',
                  ticketId: id,
                },
              );
              // 409: the delivery committed before the sender heard back; it counts as sent.
              if (sent.status === 200 || sent.status === 409) unsent.delete(id);
            } catch {
              // The hub died mid-request: Zendesk sends it again later.
            }
          }
        }),
      );
    };
    const base = (p: HubProcess): string => p.url.replace(/\/graphql$/, '');
    // Killed once 300 updates landed, with more in flight (answered 40 ms after they apply).
    const killed = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (zendesk.updatesOf.size < 300) return;
        clearInterval(poll);
        first.child.kill('SIGKILL');
        first.child.once('exit', () => resolve());
      }, 2);
    });
    await Promise.race([deliver(base(first), () => first.child.signalCode !== null), killed]);
    await killed;
    const landedBeforeTheCrash = zendesk.updatesOf.size;
    expect(landedBeforeTheCrash).toBeGreaterThanOrEqual(300);
    expect(landedBeforeTheCrash).toBeLessThan(TICKETS);

    const second = await worker();
    for (let round = 0; unsent.size > 0 && round < 5; round++) await deliver(base(second), () => false);
    expect(unsent.size).toBe(0);

    const runsDone = async (): Promise<{ total: number; succeeded: number; failed: number }> => {
      const [row] = await hub.db.query(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded,
                count(*) FILTER (WHERE status = 'FAILED')::int AS failed
           FROM automation_run WHERE automation_id = $1`,
        [createAutomation.id],
      );
      return row as { total: number; succeeded: number; failed: number };
    };
    for (let i = 0; i < 600; i++) {
      const done = await runsDone();
      if (done.succeeded + done.failed === TICKETS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await runsDone()).toEqual({ total: TICKETS, succeeded: TICKETS, failed: 0 });
    // Exactly one update applied per ticket, resumed steps included; each routed with its request key.
    expect(tickets.filter((id) => zendesk.updatesOf.get(id) !== 1)).toEqual([]);
    for (const id of tickets.slice(0, 50))
      expect(zendesk.ticket(id)!.customFields[zendesk.requestKeyFieldId]).toBe(String(id));
    second.child.kill('SIGTERM');
  }, 180_000);
});
