import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.entity';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { unique, type TestHub } from '../harness';
import { ExampleRunner } from './operations';

const FEATURES = ['tenure', 'spend'];
const LABELS = ['stays', 'churns'];

/**
 * One project holding a bit of everything, arranged through the example operations of
 * `graphql/operations` with an unscoped admin key: a dataset and its version, a finished run with
 * metrics and an open one, a model with three versions and lineage, a serving endpoint with logged
 * predictions, an outcome and a drift report, an endpoint for traffic changes, a rollout waiting for
 * an approver, an open alert, a synced Zendesk connector (against the fake) and a KPI with points.
 *
 * The `fresh*` methods arrange throwaway objects, so a call that changes state (finishing a run,
 * promoting a rollout, resolving an alert) never lands on what another caller needs.
 */
export class ProjectFixture {
  readonly ops: ExampleRunner;
  slug = '';
  projectId = '';
  datasetId = '';
  datasetVersionId = '';
  runId = '';
  /** QUEUED or RUNNING: takes metric points. */
  openRunId = '';
  modelId = '';
  modelName = 'churn-clf';
  /** Version 1 (served, with lineage), 2 and 3 (candidates). */
  versionIds: string[] = [];
  artifactSha256 = '';
  /** Serves version 1; has predictions, an outcome and a drift report. */
  endpoint = '';
  /** For traffic changes: no rollout ever runs on it. */
  trafficEndpoint = '';
  /** The request key of a logged prediction on `endpoint`. */
  requestKey = '';
  /** Waiting for an approver on its own endpoint. */
  rolloutId = '';
  approvalId = '';
  alertId = '';
  /** Submitted by the admin key, waiting for a decision. */
  assessmentId = '';
  connectorId = '';
  automationId = '';
  automationRunId = '';
  /** Every connector made here, so `close()` can wait for their syncs. */
  private readonly connectorIds: string[] = [];
  kpi = 'csat';
  readonly zendesk = new FakeZendeskServer({ tickets: 40, seed: 7 });
  zendeskUrl = '';

  constructor(readonly hub: TestHub) {
    this.ops = new ExampleRunner(hub);
  }

  /** Builds everything; `close()` stops the fake vendor. */
  async build(): Promise<this> {
    const { ops } = this;
    this.slug = unique('matrix');
    this.projectId = (
      await ops.run<{ createProject: { id: string } }>('CreateProject', {
        input: { slug: this.slug, name: 'Role matrix' },
      })
    ).createProject.id;
    const dataset = (
      await ops.run<{ createDataset: { id: string } }>('CreateDataset', {
        input: { project: this.slug, name: 'churn-training', description: 'Customer churn' },
      })
    ).createDataset;
    this.datasetId = dataset.id;
    this.datasetVersionId = (
      await ops.run<{ registerDatasetVersion: { id: string } }>('RegisterDatasetVersion', {
        input: { datasetId: dataset.id, rows: datasetRows() },
      })
    ).registerDatasetVersion.id;

    this.runId = await this.freshRun();
    await ops.run('LogRunMetrics', {
      runId: this.runId,
      points: Array.from({ length: 10 }, (_, step) => ({ key: 'loss', step, value: 1 / (step + 1) })),
    });
    await ops.run('FinishRun', { id: this.runId, status: 'SUCCEEDED' });
    this.openRunId = await this.freshRun();

    this.modelId = (
      await ops.run<{ createModel: { id: string } }>('CreateModel', {
        input: { project: this.slug, name: this.modelName, task: 'CLASSIFICATION' },
      })
    ).createModel.id;
    this.artifactSha256 = await uploadArtifact(
      this.hub,
      linearClassifierOnnx({
        features: 2,
        classes: 2,
        weights: [
          [0.5, -0.5],
          [-0.1, 0.1],
        ],
        bias: [0, 0],
      }),
      this.slug,
    );
    for (let i = 0; i < 3; i++) {
      const lineage = i === 0 ? { runId: this.runId, datasetVersionId: this.datasetVersionId } : {};
      this.versionIds.push(
        (
          await ops.run<{ registerModelVersion: { id: string } }>('RegisterModelVersion', {
            input: { ...this.versionInput(), ...lineage },
          })
        ).registerModelVersion.id,
      );
    }
    await ops.run('SetModelAlias', {
      modelId: this.modelId,
      alias: 'champion',
      versionId: this.versionIds[0],
    });

    this.endpoint = await this.freshEndpoint();
    this.trafficEndpoint = await this.freshEndpoint();
    this.requestKey = unique('request');
    await ops.run('Predict', {
      endpoint: this.endpoint,
      input: { tenure: 12, spend: 40.5 },
      requestKey: this.requestKey,
    });
    await ops.run('PredictBatch', {
      endpoint: this.endpoint,
      inputs: Array.from({ length: 20 }, (_, i) => ({ tenure: i, spend: 20 + i })),
    });
    await ops.run('RecordPredictionOutcome', {
      endpoint: this.endpoint,
      requestKey: this.requestKey,
      label: 'stays',
    });
    await this.hub.services.predictionLog.flush();
    await ops.run('RunDriftCheck', { endpoint: this.endpoint, window: 60 });

    const gated = await this.freshRollout({ gate: true });
    this.rolloutId = gated.rolloutId;
    this.approvalId = gated.approvalId!;
    this.alertId = await this.freshAlert();
    this.assessmentId = await this.freshAssessment();

    this.zendeskUrl = await this.zendesk.start();
    this.connectorId = await this.freshConnector();
    await ops.run('SyncConnector', { id: this.connectorId });
    await this.syncsDone();

    // An automation on alerts, and one run of it (the dispatcher and runner stepped here).
    this.automationId = await this.freshAutomation();
    await this.freshAlert();
    await this.settleAutomations();
    const runs = await ops.run<{ automationRuns: { edges: Array<{ node: { id: string } }> } }>(
      'AutomationRuns',
      { automation: this.automationId, first: 1 },
    );
    this.automationRunId = runs.automationRuns.edges[0].node.id;

    await ops.run('DefineKpi', {
      input: { project: this.slug, key: this.kpi, name: 'Customer satisfaction', unit: 'score' },
    });
    await ops.run('RecordKpiPoints', {
      input: {
        project: this.slug,
        points: [
          { kpi: this.kpi, time: '2026-11-20T10:00:00Z', value: 4.5 },
          { kpi: this.kpi, time: '2026-11-21T10:00:00Z', value: 3.9 },
        ],
      },
    });
    return this;
  }

  async close(): Promise<void> {
    await this.syncsDone();
    await this.zendesk.close();
  }

  /** Input of RegisterModelVersion for another version of the fixture's model. */
  versionInput(modelId = this.modelId): Record<string, unknown> {
    return { modelId, artifactSha256: this.artifactSha256, featureNames: FEATURES, labels: LABELS };
  }

  /** A new QUEUED or RUNNING run. */
  async freshRun(): Promise<string> {
    return (
      await this.ops.run<{ startRun: { id: string } }>('StartRun', {
        input: { project: this.slug, name: unique('run'), kind: 'TRAINING', inputs: [this.datasetVersionId] },
      })
    ).startRun.id;
  }

  /** A new endpoint serving version 1 of the model. */
  async freshEndpoint(): Promise<string> {
    const name = unique('matrix-ep');
    await this.ops.run('CreateEndpoint', {
      input: { project: this.slug, name, model: this.modelName, version: 1 },
    });
    return name;
  }

  /**
   * A rollout of version 2 on a new endpoint: PROGRESSING, PAUSED, or (gate) PENDING_APPROVAL with
   * a pending approval request made by the admin key.
   */
  async freshRollout(
    options: { gate?: boolean; paused?: boolean } = {},
  ): Promise<{ endpoint: string; rolloutId: string; approvalId?: string }> {
    const endpoint = await this.freshEndpoint();
    const rollout = (
      await this.ops.run<{ deploy: { id: string; approvals: Array<{ id: string; status: string }> } }>(
        'Deploy',
        {
          input: {
            endpoint,
            version: 2,
            strategy: 'CANARY',
            steps: [{ weight: 10, pauseMinutes: 60, manualGate: options.gate ?? false }],
          },
        },
      )
    ).deploy;
    if (options.paused) await this.ops.run('PauseRollout', { id: rollout.id });
    const approvalId = rollout.approvals.find((a) => a.status === 'PENDING')?.id;
    if (options.gate && !approvalId) throw new Error('the gated rollout has no pending approval');
    return { endpoint, rolloutId: rollout.id, approvalId };
  }

  /** A new OPEN alert. */
  async freshAlert(): Promise<string> {
    const alert = await this.hub.services.alerts.raise({
      projectId: this.projectId,
      kind: AlertKind.SLA_LATENCY,
      severity: AlertSeverity.WARNING,
      dedupeKey: unique('matrix-alert'),
      title: 'p95 latency above target',
      evidence: { p95Ms: 62, targetMs: 40 },
    });
    return alert.id;
  }

  /** A new version of the project's impact assessment, submitted by the admin key: the latest. */
  async freshAssessment(): Promise<string> {
    return (
      await this.ops.run<{ submitImpactAssessment: { id: string } }>('SubmitImpactAssessment', {
        project: this.slug,
        sections: ASSESSMENT,
      })
    ).submitImpactAssessment.id;
  }

  /** What a worker does: turns the outbox into runs and carries out the project's due runs, until none is left. */
  async settleAutomations(): Promise<void> {
    const { automationDispatcher, automationRunner } = this.hub.services;
    do while (await automationDispatcher.step());
    while ((await automationRunner.drain([this.projectId])) > 0);
  }

  /** A FAILED run of a new automation whose one step refuses (a dead letter to redeliver). */
  async freshFailedRun(): Promise<string> {
    const { id } = (
      await this.ops.run<{ createAutomation: { id: string } }>('CreateAutomation', {
        input: {
          project: this.slug,
          name: unique('refuses'),
          trigger: { kind: 'EVENT', event: 'alert.changed' },
          steps: [{ name: 'refuse', kind: 'CONDITION', input: '$error("refused on purpose")' }],
        },
      })
    ).createAutomation;
    await this.freshAlert();
    await this.settleAutomations();
    const [run] = (await this.hub.db.query(
      "SELECT id FROM automation_run WHERE automation_id = $1 AND status = 'FAILED'",
      [id],
    )) as Array<{ id: string }>;
    return run.id;
  }

  /** A new automation of the project: on each alert change, a condition that holds. */
  async freshAutomation(): Promise<string> {
    const { id } = (
      await this.ops.run<{ createAutomation: { id: string } }>('CreateAutomation', {
        input: {
          project: this.slug,
          name: unique('on-alerts'),
          trigger: { kind: 'EVENT', event: 'alert.changed' },
          steps: [{ name: 'always', kind: 'CONDITION', input: 'true' }],
        },
      })
    ).createAutomation;
    return id;
  }

  /** A new Zendesk connector on the fake. */
  async freshConnector(): Promise<string> {
    const { id } = (
      await this.ops.run<{ createConnector: { id: string } }>('CreateConnector', {
        input: this.connectorInput(),
      })
    ).createConnector;
    this.connectorIds.push(id);
    return id;
  }

  connectorInput(): Record<string, unknown> {
    return {
      project: this.slug,
      name: unique('support'),
      kind: 'zendesk',
      config: {
        baseUrl: this.zendeskUrl,
        email: this.zendesk.email,
        routingFieldId: this.zendesk.routingFieldId,
        requestKeyFieldId: this.zendesk.requestKeyFieldId,
      },
      secrets: { apiToken: this.zendesk.token },
    };
  }

  /** A new key, limited to the project, for a caller to revoke. */
  async freshKeyId(): Promise<string> {
    const secret = await this.hub.key(Role.VIEWER, [this.projectId]);
    return (await this.hub.gql<{ me: { keyId: string } }>('{ me { keyId } }', {}, secret)).data!.me.keyId;
  }

  /** Waits until no sync of the fixture's connectors is running. */
  async syncsDone(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (const id of this.connectorIds) {
      for (;;) {
        const { connector } = await this.ops.run<{ connector: { lastRun: { status: string } | null } }>(
          'Connector',
          { id },
        );
        if (connector.lastRun?.status !== 'RUNNING') break;
        if (Date.now() > deadline) throw new Error('a sync did not finish in 30 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
}

/** Every section an impact assessment needs. */
export const ASSESSMENT = {
  purpose: 'Flag accounts likely to churn for a retention call',
  affectedPeople: 'Customers; the retention team',
  dataCategories: ['usage', 'billing'],
  lawfulBasis: 'LEGITIMATE_INTERESTS',
  risksAndMitigations: [{ risk: 'Calls to people who asked not to be called', mitigation: 'Opt-out list' }],
  humanOversight: 'The retention team decides every call',
  accuracyAndRobustness: 'AUC 0.81 held out; live accuracy alerts',
};

function datasetRows(): Array<Record<string, unknown>> {
  return Array.from({ length: 50 }, (_, i) => ({
    tenure: i % 24,
    spend: 20 + (i % 7) * 3.5,
    plan: i % 3 ? 'basic' : 'pro',
  }));
}
