import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';
import {
  T95,
  mean,
  variance,
  tEstimate,
  expectEstimate,
  type Estimate,
  type Point,
  kpiPointCount,
} from '../support/kpi-estimates';

const DEFINE = `mutation($i: DefineKpiInput!) {
  defineKpi(input: $i) { id key name unit aggregation direction source points }
}`;
const RECORD = `mutation($i: RecordKpiPointsInput!) { recordKpiPoints(input: $i) { recorded attributed } }`;
const SERIES = `query($p: String!, $k: String!, $from: DateTimeISO!, $to: DateTimeISO!, $g: KpiGranularity!, $v: Boolean!) {
  kpiSeries(project: $p, kpi: $k, from: $from, to: $to, granularity: $g, byModelVersion: $v) {
    granularity
    lines {
      modelVersion { id version }
      summary { count value low high }
      buckets { start count value low high }
    }
    comparisons {
      baseline { version } candidate { version }
      baselineValue candidateValue difference low high better worse
    }
  }
}`;

interface Series {
  granularity: string;
  lines: Array<{
    modelVersion: { id: string; version: number } | null;
    summary: Estimate;
    buckets: Array<Estimate & { start: string }>;
  }>;
  comparisons: Array<{
    baseline: { version: number };
    candidate: { version: number };
    baselineValue: number;
    candidateValue: number;
    difference: number;
    low: number | null;
    high: number | null;
    better: boolean;
    worse: boolean;
  }>;
}

/**
 * KPIs through the API: the schema's defaults, what its scalars refuse, and attribution through served
 * predictions with the series' shape. Definitions, batches and statistics are checked on the services,
 * in test/medium/kpis.medium.ts.
 */
describe('KPIs', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };

  const failure = (res: GqlResult<unknown>) => {
    expect(res.errors).toHaveLength(1);
    expect(res.data ?? null).toBeNull();
    return { ...res.errors![0].extensions, message: res.errors![0].message };
  };

  async function createProject(name: string): Promise<{ id: string; slug: string }> {
    return (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('kpi'), name } },
      )
    ).createProject;
  }

  async function define(
    key: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ id: string; key: string; source: string }> {
    return (
      await hub.gqlOk<{ defineKpi: { id: string; key: string; source: string } }>(DEFINE, {
        i: { project: project.slug, key, name: key, unit: 'minutes', ...extra },
      })
    ).defineKpi;
  }

  const record = (points: Point[], idempotencyKey?: string, key?: string) =>
    hub.gql<{ recordKpiPoints: { recorded: number; attributed: number } }>(
      RECORD,
      { i: { project: project.slug, points, idempotencyKey } },
      key,
    );

  async function recordOk(points: Point[], idempotencyKey?: string, key?: string) {
    const res = await record(points, idempotencyKey, key);
    expect(res.errors).toBeUndefined();
    return res.data!.recordKpiPoints;
  }

  const rows = (kpi: string): Promise<number> => kpiPointCount(hub.db, project.id, kpi);

  async function series(
    kpi: string,
    from: string,
    to: string,
    granularity = 'DAY',
    byModelVersion = false,
  ): Promise<Series> {
    return (
      await hub.gqlOk<{ kpiSeries: Series }>(SERIES, {
        p: project.slug,
        k: kpi,
        from,
        to,
        g: granularity,
        v: byModelVersion,
      })
    ).kpiSeries;
  }

  /** A classification model with `count` versions in a project. */
  async function model(projectSlug: string, count: number): Promise<{ id: string; versions: string[] }> {
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: projectSlug, name: unique('router'), task: 'CLASSIFICATION' } },
    );
    const versions: string[] = [];
    for (let i = 0; i < count; i++) {
      const sha = await uploadArtifact(
        hub,
        linearClassifierOnnx({ features: 1, classes: 2, weights: [[1, -1]], bias: [0, 0.1 * (i + 1)] }),
        projectSlug,
      );
      const { registerModelVersion } = await hub.gqlOk<{ registerModelVersion: { id: string } }>(
        'mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }',
        {
          i: {
            modelId: createModel.id,
            artifactSha256: sha,
            labels: ['a', 'b'],
            preprocessing: { version: 1, features: [{ name: 'x', kind: 'numeric' }] },
          },
        },
      );
      versions.push(registerModelVersion.id);
    }
    return { id: createModel.id, versions };
  }

  beforeAll(async () => {
    hub = await startTestHub();
    project = await createProject('KPIs');
  });
  afterAll(async () => {
    await hub?.close();
  });

  it("defines KPIs with the schema's defaults, and redefines one in place", async () => {
    const kpi = await define('first_reply_minutes', { direction: 'LOWER_IS_BETTER' });
    expect(kpi).toMatchObject({
      key: 'first_reply_minutes',
      unit: 'minutes',
      aggregation: 'MEAN',
      direction: 'LOWER_IS_BETTER',
      source: 'PUSHED',
      points: 0,
    });
    // Defining it again redefines it, in place.
    const again = await hub.gqlOk<{ defineKpi: { id: string; name: string; aggregation: string } }>(DEFINE, {
      i: { project: project.slug, key: 'first_reply_minutes', name: 'First reply', unit: 'minutes' },
    });
    expect(again.defineKpi).toMatchObject({ id: kpi.id, name: 'First reply' });
  });

  it('refuses a point whose time is not a date, writing nothing', async () => {
    await define('queue_minutes');
    const point: Point = { kpi: 'queue_minutes', time: '2031-01-01T00:00:00Z', value: 1 };
    const err = failure(
      await record([
        { ...point, sourceRef: 'ref-0' },
        { ...point, time: 'yesterday' },
      ]),
    );
    expect(err.code).toBe('BAD_USER_INPUT');
    expect(await rows('queue_minutes')).toBe(0);
  });

  it('attributes points through request keys and tells a clear improvement from noise', async () => {
    const router = await model(project.slug, 2);
    const endpoint = unique('router');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: project.slug, name: endpoint, model: router.id, version: 1 },
    });
    const keys = [
      Array.from({ length: 10 }, () => unique('req')),
      Array.from({ length: 10 }, () => unique('req')),
    ];
    for (const [i, group] of keys.entries()) {
      if (i === 1) {
        await hub.gqlOk('mutation($i: SetEndpointTrafficInput!) { setEndpointTraffic(input: $i) { id } }', {
          i: { endpoint, stableVersion: 2 },
        });
      }
      const { predictBatch } = await hub.gqlOk<{
        predictBatch: { predictions: Array<{ modelVersion: number }> };
      }>(
        'mutation($e: String!, $i: [JSONObject!]!, $k: [String!]) { predictBatch(endpoint: $e, inputs: $i, requestKeys: $k) { predictions { modelVersion } } }',
        { e: endpoint, i: group.map((_, j) => ({ x: j })), k: group },
      );
      expect(predictBatch.predictions.map((p) => p.modelVersion)).toEqual(group.map(() => i + 1));
    }
    await hub.services.predictionLog.flush();

    // Handling time, lower is better: v2 is ten minutes faster with the same spread.
    await define('handle_minutes', { direction: 'LOWER_IS_BETTER' });
    // Satisfaction, higher is better: v2 is 0.1 higher, well inside the noise.
    await define('csat');
    const spread = [-3, -2, -1, 0, 1, 2, 3, -1.5, 1.5, 0];
    const noise = [-2, 2, -1.5, 1.5, -1, 1, -0.5, 0.5, 0, 0];
    const values = {
      handle_minutes: [spread.map((d) => 30 + d), spread.map((d) => 20 + d)],
      csat: [noise.map((d) => 4 + d), noise.map((d) => 4.1 + d)],
    };
    const time = (j: number) => `2031-05-01T${String(j).padStart(2, '0')}:00:00.000Z`;
    const points: Point[] = [];
    for (const kpi of ['handle_minutes', 'csat'] as const) {
      for (const [v, group] of keys.entries()) {
        for (const [j, requestKey] of group.entries())
          points.push({ kpi, time: time(j), value: values[kpi][v][j], requestKey });
      }
    }
    // Not attributed: no request key, and a key no prediction carried.
    const unattributed: Point[] = [
      { kpi: 'handle_minutes', time: time(1), value: 50 },
      { kpi: 'handle_minutes', time: time(2), value: 60 },
      { kpi: 'handle_minutes', time: time(3), value: 70, requestKey: 'never-predicted' },
    ];
    expect(await recordOk([...points, ...unattributed])).toEqual({ recorded: 43, attributed: 40 });

    const from = '2031-05-01T00:00:00Z';
    const to = '2031-05-02T00:00:00Z';
    const handle = await series('handle_minutes', from, to, 'DAY', true);
    expect(handle.lines.map((l) => l.modelVersion?.id ?? null)).toEqual([...router.versions, null]);
    for (const v of [0, 1]) expectEstimate(handle.lines[v].summary, tEstimate(values.handle_minutes[v]));
    expectEstimate(handle.lines[2].summary, tEstimate([50, 60, 70]));
    expect(handle.lines[2].summary.count).toBe(3);

    // Equal sizes and spreads: Welch's degrees of freedom are 2(n − 1) = 18.
    const welch = (a: number[], b: number[]) => {
      const difference = mean(b) - mean(a);
      const half = T95[18] * Math.sqrt(variance(a) / a.length + variance(b) / b.length);
      return { difference, low: difference - half, high: difference + half };
    };
    const [clear] = handle.comparisons;
    expect(handle.comparisons).toHaveLength(1);
    const expectedClear = welch(values.handle_minutes[0], values.handle_minutes[1]);
    expect(clear).toMatchObject({
      baseline: { version: 1 },
      candidate: { version: 2 },
      better: true,
      worse: false,
    });
    expect(clear.baselineValue).toBeCloseTo(30, 9);
    expect(clear.candidateValue).toBeCloseTo(20, 9);
    expect(clear.difference).toBeCloseTo(expectedClear.difference, 9);
    expect(clear.low).toBeCloseTo(expectedClear.low, 2);
    expect(clear.high).toBeCloseTo(expectedClear.high, 2);
    expect(clear.high!).toBeLessThan(0);

    const csat = await series('csat', from, to, 'DAY', true);
    expect(csat.lines.map((l) => l.modelVersion?.id ?? null)).toEqual(router.versions);
    const [unclear] = csat.comparisons;
    const expectedUnclear = welch(values.csat[0], values.csat[1]);
    expect(unclear).toMatchObject({ better: false, worse: false });
    expect(unclear.difference).toBeCloseTo(0.1, 9);
    expect(unclear.low).toBeCloseTo(expectedUnclear.low, 2);
    expect(unclear.high).toBeCloseTo(expectedUnclear.high, 2);
    expect(unclear.low!).toBeLessThan(0);
    expect(unclear.high!).toBeGreaterThan(0);
  });
});
