import { parse, validate } from 'graphql';
import { buildNerveSchema } from '../../src/server/schema';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.entity';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { startTestHub, unique, type TestHub } from '../harness';
import { loadExamples } from '../support/operations';

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

  /** Runs one example by name and returns its data; any error fails the test. */
  async function run<T = Record<string, unknown>>(
    name: string,
    variables: Record<string, unknown> = {},
  ): Promise<T> {
    const example = byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
    const res = await hub.gql<T>(example.text, variables);
    expect({ operation: name, errors: res.errors }).toEqual({ operation: name, errors: undefined });
    executed.add(name);
    return res.data as T;
  }

  /**
   * Runs a subscription example over WebSocket: subscribes, lets `trigger` make the event once the
   * subscription is live, and returns the first result; any error fails the test.
   */
  async function runSubscription<T = Record<string, unknown>>(
    name: string,
    variables: Record<string, unknown>,
    trigger: () => Promise<unknown>,
  ): Promise<T> {
    const example = byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
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

  it('all run against a live hub', async () => {
    const slug = unique('ops');
    const project = (
      await run<{ createProject: { id: string } }>('CreateProject', { input: { slug, name: 'Operations' } })
    ).createProject;
    await run('Projects', { first: 5 });
    await run('Project', { slug });
    await run('SetDataPolicy', {
      project: slug,
      policy: {
        personalFields: ['prediction.email', 'crm_contact.email', 'ticket.subject'],
        treatment: 'HASH',
        // Long enough that a retention run elsewhere on the shared database never touches this suite.
        predictionRetentionDays: 3650,
        syncedRecordRetentionDays: 3650,
      },
    });
    await run('Me');
    const key = (
      await run<{ createApiKey: { key: { id: string } } }>('CreateApiKey', {
        input: { name: unique('key'), role: 'VIEWER', projectIds: [project.id] },
      })
    ).createApiKey.key;
    await run('RevokeApiKey', { id: key.id });

    const dataset = (
      await run<{ createDataset: { id: string } }>('CreateDataset', {
        input: { project: slug, name: 'churn-training', description: 'Customer churn, monthly snapshot' },
      })
    ).createDataset;
    const rows = Array.from({ length: 50 }, (_, i) => ({
      tenure: i % 24,
      spend: 20 + (i % 7) * 3.5,
      plan: i % 3 ? 'basic' : 'pro',
    }));
    const datasetVersion = (
      await run<{ registerDatasetVersion: { id: string } }>('RegisterDatasetVersion', {
        input: { datasetId: dataset.id, rows },
      })
    ).registerDatasetVersion;
    await run('Datasets', { project: slug, first: 10 });
    await run('Dataset', { id: dataset.id, versions: 5 });
    await run('DatasetVersion', { id: datasetVersion.id });

    const runRow = (
      await run<{ startRun: { id: string } }>('StartRun', {
        input: {
          project: slug,
          name: 'train churn',
          kind: 'TRAINING',
          params: { lr: 0.1 },
          tags: { team: 'growth' },
          inputs: [datasetVersion.id],
        },
      })
    ).startRun;
    const points = Array.from({ length: 100 }, (_, step) => ({ key: 'loss', step, value: 1 / (step + 1) }));
    await run('LogRunMetrics', { runId: runRow.id, points, idempotencyKey: unique('metrics') });
    await run('FinishRun', { id: runRow.id, status: 'SUCCEEDED' });
    await run('Run', { id: runRow.id, metricKey: 'loss', first: 10 });
    await run('Runs', { project: slug, status: 'SUCCEEDED', first: 5 });

    const model = (
      await run<{ createModel: { id: string } }>('CreateModel', {
        input: { project: slug, name: 'churn-clf', task: 'CLASSIFICATION' },
      })
    ).createModel;
    const onnx = linearClassifierOnnx({
      features: 2,
      classes: 2,
      weights: [
        [0.5, -0.5],
        [-0.1, 0.1],
      ],
      bias: [0, 0],
    });
    const sha = await uploadArtifact(hub, onnx, slug);
    const version = (
      await run<{ registerModelVersion: { id: string } }>('RegisterModelVersion', {
        input: {
          modelId: model.id,
          artifactSha256: sha,
          featureNames: ['tenure', 'spend'],
          labels: ['stays', 'churns'],
          runId: runRow.id,
          datasetVersionId: datasetVersion.id,
          metrics: { auc: 0.81 },
        },
      })
    ).registerModelVersion;
    await run('SetModelAlias', { modelId: model.id, alias: 'champion', versionId: version.id });
    await run('Model', { id: model.id, versions: 5 });
    await run('ModelVersion', { id: version.id });
    await run('Models', { project: slug, first: 5 });
    await run('AliasHistory', {
      modelId: model.id,
      alias: 'champion',
      at: new Date().toISOString(),
      first: 5,
    });
    await run('Lineage', { modelVersionId: version.id });
    await run('UpdateModelCard', {
      versionId: version.id,
      card: {
        intendedUse: 'Flag accounts likely to churn for a retention call',
        outOfScopeUses: ['pricing decisions'],
        trainingData: { description: 'Monthly churn snapshot' },
        evaluation: { slices: [{ slice: 'plan=pro', metric: 'auc', value: 0.84, n: 17 }] },
        ethicalConsiderations: 'Tenure is not a proxy for a protected attribute here',
        limitations: ['Accounts younger than a month'],
        owners: ['growth-ml@example.com'],
      },
    });
    await run('ModelCard', { versionId: version.id });

    const endpoint = unique('churn');
    await run('CreateEndpoint', {
      input: {
        project: slug,
        name: endpoint,
        model: 'churn-clf',
        version: 1,
        sla: { p95LatencyMs: 50, maxErrorRate: 0.01 },
        batching: { maxBatchSize: 16, maxQueueDelayMs: 0 },
      },
    });
    const second = (
      await run<{ registerModelVersion: { version: number } }>('RegisterModelVersion', {
        input: {
          modelId: model.id,
          artifactSha256: sha,
          featureNames: ['tenure', 'spend'],
          labels: ['stays', 'churns'],
          goldenSamples: [{ input: { tenure: 10, spend: 1 }, expectedLabel: 'stays' }],
        },
      })
    ).registerModelVersion;
    await run('SetEndpointTraffic', {
      input: {
        endpoint,
        stableVersion: 1,
        canaryVersion: second.version,
        canaryWeight: 10,
        shadowVersion: second.version,
        reason: 'try v2 on 10%',
      },
    });
    await run('UpdateEndpoint', { input: { endpoint, logSampleRate: 1, sla: { p95LatencyMs: 40 } } });
    const predicted = await run<{ predict: { requestKey: string } }>('Predict', {
      endpoint,
      input: { tenure: 12, spend: 40.5 },
      requestKey: 'ticket-4711',
    });
    expect(predicted.predict.requestKey).toBe('ticket-4711');
    await run('PredictBatch', {
      endpoint,
      inputs: [
        { tenure: 1, spend: 90 },
        { tenure: 30, spend: 20 },
      ],
      idempotencyKey: unique('batch'),
    });
    await run('RecordPredictionOutcome', { endpoint, requestKey: 'ticket-4711', label: 'stays' });
    await hub.services.predictionLog.flush();
    const replayed = await run<{ replayPredictions: { rows: number; outcomes: number } }>(
      'ReplayPredictions',
      {
        endpoint,
        from: new Date(Date.now() - 3_600_000).toISOString(),
        to: new Date(Date.now() + 60_000).toISOString(),
        version: second.version,
      },
    );
    expect(replayed.replayPredictions).toMatchObject({ rows: 3, outcomes: 1 });
    await run('Endpoint', { name: endpoint });
    await run('Endpoints', { project: slug, first: 5 });
    await run('InferenceRuntime');

    const raised = await runSubscription<{ alertRaised: { alert: { id: string } } }>(
      'AlertRaised',
      { project: slug },
      () =>
        hub.services.alerts.raise({
          projectId: project.id,
          kind: AlertKind.SLA_LATENCY,
          severity: AlertSeverity.WARNING,
          dedupeKey: unique('ops'),
          title: 'p95 latency of the churn endpoint is 62 ms (target 40 ms)',
          evidence: { p95Ms: 62, targetMs: 40 },
        }),
    );
    const alertId = raised.alertRaised.alert.id;
    await run('Alerts', { project: slug, statuses: ['OPEN'], first: 5 });
    await run('Alert', { id: alertId });
    await run('AcknowledgeAlert', { id: alertId, note: 'looking into the feature store' });
    await run('ResolveAlert', { id: alertId, note: 'feature store cache fixed' });
    await runSubscription('DriftReported', { project: slug, endpoint }, () =>
      run('RunDriftCheck', { endpoint, window: 60 }),
    );
    await run('DriftReports', { project: slug, endpoint, first: 5 });
    await runSubscription('EndpointStats', { endpoint }, () => hub.services.monitoring.evaluate());

    // Progressive delivery: a third version, rolled out as a canary whose second step is a manual gate.
    const third = (
      await run<{ registerModelVersion: { version: number } }>('RegisterModelVersion', {
        input: {
          modelId: model.id,
          artifactSha256: sha,
          featureNames: ['tenure', 'spend'],
          labels: ['stays', 'churns'],
        },
      })
    ).registerModelVersion;
    // The canary from earlier is cleared by hand first: a rollout owns the traffic from here on.
    await run('SetEndpointTraffic', { input: { endpoint, stableVersion: 1, reason: 'before the rollout' } });
    const changed = await runSubscription<{ rolloutChanged: { rollout: { id: string } } }>(
      'RolloutChanged',
      { project: slug, endpoint },
      () =>
        run('Deploy', {
          input: {
            endpoint,
            version: third.version,
            strategy: 'CANARY',
            steps: [
              { weight: 5, pauseMinutes: 5 },
              { weight: 25, pauseMinutes: 5, manualGate: true },
              { weight: 100, pauseMinutes: 5 },
            ],
            analysis: {
              intervalMinutes: 1,
              minSamples: 100,
              failureLimit: 1,
              conditions: [
                { metric: 'P95_LATENCY', maxRatio: 1.3 },
                { metric: 'ERROR_RATE', maxIncrease: 0.01 },
                { metric: 'LIVE_ACCURACY', maxDecrease: 0.02 },
                { metric: 'DRIFT' },
              ],
            },
            reason: 'v3: retrained on October tickets',
            idempotencyKey: unique('deploy'),
          },
        }),
    );
    const rolloutId = changed.rolloutChanged.rollout.id;
    await run('PauseRollout', { id: rolloutId, reason: 'holiday freeze' });
    await run('ResumeRollout', { id: rolloutId, reason: 'freeze over' });
    await run('Rollout', { id: rolloutId });
    await run('Rollouts', { project: slug, endpoint, first: 5 });
    await run('PromoteRollout', { id: rolloutId, reason: 'metrics look right' });
    await run('ServedVersion', { endpoint, at: new Date().toISOString() });
    // A second rollout, this one rolled back by hand, and an approval decided by an approver.
    const again = (
      await run<{ deploy: { id: string } }>('Deploy', {
        input: { endpoint, version: 1, strategy: 'CANARY', steps: [{ weight: 10, manualGate: true }] },
      })
    ).deploy;
    const pending = await run<{ approvalRequests: { edges: Array<{ node: { id: string } }> } }>(
      'ApprovalRequests',
      {
        project: slug,
      },
    );
    const approver = await hub.key(Role.APPROVER, [project.id]);
    const decided = await hub.gql(
      byName.get('DecideApproval')!.text,
      {
        id: pending.approvalRequests.edges[0].node.id,
        approve: true,
        comment: 'risk reviewed',
      },
      approver,
    );
    expect(decided.errors).toBeUndefined();
    executed.add('DecideApproval');
    await run('Rollback', { id: again.id, reason: 'wrong version' });

    // Connectors and KPIs, against a fake Zendesk.
    const zendesk = new FakeZendeskServer({ tickets: 120, seed: 4 });
    try {
      const zendeskUrl = await zendesk.start();
      await run('ConnectorKinds');
      const connector = (
        await run<{ createConnector: { id: string } }>('CreateConnector', {
          input: {
            project: slug,
            name: 'support',
            kind: 'zendesk',
            config: {
              baseUrl: zendeskUrl,
              email: zendesk.email,
              routingFieldId: zendesk.routingFieldId,
              requestKeyFieldId: zendesk.requestKeyFieldId,
            },
            secrets: { apiToken: zendesk.token },
            schedule: '*/15 * * * *',
          },
        })
      ).createConnector;
      await run('UpdateConnector', { id: connector.id, input: { schedule: '0 * * * *' } });
      await run('CheckConnector', { id: connector.id });
      const synced = await runSubscription<{ syncRunChanged: { status: string } }>(
        'SyncRunChanged',
        { project: slug, connector: connector.id },
        () => run('SyncConnector', { id: connector.id, idempotencyKey: 'ops-sync' }),
      );
      expect(synced.syncRunChanged.status).toBe('RUNNING');
      for (;;) {
        const { connector: c } = await run<{ connector: { lastRun: { status: string } } }>('Connector', {
          id: connector.id,
        });
        if (c.lastRun.status !== 'RUNNING') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await run('Connectors', { project: slug, first: 5 });
      await run('SyncRuns', { connector: connector.id, first: 5 });
      const tickets = await run<{ tickets: { edges: unknown[] } }>('Tickets', {
        project: slug,
        statuses: ['solved', 'closed'],
        first: 10,
      });
      expect(tickets.tickets.edges.length).toBeGreaterThan(0);
      await run('RunConnectorAction', {
        input: {
          connector: connector.id,
          action: 'updateTicket',
          input: { ticketId: 1, routing: 'billing' },
        },
      });
      await run('RpaJobs', { project: slug, states: ['Successful'], first: 5 });
      await run('QueueItems', { project: slug, first: 5 });
      await run('CrmContacts', { project: slug, first: 5 });
      await run('CrmDeals', { project: slug, won: true, first: 5 });
    } finally {
      await zendesk.close();
    }
    await run('DefineKpi', {
      input: { project: slug, key: 'csat', name: 'Customer satisfaction', unit: 'score' },
    });
    await run('RecordKpiPoints', {
      input: {
        project: slug,
        points: [
          { kpi: 'csat', time: '2026-11-20T10:00:00Z', value: 4.5 },
          { kpi: 'csat', time: '2026-11-21T10:00:00Z', value: 3.9, dimensions: { channel: 'email' } },
        ],
        idempotencyKey: 'survey-batch-1',
      },
    });
    await run('Kpis', { project: slug });
    // Governance: a HIGH-risk reclassification, and the impact assessment an approver must approve.
    await run('SetProjectRiskLevel', {
      project: slug,
      riskLevel: 'HIGH',
      reason: 'routes credit complaints',
    });
    const assessment = (
      await run<{ submitImpactAssessment: { id: string } }>('SubmitImpactAssessment', {
        project: slug,
        sections: {
          purpose: 'Route support tickets to the right queue',
          affectedPeople: 'Customers writing to support; agents',
          dataCategories: ['contact details', 'message text'],
          lawfulBasis: 'LEGITIMATE_INTERESTS',
          risksAndMitigations: [
            { risk: 'Urgent tickets misrouted', mitigation: 'Urgent keywords bypass the model' },
          ],
          humanOversight: 'Agents re-route any ticket; weekly review',
          accuracyAndRobustness: 'Held-out accuracy 91.6%; live accuracy alerts',
        },
      })
    ).submitImpactAssessment;
    const assessor = await hub.key(Role.APPROVER, [project.id]);
    const decidedAssessment = await hub.gql(
      byName.get('DecideImpactAssessment')!.text,
      { id: assessment.id, approve: true, comment: 'DPIA reviewed' },
      assessor,
    );
    expect(decidedAssessment.errors).toBeUndefined();
    executed.add('DecideImpactAssessment');
    await run('ImpactAssessments', { project: slug });
    await run('AuditLog', { project: slug, first: 20 });
    await run('VerifyAuditChain', { project: slug });
    await run('KpiSeries', {
      project: slug,
      kpi: 'ticket_handling_time',
      from: '2023-01-01T00:00:00Z',
      to: '2030-01-01T00:00:00Z',
    });

    const notRun = examples.map((e) => e.name).filter((n) => !executed.has(n));
    expect(notRun).toEqual([]);
  });
});
