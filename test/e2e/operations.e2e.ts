import { parse, validate } from 'graphql';
import { buildNerveSchema } from '../../src/server/schema';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.entity';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { startTestHub, unique, type TestHub } from '../harness';
import { registerTrainedModel } from '../../src/training/register-model';
import { trainTicketRouter } from '../../src/training/train-ticket-router';
import { fillPlaceholders, loadExamples, variablesProblems } from '../support/operations';

describe('graphql/operations', () => {
  const examples = loadExamples();
  const byName = new Map(examples.map((e) => [e.name, e]));
  let hub: TestHub;
  const executed = new Set<string>();

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  it('are valid against the schema, uniquely named, and cover every root field', async () => {
    const schema = await buildNerveSchema();
    expect(byName.size).toBe(examples.length);
    const covered = new Set<string>();
    for (const example of examples) {
      const errors = validate(schema, parse(example.text));
      expect({ operation: example.name, errors: errors.map((e) => e.message) }).toEqual({
        operation: example.name,
        errors: [],
      });
      for (const field of example.rootFields) covered.add(field);
    }
    const roots = [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const;
    const missing = roots.flatMap(([kind, type]) =>
      Object.keys(type?.getFields() ?? {})
        .map((f) => `${kind}.${f}`)
        .filter((f) => !covered.has(f)),
    );
    expect(missing).toEqual([]);
  });

  it('each have an entry in the variables file beside theirs, and each entry an operation', () => {
    expect(variablesProblems(examples)).toEqual([]);
  });

  /**
   * Run-time values of the placeholders of the variables files (`"<modelVersionId>"`), filled in as the
   * story below creates them.
   */
  const values: Record<string, unknown> = {};
  /**
   * The examples are written against the demo hub. Project slugs and endpoint names are unique across a
   * hub and this suite shares its database, so it plays the demo (and what the examples create) under
   * names of its own.
   */
  const names = new Map(
    ['demo', 'churn', 'ticket-router', 'escalation-scorer'].map((name) => [name, unique(name)]),
  );
  const rename = (value: string): string => names.get(value) ?? value;

  /** An example's variables as shipped, placeholders filled; a missing entry fails. */
  function variablesOf(name: string): Record<string, unknown> {
    const example = byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
    if (!example.variables) throw new Error(`${name} has no entry in its variables file`);
    const now = Date.now();
    return fillPlaceholders(
      example.variables,
      { ...values, now: new Date(now).toISOString(), hourAgo: new Date(now - 3_600_000).toISOString() },
      rename,
    );
  }

  /** Calls an example with variables of the test's own (setup, not the shipped example); any error fails. */
  async function call<T = Record<string, unknown>>(
    name: string,
    variables: Record<string, unknown>,
    key?: string,
  ): Promise<T> {
    const example = byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
    const res = await hub.gql<T>(example.text, variables, key);
    expect({ operation: name, errors: res.errors }).toEqual({ operation: name, errors: undefined });
    return res.data as T;
  }

  /** Runs one example with its shipped variables and returns its data; any error fails the test. */
  async function run<T = Record<string, unknown>>(name: string, key?: string): Promise<T> {
    const data = await call<T>(name, variablesOf(name), key);
    executed.add(name);
    return data;
  }

  /**
   * Runs a subscription example over WebSocket with its shipped variables: subscribes, lets `trigger`
   * make the event once the subscription is live, and returns the first result; any error fails the test.
   */
  async function runSubscription<T = Record<string, unknown>>(
    name: string,
    trigger: () => Promise<unknown>,
  ): Promise<T> {
    const example = byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
    const variables = variablesOf(name);
    const client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${hub.adminKey}` },
      retryAttempts: 0,
    });
    try {
      const before = hub.services.events.subscribers;
      const first = new Promise<{ data?: T; errors?: unknown }>((resolve) => {
        client.subscribe<T>(
          { query: example.text, variables },
          {
            next: (result) => resolve(result as { data?: T; errors?: unknown }),
            error: (errors) => resolve({ errors }),
            complete: () => resolve({ errors: 'completed without an event' }),
          },
        );
      });
      const deadline = Date.now() + 5_000;
      while (hub.services.events.subscribers === before && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await trigger();
      const result = await first;
      expect({ operation: name, errors: result.errors }).toEqual({ operation: name, errors: undefined });
      executed.add(name);
      return result.data as T;
    } finally {
      await client.dispose();
    }
  }

  it('all run against a live hub with the variables shipped beside them', async () => {
    // The demo as `npm start` seeds it: the ticket router registered twice through the API, as a
    // pipeline would, and version 1 served by an endpoint of the same name.
    const slug = rename('demo');
    const project = (
      await call<{ createProject: { id: string } }>('CreateProject', {
        input: { slug, name: 'Demo project' },
      })
    ).createProject;
    values.projectId = project.id;
    const router = trainTicketRouter({ rows: 800, epochs: 4, textBuckets: 128, seed: 5 });
    for (let i = 0; i < 2; i++) {
      await registerTrainedModel({ url: hub.url, key: hub.adminKey }, router, {
        project: slug,
        model: rename('ticket-router'),
      });
    }
    const endpoint = rename('ticket-router');
    await call('CreateEndpoint', {
      input: { project: slug, name: endpoint, model: endpoint, version: 1 },
    });

    await run('CreateProject');
    await run('Projects');
    await run('Project');
    await run('SetDataPolicy');
    await run('Me');
    values.apiKeyId = (
      await run<{ createApiKey: { key: { id: string } } }>('CreateApiKey')
    ).createApiKey.key.id;
    await run('RevokeApiKey');

    values.datasetId = (await run<{ createDataset: { id: string } }>('CreateDataset')).createDataset.id;
    values.datasetVersionId = (
      await run<{ registerDatasetVersion: { id: string } }>('RegisterDatasetVersion')
    ).registerDatasetVersion.id;
    await run('Datasets');
    await run('Dataset');
    await run('DatasetVersion');

    values.runId = (await run<{ startRun: { id: string } }>('StartRun')).startRun.id;
    await run('LogRunMetrics');
    await run('FinishRun');
    await run('Run');
    await run('Runs');

    values.modelId = (await run<{ createModel: { id: string } }>('CreateModel')).createModel.id;
    const onnx = linearClassifierOnnx({
      features: 2,
      classes: 2,
      weights: [
        [0.5, -0.5],
        [-0.1, 0.1],
      ],
      bias: [0, 0],
    });
    values.artifactSha256 = await uploadArtifact(hub, onnx, slug);
    values.modelVersionId = (
      await run<{ registerModelVersion: { id: string } }>('RegisterModelVersion')
    ).registerModelVersion.id;
    await run('SetModelAlias');
    await run('Model');
    await run('ModelVersion');
    await run('Models');
    await run('AliasHistory');
    await run('Lineage');
    await run('UpdateModelCard');
    await run('ModelCard');
    await run('CreateEndpoint');

    await run('SetEndpointTraffic');
    await run('UpdateEndpoint');
    const predicted = await run<{ predict: { requestKey: string } }>('Predict');
    expect(predicted.predict.requestKey).toBe('ticket-4711');
    await run('PredictBatch');
    await run('RecordPredictionOutcome');
    await hub.services.predictionLog.flush();
    const replayed = await run<{ replayPredictions: { rows: number; outcomes: number } }>(
      'ReplayPredictions',
    );
    expect(replayed.replayPredictions).toMatchObject({ rows: 3, outcomes: 1 });
    await run('Endpoint');
    await run('Endpoints');
    await run('InferenceRuntime');

    const raised = await runSubscription<{ alertRaised: { alert: { id: string } } }>('AlertRaised', () =>
      hub.services.alerts.raise({
        projectId: project.id,
        kind: AlertKind.SLA_LATENCY,
        severity: AlertSeverity.WARNING,
        dedupeKey: unique('ops'),
        title: 'p95 latency of the ticket router is 62 ms (target 40 ms)',
        evidence: { p95Ms: 62, targetMs: 40 },
      }),
    );
    values.alertId = raised.alertRaised.alert.id;
    await run('Alerts');
    await run('Alert');
    await run('AcknowledgeAlert');
    await run('ResolveAlert');
    await runSubscription('DriftReported', () => run('RunDriftCheck'));
    await run('DriftReports');
    await runSubscription('EndpointStats', () => hub.services.monitoring.evaluate());

    // The canary from earlier is cleared by hand first: a rollout owns the traffic from here on.
    await call('SetEndpointTraffic', { input: { endpoint, stableVersion: 1, reason: 'before the rollout' } });
    const changed = await runSubscription<{ rolloutChanged: { rollout: { id: string } } }>(
      'RolloutChanged',
      () => run('Deploy'),
    );
    values.rolloutId = changed.rolloutChanged.rollout.id;
    await run('PauseRollout');
    await run('ResumeRollout');
    await run('Rollout');
    await run('Rollouts');
    await run('PromoteRollout');
    await run('ServedVersion');
    // A second rollout, this one rolled back by hand, and an approval decided by an approver.
    values.rolloutId = (
      await call<{ deploy: { id: string } }>('Deploy', {
        input: { endpoint, version: 1, strategy: 'CANARY', steps: [{ weight: 10, manualGate: true }] },
      })
    ).deploy.id;
    const pending = await run<{ approvalRequests: { edges: Array<{ node: { id: string } }> } }>(
      'ApprovalRequests',
    );
    values.approvalId = pending.approvalRequests.edges[0].node.id;
    await run('DecideApproval', await hub.key(Role.APPROVER, [project.id]));
    await run('Rollback');

    // Connectors and KPIs, against a fake Zendesk.
    const zendesk = new FakeZendeskServer({ tickets: 120, seed: 4 });
    try {
      values.zendeskUrl = await zendesk.start();
      values.zendeskEmail = zendesk.email;
      values.zendeskApiToken = zendesk.token;
      values.zendeskRoutingFieldId = zendesk.routingFieldId;
      values.zendeskRequestKeyFieldId = zendesk.requestKeyFieldId;
      values.zendeskTicketId = 1;
      await run('ConnectorKinds');
      values.connectorId = (
        await run<{ createConnector: { id: string } }>('CreateConnector')
      ).createConnector.id;
      await run('UpdateConnector');
      await run('CheckConnector');
      const synced = await runSubscription<{ syncRunChanged: { status: string } }>('SyncRunChanged', () =>
        run('SyncConnector'),
      );
      expect(synced.syncRunChanged.status).toBe('RUNNING');
      for (;;) {
        const { connector: c } = await run<{ connector: { lastRun: { status: string } } }>('Connector');
        if (c.lastRun.status !== 'RUNNING') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await run('Connectors');
      await run('SyncRuns');
      const tickets = await run<{ tickets: { edges: unknown[] } }>('Tickets');
      expect(tickets.tickets.edges.length).toBeGreaterThan(0);
      await run('RunConnectorAction');
      // An automation on the connector's new tickets: defined, tried dry, changed, paused and resumed,
      // then run on a ticket synced after it (the hub's dispatcher and runner, stepped here).
      values.automationId = (
        await run<{ createAutomation: { id: string } }>('CreateAutomation')
      ).createAutomation.id;
      const tried = await run<{ testAutomation: { matched: boolean; steps: Array<{ status: string }> } }>(
        'TestAutomation',
      );
      expect(tried.testAutomation.matched).toBe(true);
      expect(tried.testAutomation.steps[0].status).toBe('SUCCEEDED');
      await run('UpdateAutomation');
      await run('PauseAutomation');
      await run('ResumeAutomation');
      await run('Automations');
      await run('Automation');
      // An automation that fails on purpose, for a dead letter to redeliver.
      const failing = await hub.gqlOk<{ createAutomation: { id: string } }>(
        'mutation($i: CreateAutomationInput!) { createAutomation(input: $i) { id } }',
        {
          i: {
            project: rename('demo'),
            name: 'fails-on-purpose',
            trigger: { kind: 'EVENT', event: 'records.synced', connector: values.connectorId },
            steps: [{ name: 'refuse', kind: 'CONDITION', input: '$error("refused on purpose")' }],
          },
        },
      );
      zendesk.addTicket('Cannot log in after the password reset');
      // A new sync (the example's idempotency key would answer with the first one).
      await hub.gqlOk('mutation($id: ID!) { syncConnector(id: $id) { id } }', { id: values.connectorId });
      for (;;) {
        const { connector: c } = await run<{ connector: { lastRun: { status: string } } }>('Connector');
        if (c.lastRun.status !== 'RUNNING') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      while (await hub.services.automationDispatcher.step());
      const changed = await runSubscription<{ automationRunChanged: { status: string } }>(
        'AutomationRunChanged',
        () => hub.services.automationRunner.drain([project.id]),
      );
      expect(changed.automationRunChanged.status).toBe('RUNNING');
      await run('AutomationSigningSecret');
      const runs = await run<{ automationRuns: { edges: Array<{ node: { id: string; status: string } }> } }>(
        'AutomationRuns',
      );
      expect(runs.automationRuns.edges.map((e) => e.node.status)).toEqual(['SUCCEEDED']);
      values.automationRunId = runs.automationRuns.edges[0].node.id;
      await run('AutomationRun');
      const failed = await hub.gqlOk<{
        automationRuns: { edges: Array<{ node: { id: string; status: string } }> };
      }>('query($a: ID!) { automationRuns(automation: $a) { edges { node { id status } } } }', {
        a: failing.createAutomation.id,
      });
      expect(failed.automationRuns.edges.map((e) => e.node.status)).toEqual(['FAILED']);
      values.failedAutomationRunId = failed.automationRuns.edges[0].node.id;
      const retried = await run<{ retryAutomationRun: { status: string } }>('RetryAutomationRun');
      expect(retried.retryAutomationRun.status).toBe('PENDING');
      await run('RpaJobs');
      await run('QueueItems');
      await run('CrmContacts');
      await run('CrmDeals');
    } finally {
      await zendesk.close();
    }
    await run('DefineKpi');
    const recorded = await run<{ recordKpiPoints: { recorded: number; attributed: number } }>(
      'RecordKpiPoints',
    );
    // The survey answer for ticket-4711 counts for the version that answered that ticket.
    expect(recorded.recordKpiPoints).toEqual({ recorded: 2, attributed: 1 });
    await run('Kpis');
    await run('KpiSeries');
    // Governance: a HIGH-risk reclassification, and the impact assessment an approver must approve.
    await run('SetProjectRiskLevel');
    values.assessmentId = (
      await run<{ submitImpactAssessment: { id: string } }>('SubmitImpactAssessment')
    ).submitImpactAssessment.id;
    await run('DecideImpactAssessment', await hub.key(Role.APPROVER, [project.id]));
    await run('ImpactAssessments');
    await run('AuditLog');
    await run('VerifyAuditChain');

    const notRun = examples.map((e) => e.name).filter((n) => !executed.has(n));
    expect(notRun).toEqual([]);
  });
});
