import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

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

/** Two-sided 95% critical values of Student's t, from a printed table, by degrees of freedom. */
const T95: Record<number, number> = { 1: 12.706, 2: 4.303, 3: 3.182, 5: 2.571, 9: 2.262, 18: 2.101 };
/** The normal's two-sided 95% critical value. */
const Z95 = 1.96;

interface Estimate {
  count: number;
  value: number;
  low: number | null;
  high: number | null;
}
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
interface Point {
  kpi: string;
  time: string;
  value: number;
  modelVersionId?: string;
  requestKey?: string;
  sourceRef?: string;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]): number => {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};

/** The mean of `xs` with its 95% t-interval, worked out here with the table's t. */
function tEstimate(xs: number[]): Estimate {
  const m = mean(xs);
  if (xs.length < 2) return { count: xs.length, value: m, low: null, high: null };
  const half = T95[xs.length - 1] * Math.sqrt(variance(xs) / xs.length);
  return { count: xs.length, value: m, low: m - half, high: m + half };
}

/** Expects an estimate to match, the interval to two decimals (the hub computes t, the test reads a table). */
function expectEstimate(actual: Estimate, expected: Estimate): void {
  expect(actual.count).toBe(expected.count);
  expect(actual.value).toBeCloseTo(expected.value, 9);
  if (expected.low === null) {
    expect(actual).toMatchObject({ low: null, high: null });
  } else {
    expect(actual.low).toBeCloseTo(expected.low, 2);
    expect(actual.high).toBeCloseTo(expected.high!, 2);
  }
}

/** Points grouped by the start of their UTC day or hour, in time order. */
function groupBy(points: Point[], length: 10 | 13): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const p of [...points].sort((a, b) => a.time.localeCompare(b.time))) {
    const start = p.time.slice(0, length) + (length === 10 ? 'T00:00:00.000Z' : ':00:00.000Z');
    groups.set(start, [...(groups.get(start) ?? []), p.value]);
  }
  return groups;
}

describe('KPIs', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };
  let other: { id: string; slug: string };

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

  async function rows(kpi: string): Promise<number> {
    const [{ n }] = (await hub.db.query(
      'SELECT count(*)::int AS n FROM kpi_point p JOIN kpi k ON k.id = p.kpi_id WHERE k.project_id = $1 AND k.key = $2',
      [project.id, kpi],
    )) as Array<{ n: number }>;
    return n;
  }

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
    other = await createProject('Elsewhere');
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('defines KPIs, refusing bad keys and the keys the hub derives', async () => {
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

    for (const key of ['Bad-Key', '9lives', '', 'x'.repeat(64), 'spaced key']) {
      const res = await hub.gql(DEFINE, { i: { project: project.slug, key, name: 'n', unit: 'u' } });
      expect(failure(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'key' });
    }
    const derived = await hub.gql(DEFINE, {
      i: { project: project.slug, key: 'ticket_handling_time', name: 'Mine', unit: 'hours' },
    });
    expect(failure(derived)).toMatchObject({ code: 'CONFLICT', field: 'key' });
    const [{ n }] = (await hub.db.query(
      `SELECT count(*)::int AS n FROM kpi WHERE project_id = $1 AND key <> 'first_reply_minutes'`,
      [project.id],
    )) as Array<{ n: number }>;
    expect(n).toBe(0);
  });

  it('records 1,000 points in one call, and refuses a bad batch naming the field, writing nothing', async () => {
    await define('queue_minutes');
    const base = Date.parse('2031-01-01T00:00:00Z');
    const thousand: Point[] = Array.from({ length: 1_000 }, (_, i) => ({
      kpi: 'queue_minutes',
      time: new Date(base + i * 60_000).toISOString(),
      value: (i % 17) * 0.5,
    }));
    expect(await recordOk(thousand)).toEqual({ recorded: 1_000, attributed: 0 });
    expect(await rows('queue_minutes')).toBe(1_000);
    const { lines } = await series('queue_minutes', '2031-01-01T00:00:00Z', '2031-01-02T00:00:00Z');
    expect(lines).toHaveLength(1);
    expect(lines[0].summary.count).toBe(1_000);
    expect(lines[0].summary.value).toBeCloseTo(mean(thousand.map((p) => p.value)), 9);

    const foreign = await model(other.slug, 1);
    await hub.services.kpis.ensureDerived(project.id, ['ticket']);
    const ok = (i: number): Point => ({ ...thousand[i], sourceRef: `ref-${i}` });
    const cases: Array<[Point[], string, string]> = [
      [[ok(0), ok(1), ok(2), { ...ok(3), kpi: 'no_such_kpi' }], 'NOT_FOUND', 'points.3.kpi'],
      [
        [ok(0), ok(1), { ...ok(2), modelVersionId: foreign.versions[0] }],
        'NOT_FOUND',
        'points.2.modelVersionId',
      ],
      [[ok(0), { ...ok(1), modelVersionId: 'not-an-id' }], 'BAD_USER_INPUT', 'points.1.modelVersionId'],
      [[ok(0), { ...ok(1), kpi: 'ticket_handling_time' }], 'BAD_USER_INPUT', 'points.1.kpi'],
      [[ok(0), { ...ok(1), time: 'yesterday' }], 'BAD_USER_INPUT', ''],
      [[], 'BAD_USER_INPUT', 'points'],
      [Array.from({ length: 10_001 }, (_, i) => thousand[i % 1_000]), 'BAD_USER_INPUT', 'points'],
      [[ok(0), ok(1), { ...ok(2), sourceRef: 'ref-0' }], 'BAD_USER_INPUT', 'points'],
    ];
    for (const [points, code, field] of cases) {
      const err = failure(await record(points));
      expect(err.code).toBe(code);
      if (field) expect(err.field).toBe(field);
    }
    expect(await rows('queue_minutes')).toBe(1_000);
    expect(await rows('ticket_handling_time')).toBe(0);
    // Exactly at the limit is fine.
    const limit = Array.from({ length: 10_000 }, (_, i) => ({ ...thousand[i % 1_000], value: i }));
    expect(await recordOk(limit)).toEqual({ recorded: 10_000, attributed: 0 });
    expect(await rows('queue_minutes')).toBe(11_000);
  });

  it('records a batch once per idempotency key, and a re-pushed sourceRef replaces its point', async () => {
    await define('refunds');
    const batch: Point[] = [1, 2, 3, 4, 5].map((v) => ({
      kpi: 'refunds',
      time: `2031-02-0${v}T12:00:00Z`,
      value: v,
    }));
    const key = unique('push');
    expect(await recordOk(batch, key)).toEqual({ recorded: 5, attributed: 0 });
    expect(await recordOk(batch, key)).toEqual({ recorded: 5, attributed: 0 });
    expect(await rows('refunds')).toBe(5);
    const changed = failure(await record([{ ...batch[0], value: 99 }], key));
    expect(changed).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(await rows('refunds')).toBe(5);

    const refs: Point[] = [
      { kpi: 'refunds', time: '2031-02-10T00:00:00Z', value: 10, sourceRef: 'order-1' },
      { kpi: 'refunds', time: '2031-02-10T00:00:00Z', value: 20, sourceRef: 'order-2' },
    ];
    expect(await recordOk(refs)).toEqual({ recorded: 2, attributed: 0 });
    expect(await recordOk([{ ...refs[0], value: 15, time: '2031-02-11T00:00:00Z' }])).toEqual({
      recorded: 1,
      attributed: 0,
    });
    expect(await rows('refunds')).toBe(7);
    const stored = (await hub.db.query(
      `SELECT p.source_ref, p.value, p.time FROM kpi_point p JOIN kpi k ON k.id = p.kpi_id
        WHERE k.project_id = $1 AND p.source_ref IS NOT NULL ORDER BY p.source_ref`,
      [project.id],
    )) as Array<{ source_ref: string; value: number; time: Date }>;
    expect(stored.map((r) => [r.source_ref, r.value, r.time.toISOString()])).toEqual([
      ['order-1', 15, '2031-02-11T00:00:00.000Z'],
      ['order-2', 20, '2031-02-10T00:00:00.000Z'],
    ]);
  });

  it('buckets a MEAN KPI by day and hour, with t-intervals, over [from, to)', async () => {
    await define('wait_minutes');
    const at = (time: string, value: number): Point => ({ kpi: 'wait_minutes', time, value });
    const inside = [
      at('2031-03-01T10:05:00.000Z', 4),
      at('2031-03-01T10:40:00.000Z', 6),
      at('2031-03-01T11:15:00.000Z', 8),
      at('2031-03-01T23:59:59.000Z', 2),
      at('2031-03-02T00:00:00.000Z', 10),
      at('2031-03-02T00:30:00.000Z', 12),
      at('2031-03-02T09:10:00.000Z', 3),
      at('2031-03-02T09:20:00.000Z', 5),
      at('2031-03-02T09:50:00.000Z', 7),
      at('2031-03-02T13:00:00.000Z', 13),
    ];
    const outside = [at('2031-02-28T23:59:59.999Z', 1_000), at('2031-03-03T00:00:00.000Z', 1_000)];
    await recordOk([...inside, ...outside]);
    const from = '2031-03-01T00:00:00Z';
    const to = '2031-03-03T00:00:00Z';

    for (const [granularity, length] of [
      ['DAY', 10],
      ['HOUR', 13],
    ] as const) {
      const s = await series('wait_minutes', from, to, granularity);
      expect(s.lines).toHaveLength(1);
      const [line] = s.lines;
      expect(line.modelVersion).toBeNull();
      const expected = [...groupBy(inside, length)];
      expect(line.buckets.map((b) => b.start)).toEqual(expected.map(([start]) => start));
      for (const [i, [, values]] of expected.entries()) expectEstimate(line.buckets[i], tEstimate(values));
      // Over the whole range: n = 10, so t(9) = 2.262.
      expectEstimate(line.summary, tEstimate(inside.map((p) => p.value)));
      expect(line.summary.value).toBe(7);
    }
    expect((await series('wait_minutes', from, to, 'DAY')).lines[0].buckets.map((b) => b.count)).toEqual([
      4, 6,
    ]);
  });

  it('sums a SUM KPI per bucket', async () => {
    await define('tickets_closed', { aggregation: 'SUM', unit: 'tickets' });
    const at = (time: string, value: number): Point => ({ kpi: 'tickets_closed', time, value });
    const points = [
      at('2031-04-01T08:00:00.000Z', 1),
      at('2031-04-01T09:00:00.000Z', 1),
      at('2031-04-01T17:00:00.000Z', 1),
      at('2031-04-02T01:00:00.000Z', 1),
      at('2031-04-02T02:00:00.000Z', 1),
      at('2031-04-02T03:00:00.000Z', 1),
      at('2031-04-02T04:00:00.000Z', 1),
      at('2031-04-02T05:00:00.000Z', 1),
      at('2031-04-03T12:00:00.000Z', 2),
    ];
    await recordOk(points);
    const { lines } = await series('tickets_closed', '2031-04-01T00:00:00Z', '2031-04-04T00:00:00Z');
    const [line] = lines;
    const days = [...groupBy(points, 10)];
    const sums = days.map(([, values]) => values.reduce((a, b) => a + b, 0));
    expect(sums).toEqual([3, 5, 2]);
    expect(line.buckets.map((b) => [b.start, b.count, b.value])).toEqual(
      days.map(([start, values], i) => [start, values.length, sums[i]]),
    );
    // A bucket's sum of unit counts as Poisson: sum ± z·√sum, never below zero; none from one point.
    for (const [i, bucket] of line.buckets.entries()) {
      if (days[i][1].length < 2) {
        expect(bucket).toMatchObject({ low: null, high: null });
        continue;
      }
      expect(bucket.low).toBeCloseTo(Math.max(0, sums[i] - Z95 * Math.sqrt(sums[i])), 2);
      expect(bucket.high).toBeCloseTo(sums[i] + Z95 * Math.sqrt(sums[i]), 2);
    }
    // The summary is the mean bucket sum with its t-interval over the three buckets (t(2) = 4.303).
    expectEstimate(line.summary, { ...tEstimate(sums), count: points.length });
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

  it('lets bots push points, not viewers, and hides the project from a key scoped elsewhere', async () => {
    await define('bot_points');
    const point: Point = { kpi: 'bot_points', time: '2031-06-01T00:00:00Z', value: 1 };
    const viewer = await hub.key(Role.VIEWER);
    expect(failure(await record([point], undefined, viewer))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await rows('bot_points')).toBe(0);
    // A viewer still reads the series.
    const read = await hub.gql(
      SERIES,
      {
        p: project.slug,
        k: 'bot_points',
        from: '2031-06-01T00:00:00Z',
        to: '2031-06-02T00:00:00Z',
        g: 'DAY',
        v: false,
      },
      viewer,
    );
    expect(read.errors).toBeUndefined();

    const bot = await hub.key(Role.BOT, [project.id]);
    expect(await recordOk([point], undefined, bot)).toEqual({ recorded: 1, attributed: 0 });
    expect(await rows('bot_points')).toBe(1);

    const elsewhere = await hub.key(Role.BOT, [other.id]);
    expect(failure(await record([point], undefined, elsewhere))).toMatchObject({ code: 'NOT_FOUND' });
    const hidden = await hub.gql(
      SERIES,
      {
        p: project.slug,
        k: 'bot_points',
        from: '2031-06-01T00:00:00Z',
        to: '2031-06-02T00:00:00Z',
        g: 'DAY',
        v: false,
      },
      elsewhere,
    );
    expect(failure(hidden)).toMatchObject({ code: 'NOT_FOUND' });
    expect(await rows('bot_points')).toBe(1);
  });
});
