import type { RequestContext } from '../../src/context/context';
import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.enums';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import {
  AutomationRunStatus,
  AutomationStepKind,
  AutomationTriggerKind,
} from '../../src/modules/automations/automation.entity';
import { FakeAirflowServer } from '../fakes/airflow-server';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { unique } from '../support/env';
import { refusal, startTestServices, type TestServices } from '../support/services';

// The reflexes beyond routing, on the services: drift starts a retraining pipeline (recorded as a Nerve
// run with the orchestrator's id), an SLA alert reaches people (a signed webhook, a Zendesk ticket),
// and a schedule's tick starts one run however many replicas fire it.
describe('automation reflexes (services)', () => {
  let services: TestServices;
  let admin: RequestContext;
  let project: string;
  let projectId: string;
  let airflow: FakeAirflowServer;
  let zendesk: FakeZendeskServer;
  let airflowUrl: string;
  let zendeskUrl: string;

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      while (await services.automationDispatcher.step());
      if ((await services.automationRunner.drain([projectId])) === 0) return;
    }
    throw new Error('automation runs did not settle');
  };
  const runsOf = async (automation: string) =>
    (await services.automations.runs(admin, { automation, first: 100 })).edges.map((e) => e.node);
  const connector = async (kind: string, config: Record<string, unknown>, secrets: Record<string, unknown>) =>
    (await services.connectors.create(admin, { project, name: unique(kind), kind, config, secrets })).id;

  beforeAll(async () => {
    services = await startTestServices(
      {},
      { services: { automationRunner: { retryBaseMs: 0, retryMaxMs: 0 }, connectorHttp: { maxRetries: 0 } } },
    );
    admin = await services.as(Role.ADMIN);
    project = unique('reflex');
    projectId = (await services.projects.create(admin, { slug: project, name: 'Reflexes' })).id;
    airflow = new FakeAirflowServer();
    zendesk = new FakeZendeskServer({ tickets: 0 });
    [airflowUrl, zendeskUrl] = await Promise.all([airflow.start(), zendesk.start()]);
  });
  afterAll(async () => {
    await services.close();
    await airflow.close();
    await zendesk.close();
  });

  it('drift to retraining: a DRIFT alert triggers the Airflow DAG once, with the evidence in conf, and lineage shows the run', async () => {
    const airflowId = await connector(
      'airflow',
      { baseUrl: airflowUrl },
      { username: airflow.username, password: airflow.password },
    );
    const automation = await services.automations.create(admin, {
      project,
      name: unique('retrain'),
      trigger: {
        kind: AutomationTriggerKind.EVENT,
        event: 'alert.changed',
        filter: 'event.payload.change = "RAISED" and event.payload.alert.kind = "DRIFT"',
      },
      steps: [
        {
          name: 'retrain',
          kind: AutomationStepKind.TRIGGER_PIPELINE,
          settings: { connector: airflowId, action: 'triggerDagRun' },
          input:
            '{ "dagId": "train_model", "conf": { "alert": event.payload.alert.id, "drifted": event.payload.alert.evidence.drifted } }',
        },
      ],
    });
    // Injected faults on the first trigger: it is retried under the same run id.
    airflow.faults.next({ kind: 'status', status: 503 });
    const alert = await services.alerts.raise({
      projectId,
      kind: AlertKind.DRIFT,
      severity: AlertSeverity.WARNING,
      dedupeKey: unique('drift'),
      title: 'ticket length drifted',
      evidence: { drifted: ['subject_length'] },
    });
    // An SLA alert in the same project does not match the filter.
    await services.alerts.raise({
      projectId,
      kind: AlertKind.SLA_LATENCY,
      severity: AlertSeverity.CRITICAL,
      dedupeKey: unique('sla'),
      title: 'p95 over target',
      evidence: {},
    });
    await settle();
    const runs = await runsOf(automation.id);
    expect(runs.map((r) => [r.status, r.error])).toEqual([[AutomationRunStatus.SUCCEEDED, null]]);
    const dagRuns = airflow.dagRuns('train_model');
    expect(dagRuns).toHaveLength(1);
    expect(dagRuns[0].conf).toEqual({ alert: alert.id, drifted: ['subject_length'] });
    const output = runs[0].steps[0].output!;
    expect(output.externalId).toBe(dagRuns[0].dagRunId);
    const run = await services.runs.byId(admin, String(output.runId));
    expect(run.externalRef).toBe(dagRuns[0].dagRunId);
    expect(run.tags).toMatchObject({ automation: automation.name, automationRun: runs[0].id });
  });

  it('alert to people: an SLA alert reaches a webhook receiver with a valid signature, once, and opens a Zendesk ticket', async () => {
    const zendeskId = await connector(
      'zendesk',
      {
        baseUrl: zendeskUrl,
        email: zendesk.email,
        routingFieldId: zendesk.routingFieldId,
        requestKeyFieldId: zendesk.requestKeyFieldId,
      },
      { apiToken: zendesk.token },
    );
    const automation = await services.automations.create(admin, {
      project,
      name: unique('page'),
      trigger: {
        kind: AutomationTriggerKind.EVENT,
        event: 'alert.changed',
        filter: 'event.payload.change = "RAISED" and $contains(event.payload.alert.kind, "SLA")',
      },
      steps: [
        {
          name: 'notify',
          kind: AutomationStepKind.WEBHOOK,
          settings: { url: 'http://127.0.0.1:9/replaced' },
          input: '{ "text": "SLA alert: " & event.payload.alert.title }',
        },
        {
          name: 'ticket',
          kind: AutomationStepKind.CONNECTOR_ACTION,
          settings: { connector: zendeskId, action: 'createTicket' },
          input:
            '{ "subject": "[Nerve] " & event.payload.alert.title, "comment": "Opened by " & steps.notify.webhookId, "priority": "urgent" }',
        },
      ],
    });
    const secret = await services.automations.signingSecret(admin, automation.id);
    const receiver = new FakeWebhookReceiver({ secrets: [secret] });
    const url = await receiver.start();
    try {
      await services.automations.update(admin, {
        automation: automation.id,
        steps: automation.steps.map((s) =>
          s.name === 'notify'
            ? { ...s, settings: { url: `${url}/slack` } }
            : { ...s, settings: { ...s.settings } },
        ),
      });
      receiver.failNext(503, 2);
      zendesk.faults.next({ kind: 'status', status: 500 });
      await services.alerts.raise({
        projectId,
        kind: AlertKind.SLA_LATENCY,
        severity: AlertSeverity.CRITICAL,
        dedupeKey: unique('sla'),
        title: 'checkout p95 1.8 s',
        evidence: { p95Ms: 1800 },
      });
      await settle();
      const runs = await runsOf(automation.id);
      expect(runs.map((r) => r.status)).toEqual([AutomationRunStatus.SUCCEEDED]);
      expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
      expect(receiver.accepted()).toHaveLength(1);
      expect(receiver.accepted()[0].json).toEqual({ text: 'SLA alert: checkout p95 1.8 s' });
      const opened = zendesk.tickets().filter((t) => t.subject === '[Nerve] checkout p95 1.8 s');
      expect(opened).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('a schedule tick fired by several replicas starts one run', async () => {
    const automation = await services.automations.create(admin, {
      project,
      name: unique('nightly'),
      trigger: { kind: AutomationTriggerKind.SCHEDULE, schedule: '0 3 * * *' },
      steps: [{ name: 'noop', kind: AutomationStepKind.CONDITION, input: 'schedule.at != null' }],
    });
    expect((await services.automationTriggers.scheduled()).map((s) => s.id)).toContain(automation.id);
    const at = new Date('2026-12-07T03:00:00Z');
    const fired = await Promise.all([1, 2, 3].map(() => services.automationTriggers.tick(automation.id, at)));
    expect(fired.filter((r) => r !== null)).toHaveLength(1);
    await settle();
    const runs = await runsOf(automation.id);
    expect(runs.map((r) => [r.triggerKey, r.status])).toEqual([
      [`schedule:${at.toISOString()}`, 'SUCCEEDED'],
    ]);
  });

  it('runs that keep failing raise an AUTOMATION alert; a dead letter is redelivered from its failed step', async () => {
    const automation = await services.automations.create(admin, {
      project,
      name: unique('flaky'),
      trigger: { kind: AutomationTriggerKind.SCHEDULE, schedule: '*/5 * * * *' },
      steps: [
        { name: 'first', kind: AutomationStepKind.CONDITION, input: 'true' },
        {
          name: 'second',
          kind: AutomationStepKind.CONDITION,
          input: 'schedule.at < "2026-12-08" ? $error("the receiver is down") : true',
        },
      ],
    });
    const alertsOf = async () =>
      (await services.alerts.list(admin, { project, kinds: [AlertKind.AUTOMATION], first: 10 })).edges.map(
        (e) => e.node,
      );
    for (let i = 0; i < 4; i++)
      await services.automationTriggers.tick(automation.id, new Date(Date.UTC(2026, 11, 7, 1, i * 5)));
    await settle();
    expect(await alertsOf()).toEqual([]);
    await services.automationTriggers.tick(automation.id, new Date(Date.UTC(2026, 11, 7, 1, 20)));
    await settle();
    const [alert] = await alertsOf();
    expect(alert).toMatchObject({ status: 'OPEN', evidence: { automationId: automation.id } });

    const [dead] = await runsOf(automation.id);
    expect(dead).toMatchObject({ status: AutomationRunStatus.FAILED, errorKind: 'PERMANENT' });
    expect(dead.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'FAILED']);
    const retried = await services.automations.retryRun(admin, dead.id, 'once more');
    expect(retried).toMatchObject({ status: AutomationRunStatus.PENDING, attempts: 0 });
    expect(retried.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'PENDING']);
    await settle();
    const again = (await runsOf(automation.id)).find((r) => r.id === dead.id)!;
    // Only the failed step ran again (the first kept its one attempt), and failed again.
    expect(again.steps.map((s) => [s.status, s.attempts])).toEqual([
      ['SUCCEEDED', 1],
      ['FAILED', 2],
    ]);
    // A run that did not fail is not redelivered.
    const ok = await services.automationTriggers.tick(automation.id, new Date(Date.UTC(2026, 11, 9)));
    await settle();
    expect(await refusal(services.automations.retryRun(admin, ok!.id))).toMatchObject({
      code: 'CONFLICT',
      field: 'id',
    });
  });
});
