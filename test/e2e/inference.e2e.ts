import http from 'node:http';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { FakeOipServer } from '../fakes/oip-server';
import { expectedSoftmax, linearClassifierOnnx, uploadArtifact, failingAtRunTime } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const PREDICTION = `requestKey endpoint modelVersionId modelVersion routedTo label score scores { label score } values latencyMs`;
const PREDICT = `mutation($e: String!, $i: JSONObject!, $k: String) {
  predict(endpoint: $e, input: $i, requestKey: $k) { ${PREDICTION} }
}`;
const PREDICT_BATCH = `mutation($e: String!, $i: [JSONObject!]!, $k: [String!], $idem: String) {
  predictBatch(endpoint: $e, inputs: $i, requestKeys: $k, idempotencyKey: $idem) { latencyMs predictions { ${PREDICTION} } }
}`;
const REGISTER = `mutation($i: RegisterModelVersionInput!) {
  registerModelVersion(input: $i) { id version status validation featureNames preprocessingHash }
}`;
const CREATE_ENDPOINT = `mutation($i: CreateEndpointInput!) {
  createEndpoint(input: $i) { id name stableVersion { version } batching { maxBatchSize maxQueueDelayMs } }
}`;
const SET_TRAFFIC = `mutation($i: SetEndpointTrafficInput!) {
  setEndpointTraffic(input: $i) { id canaryWeight canaryVersion { version } shadowVersion { version } }
}`;

interface PredictionRow {
  requestKey: string;
  modelVersion: number;
  modelVersionId: string;
  routedTo: 'STABLE' | 'CANARY';
  label: string | null;
  score: number | null;
  scores: Array<{ label: string; score: number }> | null;
  values: number[] | null;
  latencyMs: number;
}

/** The one error of a rejected operation: code, field and message. */
function failure(res: GqlResult<unknown>): { code?: string; field?: string; message: string } {
  expect(res.errors).toHaveLength(1);
  const { code, field } = res.errors![0].extensions ?? {};
  return { code, field, message: res.errors![0].message };
}

const WEIGHTS = [
  [0.8, -0.4, 0.1],
  [-0.3, 0.9, -0.2],
];
const BIAS = [0.05, -0.05, 0];
const LABELS = ['billing', 'technical', 'account'];

/** The ticket model of these tests: two numeric features, three classes. */
const SPEC = {
  version: 1,
  features: [
    { name: 'amount', kind: 'numeric', scale: { type: 'standard', mean: 10, std: 5 } },
    { name: 'errors', kind: 'numeric', clip: [0, 20] },
  ],
};
const rowOf = (input: { amount: number; errors: number }): number[] => [
  Math.fround((input.amount - 10) / 5),
  Math.min(Math.max(input.errors, 0), 20),
];

/** POSTs many GraphQL requests at once through one keep-alive agent; the server sees them concurrently. */
async function postMany(
  hub: TestHub,
  bodies: string[],
  sockets = 256,
): Promise<Array<{ status: number; body: { data?: Record<string, unknown>; errors?: unknown[] } }>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const url = new URL(hub.url);
  try {
    return await Promise.all(
      bodies.map(
        (body) =>
          new Promise<{ status: number; body: { data?: Record<string, unknown>; errors?: unknown[] } }>(
            (resolve, reject) => {
              const req = http.request(
                {
                  agent,
                  host: url.hostname,
                  port: url.port,
                  path: url.pathname,
                  method: 'POST',
                  headers: {
                    'content-type': 'application/json',
                    'content-length': Buffer.byteLength(body),
                    authorization: `Bearer ${hub.adminKey}`,
                  },
                },
                (res) => {
                  const chunks: Buffer[] = [];
                  res.on('data', (c: Buffer) => chunks.push(c));
                  res.on('end', () =>
                    resolve({
                      status: res.statusCode ?? 0,
                      body: JSON.parse(Buffer.concat(chunks).toString()),
                    }),
                  );
                  res.on('error', reject);
                },
              );
              req.on('error', reject);
              req.end(body);
            },
          ),
      ),
    );
  } finally {
    agent.destroy();
  }
}

describe('inference', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };
  let modelId: string;
  let modelName: string;
  let goodSha: string;

  const register = (input: Record<string, unknown>) =>
    hub.gql<{ registerModelVersion: { id: string; version: number; status: string; validation: unknown } }>(
      REGISTER,
      { i: { modelId, labels: LABELS, ...input } },
    );
  const createEndpoint = (input: Record<string, unknown>) =>
    hub.gql<{ createEndpoint: { id: string; name: string } }>(CREATE_ENDPOINT, {
      i: { project: project.slug, model: modelName, ...input },
    });
  const predict = (endpoint: string, input: Record<string, unknown>, requestKey?: string, key?: string) =>
    hub.gql<{ predict: PredictionRow }>(PREDICT, { e: endpoint, i: input, k: requestKey }, key);
  const logged = async (endpointId: string): Promise<Array<Record<string, unknown>>> => {
    await hub.services.predictionLog.flush();
    return hub.db.query(
      `SELECT request_key, model_version_id, shadow, outputs, error, features FROM prediction_log
        WHERE endpoint_id = $1 ORDER BY id`,
      [endpointId],
    );
  };

  beforeAll(async () => {
    hub = await startTestHub({ predictionLogFlushMs: 5 });
    const res = await hub.gql<{ createProject: { id: string; slug: string } }>(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
      { i: { slug: unique('inf'), name: 'Inference' } },
    );
    project = res.data!.createProject;
    modelName = unique('router');
    modelId = (
      await hub.gql<{ createModel: { id: string } }>(
        'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
        { i: { project: project.slug, name: modelName, task: 'CLASSIFICATION' } },
      )
    ).data!.createModel.id;
    goodSha = await uploadArtifact(
      hub,
      linearClassifierOnnx({ features: 2, classes: 3, weights: WEIGHTS, bias: BIAS }),
      project.slug,
    );
  });
  afterAll(() => hub.close());

  describe('registration', () => {
    it('runs golden samples: all reproduced is VALIDATED, a mismatch is REJECTED and shown', async () => {
      const inputs = [
        { amount: 30, errors: 0 },
        { amount: 0, errors: 6 },
      ];
      const expected = inputs.map((i) => LABELS[argmax(expectedSoftmax(rowOf(i), WEIGHTS, BIAS))]);
      const ok = await register({
        artifactSha256: goodSha,
        preprocessing: SPEC,
        goldenSamples: inputs.map((input, i) => ({ input, expectedLabel: expected[i] })),
      });
      expect(ok.errors).toBeUndefined();
      expect(ok.data!.registerModelVersion).toMatchObject({
        status: 'VALIDATED',
        validation: { samples: 2, passed: 2, failed: 0, mismatches: [] },
      });

      const wrong = LABELS.find((l) => l !== expected[1])!;
      const bad = await register({
        artifactSha256: goodSha,
        preprocessing: SPEC,
        goldenSamples: [
          { input: inputs[0], expectedLabel: expected[0] },
          { input: inputs[1], expectedLabel: wrong },
        ],
      });
      expect(bad.data!.registerModelVersion).toMatchObject({
        status: 'REJECTED',
        validation: {
          samples: 2,
          passed: 1,
          failed: 1,
          mismatches: [{ sample: 1, expected: { label: wrong }, actual: { label: expected[1] } }],
        },
      });
      // A rejected version cannot be served.
      const refused = await createEndpoint({
        name: unique('ep'),
        version: bad.data!.registerModelVersion.version,
      });
      expect(failure(refused)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'version' });
      expect(failure(refused).message).toMatch(/REJECTED/);
    });

    it('refuses preprocessing that does not fit the signature, and bad golden samples, naming the field', async () => {
      const wide = await register({
        artifactSha256: goodSha,
        preprocessing: { version: 1, features: [...SPEC.features, { name: 'vip', kind: 'boolean' }] },
      });
      expect(failure(wide)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'preprocessing' });
      expect(failure(wide).message).toMatch(/3 columns .* takes 2/);
      const noInput = await register({
        artifactSha256: goodSha,
        preprocessing: { ...SPEC, input: 'pixels' },
      });
      expect(failure(noInput)).toMatchObject({ field: 'preprocessing.input' });
      const badSpec = await register({
        artifactSha256: goodSha,
        preprocessing: { version: 1, features: [{ name: 'subject', kind: 'text', buckets: 0 }] },
      });
      expect(failure(badSpec)).toMatchObject({ field: 'preprocessing.features.0.buckets' });
      const labels = await register({ artifactSha256: goodSha, preprocessing: SPEC, labels: ['a', 'b'] });
      expect(failure(labels)).toMatchObject({ field: 'labels' });
      const golden = await register({
        artifactSha256: goodSha,
        preprocessing: SPEC,
        goldenSamples: [{ input: { amount: 'lots', errors: 1 }, expectedLabel: 'billing' }],
      });
      expect(failure(golden)).toMatchObject({ field: 'goldenSamples.0.input.amount' });
      const unknownLabel = await register({
        artifactSha256: goodSha,
        preprocessing: SPEC,
        goldenSamples: [{ input: { amount: 1, errors: 1 }, expectedLabel: 'sales' }],
      });
      expect(failure(unknownLabel)).toMatchObject({ field: 'goldenSamples.0.expectedLabel' });
    });

    it('refuses a corrupt or truncated ONNX artifact with a clear error', async () => {
      const whole = linearClassifierOnnx({
        features: 2,
        classes: 3,
        weights: WEIGHTS,
        bias: [0.01, 0.02, 0.03],
      });
      const truncated = await uploadArtifact(
        hub,
        whole.subarray(0, Math.floor(whole.length / 2)),
        project.slug,
      );
      const res = await register({ artifactSha256: truncated, preprocessing: SPEC });
      expect(failure(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'artifactSha256' });
      expect(failure(res).message).toMatch(/is not a loadable ONNX model/);
      expect(failure(res).message).not.toMatch(/\//);
    });
  });

  describe('predict', () => {
    let endpoint: string;
    let endpointId: string;

    beforeAll(async () => {
      const v = await register({ artifactSha256: goodSha, preprocessing: SPEC });
      endpoint = unique('tickets');
      const res = await createEndpoint({
        name: endpoint,
        version: v.data!.registerModelVersion.version,
        sla: { p95LatencyMs: 25, maxErrorRate: 0.01 },
        batching: { maxBatchSize: 64, maxQueueDelayMs: 2 },
      });
      expect(res.errors).toBeUndefined();
      endpointId = res.data!.createEndpoint.id;
    });

    it('answers with labels and scores from the served version, preprocessed by its spec', async () => {
      const input = { amount: 22.5, errors: 3 };
      const res = await predict(endpoint, input, 'ticket-1');
      expect(res.errors).toBeUndefined();
      const p = res.data!.predict;
      const expected = expectedSoftmax(rowOf(input), WEIGHTS, BIAS);
      const best = argmax(expected);
      expect(p).toMatchObject({ requestKey: 'ticket-1', routedTo: 'STABLE', label: LABELS[best] });
      expect(p.score).toBeCloseTo(expected[best], 5);
      expect(p.scores!.map((s) => s.label).sort()).toEqual([...LABELS].sort());
      for (const s of p.scores!) expect(s.score).toBeCloseTo(expected[LABELS.indexOf(s.label)], 5);
      expect(p.latencyMs).toBeGreaterThan(0);
      // A generated request key when none is given.
      const anonymous = await predict(endpoint, input);
      expect(anonymous.data!.predict.requestKey).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('rejects bad input naming the field and row, before anything runs', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ errors: 1 }, 'input.amount'],
        [{ amount: 'NaN', errors: 1 }, 'input.amount'],
        [{ amount: 1, errors: [1] }, 'input.errors'],
        [{ amount: 1, errors: 1, colour: 'red' }, 'input.colour'],
      ];
      for (const [input, field] of cases) {
        expect(failure(await predict(endpoint, input))).toMatchObject({ code: 'BAD_USER_INPUT', field });
      }
      const batch = (inputs: unknown[], extra: Record<string, unknown> = {}) =>
        hub.gql(PREDICT_BATCH, { e: endpoint, i: inputs, ...extra });
      expect(failure(await batch([]))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'inputs' });
      const rows = Array.from({ length: 5 }, (_, i) => ({ amount: i, errors: i }));
      rows[3] = { amount: 3, errors: null as unknown as number };
      expect(failure(await batch(rows))).toMatchObject({ field: 'inputs.3.errors' });
      const over = Array.from({ length: hub.services.config.maxPredictBatch + 1 }, () => ({
        amount: 1,
        errors: 1,
      }));
      expect(failure(await batch(over))).toMatchObject({ field: 'inputs' });
      expect(failure(await batch([{ amount: 1, errors: 1 }], { k: ['a', 'b'] }))).toMatchObject({
        field: 'requestKeys',
      });
      expect(failure(await predict(unique('nowhere'), { amount: 1, errors: 1 }))).toMatchObject({
        code: 'NOT_FOUND',
        field: 'endpoint',
      });
      // Nothing was logged for any of them.
      const keys = (await logged(endpointId)).map((r) => r.request_key);
      expect(keys).not.toContain('a');
    });

    it('scores a batch row by row, in input order, and replays it under its idempotency key', async () => {
      const inputs = Array.from({ length: 40 }, (_, i) => ({ amount: i * 1.5, errors: i % 7 }));
      const idem = unique('batch');
      const first = await hub.gql<{ predictBatch: { predictions: PredictionRow[] } }>(PREDICT_BATCH, {
        e: endpoint,
        i: inputs,
        idem,
      });
      expect(first.errors).toBeUndefined();
      const predictions = first.data!.predictBatch.predictions;
      predictions.forEach((p, i) => {
        const expected = expectedSoftmax(rowOf(inputs[i]), WEIGHTS, BIAS);
        expect(p.label).toBe(LABELS[argmax(expected)]);
        expect(p.score).toBeCloseTo(Math.max(...expected), 5);
      });
      const again = await hub.gql<{ predictBatch: { predictions: PredictionRow[] } }>(PREDICT_BATCH, {
        e: endpoint,
        i: inputs,
        idem,
      });
      expect(again.data!.predictBatch.predictions).toEqual(predictions);
      const rows = (await logged(endpointId)).filter((r) =>
        String(r.request_key).startsWith(`batch:${idem}:`),
      );
      expect(rows).toHaveLength(40);
    });

    it('serves 10,000 concurrent predicts with no error and no cross-talk, logging each exactly once', async () => {
      const n = 10_000;
      const tag = unique('load');
      const inputs = Array.from({ length: n }, (_, i) => ({ amount: (i % 997) / 10, errors: i % 13 }));
      const bodies = inputs.map((input, i) =>
        JSON.stringify({ query: PREDICT, variables: { e: endpoint, i: input, k: `${tag}-${i}` } }),
      );
      const before = hub.services.runtime.stats.batches;
      const responses = await postMany(hub, bodies);
      const batches = hub.services.runtime.stats.batches - before;
      expect(responses.filter((r) => r.status !== 200 || r.body.errors)).toEqual([]);
      responses.forEach((r, i) => {
        const p = r.body.data!.predict as PredictionRow;
        expect(p.requestKey).toBe(`${tag}-${i}`);
        const expected = expectedSoftmax(rowOf(inputs[i]), WEIGHTS, BIAS);
        const best = argmax(expected);
        if (p.label !== LABELS[best] || Math.abs(p.score! - expected[best]) > 1e-5)
          throw new Error(
            `request ${i} got ${p.label} ${p.score}, expected ${LABELS[best]} ${expected[best]}`,
          );
      });
      // Requests were merged: fewer runs than requests.
      expect(batches).toBeLessThan(n);
      const rows = (await logged(endpointId)).filter((r) => String(r.request_key).startsWith(`${tag}-`));
      expect(rows).toHaveLength(n);
      expect(new Set(rows.map((r) => r.request_key)).size).toBe(n);
      // Each logged row carries its own request's features and answer.
      for (const row of rows.slice(0, 500)) {
        const i = Number(String(row.request_key).slice(tag.length + 1));
        expect(row.features).toEqual(inputs[i]);
        expect((row.outputs as { label: string }).label).toBe(
          LABELS[argmax(expectedSoftmax(rowOf(inputs[i]), WEIGHTS, BIAS))],
        );
      }
    }, 180_000);

    it('logs a retried request key once', async () => {
      const key = unique('retry');
      await predict(endpoint, { amount: 5, errors: 1 }, key);
      await predict(endpoint, { amount: 5, errors: 1 }, key);
      const rows = (await logged(endpointId)).filter((r) => r.request_key === key);
      expect(rows).toHaveLength(1);
    });

    it('reports the runtime: loaded versions with load time, batches, a size histogram', async () => {
      const res = await hub.gql<{
        inferenceRuntime: {
          providers: string[];
          workers: number;
          batches: number;
          batchSizeHistogram: Array<{ le: number | null; count: number }>;
          loadedVersions: Array<{ provider: string; loadMs: number; requests: number }>;
        };
      }>(
        '{ inferenceRuntime { providers workers batches batchSizeHistogram { le count } loadedVersions { provider loadMs requests } } }',
      );
      const info = res.data!.inferenceRuntime;
      expect(info.providers).toEqual(['cpu']);
      expect(info.workers).toBe(1);
      expect(info.loadedVersions.length).toBeGreaterThan(0);
      expect(info.loadedVersions[0]).toMatchObject({ provider: 'cpu' });
      expect(info.loadedVersions[0].loadMs).toBeGreaterThan(0);
      const counted = info.batchSizeHistogram.reduce((sum, b) => sum + b.count, 0);
      expect(counted).toBe(info.batches);
      // The same figures for Prometheus.
      const scrape = await fetch(hub.url.replace(/\/graphql$/, '/metrics'), {
        headers: { authorization: `Bearer ${hub.adminKey}` },
      });
      const text = await scrape.text();
      const written = Number(/^nerve_prediction_log_written_rows_total (\d+)$/m.exec(text)?.[1]);
      expect(written).toBeGreaterThanOrEqual(10_000);
      expect(text).toMatch(/^nerve_inference_batches_total \d+$/m);
      // The concurrent test above formed batches of more than one row.
      expect(info.batchSizeHistogram.filter((b) => b.le === null || b.le > 1).some((b) => b.count > 0)).toBe(
        true,
      );
    });
  });

  describe('traffic', () => {
    it('routes a sticky share to the canary, mirrors to the shadow, and never answers from it', async () => {
      const v1 = (await register({ artifactSha256: goodSha, preprocessing: SPEC })).data!
        .registerModelVersion;
      const otherSha = await uploadArtifact(
        hub,
        linearClassifierOnnx({ features: 2, classes: 3, weights: WEIGHTS, bias: [0.5, 0, -0.5] }),
        project.slug,
      );
      const v2 = (await register({ artifactSha256: otherSha, preprocessing: SPEC })).data!
        .registerModelVersion;
      const v3 = (await register({ artifactSha256: otherSha, preprocessing: SPEC })).data!
        .registerModelVersion;
      const name = unique('split');
      const endpointId = (await createEndpoint({ name, version: v1.version })).data!.createEndpoint.id;
      const traffic = await hub.gql(SET_TRAFFIC, {
        i: {
          endpoint: name,
          stableVersion: v1.version,
          canaryVersion: v2.version,
          canaryWeight: 30,
          shadowVersion: v3.version,
          reason: 'canary 30%',
        },
      });
      expect(traffic.errors).toBeUndefined();

      const keys = Array.from({ length: 400 }, (_, i) => `customer-${i}`);
      const first = await Promise.all(keys.map((k) => predict(name, { amount: 3, errors: 2 }, k)));
      const versionOf = new Map(first.map((r) => [r.data!.predict.requestKey, r.data!.predict.modelVersion]));
      const canary = [...versionOf.values()].filter((v) => v === v2.version).length;
      // 30% of 400 keys, within a generous binomial margin (sd ~ 9).
      expect(canary).toBeGreaterThan(120 - 40);
      expect(canary).toBeLessThan(120 + 40);
      expect(first.every((r) => r.data!.predict.modelVersion !== v3.version)).toBe(true);
      expect(
        first.every(
          (r) => (r.data!.predict.routedTo === 'CANARY') === (r.data!.predict.modelVersion === v2.version),
        ),
      ).toBe(true);
      // Sticky: the same key lands on the same version again.
      const again = await Promise.all(
        keys.slice(0, 100).map((k) => predict(name, { amount: 9, errors: 1 }, k)),
      );
      for (const r of again)
        expect(r.data!.predict.modelVersion).toBe(versionOf.get(r.data!.predict.requestKey));

      // Shadow scorings are logged apart, with their own outputs, for every request.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const rows = await logged(endpointId);
      const shadow = rows.filter((r) => r.shadow);
      expect(shadow.length).toBe(keys.length);
      expect(new Set(shadow.map((r) => r.model_version_id))).toEqual(new Set([v3.id]));
      expect(shadow.every((r) => r.outputs !== null && r.error === null)).toBe(true);

      // The history of splits.
      const history = await hub.gql<{
        endpoint: {
          trafficHistory: {
            edges: Array<{ node: { canaryWeight: number; reason: string | null; validTo: string | null } }>;
          };
        };
      }>(
        'query($n: String!) { endpoint(name: $n) { trafficHistory(first: 5) { edges { node { canaryWeight reason validTo } } } } }',
        {
          n: name,
        },
      );
      expect(history.data!.endpoint.trafficHistory.edges.map((e) => e.node)).toEqual([
        { canaryWeight: 30, reason: 'canary 30%', validTo: null },
        { canaryWeight: 0, reason: 'created', validTo: expect.any(String) },
      ]);
    });

    it('keeps serving the stable version while a canary that throws at run time fails clearly', async () => {
      const stable = (await register({ artifactSha256: goodSha, preprocessing: SPEC })).data!
        .registerModelVersion;
      const brokenSha = await uploadArtifact(hub, failingAtRunTime(), project.slug);
      const broken = await register({ artifactSha256: brokenSha, preprocessing: SPEC });
      expect(broken.errors).toBeUndefined();
      const name = unique('fragile');
      const endpointId = (await createEndpoint({ name, version: stable.version })).data!.createEndpoint.id;
      await hub.gql(SET_TRAFFIC, {
        i: {
          endpoint: name,
          stableVersion: stable.version,
          canaryVersion: broken.data!.registerModelVersion.version,
          canaryWeight: 50,
        },
      });
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => predict(name, { amount: i, errors: 1 }, `k-${i}`)),
      );
      const failed = results.filter((r) => r.errors);
      const served = results.filter((r) => !r.errors);
      expect(failed.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThan(0);
      for (const r of served) expect(r.data!.predict.modelVersion).toBe(stable.version);
      for (const r of failed) {
        expect(r.errors![0].extensions?.code).toBe('INFERENCE_FAILED');
        expect(r.errors![0].message).toMatch(/^the model failed: /);
        expect(r.errors![0].message).not.toMatch(/\/|onnxruntime_src/);
      }
      const rows = await logged(endpointId);
      expect(rows.filter((r) => r.error !== null)).toHaveLength(failed.length);
    });

    it('refuses a canary without weight, an unknown version, and callers without the right', async () => {
      const v = (await register({ artifactSha256: goodSha, preprocessing: SPEC })).data!.registerModelVersion;
      const name = unique('strict');
      await createEndpoint({ name, version: v.version });
      const noWeight = await hub.gql(SET_TRAFFIC, {
        i: { endpoint: name, stableVersion: v.version, canaryVersion: v.version },
      });
      expect(failure(noWeight)).toMatchObject({ field: 'canaryWeight' });
      const missing = await hub.gql(SET_TRAFFIC, { i: { endpoint: name, stableVersion: 9_999 } });
      expect(failure(missing)).toMatchObject({ field: 'stableVersion' });
      const viewer = await hub.key(Role.VIEWER, [project.id]);
      const forbidden = await hub.gql(
        SET_TRAFFIC,
        { i: { endpoint: name, stableVersion: v.version } },
        viewer,
      );
      expect(failure(forbidden)).toMatchObject({ code: 'FORBIDDEN' });
      expect(failure(await predict(name, { amount: 1, errors: 1 }, undefined, viewer))).toMatchObject({
        code: 'FORBIDDEN',
      });
      const bot = await hub.key(Role.BOT, [project.id]);
      expect((await predict(name, { amount: 1, errors: 1 }, undefined, bot)).errors).toBeUndefined();
      const other = await hub.gql<{ createProject: { id: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        { i: { slug: unique('other'), name: 'Other' } },
      );
      const elsewhere = await hub.key(Role.BOT, [other.data!.createProject.id]);
      expect(failure(await predict(name, { amount: 1, errors: 1 }, undefined, elsewhere))).toMatchObject({
        code: 'NOT_FOUND',
      });
    });
  });

  describe('outcomes', () => {
    it('records ground truth per request key and computes live accuracy per version', async () => {
      const v = (await register({ artifactSha256: goodSha, preprocessing: SPEC })).data!.registerModelVersion;
      const name = unique('truth');
      await createEndpoint({ name, version: v.version });
      const inputs = Array.from({ length: 20 }, (_, i) => ({ amount: i * 2, errors: i % 5 }));
      const answers = await Promise.all(inputs.map((input, i) => predict(name, input, `t-${i}`)));
      // The business confirms the first 15 answers and corrects the last 5.
      for (const [i, r] of answers.entries()) {
        const label = i < 15 ? r.data!.predict.label! : LABELS.find((l) => l !== r.data!.predict.label)!;
        const rec = await hub.gql(
          'mutation($e: String!, $k: String!, $l: String) { recordPredictionOutcome(endpoint: $e, requestKey: $k, label: $l) { id label } }',
          { e: name, k: `t-${i}`, l: label },
        );
        expect(rec.errors).toBeUndefined();
      }
      // Recording again (a retry) changes nothing.
      await hub.gql(
        'mutation($e: String!, $k: String!, $l: String) { recordPredictionOutcome(endpoint: $e, requestKey: $k, label: $l) { id } }',
        { e: name, k: 't-0', l: answers[0].data!.predict.label },
      );
      const bad = await hub.gql(
        'mutation($e: String!, $k: String!, $l: String) { recordPredictionOutcome(endpoint: $e, requestKey: $k, label: $l) { id } }',
        { e: name, k: 't-1', l: 'sales' },
      );
      expect(failure(bad)).toMatchObject({ field: 'label' });
      await hub.services.predictionLog.flush();
      const res = await hub.gql<{ endpoint: { liveAccuracy: unknown[] } }>(
        'query($n: String!) { endpoint(name: $n) { liveAccuracy { modelVersion shadow predictions correct accuracy } } }',
        { n: name },
      );
      expect(res.data!.endpoint.liveAccuracy).toEqual([
        { modelVersion: v.version, shadow: false, predictions: 20, correct: 15, accuracy: 0.75 },
      ]);
    });
  });

  describe('remote models (Open Inference Protocol)', () => {
    let fake: FakeOipServer;
    let url: string;

    beforeAll(async () => {
      fake = new FakeOipServer([
        {
          name: 'ticket-router',
          version: '3',
          inputName: 'features',
          width: 2,
          weights: WEIGHTS,
          bias: BIAS,
          softmax: true,
          outputName: 'probabilities',
        },
      ]);
      url = (await fake.start()).url;
    });
    afterAll(() => fake.close());

    it('registers from the server metadata, validates golden samples and serves through the same path', async () => {
      const input = { amount: 14, errors: 2 };
      const expected = expectedSoftmax(rowOf(input), WEIGHTS, BIAS);
      const res = await register({
        remote: { url, model: 'ticket-router', version: '3', timeoutMs: 500 },
        preprocessing: SPEC,
        goldenSamples: [{ input, expectedLabel: LABELS[argmax(expected)] }],
      });
      expect(res.errors).toBeUndefined();
      expect(res.data!.registerModelVersion.status).toBe('VALIDATED');
      const name = unique('gpu');
      const created = await createEndpoint({ name, version: res.data!.registerModelVersion.version });
      expect(created.errors).toBeUndefined();
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => predict(name, { amount: i, errors: i % 3 }, `r-${i}`)),
      );
      answers.forEach((r, i) => {
        expect(r.errors).toBeUndefined();
        const e = expectedSoftmax(rowOf({ amount: i, errors: i % 3 }), WEIGHTS, BIAS);
        expect(r.data!.predict.label).toBe(LABELS[argmax(e)]);
      });
      // Concurrent requests reached the server in fewer, larger calls.
      expect(fake.rowsPerCall.some((rows) => rows > 1)).toBe(true);

      // A sick server: the request fails fast with a clear error, never hangs.
      fake.failNext(100, 503);
      const sick = await predict(name, input, unique('sick'));
      expect(failure(sick)).toMatchObject({ code: 'UNAVAILABLE' });
      expect(failure(sick).message).toContain(url);
      fake.reset();
    });

    it('refuses a remote model the server does not have, naming the field', async () => {
      const res = await register({ remote: { url, model: 'nope' }, preprocessing: SPEC });
      expect(failure(res).code).toBe('UNAVAILABLE');
      const both = await register({ remote: { url, model: 'ticket-router' }, artifactSha256: goodSha });
      expect(failure(both)).toMatchObject({ field: 'artifactSha256' });
      const badUrl = await register({ remote: { url: 'ftp://x', model: 'm' } });
      expect(failure(badUrl)).toMatchObject({ field: 'remote.url' });
    });
  });

  it('falls back from CUDA to CPU when CUDA is not there, and says why', async () => {
    const own = await startTestHub({ inferenceProviders: ['cuda', 'cpu'] });
    try {
      const plan = await own.services.runtime.load({
        id: '00000000-0000-4000-8000-000000000001',
        projectId: project.id,
        task: 'CLASSIFICATION',
        signature: {
          inputs: [{ name: 'features', type: 'float32', shape: [null, 2] }],
          outputs: [{ name: 'probabilities', type: 'float32', shape: [null, 3] }],
        },
        featureNames: [],
        labels: LABELS,
        preprocessing: SPEC,
        source: { kind: 'onnx', sha256: goodSha, path: hub.services.artifacts.store.pathOf(goodSha) },
      });
      expect(plan.width).toBe(2);
      const [loaded] = own.services.runtime.snapshot().loadedVersions;
      expect(loaded.provider).toBe('cpu');
      expect(loaded.fallbackReason).toMatch(/cuda/i);
      expect(own.services.runtime.snapshot().providers).toEqual(['cuda', 'cpu']);
    } finally {
      await own.close();
    }
  });

  it('writes every acknowledged prediction before a graceful shutdown completes', async () => {
    const own = await startTestHub({ predictionLogFlushMs: 60_000 });
    try {
      const slug = unique('shut');
      await own.gql('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
        i: { slug, name: 'Shutdown' },
      });
      const model = unique('m');
      await own.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
        i: { project: slug, name: model, task: 'CLASSIFICATION' },
      });
      const id = (
        await own.gql<{ models: { edges: Array<{ node: { id: string } }> } }>(
          'query($p: String!) { models(project: $p) { edges { node { id } } } }',
          { p: slug },
        )
      ).data!.models.edges[0].node.id;
      const sha = await uploadArtifact(
        own,
        linearClassifierOnnx({ features: 2, classes: 3, weights: WEIGHTS, bias: BIAS }),
        slug,
      );
      await own.gql(REGISTER, {
        i: { modelId: id, artifactSha256: sha, preprocessing: SPEC, labels: LABELS },
      });
      const name = unique('drain');
      const ep = await own.gql<{ createEndpoint: { id: string } }>(CREATE_ENDPOINT, {
        i: { project: slug, model, name, version: 1 },
      });
      const endpointId = ep.data!.createEndpoint.id;
      const answered = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          own.gql(PREDICT, { e: name, i: { amount: i, errors: 1 }, k: `s-${i}` }),
        ),
      );
      expect(answered.every((r) => !r.errors)).toBe(true);
      // The flush interval is a minute: the rows are still buffered when the hub is told to stop.
      expect(own.services.predictionLog.buffered).toBe(300);
      await own.close();
      expect(own.db.isInitialized).toBe(false);
      const rows = (await hub.db.query(
        'SELECT count(*)::int AS n FROM prediction_log WHERE endpoint_id = $1',
        [endpointId],
      )) as Array<{ n: number }>;
      expect(rows[0].n).toBe(300);
    } finally {
      await own.close();
    }
  });
});

function argmax(values: number[]): number {
  return values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
}
