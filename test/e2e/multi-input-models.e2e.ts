import { multiInputRegressorOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const REGISTER = `mutation($i: RegisterModelVersionInput!) {
  registerModelVersion(input: $i) { id version status featureNames }
}`;
const PREDICT_BATCH = `mutation($e: String!, $i: [JSONObject!]!) {
  predictBatch(endpoint: $e, inputs: $i) { predictions { modelVersion values } }
}`;

/** A tabular regressor as PyTorch exports one: numeric columns and a one-hot plan as separate inputs. */
const NUM_WEIGHTS = [0.5, -1.25, 2];
const PLANS = ['free', 'starter', 'pro', 'team', 'enterprise'];
const CAT_WEIGHTS = [0.1, 0.2, 0.4, 0.8, 1.6];
const BIAS = 0.75;

const BOTH_INPUTS = {
  version: 1,
  output: 'prediction',
  features: [
    { name: 'amount', kind: 'numeric', input: 'num', scale: { type: 'standard', mean: 100, std: 50 } },
    // Declared between two `num` features: columns are grouped per input, not laid out in feature order.
    { name: 'plan', kind: 'categorical', categories: PLANS, input: 'cat' },
    { name: 'tenure', kind: 'numeric', input: 'num' },
    { name: 'seats', kind: 'numeric', input: 'num', clip: [0, 10] },
  ],
};

interface Row {
  amount: number;
  plan: string;
  tenure: number;
  seats: number;
}

/** The model's answer worked out by hand, in double precision. */
function expected(row: Row): number {
  const num = [(row.amount - 100) / 50, row.tenure, Math.min(Math.max(row.seats, 0), 10)];
  const cat: number[] = PLANS.map((p) => (p === row.plan ? 1 : 0));
  return (
    BIAS +
    num.reduce((s, x, i) => s + x * NUM_WEIGHTS[i], 0) +
    cat.reduce((s, x, i) => s + x * CAT_WEIGHTS[i], 0)
  );
}

function failure(res: GqlResult<unknown>): { code?: string; field?: string; message: string } {
  expect(res.errors).toHaveLength(1);
  const { code, field } = res.errors![0].extensions ?? {};
  return { code, field, message: res.errors![0].message };
}

describe('models with several inputs', () => {
  let hub: TestHub;
  let project: string;
  let modelName: string;
  let modelId: string;
  let sha: string;

  const register = (preprocessing: Record<string, unknown>) =>
    hub.gql<{
      registerModelVersion: { id: string; version: number; status: string; featureNames: string[] };
    }>(REGISTER, { i: { modelId, artifactSha256: sha, preprocessing } });
  const versionCount = async (): Promise<number> =>
    Number(
      (await hub.db.query('SELECT count(*)::int AS n FROM model_version WHERE model_id = $1', [modelId]))[0]
        .n,
    );

  beforeAll(async () => {
    hub = await startTestHub();
    project = unique('multi');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: 'Multi-input' },
    });
    modelName = unique('churn');
    modelId = (
      await hub.gqlOk<{ createModel: { id: string } }>(
        'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
        { i: { project, name: modelName, task: 'REGRESSION' } },
      )
    ).createModel.id;
    sha = await uploadArtifact(
      hub,
      multiInputRegressorOnnx(
        [
          { name: 'num', weights: NUM_WEIGHTS },
          { name: 'cat', weights: CAT_WEIGHTS },
        ],
        BIAS,
      ),
      project,
    );
  });
  afterAll(() => hub.close());

  it('feeds every input its own features and answers the regression', async () => {
    const res = await register(BOTH_INPUTS);
    expect(res.errors).toBeUndefined();
    const version = res.data!.registerModelVersion;
    expect(version.status).toBe('REGISTERED');
    expect(version.featureNames).toEqual(['amount', 'plan', 'tenure', 'seats']);
    const endpoint = unique('churn-ep');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project, name: endpoint, model: modelName, version: version.version },
    });
    const rows: Row[] = [
      { amount: 180, plan: 'pro', tenure: 3, seats: 4 },
      { amount: 20, plan: 'enterprise', tenure: 0.5, seats: 40 },
      { amount: 100, plan: 'free', tenure: 12, seats: 1 },
    ];
    const single = await hub.gqlOk<{ predict: { values: number[] } }>(
      'mutation($e: String!, $i: JSONObject!) { predict(endpoint: $e, input: $i) { values } }',
      { e: endpoint, i: rows[0] },
    );
    expect(single.predict.values).toHaveLength(1);
    expect(single.predict.values[0]).toBeCloseTo(expected(rows[0]), 4);
    // Several rows in one run: each input's columns are cut out of every row.
    const batch = await hub.gqlOk<{ predictBatch: { predictions: Array<{ values: number[] }> } }>(
      PREDICT_BATCH,
      { e: endpoint, i: rows },
    );
    batch.predictBatch.predictions.forEach((p, i) => expect(p.values[0]).toBeCloseTo(expected(rows[i]), 4));
  });

  it('reproduces golden samples through both inputs at registration', async () => {
    const samples: Row[] = [
      { amount: 60, plan: 'team', tenure: 1, seats: 2 },
      { amount: 250, plan: 'starter', tenure: 4, seats: 11 },
    ];
    const res = await hub.gql<{ registerModelVersion: { status: string } }>(REGISTER, {
      i: {
        modelId,
        artifactSha256: sha,
        preprocessing: BOTH_INPUTS,
        goldenSamples: samples.map((input) => ({
          input,
          expectedValues: [expected(input)],
          tolerance: 1e-4,
        })),
      },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.registerModelVersion.status).toBe('VALIDATED');
  });

  it('refuses at registration a spec that leaves a model input unfed, writing nothing', async () => {
    const before = await versionCount();
    const onlyNum = await register({
      version: 1,
      input: 'num',
      features: [
        { name: 'amount', kind: 'numeric' },
        { name: 'tenure', kind: 'numeric' },
        { name: 'seats', kind: 'numeric' },
      ],
    });
    expect(failure(onlyNum)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'preprocessing.features' });
    expect(failure(onlyNum).message).toMatch(/"cat" unfed/);
    expect(await versionCount()).toBe(before);
  });

  it('names the feature at fault when inputs are misnamed, ambiguous or the wrong width', async () => {
    const before = await versionCount();
    const [amount, plan, tenure, seats] = BOTH_INPUTS.features;
    const misnamed = await register({
      ...BOTH_INPUTS,
      features: [amount, { ...plan, input: 'kat' }, tenure, seats],
    });
    expect(failure(misnamed)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'preprocessing.features.1.input',
    });
    expect(failure(misnamed).message).toMatch(/no input "kat" \(it has num, cat\)/);
    // Two model inputs and a feature that names none, with no spec-wide input to fall back on.
    const unnamed = { name: tenure.name, kind: 'numeric' };
    const ambiguous = await register({ ...BOTH_INPUTS, features: [amount, plan, unnamed, seats] });
    expect(failure(ambiguous)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'preprocessing.features.2.input',
    });
    const narrow = await register({
      ...BOTH_INPUTS,
      features: [amount, { ...plan, categories: PLANS.slice(0, 4) }, tenure, seats],
    });
    expect(failure(narrow)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'preprocessing' });
    expect(failure(narrow).message).toMatch(/input "cat" 4 columns but it takes 5/);
    expect(await versionCount()).toBe(before);
  });
});
