import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx, sha256Hex, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const VIEW = `versionId complete missing markdown card {
  intendedUse outOfScopeUses ethicalConsiderations limitations owners extra
  trainingData { description datasetVersionIds datasets { datasetVersionId name version sha256 } }
  evaluation { source runId metrics { name value dataset } slices { slice metric value n } }
}`;
const MODEL_CARD = `query($v: ID!) { modelCard(versionId: $v) { ${VIEW} } }`;
const UPDATE = `mutation($v: ID!, $c: ModelCardInput!) { updateModelCard(versionId: $v, card: $c) { ${VIEW} } }`;
const AUDIT_LOG = `query($p: String!, $a: [String!]) {
  auditLog(project: $p, actions: $a, first: 50) { edges { node { action subjectType subjectId before after } } }
}`;

interface CardView {
  versionId: string;
  complete: boolean;
  missing: string[];
  markdown: string;
  card: {
    intendedUse: string | null;
    outOfScopeUses: string[];
    ethicalConsiderations: string | null;
    limitations: string[];
    owners: string[];
    extra: Record<string, unknown> | null;
    trainingData: {
      description: string | null;
      datasetVersionIds: string[];
      datasets: Array<{ datasetVersionId: string; name: string; version: number; sha256: string }>;
    };
    evaluation: {
      source: string | null;
      runId: string | null;
      metrics: Array<{ name: string; value: number; dataset: string | null }>;
      slices: Array<{ slice: string; metric: string; value: number; n: number | null }>;
    };
  };
}
interface AuditRow {
  action: string;
  subjectType: string;
  subjectId: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** Every section filled in; evaluation metrics left to the run. */
const COMPLETE = {
  intendedUse: 'Suggest a retention offer to an account manager, who decides',
  outOfScopeUses: ['pricing individual customers', 'credit decisions'],
  trainingData: { description: 'Monthly account snapshots, 2025' },
  evaluation: {
    slices: [
      { slice: 'plan=pro', metric: 'accuracy', value: 0.9, n: 120 },
      { slice: 'plan=basic', metric: 'accuracy', value: 0.82 },
    ],
  },
  ethicalConsiderations: 'Tenure correlates with age; offers are reviewed for age bias each quarter',
  limitations: ['Accounts younger than a month are scored poorly'],
  owners: ['growth-ml@example.com', 'Retention team'],
};

function failure(res: GqlResult<unknown>): { code?: string; field?: string } {
  expect(res.errors).toHaveLength(1);
  const { code, field } = res.errors![0].extensions ?? {};
  return { code, field };
}

describe('model cards', () => {
  let hub: TestHub;
  const onnx = linearClassifierOnnx({
    features: 2,
    classes: 2,
    weights: [
      [0.5, -0.5],
      [-0.1, 0.1],
    ],
    bias: [0, 0],
  });
  const sha = sha256Hex(onnx);

  /** A project with a dataset version, a finished run that logged metrics, and a model. */
  async function arrange(riskLevel = 'LIMITED') {
    const slug = unique('cards');
    const project = (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug, name: 'Model cards', riskLevel } },
      )
    ).createProject;
    const dataset = (
      await hub.gqlOk<{ createDataset: { id: string; name: string } }>(
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id name } }',
        { i: { project: slug, name: unique('accounts') } },
      )
    ).createDataset;
    const rows = Array.from({ length: 30 }, (_, i) => ({ tenure: i % 12, spend: 10 + (i % 5) * 2 }));
    const datasetVersion = (
      await hub.gqlOk<{ registerDatasetVersion: { id: string; version: number; sha256: string } }>(
        'mutation($i: RegisterDatasetVersionInput!) { registerDatasetVersion(input: $i) { id version sha256 } }',
        { i: { datasetId: dataset.id, rows } },
      )
    ).registerDatasetVersion;
    const run = (
      await hub.gqlOk<{ startRun: { id: string } }>(
        'mutation($i: StartRunInput!) { startRun(input: $i) { id } }',
        { i: { project: slug, name: 'train', kind: 'TRAINING', inputs: [datasetVersion.id] } },
      )
    ).startRun;
    // Out of order on purpose: the latest value is the one at the highest step.
    const points = [
      { key: 'val_accuracy', step: 2, value: 0.87 },
      { key: 'val_accuracy', step: 0, value: 0.61 },
      { key: 'loss', step: 0, value: 0.9 },
      { key: 'loss', step: 2, value: 0.21 },
      { key: 'val_accuracy', step: 1, value: 0.8 },
      { key: 'loss', step: 1, value: 0.4 },
    ];
    await hub.gqlOk(
      'mutation($r: ID!, $p: [MetricPointInput!]!) { logRunMetrics(runId: $r, points: $p) { accepted } }',
      { r: run.id, p: points },
    );
    await hub.gqlOk('mutation($id: ID!) { finishRun(id: $id, status: SUCCEEDED) { id } }', { id: run.id });
    const model = (
      await hub.gqlOk<{ createModel: { id: string; name: string } }>(
        'mutation($i: CreateModelInput!) { createModel(input: $i) { id name } }',
        { i: { project: slug, name: unique('churn'), task: 'CLASSIFICATION' } },
      )
    ).createModel;
    await uploadArtifact(hub, onnx, slug);
    const register = async (input: Record<string, unknown> = {}) =>
      (
        await hub.gqlOk<{ registerModelVersion: { id: string; version: number; createdAt: string } }>(
          'mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id version createdAt } }',
          {
            i: {
              modelId: model.id,
              artifactSha256: sha,
              featureNames: ['tenure', 'spend'],
              labels: ['stays', 'churns'],
              runId: run.id,
              datasetVersionId: datasetVersion.id,
              ...input,
            },
          },
        )
      ).registerModelVersion;
    return { project, dataset, datasetVersion, run, model, register };
  }

  const cardOf = async (versionId: string): Promise<CardView> =>
    (await hub.gqlOk<{ modelCard: CardView }>(MODEL_CARD, { v: versionId })).modelCard;
  const update = (versionId: string, card: Record<string, unknown>, key?: string) =>
    hub.gql<{ updateModelCard: CardView }>(UPDATE, { v: versionId, c: card }, key);
  const auditLog = async (slug: string, actions: string[]): Promise<AuditRow[]> =>
    (
      await hub.gqlOk<{ auditLog: { edges: Array<{ node: AuditRow }> } }>(AUDIT_LOG, { p: slug, a: actions })
    ).auditLog.edges.map((e) => e.node);

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  it('fills a card from its lineage, reports what is missing, renders stable Markdown and audits each change', async () => {
    const { project, dataset, datasetVersion, run, model, register } = await arrange();
    // Registered with a free-form card, as pipelines did before cards were structured.
    const version = await register({ modelCard: { owner: 'ml-team', intendedUse: 'retention offers' } });

    const registered = await cardOf(version.id);
    expect(registered).toMatchObject({
      complete: false,
      missing: [
        'outOfScopeUses',
        'trainingData',
        'evaluation',
        'ethicalConsiderations',
        'limitations',
        'owners',
      ],
      card: { intendedUse: 'retention offers', extra: { owner: 'ml-team' } },
    });

    // A partial card: training datasets and evaluation metrics are left to the lineage.
    const partial = await update(version.id, {
      intendedUse: 'Retention offers',
      owners: ['growth-ml@example.com'],
    });
    expect(partial.errors).toBeUndefined();
    const first = partial.data!.updateModelCard;
    expect(first.card.trainingData).toEqual({
      description: null,
      datasetVersionIds: [datasetVersion.id],
      datasets: [
        {
          datasetVersionId: datasetVersion.id,
          name: dataset.name,
          version: datasetVersion.version,
          sha256: datasetVersion.sha256,
        },
      ],
    });
    expect(first.card.evaluation).toEqual({
      source: 'RUN',
      runId: run.id,
      metrics: [
        { name: 'loss', value: 0.21, dataset: null },
        { name: 'val_accuracy', value: 0.87, dataset: null },
      ],
      slices: [],
    });
    // Free-form material of the card it replaced is kept.
    expect(first.card.extra).toEqual({ owner: 'ml-team' });
    expect(first).toMatchObject({
      complete: false,
      missing: ['outOfScopeUses', 'ethicalConsiderations', 'limitations'],
    });

    const done = await update(version.id, COMPLETE);
    expect(done.errors).toBeUndefined();
    const view = done.data!.updateModelCard;
    expect(view).toMatchObject({ complete: true, missing: [] });
    expect(view.card.evaluation.metrics.map((m) => m.name)).toEqual(['loss', 'val_accuracy']);
    expect(view.card.evaluation.slices).toEqual([
      { slice: 'plan=pro', metric: 'accuracy', value: 0.9, n: 120 },
      { slice: 'plan=basic', metric: 'accuracy', value: 0.82, n: null },
    ]);
    const { markdown } = view;
    expect(markdown.startsWith(`# Model card: ${model.name} v${version.version}\n`)).toBe(true);
    for (const heading of [
      'Intended use',
      'Out-of-scope uses',
      'Training data',
      'Evaluation',
      'Ethical considerations',
      'Limitations',
      'Owners',
    ]) {
      expect(markdown).toContain(`\n## ${heading}\n`);
    }
    expect(markdown).toContain(
      `| ${dataset.name} | ${datasetVersion.version} | \`${datasetVersion.sha256}\` |`,
    );
    expect(markdown).toContain(`Latest value of each metric of run \`${run.id}\`.`);
    expect(markdown).toContain('| val_accuracy | 0.87 |  |');
    expect(markdown).toContain('| plan=pro | accuracy | 0.9 | 120 |');
    expect(markdown).toContain('- growth-ml@example.com\n- Retention team\n');
    expect(markdown).toContain(`- Generated at: ${version.createdAt} (registration of version 1)`);
    expect(markdown).toContain('- Completeness: complete');
    // Read again later: byte for byte the same.
    expect((await cardOf(version.id)).markdown).toBe(markdown);
    const stored = await hub.gqlOk<{ modelVersion: { modelCard: Record<string, unknown> } }>(
      'query($id: ID!) { modelVersion(id: $id) { modelCard } }',
      { id: version.id },
    );
    expect(stored.modelVersion.modelCard).toMatchObject({
      owners: COMPLETE.owners,
      extra: { owner: 'ml-team' },
    });

    // The same card again changes nothing, and records nothing.
    expect((await update(version.id, COMPLETE)).errors).toBeUndefined();

    const events = await auditLog(project.slug, ['createModel', 'registerModelVersion', 'updateModelCard']);
    expect(events.map((e) => e.action)).toEqual([
      'updateModelCard',
      'updateModelCard',
      'registerModelVersion',
      'createModel',
    ]);
    const [second, firstUpdate, registration, creation] = events;
    expect(creation).toMatchObject({
      subjectType: 'Model',
      subjectId: model.id,
      after: { name: model.name },
    });
    expect(registration).toMatchObject({
      subjectType: 'ModelVersion',
      subjectId: version.id,
      after: { version: 1, artifactSha256: sha, status: 'REGISTERED', runId: run.id },
    });
    expect(firstUpdate).toMatchObject({
      subjectType: 'ModelVersion',
      subjectId: version.id,
      before: { modelCard: { owner: 'ml-team', intendedUse: 'retention offers' } },
      after: { modelCard: { intendedUse: 'Retention offers' }, missing: first.missing },
    });
    expect(second.before).toEqual({ version: 1, modelCard: firstUpdate.after!.modelCard });
    expect(second.after).toMatchObject({
      modelCard: { outOfScopeUses: COMPLETE.outOfScopeUses },
      missing: [],
    });
    const chain = await hub.gqlOk<{ verifyAuditChain: { ok: boolean; events: number } }>(
      'query($p: String!) { verifyAuditChain(project: $p) { ok events } }',
      { p: project.slug },
    );
    expect(chain.verifyAuditChain.ok).toBe(true);
  });

  it('refuses a malformed card naming the field, and writes nothing', async () => {
    const { project, register } = await arrange();
    const other = await arrange();
    const version = await register({ modelCard: { intendedUse: 'as registered' } });
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ ...COMPLETE, owners: ['growth-ml@example.com', 'bad@address'] }, 'card.owners.1'],
      [
        { ...COMPLETE, trainingData: { datasetVersionIds: [other.datasetVersion.id] } },
        'card.trainingData.datasetVersionIds.0',
      ],
      [
        { ...COMPLETE, trainingData: { datasetVersionIds: ['not-an-id'] } },
        'card.trainingData.datasetVersionIds.0',
      ],
      [{ ...COMPLETE, evaluation: { metrics: [{ name: ' ', value: 1 }] } }, 'card.evaluation.metrics.0.name'],
      [
        { ...COMPLETE, evaluation: { slices: [{ slice: 'a', metric: 'm', value: 1, n: -3 }] } },
        'card.evaluation.slices.0.n',
      ],
      [{ ...COMPLETE, extra: { limitations: 'hidden here' } }, 'card.extra.limitations'],
    ];
    for (const [card, field] of refusals) {
      expect({ field, got: failure(await update(version.id, card)) }).toEqual({
        field,
        got: { code: 'BAD_USER_INPUT', field },
      });
    }
    // A viewer reads the card but may not change it; another project's version is not found.
    const viewer = await hub.key(Role.VIEWER, [project.id]);
    expect(failure(await update(version.id, COMPLETE, viewer))).toMatchObject({ code: 'FORBIDDEN' });
    expect((await hub.gql(MODEL_CARD, { v: version.id }, viewer)).errors).toBeUndefined();
    const outsider = await hub.key(Role.ML_ENGINEER, [other.project.id]);
    expect(failure(await update(version.id, COMPLETE, outsider))).toEqual({
      code: 'NOT_FOUND',
      field: 'versionId',
    });

    expect((await cardOf(version.id)).card).toMatchObject({ intendedUse: 'as registered', owners: [] });
    expect(await auditLog(project.slug, ['updateModelCard'])).toEqual([]);
  });

  it('deploys a version to a HIGH-risk project only once its card is complete', async () => {
    const { project, model, register } = await arrange();
    await register();
    const candidate = await register();
    const endpoint = unique('cards');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: project.slug, name: endpoint, model: model.name, version: 1 },
    });
    await hub.gqlOk(
      'mutation($p: String!) { setProjectRiskLevel(project: $p, riskLevel: HIGH, reason: "scores customers") { riskLevel } }',
      { p: project.slug },
    );
    // A HIGH-risk project serves only under an approved impact assessment.
    const author = await hub.key(Role.ML_ENGINEER, [project.id]);
    const submitted = await hub.gqlOk<{ submitImpactAssessment: { id: string } }>(
      'mutation($p: String!, $s: ImpactAssessmentInput!) { submitImpactAssessment(project: $p, sections: $s) { id } }',
      {
        p: project.slug,
        s: {
          purpose: 'Retention offers',
          affectedPeople: 'Customers',
          dataCategories: ['usage'],
          lawfulBasis: 'LEGITIMATE_INTERESTS',
          risksAndMitigations: [{ risk: 'Unfair offers', mitigation: 'Quarterly bias review' }],
          humanOversight: 'An account manager decides every offer',
          accuracyAndRobustness: 'Monitored live',
        },
      },
      author,
    );
    await hub.gqlOk(
      'mutation($id: ID!) { decideImpactAssessment(id: $id, approve: true, comment: "ok") { status } }',
      { id: submitted.submitImpactAssessment.id },
      await hub.key(Role.APPROVER, [project.id]),
    );
    const deploy = () =>
      hub.gql<{ deploy: { status: string } }>('mutation($i: DeployInput!) { deploy(input: $i) { status } }', {
        i: { endpoint, version: candidate.version, strategy: 'CANARY' },
      });

    await hub.gqlOk(UPDATE, { v: candidate.id, c: { ...COMPLETE, limitations: [] } });
    const refused = await deploy();
    expect(failure(refused)).toEqual({ code: 'BAD_USER_INPUT', field: 'version' });
    expect(refused.errors![0].message).toContain('missing limitations');

    await hub.gqlOk(UPDATE, { v: candidate.id, c: COMPLETE });
    const accepted = await deploy();
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data!.deploy.status).toBe('PENDING_APPROVAL');
  });
});
