import type { RequestContext } from '../../src/context/context';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import {
  AutomationRunStatus,
  AutomationStepKind,
  AutomationStepStatus,
  AutomationTriggerKind,
} from '../../src/modules/automations/automation.entity';
import { ModelTask } from '../../src/modules/models/model.entity';
import { linearClassifierOnnx } from '../factories/onnx';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { unique } from '../support/env';
import { refusal, startTestServices, storeArtifact, type TestServices } from '../support/services';

// Automations on the services (no HTTP): a records.synced trigger routes each new ticket through a
// model and writes the routing back to Zendesk, once per ticket, through faults and repeated reads.
describe('automations (services)', () => {
  let services: TestServices;
  let admin: RequestContext;
  let project: string;
  let projectId: string;
  let endpoint: string;
  let zendesk: FakeZendeskServer;
  let connectorId: string;

  /** Dispatches what the outbox holds and carries out every due run, until nothing is left. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      while (await services.automationDispatcher.step());
      if ((await services.automationRunner.drain([projectId])) === 0) return;
    }
    throw new Error('automation runs did not settle');
  };

  const routing = (
    name = unique('router'),
    extra: Partial<Parameters<TestServices['automations']['create']>[1]> = {},
  ) =>
    services.automations.create(admin, {
      project,
      name,
      trigger: { kind: AutomationTriggerKind.EVENT, event: 'records.synced', connector: connectorId },
      steps: [
        {
          name: 'score',
          kind: AutomationStepKind.PREDICT,
          settings: { endpoint },
          input: '{ "input": { "a": $length(record.subject), "b": record.priority = "high" ? 1 : 0 } }',
        },
        {
          name: 'confident',
          kind: AutomationStepKind.CONDITION,
          input: 'steps.score.label = "yes"',
        },
        {
          name: 'route',
          kind: AutomationStepKind.CONNECTOR_ACTION,
          settings: { connector: connectorId, action: 'updateTicket' },
          input:
            '{ "ticketId": $number(record.externalId), "routing": steps.score.label, "requestKey": steps.score.requestKey }',
        },
      ],
      ...extra,
    });

  beforeAll(async () => {
    services = await startTestServices(
      {},
      {
        services: {
          connectorHttp: { backoffMs: 1, maxBackoffMs: 5, maxRetries: 0 },
          automationRunner: { retryBaseMs: 0, retryMaxMs: 0, leaseMs: 60_000 },
        },
      },
    );
    admin = await services.as(Role.ADMIN);
    project = unique('auto');
    projectId = (await services.projects.create(admin, { slug: project, name: 'Automations' })).id;
    const model = unique('router');
    const { id: modelId } = await services.models.create(admin, {
      project,
      name: model,
      task: ModelTask.CLASSIFICATION,
    });
    const sha = await storeArtifact(
      services,
      admin,
      linearClassifierOnnx({
        features: 2,
        classes: 2,
        // "yes" exactly for high-priority tickets (b = 1), whatever the subject's length (a).
        weights: [
          [0, 0],
          [0, 5],
        ],
        bias: [1, 0],
      }),
      project,
    );
    await services.models.registerVersion(admin, {
      modelId,
      artifactSha256: sha,
      featureNames: ['a', 'b'],
      labels: ['no', 'yes'],
    });
    endpoint = unique('route');
    await services.endpoints.create(admin, { project, name: endpoint, model, version: 1 });
    zendesk = new FakeZendeskServer({ tickets: 0 });
    const url = await zendesk.start();
    const connector = await services.connectors.create(admin, {
      project,
      name: unique('zendesk'),
      kind: 'zendesk',
      config: {
        baseUrl: url,
        email: zendesk.email,
        pageSize: 100,
        routingFieldId: zendesk.routingFieldId,
        requestKeyFieldId: zendesk.requestKeyFieldId,
      },
      secrets: { apiToken: zendesk.token },
    });
    connectorId = connector.id;
  });
  afterAll(async () => {
    await services.close();
    await zendesk.close();
  });

  it('routes each new ticket once: predict, a condition, updateTicket; through 5xx and repeated syncs', async () => {
    const automation = await routing();
    const tickets = Array.from({ length: 30 }, (_, i) =>
      zendesk.addTicket(i % 3 === 0 ? `urgent ${i}` : `question ${i}`),
    );
    for (const [i, t] of tickets.entries()) if (i % 2 === 0) zendesk.modifyTicket(t.id, { priority: 'high' });
    await services.connectors.sync(admin, connectorId, null);
    await waitForSyncs();
    // Every third write answers 503: those runs retry.
    zendesk.faults.randomly(0.3, [{ kind: 'status', status: 503 }], 11);
    await settle();
    zendesk.faults.clear();
    // A second sync reads the same tickets again (updated, not created): no new run.
    await services.connectors.sync(admin, connectorId, null);
    await waitForSyncs();
    await settle();

    const runs = (
      await services.automations.runs(admin, { automation: automation.id, first: 100 })
    ).edges.map((e) => e.node);
    expect(runs).toHaveLength(tickets.length);
    expect(runs.every((r) => r.status === AutomationRunStatus.SUCCEEDED)).toBe(true);
    // The 503s were met and retried: some runs took more than one attempt, and still wrote once.
    expect(zendesk.faults.injected.status).toBeGreaterThan(0);
    expect(runs.some((r) => r.attempts > 0)).toBe(true);
    const routed = runs.filter((r) => r.steps[2].status === AutomationStepStatus.SUCCEEDED);
    const skipped = runs.filter((r) => r.steps[2].status === AutomationStepStatus.SKIPPED);
    expect(routed.length + skipped.length).toBe(tickets.length);
    expect(routed.length).toBeGreaterThan(0);
    expect(skipped.length).toBeGreaterThan(0);
    // Exactly one write per routed ticket reached the vendor, whatever was retried.
    const writes = zendesk.requests.filter((r) => r.method === 'PUT' && r.authorized);
    const written = new Set(writes.map((w) => w.path));
    expect(written.size).toBe(routed.length);
    for (const run of routed) {
      const id = Number((run.document.record as { externalId: string }).externalId);
      const ticket = zendesk.ticket(id)!;
      expect(ticket.customFields[zendesk.routingFieldId]).toBe('yes');
      expect(ticket.customFields[zendesk.requestKeyFieldId]).toBe(String(id));
    }
  });

  it('refuses bad definitions naming the field, and writes nothing', async () => {
    const bad = async (patch: Partial<Parameters<TestServices['automations']['create']>[1]>) =>
      refusal(routing(unique('bad'), patch));
    expect(
      await bad({ trigger: { kind: AutomationTriggerKind.EVENT, event: 'nope.happened' } }),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'trigger.event' });
    expect(
      await bad({
        steps: [{ name: 'x', kind: AutomationStepKind.CONDITION, input: '$$$ nonsense (' }],
      }),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'steps.0.input' });
    expect(
      await bad({
        steps: [
          {
            name: 'x',
            kind: AutomationStepKind.CONNECTOR_ACTION,
            input: '{}',
            settings: { connector: connectorId, action: 'dropDatabase' },
          },
        ],
      }),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'steps.0.settings.action' });
    expect(
      await bad({
        steps: [
          { name: 'x', kind: AutomationStepKind.PREDICT, input: '{}', settings: { endpoint: 'elsewhere' } },
        ],
      }),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'steps.0.settings.endpoint' });
    const list = await services.automations.list(admin, { project, first: 100 });
    expect(list.edges.every((e) => !e.node.name.startsWith('bad'))).toBe(true);
  });

  it('a dry run shows each step’s input and output and changes nothing', async () => {
    const automation = await routing();
    const before = zendesk.requests.length;
    const result = await services.automations.test(admin, automation.id, {
      record: { externalId: '424242', subject: 'urgent: server down', priority: 'high' },
    });
    expect(result.matched).toBe(true);
    expect(result.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(result.steps[0].output).toMatchObject({ label: 'yes', requestKey: '424242' });
    expect(result.steps[2].output).toMatchObject({ dryRun: true, wouldCall: 'CONNECTOR_ACTION' });
    expect(zendesk.requests.length).toBe(before);
  });

  /** Waits for the connector's syncs started by `sync` to end. */
  async function waitForSyncs(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const runs = await services.connectors.syncRuns(admin, { connector: connectorId, first: 10 });
      if (runs.edges.every((e) => e.node.status !== 'RUNNING')) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('sync did not end');
  }
});
