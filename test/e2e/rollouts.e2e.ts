import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { FakeOipServer } from '../fakes/oip-server';
import { expectedSoftmax, linearClassifierOnnx, uploadArtifact, failingAtRunTime } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const LABELS = ['billing', 'technical', 'account'];
const WEIGHTS = [
  [0.8, -0.4, 0.1],
  [-0.3, 0.9, -0.2],
];
const BIAS = [0.05, -0.05, 0];
const WORSE_BIAS = [-3, 3, -3];
const FEATURES = ['amount', 'errors'];
const MODEL_CARD = {
  intendedUse: 'Route support tickets to a queue',
  outOfScopeUses: ['credit decisions'],
  trainingData: { dataset: 'support-tickets' },
  evaluation: { accuracy: 0.91 },
  ethicalConsiderations: 'No personal data is used as a feature',
  limitations: 'English tickets only',
  owners: ['ml-platform@example.com'],
};

/**
 * For rollouts expected to pass: checks that wall-clock noise on a busy test machine cannot fail (the
 * defaults compare p95 latencies, which is what the slow-canary test exercises).
 */
const STEADY = {
  minSamples: 20,
  conditions: [
    { metric: 'ERROR_RATE', maxIncrease: 0.02 },
    { metric: 'P95_LATENCY', max: 5_000 },
    { metric: 'DRIFT' },
  ],
};

const ROLLOUT = `id status strategy currentStep failures steps { weight pauseMinutes manualGate }
  events { type step actorKeyId reason evidence } approvals { id status step }`;

interface RolloutRow {
  id: string;
  status: string;
  currentStep: number;
  events: Array<{
    type: string;
    step: number | null;
    actorKeyId: string | null;
    reason: string | null;
    evidence: Record<string, unknown> | null;
  }>;
  approvals: Array<{ id: string; status: string; step: number | null }>;
}

function failure(res: GqlResult<unknown>): { code?: string; field?: string } {
  expect(res.errors).toHaveLength(1);
  const { code, field } = res.errors![0].extensions ?? {};
  return { code, field };
}

const v1Label = (input: { amount: number; errors: number }): string => {
  const p = expectedSoftmax([input.amount, input.errors], WEIGHTS, BIAS);
  return LABELS[p.indexOf(Math.max(...p))];
};

/** A complete impact assessment (every template section). */
const ASSESSMENT = {
  purpose: 'Route support tickets to queues',
  affectedPeople: 'Customers writing to support; support agents',
  dataCategories: ['contact details', 'message text'],
  lawfulBasis: 'LEGITIMATE_INTERESTS',
  risksAndMitigations: [{ risk: 'Misrouted urgent tickets', mitigation: 'Urgent keywords bypass the model' }],
  humanOversight: 'Agents can re-route any ticket; weekly review of misroutes',
  accuracyAndRobustness: 'Held-out accuracy 91.6%; live accuracy monitored with alerts',
};

describe('rollouts', () => {
  let clock = new Date('2026-07-01T09:00:00.000Z');
  const advance = (minutes: number): void => {
    clock = new Date(clock.getTime() + minutes * 60_000);
  };
  let hub: TestHub;
  let fake: FakeOipServer;
  let project: { id: string; slug: string };
  let model: string;
  const versions: Record<string, number> = {};
  const artifacts: Buffer[] = [];
  const clients: Client[] = [];
  let served = 0;
  let servedErrors: unknown[] = [];

  const register = async (input: Record<string, unknown>): Promise<number> =>
    (
      await hub.gqlOk<{ registerModelVersion: { version: number } }>(
        'mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { version } }',
        { i: { modelId: await modelId(), labels: LABELS, featureNames: FEATURES, ...input } },
      )
    ).registerModelVersion.version;
  let cachedModelId: string | undefined;
  const modelId = async (): Promise<string> => {
    cachedModelId ??= (
      await hub.gqlOk<{ createModel: { id: string } }>(
        'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
        {
          i: { project: project.slug, name: model, task: 'CLASSIFICATION' },
        },
      )
    ).createModel.id;
    return cachedModelId;
  };
  const endpointOn = async (version = versions.stable): Promise<string> => {
    const name = unique('ep');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: project.slug, name, model, version },
    });
    return name;
  };
  const deploy = (input: Record<string, unknown>, key?: string) =>
    hub.gql<{ deploy: RolloutRow }>(
      `mutation($i: DeployInput!) { deploy(input: $i) { ${ROLLOUT} } }`,
      { i: input },
      key,
    );
  const rollout = async (id: string): Promise<RolloutRow> =>
    (await hub.gqlOk<{ rollout: RolloutRow }>(`query($id: ID!) { rollout(id: $id) { ${ROLLOUT} } }`, { id }))
      .rollout;
  const endpointState = (name: string) =>
    hub
      .gqlOk<{
        endpoint: {
          stableVersion: { version: number };
          canaryVersion: { version: number } | null;
          canaryWeight: number;
          shadowVersion: { version: number } | null;
        };
      }>(
        'query($n: String!) { endpoint(name: $n) { stableVersion { version } canaryVersion { version } canaryWeight shadowVersion { version } } }',
        { n: name },
      )
      .then((d) => d.endpoint);
  /** Real traffic: every prediction must be served, whatever the rollout is doing. */
  const traffic = async (
    endpoint: string,
    n: number,
    tag = unique('k'),
  ): Promise<
    Array<{ key: string; version: number; label: string; input: { amount: number; errors: number } }>
  > => {
    const inputs = Array.from({ length: n }, (_, i) => ({ amount: (i % 37) / 3, errors: i % 5 }));
    const answers = await Promise.all(
      inputs.map((input, i) =>
        hub.gql<{ predict: { modelVersion: number; label: string } }>(
          'mutation($e: String!, $i: JSONObject!, $k: String) { predict(endpoint: $e, input: $i, requestKey: $k) { modelVersion label } }',
          { e: endpoint, i: input, k: `${tag}-${i}` },
        ),
      ),
    );
    served += n;
    return answers.map((a, i) => {
      if (a.errors) servedErrors.push(a.errors);
      return {
        key: `${tag}-${i}`,
        version: a.data?.predict.modelVersion ?? -1,
        label: a.data?.predict.label ?? '',
        input: inputs[i],
      };
    });
  };
  const tick = async (id: string): Promise<RolloutRow> => {
    await hub.services.predictionLog.flush();
    await hub.services.rolloutDriver.advance(id);
    return rollout(id);
  };

  beforeAll(async () => {
    hub = await startTestHub({ predictionLogFlushMs: 5 }, { now: () => clock });
    project = (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('ro'), name: 'Rollouts' } },
      )
    ).createProject;
    model = unique('router');
    artifacts.push(
      linearClassifierOnnx({ features: 2, classes: 3, weights: WEIGHTS, bias: BIAS }),
      linearClassifierOnnx({ features: 2, classes: 3, weights: WEIGHTS, bias: WORSE_BIAS }),
      failingAtRunTime(),
    );
    const [good, worse, broken] = await Promise.all(
      artifacts.map((a) => uploadArtifact(hub, a, project.slug)),
    );
    fake = new FakeOipServer([
      {
        name: 'router',
        version: '1',
        inputName: 'features',
        width: 2,
        weights: WEIGHTS,
        bias: BIAS,
        softmax: true,
        outputName: 'probabilities',
      },
    ]);
    const { url } = await fake.start();
    versions.stable = await register({ artifactSha256: good });
    versions.same = await register({ artifactSha256: good, modelCard: MODEL_CARD });
    versions.worse = await register({ artifactSha256: worse });
    versions.broken = await register({ artifactSha256: broken });
    versions.slow = await register({ remote: { url, model: 'router', version: '1', timeoutMs: 10_000 } });
    versions.uncarded = await register({ artifactSha256: good });
  }, 60_000);

  afterEach(() => {
    // During every rollout, every prediction was served: none failed because of the rollout itself.
    expect(servedErrors.filter((e) => !JSON.stringify(e).includes('the model failed'))).toEqual([]);
    servedErrors = [];
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await fake.close();
    await hub.close();
  });

  it('promotes a good canary step by step; the champion alias moves with history', async () => {
    const endpoint = await endpointOn();
    advance(1);
    const started = clock;
    const res = await deploy({
      endpoint,
      version: versions.same,
      strategy: 'CANARY',
      steps: [
        { weight: 30, pauseMinutes: 1 },
        { weight: 100, pauseMinutes: 1 },
      ],
      analysis: { intervalMinutes: 1, ...STEADY },
      reason: 'same weights, new export',
    });
    expect(res.errors).toBeUndefined();
    const { id } = res.data!.deploy;
    expect(res.data!.deploy).toMatchObject({ status: 'PROGRESSING', currentStep: 0 });
    expect(await endpointState(endpoint)).toMatchObject({
      canaryVersion: { version: versions.same },
      canaryWeight: 30,
    });

    // Too little traffic yet: inconclusive, not a pass.
    advance(1);
    await traffic(endpoint, 10);
    expect((await tick(id)).events.at(-1)!.type).toBe('ANALYSIS_INCONCLUSIVE');

    advance(1);
    const first = await traffic(endpoint, 120);
    const canary = first.filter((a) => a.version === versions.same).length;
    expect(canary).toBeGreaterThan(15);
    expect(canary).toBeLessThan(70);
    let state = await tick(id);
    expect(state.events.map((e) => e.type).slice(-2)).toEqual(['ANALYSIS_PASSED', 'STEP_STARTED']);
    expect(await endpointState(endpoint)).toMatchObject({ canaryWeight: 100 });

    advance(1);
    await traffic(endpoint, 60);
    state = await tick(id);
    expect(state.status).toBe('SUCCEEDED');
    expect(state.events.at(-1)).toMatchObject({ type: 'PROMOTED', actorKeyId: null });
    expect(await endpointState(endpoint)).toEqual({
      stableVersion: { version: versions.same },
      canaryVersion: null,
      canaryWeight: 0,
      shadowVersion: null,
    });
    const alias = await hub.gqlOk<{ model: { aliases: Array<{ alias: string; versionId: string }> } }>(
      'query($id: ID!) { model(id: $id) { aliases { alias versionId } } }',
      { id: await modelId() },
    );
    const rolledOut = await hub.gqlOk<{ endpoint: { stableVersion: { id: string } } }>(
      'query($n: String!) { endpoint(name: $n) { stableVersion { id } } }',
      { n: endpoint },
    );
    expect(alias.model.aliases).toContainEqual({
      alias: 'champion',
      versionId: rolledOut.endpoint.stableVersion.id,
    });

    // servedVersion answers for any past instant.
    const at = async (instant: Date) =>
      (
        await hub.gqlOk<{
          servedVersion: { stableVersion: number; canaryVersion: number | null; canaryWeight: number };
        }>(
          'query($e: String!, $at: DateTimeISO!) { servedVersion(endpoint: $e, at: $at) { stableVersion canaryVersion canaryWeight } }',
          { e: endpoint, at: instant.toISOString() },
        )
      ).servedVersion;
    expect(await at(new Date(started.getTime() - 1))).toEqual({
      stableVersion: versions.stable,
      canaryVersion: null,
      canaryWeight: 0,
    });
    expect(await at(new Date(started.getTime() + 90_000))).toEqual({
      stableVersion: versions.stable,
      canaryVersion: versions.same,
      canaryWeight: 30,
    });
    expect(await at(clock)).toEqual({ stableVersion: versions.same, canaryVersion: null, canaryWeight: 0 });
  });

  it('rolls back a slower canary by itself, with an alert and a rolloutChanged event carrying the evidence', async () => {
    const endpoint = await endpointOn();
    const client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${hub.adminKey}` },
      retryAttempts: 0,
    });
    clients.push(client);
    const changes: Array<{ event: { type: string; evidence: Record<string, unknown> | null } }> = [];
    client.subscribe(
      {
        query:
          'subscription($p: String!, $e: String) { rolloutChanged(project: $p, endpoint: $e) { rollout { id status } event { type evidence } } }',
        variables: { p: project.slug, e: endpoint },
      },
      {
        next: (r) =>
          void changes.push((r.data as { rolloutChanged: (typeof changes)[number] }).rolloutChanged),
        error: () => undefined,
        complete: () => undefined,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    fake.delayMs = 1_500;
    const { id } = (
      await deploy({
        endpoint,
        version: versions.slow,
        strategy: 'CANARY',
        steps: [{ weight: 50, pauseMinutes: 5 }],
        analysis: { minSamples: 20 },
      })
    ).data!.deploy;
    advance(1);
    await traffic(endpoint, 80);
    const state = await tick(id);
    fake.delayMs = 0;
    expect(state.status).toBe('ROLLED_BACK');
    const failed = state.events.find((e) => e.type === 'ANALYSIS_FAILED')!;
    expect(failed.reason).toMatch(/P95_LATENCY/);
    expect(await endpointState(endpoint)).toMatchObject({
      stableVersion: { version: versions.stable },
      canaryVersion: null,
    });
    const alerts = await hub.gqlOk<{
      alerts: { edges: Array<{ node: { kind: string; title: string; evidence: Record<string, unknown> } }> };
    }>(
      'query($p: String!) { alerts(project: $p, kinds: [ROLLOUT]) { edges { node { kind title evidence } } } }',
      { p: project.slug },
    );
    expect(alerts.alerts.edges.map((e) => e.node.evidence.rolloutId)).toContain(id);
    const deadline = Date.now() + 5_000;
    while (!changes.some((c) => c.event.type === 'ROLLED_BACK') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const rolledBack = changes.find((c) => c.event.type === 'ROLLED_BACK')!;
    expect(JSON.stringify(rolledBack.event.evidence)).toContain('P95_LATENCY');
  });

  it('rolls back a canary that errors, and one with worse live accuracy', async () => {
    const erroring = await endpointOn();
    const a = (
      await deploy({
        endpoint: erroring,
        version: versions.broken,
        strategy: 'CANARY',
        steps: [{ weight: 50, pauseMinutes: 5 }],
        analysis: { minSamples: 20 },
      })
    ).data!.deploy;
    advance(1);
    await traffic(erroring, 80);
    const errState = await tick(a.id);
    expect(errState.status).toBe('ROLLED_BACK');
    expect(errState.events.find((e) => e.type === 'ANALYSIS_FAILED')!.reason).toMatch(/ERROR_RATE/);

    const inaccurate = await endpointOn();
    const b = (
      await deploy({
        endpoint: inaccurate,
        version: versions.worse,
        strategy: 'CANARY',
        steps: [{ weight: 50, pauseMinutes: 5 }],
        analysis: {
          minSamples: 20,
          conditions: [
            { metric: 'LIVE_ACCURACY', maxDecrease: 0.1 },
            { metric: 'ERROR_RATE', maxIncrease: 0.02 },
          ],
        },
      })
    ).data!.deploy;
    advance(1);
    const answers = await traffic(inaccurate, 120);
    // The truth, as the business later learns it, is what the stable model says.
    for (const answer of answers) {
      await hub.gql(
        'mutation($e: String!, $k: String!, $l: String) { recordPredictionOutcome(endpoint: $e, requestKey: $k, label: $l) { id } }',
        {
          e: inaccurate,
          k: answer.key,
          l: v1Label(answer.input),
        },
      );
    }
    const accState = await tick(b.id);
    expect(accState.status).toBe('ROLLED_BACK');
    expect(accState.events.find((e) => e.type === 'ANALYSIS_FAILED')!.reason).toMatch(/LIVE_ACCURACY/);
  });

  it('refuses a concurrent second deploy, and replaying a deploy changes nothing', async () => {
    const endpoint = await endpointOn();
    const key = unique('idem');
    const input = { endpoint, version: versions.same, strategy: 'CANARY', idempotencyKey: key };
    const [x, y] = await Promise.all([
      deploy(input),
      deploy({ ...input, idempotencyKey: unique('other'), version: versions.worse }),
    ]);
    const ok = [x, y].filter((r) => !r.errors);
    const refused = [x, y].filter((r) => r.errors);
    expect(ok).toHaveLength(1);
    expect(failure(refused[0])).toEqual({ code: 'CONFLICT', field: 'endpoint' });
    if (ok[0] === x) {
      const again = await deploy(input);
      expect(again.data!.deploy.id).toBe(x.data!.deploy.id);
      expect(again.data!.deploy.events).toHaveLength(x.data!.deploy.events.length);
      const list = await hub.gqlOk<{ rollouts: { edges: unknown[] } }>(
        'query($p: String!, $e: String) { rollouts(project: $p, endpoint: $e) { edges { node { id } } } }',
        { p: project.slug, e: endpoint },
      );
      expect(list.rollouts.edges).toHaveLength(1);
    }
    // Traffic is the rollout's now: a change by hand is refused.
    const byHand = await hub.gql(
      'mutation($i: SetEndpointTrafficInput!) { setEndpointTraffic(input: $i) { id } }',
      { i: { endpoint, stableVersion: versions.stable } },
    );
    expect(failure(byHand)).toEqual({ code: 'CONFLICT', field: 'endpoint' });
    const active = (
      await hub.gqlOk<{ rollouts: { edges: Array<{ node: { id: string } }> } }>(
        'query($p: String!, $e: String) { rollouts(project: $p, endpoint: $e, statuses: [PROGRESSING]) { edges { node { id } } } }',
        { p: project.slug, e: endpoint },
      )
    ).rollouts.edges[0].node.id;
    const paused = await hub.gqlOk<{ pauseRollout: { status: string } }>(
      'mutation($id: ID!) { pauseRollout(id: $id, reason: "holiday freeze") { status } }',
      { id: active },
    );
    expect(paused.pauseRollout.status).toBe('PAUSED');
    const back = await hub.gqlOk<{ rollback: RolloutRow }>(
      `mutation($id: ID!) { rollback(id: $id, reason: "not this week") { ${ROLLOUT} } }`,
      { id: active },
    );
    expect(back.rollback.status).toBe('ROLLED_BACK');
    expect(back.rollback.events.map((e) => [e.type, e.reason])).toEqual(
      expect.arrayContaining([
        ['PAUSED', 'holiday freeze'],
        ['ROLLED_BACK', 'not this week'],
      ]),
    );
    expect(back.rollback.events.find((e) => e.type === 'PAUSED')!.actorKeyId).not.toBeNull();
    expect(
      failure(await hub.gql('mutation($id: ID!) { promoteRollout(id: $id) { id } }', { id: active })),
    ).toEqual({ code: 'CONFLICT', field: 'id' });
  });

  it('resumes a rollout after the worker restarts mid-way', async () => {
    const endpoint = await endpointOn();
    const { id } = (
      await deploy({
        endpoint,
        version: versions.same,
        strategy: 'CANARY',
        steps: [
          { weight: 50, pauseMinutes: 1 },
          { weight: 100, pauseMinutes: 1 },
        ],
        analysis: STEADY,
      })
    ).data!.deploy;
    advance(1);
    await traffic(endpoint, 80);
    expect((await tick(id)).currentStep).toBe(1);
    // Another process takes over (the first worker is gone): all it knows is in the database.
    const second = await startTestHub({}, { now: () => clock });
    try {
      await Promise.all(artifacts.map((a) => uploadArtifact(second, a, project.slug)));
      advance(1);
      await traffic(endpoint, 60);
      await hub.services.predictionLog.flush();
      await hub.services.slaTracker.flush();
      const resumed = await second.services.rolloutDriver.advance(id);
      expect(resumed!.status).toBe('SUCCEEDED');
    } finally {
      await second.close();
    }
  });

  it('waits for an approver on a HIGH-risk project and on manual gates; a requester cannot approve their own', async () => {
    const reclassify = (level: string) =>
      hub.gqlOk(
        'mutation($p: String!, $l: RiskLevel!) { setProjectRiskLevel(project: $p, riskLevel: $l, reason: "credit decisions") { riskLevel } }',
        { p: project.slug, l: level },
      );
    await reclassify('HIGH');
    try {
      // A HIGH-risk project serves nothing new until an approver approves its impact assessment.
      const refused = await hub.gql(
        'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }',
        { i: { project: project.slug, name: unique('gated'), model, version: versions.same } },
      );
      expect(failure(refused)).toEqual({ code: 'CONFLICT', field: 'project' });
      expect(refused.errors![0].message).toMatch(/HIGH risk and it has no impact assessment/);
      const author = await hub.key(Role.ML_ENGINEER, [project.id]);
      const submitted = await hub.gql<{ submitImpactAssessment: { id: string } }>(
        `mutation($p: String!, $s: ImpactAssessmentInput!) { submitImpactAssessment(project: $p, sections: $s) { id version status } }`,
        { p: project.slug, s: ASSESSMENT },
        author,
      );
      expect(submitted.errors).toBeUndefined();
      const assessor = await hub.key(Role.APPROVER, [project.id]);
      const approved = await hub.gql(
        'mutation($id: ID!) { decideImpactAssessment(id: $id, approve: true, comment: "DPIA reviewed") { status } }',
        { id: submitted.data!.submitImpactAssessment.id },
        assessor,
      );
      expect(approved.errors).toBeUndefined();
      const endpoint = await endpointOn();
      const requester = await hub.key(Role.ADMIN);
      expect(
        failure(await deploy({ endpoint, version: versions.uncarded, strategy: 'CANARY' }, requester)),
      ).toEqual({ code: 'BAD_USER_INPUT', field: 'version' });
      const res = await deploy(
        {
          endpoint,
          version: versions.same,
          strategy: 'CANARY',
          steps: [
            { weight: 50, pauseMinutes: 1 },
            { weight: 100, pauseMinutes: 1, manualGate: true },
          ],
          analysis: STEADY,
        },
        requester,
      );
      expect(res.errors).toBeUndefined();
      const pending = res.data!.deploy;
      expect(pending.status).toBe('PENDING_APPROVAL');
      expect(await endpointState(endpoint)).toMatchObject({ canaryVersion: null });
      const [request] = pending.approvals;
      const decide = (id: string, approve: boolean, key: string) =>
        hub.gql(
          'mutation($id: ID!, $a: Boolean!) { decideApproval(id: $id, approve: $a, comment: "checked") { status decidedByKeyId } }',
          { id, a: approve },
          key,
        );
      expect(failure(await decide(request.id, true, requester))).toEqual({ code: 'FORBIDDEN' });
      const engineer = await hub.key(Role.ML_ENGINEER, [project.id]);
      expect(failure(await decide(request.id, true, engineer))).toEqual({ code: 'FORBIDDEN' });
      const approver = await hub.key(Role.APPROVER, [project.id]);
      expect((await decide(request.id, true, approver)).errors).toBeUndefined();
      expect(failure(await decide(request.id, true, approver))).toEqual({ code: 'CONFLICT', field: 'id' });
      expect(await endpointState(endpoint)).toMatchObject({
        canaryVersion: { version: versions.same },
        canaryWeight: 50,
      });

      advance(1);
      await traffic(endpoint, 80);
      const gated = await tick(pending.id);
      expect(gated.status).toBe('PENDING_APPROVAL');
      const gate = gated.approvals.find((a) => a.status === 'PENDING')!;
      expect(gate.step).toBe(1);
      expect((await decide(gate.id, true, approver)).errors).toBeUndefined();
      expect(await endpointState(endpoint)).toMatchObject({ canaryWeight: 100 });
      const approvals = await hub.gqlOk<{ approvalRequests: { edges: unknown[] } }>(
        'query($p: String!) { approvalRequests(project: $p, statuses: [APPROVED]) { edges { node { id } } } }',
        { p: project.slug },
      );
      expect(approvals.approvalRequests.edges.length).toBeGreaterThanOrEqual(2);
    } finally {
      await reclassify('LIMITED');
    }
  });

  it('mirrors a shadow candidate without ever answering with it, then waits for a person to promote', async () => {
    const endpoint = await endpointOn();
    const { id } = (
      await deploy({
        endpoint,
        version: versions.same,
        strategy: 'SHADOW',
        steps: [{ pauseMinutes: 1 }],
        analysis: {
          minSamples: 20,
          conditions: [
            { metric: 'AGREEMENT', min: 0.99 },
            { metric: 'ERROR_RATE', maxIncrease: 0 },
          ],
        },
      })
    ).data!.deploy;
    expect(await endpointState(endpoint)).toMatchObject({
      shadowVersion: { version: versions.same },
      canaryVersion: null,
    });
    advance(1);
    const answers = await traffic(endpoint, 60);
    expect(answers.every((a) => a.version === versions.stable)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const state = await tick(id);
    expect(state.status).toBe('PAUSED');
    expect(state.events.find((e) => e.type === 'ANALYSIS_PASSED')!.evidence).toMatchObject({
      outcome: 'PASSED',
    });
    const promoted = await hub.gqlOk<{ promoteRollout: { status: string } }>(
      'mutation($id: ID!) { promoteRollout(id: $id, reason: "agreement 100%") { status } }',
      { id },
    );
    expect(promoted.promoteRollout.status).toBe('SUCCEEDED');
    expect(await endpointState(endpoint)).toMatchObject({
      stableVersion: { version: versions.same },
      shadowVersion: null,
    });
  });

  it('switches a blue-green candidate all at once after its checks pass', async () => {
    const endpoint = await endpointOn();
    const { id } = (
      await deploy({
        endpoint,
        version: versions.same,
        strategy: 'BLUE_GREEN',
        steps: [{ pauseMinutes: 1 }],
        analysis: STEADY,
      })
    ).data!.deploy;
    advance(1);
    await traffic(endpoint, 60);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await tick(id)).status).toBe('SUCCEEDED');
    expect(await endpointState(endpoint)).toMatchObject({
      stableVersion: { version: versions.same },
      shadowVersion: null,
    });
    expect(served).toBeGreaterThan(0);
  });
});
