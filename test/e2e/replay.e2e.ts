import { Role } from '../../src/modules/api-keys/api-key.entity';
import {
  expectedSoftmax,
  linearClassifierOnnx,
  linearRegressorOnnx,
  uploadArtifact,
} from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const REPLAY = `mutation($e: String!, $from: DateTimeISO!, $to: DateTimeISO!, $v: Int!, $limit: Int) {
  replayPredictions(endpoint: $e, from: $from, to: $to, version: $v, limit: $limit) {
    endpoint modelVersionId modelVersion from to rows skipped firstSkipReason agreement
    meanAbsoluteDifference outcomes originalAccuracy replayAccuracy accuracyDelta
    originalMeanAbsoluteError replayMeanAbsoluteError latencyMs
    byOriginalVersion { modelVersionId modelVersion rows agreement }
  }
}`;
const REGISTER = `mutation($i: RegisterModelVersionInput!) {
  registerModelVersion(input: $i) { id version status }
}`;
const PREDICT_BATCH = `mutation($e: String!, $i: [JSONObject!]!, $k: [String!]) {
  predictBatch(endpoint: $e, inputs: $i, requestKeys: $k) { predictions { requestKey label modelVersion } }
}`;

interface Report {
  endpoint: string;
  modelVersionId: string;
  modelVersion: number;
  from: string;
  to: string;
  rows: number;
  skipped: number;
  firstSkipReason: string | null;
  agreement: number | null;
  meanAbsoluteDifference: number | null;
  outcomes: number;
  originalAccuracy: number | null;
  replayAccuracy: number | null;
  accuracyDelta: number | null;
  originalMeanAbsoluteError: number | null;
  replayMeanAbsoluteError: number | null;
  latencyMs: number;
  byOriginalVersion: Array<{
    modelVersionId: string;
    modelVersion: number;
    rows: number;
    agreement: number | null;
  }>;
}

const LABELS = ['billing', 'technical', 'account'];
const V1 = {
  weights: [
    [0.8, -0.4, 0.1],
    [-0.3, 0.9, -0.2],
  ],
  bias: [0.05, -0.05, 0],
};
// Different enough to disagree on a good share of tickets, not on all of them.
const V2 = {
  weights: [
    [0.3, 0.2, -0.5],
    [0.1, 0.6, 0.4],
  ],
  bias: [0.2, -0.4, 0.1],
};
const SPEC = {
  version: 1,
  features: [
    { name: 'amount', kind: 'numeric', scale: { type: 'standard', mean: 10, std: 5 } },
    { name: 'errors', kind: 'numeric', clip: [0, 20] },
  ],
};

// A type, not an interface: it is passed where a JSON object of features is taken.
type Ticket = { amount: number; errors: number };
const rowOf = (t: Ticket): number[] => [
  Math.fround((t.amount - 10) / 5),
  Math.min(Math.max(t.errors, 0), 20),
];
const scoresOf = (model: typeof V1, t: Ticket): number[] =>
  expectedSoftmax(rowOf(t), model.weights, model.bias);
const labelOf = (model: typeof V1, t: Ticket): string => {
  const scores = scoresOf(model, t);
  return LABELS[scores.indexOf(Math.max(...scores))];
};
/** Whether a model's best label leads clearly: float32 arithmetic cannot flip it. */
const clear = (model: typeof V1, t: Ticket): boolean => {
  const [best, second] = scoresOf(model, t).sort((a, b) => b - a);
  return best - second > 1e-4;
};
/** Deterministic tickets whose answers under both versions are unambiguous. */
const TICKETS: Ticket[] = [];
for (let i = 0; TICKETS.length < 2_500; i++) {
  const t = { amount: ((i * 37) % 41) + ((i * 13) % 10) / 10 + 0.03, errors: (i * 7) % 9 };
  if (clear(V1, t) && clear(V2, t)) TICKETS.push(t);
}
const ticket = (i: number): Ticket => TICKETS[i];

function failure(res: GqlResult<unknown>): { code?: string; field?: string; message: string } {
  expect(res.errors).toHaveLength(1);
  const { code, field } = res.errors![0].extensions ?? {};
  return { code, field, message: res.errors![0].message };
}

const minutes = (at: Date, n: number): Date => new Date(at.getTime() + n * 60_000);

describe('replayPredictions', () => {
  let hub: TestHub;
  let clock = new Date('2026-04-01T08:00:00.000Z');
  let project: { id: string; slug: string };
  let v1Sha: string;
  let v2Sha: string;

  async function createModel(task = 'CLASSIFICATION'): Promise<{ id: string; name: string }> {
    const name = unique('router');
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: project.slug, name, task } },
    );
    return { id: createModel.id, name };
  }
  const register = (input: Record<string, unknown>) =>
    hub.gql<{ registerModelVersion: { id: string; version: number; status: string } }>(REGISTER, {
      i: { labels: LABELS, preprocessing: SPEC, ...input },
    });
  async function registered(input: Record<string, unknown>): Promise<{ id: string; version: number }> {
    const res = await register(input);
    expect(res.errors).toBeUndefined();
    return res.data!.registerModelVersion;
  }
  async function createEndpoint(model: string, version: number): Promise<string> {
    const name = unique('tickets');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: project.slug, model, name, version },
    });
    return name;
  }
  /** Logs `inputs` as served at the clock's current time. */
  async function serve(endpoint: string, inputs: Array<Record<string, unknown>>, keys: string[]) {
    const res = await hub.gql<{
      predictBatch: { predictions: Array<{ requestKey: string; label: string; modelVersion: number }> };
    }>(PREDICT_BATCH, { e: endpoint, i: inputs, k: keys });
    expect(res.errors).toBeUndefined();
    return res.data!.predictBatch.predictions;
  }
  const recordOutcome = (endpoint: string, requestKey: string, label: string) =>
    hub.gqlOk(
      'mutation($e: String!, $k: String!, $l: String) { recordPredictionOutcome(endpoint: $e, requestKey: $k, label: $l) { id } }',
      { e: endpoint, k: requestKey, l: label },
    );
  const replay = (
    endpoint: string,
    from: Date,
    to: Date,
    version: number,
    extra: { limit?: number; key?: string | null } = {},
  ) =>
    hub.gql<{ replayPredictions: Report }>(
      REPLAY,
      { e: endpoint, from: from.toISOString(), to: to.toISOString(), v: version, limit: extra.limit },
      extra.key,
    );
  async function replayed(
    endpoint: string,
    from: Date,
    to: Date,
    version: number,
    limit?: number,
  ): Promise<Report> {
    const res = await replay(endpoint, from, to, version, { limit });
    expect(res.errors).toBeUndefined();
    return res.data!.replayPredictions;
  }

  beforeAll(async () => {
    hub = await startTestHub({ predictionLogFlushMs: 5 }, { now: () => clock });
    project = (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('replay'), name: 'Replay' } },
      )
    ).createProject;
    v1Sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 3, ...V1 }), project.slug);
    v2Sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 3, ...V2 }), project.slug);
  });
  afterAll(() => hub.close());

  describe('a window of 300 predictions, 100 with outcomes', () => {
    let model: { id: string; name: string };
    let v1: { id: string; version: number };
    let v2: { id: string; version: number };
    let endpoint: string;
    let from: Date;
    let to: Date;
    const tickets = Array.from({ length: 300 }, (_, i) => ticket(i));
    // The business's verdict on the first 100: deterministic, right for some answers, wrong for others.
    const truth = (i: number): string => (i % 4 === 0 ? LABELS[i % 3] : labelOf(V1, tickets[i]));

    beforeAll(async () => {
      model = await createModel();
      v1 = await registered({ modelId: model.id, artifactSha256: v1Sha });
      endpoint = await createEndpoint(model.name, v1.version);
      from = clock;
      to = minutes(from, 60);
      // Before the window, then 300 spread over it (six minutes of 50), then exactly at its end.
      clock = minutes(from, -1);
      await serve(endpoint, [ticket(2_450)], ['before']);
      for (let batch = 0; batch < 6; batch++) {
        clock = minutes(from, batch * 10);
        const indexes = Array.from({ length: 50 }, (_, j) => batch * 50 + j);
        const answers = await serve(
          endpoint,
          indexes.map((i) => tickets[i]),
          indexes.map((i) => `t-${i}`),
        );
        answers.forEach((a, j) => expect(a.label).toBe(labelOf(V1, tickets[indexes[j]])));
      }
      clock = to;
      await serve(endpoint, [ticket(2_451)], ['after']);
      await hub.services.predictionLog.flush();
      for (let i = 0; i < 100; i++) await recordOutcome(endpoint, `t-${i}`, truth(i));
      // v2 comes later, with other weights: the candidate to compare.
      v2 = await registered({ modelId: model.id, artifactSha256: v2Sha });
    });

    it('re-scores every row with the other version: agreement and accuracy as computed independently', async () => {
      const report = await replayed(endpoint, from, to, v2.version);
      const agree = tickets.filter((t) => labelOf(V1, t) === labelOf(V2, t)).length;
      const originalRight = tickets.slice(0, 100).filter((t, i) => labelOf(V1, t) === truth(i)).length;
      const replayRight = tickets.slice(0, 100).filter((t, i) => labelOf(V2, t) === truth(i)).length;
      // The weights make the comparison meaningful: neither all nor none agree, accuracies differ.
      expect(agree).toBeGreaterThan(30);
      expect(agree).toBeLessThan(270);
      expect(replayRight).not.toBe(originalRight);

      expect(report).toMatchObject({
        endpoint,
        modelVersionId: v2.id,
        modelVersion: v2.version,
        from: from.toISOString(),
        to: to.toISOString(),
        rows: 300,
        skipped: 0,
        firstSkipReason: null,
        meanAbsoluteDifference: null,
        outcomes: 100,
        originalMeanAbsoluteError: null,
        replayMeanAbsoluteError: null,
        byOriginalVersion: [{ modelVersionId: v1.id, modelVersion: v1.version, rows: 300 }],
      });
      expect(report.agreement).toBeCloseTo(agree / 300, 10);
      expect(report.byOriginalVersion[0].agreement).toBeCloseTo(agree / 300, 10);
      expect(report.originalAccuracy).toBeCloseTo(originalRight / 100, 10);
      expect(report.replayAccuracy).toBeCloseTo(replayRight / 100, 10);
      expect(report.accuracyDelta).toBeCloseTo((replayRight - originalRight) / 100, 10);
      expect(report.latencyMs).toBeGreaterThan(0);
      // The same figures liveAccuracy gives for what was served.
      const live = await hub.gqlOk<{ endpoint: { liveAccuracy: Array<{ accuracy: number }> } }>(
        'query($n: String!) { endpoint(name: $n) { liveAccuracy { accuracy } } }',
        { n: endpoint },
      );
      expect(live.endpoint.liveAccuracy[0].accuracy).toBeCloseTo(report.originalAccuracy!, 10);
    });

    it('logs nothing it replays', async () => {
      const count = async () =>
        (
          (await hub.db.query(
            'SELECT count(*)::int AS n FROM prediction_log WHERE endpoint_id = (SELECT id FROM endpoint WHERE name = $1)',
            [endpoint],
          )) as Array<{ n: number }>
        )[0].n;
      const before = await count();
      await replayed(endpoint, from, to, v2.version);
      await hub.services.predictionLog.flush();
      expect(await count()).toBe(before);
    });

    it('agrees completely with the version that answered', async () => {
      const report = await replayed(endpoint, from, to, v1.version);
      expect(report).toMatchObject({ rows: 300, agreement: 1, outcomes: 100, accuracyDelta: 0 });
      expect(report.replayAccuracy).toBe(report.originalAccuracy);
    });

    it('takes the newest `limit` predictions of the window', async () => {
      // The newest 100 are t-200..t-299: none of them has an outcome.
      expect(await replayed(endpoint, from, to, v2.version, 100)).toMatchObject({ rows: 100, outcomes: 0 });
      const report = await replayed(endpoint, from, to, v2.version, 250);
      expect(report).toMatchObject({ rows: 250, outcomes: 50 });
      const newest = tickets.slice(50);
      const agree = newest.filter((t) => labelOf(V1, t) === labelOf(V2, t)).length;
      expect(report.agreement).toBeCloseTo(agree / 250, 10);
    });

    it('reports zero rows and null ratios for a window without traffic', async () => {
      const report = await replayed(endpoint, minutes(to, 1), minutes(to, 120), v2.version);
      expect(report).toMatchObject({
        rows: 0,
        skipped: 0,
        firstSkipReason: null,
        agreement: null,
        meanAbsoluteDifference: null,
        outcomes: 0,
        originalAccuracy: null,
        replayAccuracy: null,
        accuracyDelta: null,
        byOriginalVersion: [],
      });
    });

    it('refuses a bad window, limit or version, naming the argument', async () => {
      const cases: Array<[Promise<GqlResult<unknown>>, string, RegExp]> = [
        [replay(endpoint, to, from, v2.version), 'to', /after from/],
        [replay(endpoint, from, from, v2.version), 'to', /after from/],
        [replay(endpoint, from, minutes(from, 32 * 24 * 60), v2.version), 'to', /31 days/],
        [replay(endpoint, from, to, 9_999), 'version', /has no version 9999/],
        [replay(endpoint, from, to, v2.version, { limit: 0 }), 'limit', /1 to 100000/],
        [replay(endpoint, from, to, v2.version, { limit: 100_001 }), 'limit', /1 to 100000/],
      ];
      for (const [res, field, message] of cases) {
        const f = failure(await res);
        expect(f).toMatchObject({ code: 'BAD_USER_INPUT', field });
        expect(f.message).toMatch(message);
      }
      const rejected = await register({
        modelId: model.id,
        artifactSha256: v2Sha,
        goldenSamples: [
          { input: tickets[0], expectedLabel: LABELS.find((l) => l !== labelOf(V2, tickets[0])) },
        ],
      });
      expect(rejected.data!.registerModelVersion.status).toBe('REJECTED');
      const f = failure(await replay(endpoint, from, to, rejected.data!.registerModelVersion.version));
      expect(f).toMatchObject({ code: 'BAD_USER_INPUT', field: 'version' });
      expect(f.message).toMatch(/REJECTED/);
      const archived = await registered({ modelId: model.id, artifactSha256: v2Sha });
      await hub.db.query(`UPDATE model_version SET status = 'ARCHIVED' WHERE id = $1`, [archived.id]);
      expect(failure(await replay(endpoint, from, to, archived.version))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'version',
      });
      expect(failure(await replay(unique('nowhere'), from, to, v2.version))).toMatchObject({
        code: 'NOT_FOUND',
        field: 'endpoint',
      });
    });

    it('is for those who deploy: a viewer or bot is refused, another project sees no endpoint', async () => {
      for (const role of [Role.VIEWER, Role.BOT, Role.ANALYST]) {
        const key = await hub.key(role, [project.id]);
        expect(failure(await replay(endpoint, from, to, v2.version, { key }))).toMatchObject({
          code: 'FORBIDDEN',
        });
      }
      const engineer = await hub.key(Role.ML_ENGINEER, [project.id]);
      const ok = await replay(endpoint, from, to, v2.version, { key: engineer });
      expect(ok.errors).toBeUndefined();
      expect(ok.data!.replayPredictions.rows).toBe(300);
      const other = await hub.gqlOk<{ createProject: { id: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        { i: { slug: unique('other'), name: 'Other' } },
      );
      const elsewhere = await hub.key(Role.ML_ENGINEER, [other.createProject.id]);
      expect(failure(await replay(endpoint, from, to, v2.version, { key: elsewhere }))).toMatchObject({
        code: 'NOT_FOUND',
        field: 'endpoint',
      });
      expect(failure(await replay(endpoint, from, to, v2.version, { key: null }))).toMatchObject({
        code: 'UNAUTHENTICATED',
      });
    });
  });

  it('counts each answering version apart and leaves shadow scorings out', async () => {
    const model = await createModel();
    const v1 = await registered({ modelId: model.id, artifactSha256: v1Sha });
    const v2 = await registered({ modelId: model.id, artifactSha256: v2Sha });
    const endpoint = await createEndpoint(model.name, v1.version);
    await hub.gqlOk('mutation($i: SetEndpointTrafficInput!) { setEndpointTraffic(input: $i) { id } }', {
      i: {
        endpoint,
        stableVersion: v1.version,
        canaryVersion: v2.version,
        canaryWeight: 40,
        shadowVersion: v2.version,
      },
    });
    const from = clock;
    const tickets = Array.from({ length: 200 }, (_, i) => ticket(i + 7));
    const answers = await serve(
      endpoint,
      tickets,
      tickets.map((_, i) => `s-${i}`),
    );
    // The shadow copy is scored after the answer: wait until it is logged too.
    for (let tries = 0; tries < 100; tries++) {
      await hub.services.predictionLog.flush();
      const [{ n }] = (await hub.db.query(
        'SELECT count(*)::int AS n FROM prediction_log WHERE endpoint_id = (SELECT id FROM endpoint WHERE name = $1) AND shadow',
        [endpoint],
      )) as Array<{ n: number }>;
      if (n >= 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const onCanary = answers
      .map((a, i) => ({ a, t: tickets[i] }))
      .filter(({ a }) => a.modelVersion === v2.version);
    const onStable = answers
      .map((a, i) => ({ a, t: tickets[i] }))
      .filter(({ a }) => a.modelVersion === v1.version);
    expect(onCanary.length).toBeGreaterThan(0);
    expect(onStable.length).toBeGreaterThan(0);

    const report = await replayed(endpoint, from, minutes(from, 1), v1.version);
    const canaryAgree = onCanary.filter(({ t }) => labelOf(V1, t) === labelOf(V2, t)).length;
    expect(report.rows).toBe(200);
    expect(report.byOriginalVersion).toEqual([
      { modelVersionId: v1.id, modelVersion: v1.version, rows: onStable.length, agreement: 1 },
      {
        modelVersionId: v2.id,
        modelVersion: v2.version,
        rows: onCanary.length,
        agreement: expect.closeTo(canaryAgree / onCanary.length, 10),
      },
    ]);
    expect(report.agreement).toBeCloseTo((onStable.length + canaryAgree) / 200, 10);
  });

  it('pages through thousands of rows, ties included, and keeps exactly the newest `limit`', async () => {
    const model = await createModel();
    const v1 = await registered({ modelId: model.id, artifactSha256: v1Sha });
    const v2 = await registered({ modelId: model.id, artifactSha256: v2Sha });
    const endpoint = await createEndpoint(model.name, v1.version);
    const from = minutes(clock, 5);
    const tickets = Array.from({ length: 2_400 }, (_, i) => ticket(i));
    // Six instants of 400 rows each: a page of 1,000 ends in the middle of one.
    for (let batch = 0; batch < 6; batch++) {
      clock = minutes(from, batch);
      const indexes = Array.from({ length: 400 }, (_, j) => batch * 400 + j);
      await serve(
        endpoint,
        indexes.map((i) => tickets[i]),
        indexes.map((i) => `p-${i}`),
      );
    }
    await hub.services.predictionLog.flush();
    // Outcomes for the oldest instant only.
    await Promise.all(tickets.slice(0, 400).map((t, i) => recordOutcome(endpoint, `p-${i}`, labelOf(V1, t))));
    const to = minutes(from, 10);
    const agree = tickets.filter((t) => labelOf(V1, t) === labelOf(V2, t)).length;
    const all = await replayed(endpoint, from, to, v2.version, 100_000);
    expect(all).toMatchObject({ rows: 2_400, outcomes: 400, originalAccuracy: 1 });
    expect(all.agreement).toBeCloseTo(agree / 2_400, 10);
    // The default limit takes them all too.
    expect(await replayed(endpoint, from, to, v2.version)).toMatchObject({ rows: 2_400, outcomes: 400 });
    expect(await replayed(endpoint, from, to, v2.version, 2_000)).toMatchObject({ rows: 2_000, outcomes: 0 });
    expect(await replayed(endpoint, from, to, v2.version, 2_001)).toMatchObject({ rows: 2_001, outcomes: 1 });
    expect(await replayed(endpoint, from, to, v2.version, 1_000)).toMatchObject({ rows: 1_000, outcomes: 0 });
  });

  it('compares regressors by their first value: mean absolute difference and errors against outcomes', async () => {
    const model = await createModel('REGRESSION');
    const r1 = { weights: [[0.5], [1.0]], bias: [0.1] as [number] };
    const r2 = { weights: [[0.4], [1.2]], bias: [0] as [number] };
    const v1 = await registered({
      modelId: model.id,
      artifactSha256: await uploadArtifact(hub, linearRegressorOnnx({ features: 2, ...r1 }), project.slug),
      labels: [],
    });
    const v2 = await registered({
      modelId: model.id,
      artifactSha256: await uploadArtifact(hub, linearRegressorOnnx({ features: 2, ...r2 }), project.slug),
      labels: [],
    });
    const endpoint = await createEndpoint(model.name, v1.version);
    const from = minutes(clock, 5);
    clock = from;
    const tickets = Array.from({ length: 20 }, (_, i) => ticket(i));
    await serve(
      endpoint,
      tickets,
      tickets.map((_, i) => `r-${i}`),
    );
    await hub.services.predictionLog.flush();
    const truth = (i: number): number => i / 2;
    for (let i = 0; i < 10; i++)
      await hub.gqlOk(
        'mutation($e: String!, $k: String!, $v: Float) { recordPredictionOutcome(endpoint: $e, requestKey: $k, value: $v) { id } }',
        { e: endpoint, k: `r-${i}`, v: truth(i) },
      );
    const valueOf = (m: typeof r1, t: Ticket): number =>
      rowOf(t).reduce((sum, x, j) => sum + x * m.weights[j][0], m.bias[0]);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const report = await replayed(endpoint, from, minutes(from, 1), v2.version);
    expect(report).toMatchObject({
      rows: 20,
      outcomes: 10,
      agreement: null,
      originalAccuracy: null,
      replayAccuracy: null,
      accuracyDelta: null,
      byOriginalVersion: [{ modelVersionId: v1.id, rows: 20, agreement: null }],
    });
    expect(report.meanAbsoluteDifference).toBeCloseTo(
      mean(tickets.map((t) => Math.abs(valueOf(r2, t) - valueOf(r1, t)))),
      4,
    );
    const withOutcome = tickets.slice(0, 10);
    expect(report.originalMeanAbsoluteError).toBeCloseTo(
      mean(withOutcome.map((t, i) => Math.abs(valueOf(r1, t) - truth(i)))),
      4,
    );
    expect(report.replayMeanAbsoluteError).toBeCloseTo(
      mean(withOutcome.map((t, i) => Math.abs(valueOf(r2, t) - truth(i)))),
      4,
    );
  });

  it("counts the rows the version's preprocessing refuses, with the first reason", async () => {
    const model = await createModel();
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 3, classes: 3 }), project.slug);
    const amount = SPEC.features[0];
    const errors = SPEC.features[1];
    // v1 takes an optional flag; v2 needs it.
    const v1 = await registered({
      modelId: model.id,
      artifactSha256: sha,
      preprocessing: {
        version: 1,
        features: [amount, errors, { name: 'vip', kind: 'boolean', default: false }],
      },
    });
    const v2 = await registered({
      modelId: model.id,
      artifactSha256: sha,
      preprocessing: { version: 1, features: [amount, errors, { name: 'vip', kind: 'boolean' }] },
    });
    const endpoint = await createEndpoint(model.name, v1.version);
    const from = minutes(clock, 5);
    clock = from;
    const flagged = Array.from({ length: 30 }, (_, i) => ({ ...ticket(i), vip: i % 2 === 0 }));
    await serve(
      endpoint,
      flagged,
      flagged.map((_, i) => `vip-${i}`),
    );
    clock = minutes(from, 1);
    await serve(
      endpoint,
      Array.from({ length: 10 }, (_, i) => ticket(i)),
      Array.from({ length: 10 }, (_, i) => `plain-${i}`),
    );
    await hub.services.predictionLog.flush();
    const report = await replayed(endpoint, from, minutes(from, 2), v2.version);
    expect(report).toMatchObject({ rows: 30, skipped: 10, agreement: 1 });
    expect(report.firstSkipReason).toMatch(
      /^request plain-\d: input\.vip: must be true or false, got nothing \(the feature is missing/,
    );
    // With the version that answered, nothing is refused.
    expect(await replayed(endpoint, from, minutes(from, 2), v1.version)).toMatchObject({
      rows: 40,
      skipped: 0,
      firstSkipReason: null,
    });
  });
});
