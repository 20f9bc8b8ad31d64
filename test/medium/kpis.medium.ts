import { Role } from '../../src/modules/api-keys/api-key.entity';
import type { RequestContext } from '../../src/context/context';
import { KpiAggregation, KpiDirection, type Kpi } from '../../src/modules/kpis/kpi.entity';
import { KpiGranularity, type KpiSeries } from '../../src/modules/kpis/kpi.types';
import { ModelTask } from '../../src/modules/models/model.entity';
import { linearClassifierOnnx } from '../factories/onnx';
import { unique } from '../support/env';
import { refusal, startTestServices, storeArtifact, type TestServices } from '../support/services';
import { mean, tEstimate, expectEstimate, type Point, kpiPointCount } from '../support/kpi-estimates';

/**
 * KPI definitions, batches and statistics, called on the services. What only the API does (the schema's
 * defaults, scalar parsing) and attribution through served predictions are in test/e2e/kpis.e2e.ts.
 */

/** The normal's two-sided 95% critical value. */
const Z95 = 1.96;

/** Points grouped by the start of their UTC day or hour, in time order. */
function groupBy(points: Point[], length: 10 | 13): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const p of [...points].sort((a, b) => a.time.localeCompare(b.time))) {
    const start = p.time.slice(0, length) + (length === 10 ? 'T00:00:00.000Z' : ':00:00.000Z');
    groups.set(start, [...(groups.get(start) ?? []), p.value]);
  }
  return groups;
}

describe('KPIs (services)', () => {
  let services: TestServices;
  let admin: RequestContext;
  let project: { id: string; slug: string };
  let other: { id: string; slug: string };

  async function createProject(name: string): Promise<{ id: string; slug: string }> {
    const { id, slug } = await services.projects.create(admin, { slug: unique('kpi'), name });
    return { id, slug };
  }

  /** Defines a KPI with what the API defaults to (MEAN, higher is better) unless `extra` says otherwise. */
  function define(key: string, extra: Partial<Pick<Kpi, 'aggregation' | 'direction' | 'unit'>> = {}) {
    return services.kpis.define(admin, {
      project: project.slug,
      key,
      name: key,
      unit: 'minutes',
      aggregation: KpiAggregation.MEAN,
      direction: KpiDirection.HIGHER_IS_BETTER,
      ...extra,
    });
  }

  /** Records points given with ISO times, as a client sends them. */
  const record = (points: Point[], idempotencyKey?: string, ctx: RequestContext = admin) =>
    services.kpis.record(ctx, {
      project: project.slug,
      points: points.map((p) => ({ ...p, time: new Date(p.time) })),
      idempotencyKey,
    });

  const rows = (kpi: string): Promise<number> => kpiPointCount(services.db, project.id, kpi);

  /** A series with the API's defaults (95% intervals), bucket starts as ISO times. */
  async function series(
    kpi: string,
    from: string,
    to: string,
    granularity = KpiGranularity.DAY,
    byModelVersion = false,
    ctx: RequestContext = admin,
  ) {
    const s: KpiSeries = await services.kpis.series(ctx, {
      project: project.slug,
      kpi,
      from: new Date(from),
      to: new Date(to),
      granularity,
      byModelVersion,
      confidence: 0.95,
    });
    return {
      ...s,
      lines: s.lines.map((l) => ({
        ...l,
        buckets: l.buckets.map((b) => ({ ...b, start: b.start.toISOString() })),
      })),
    };
  }

  /** A classification model with one version in a project. */
  async function model(projectSlug: string): Promise<{ id: string; versions: string[] }> {
    const created = await services.models.create(admin, {
      project: projectSlug,
      name: unique('router'),
      task: ModelTask.CLASSIFICATION,
    });
    const sha = await storeArtifact(
      services,
      admin,
      linearClassifierOnnx({ features: 1, classes: 2, weights: [[1, -1]], bias: [0, 0.1] }),
      projectSlug,
    );
    const version = await services.models.registerVersion(admin, {
      modelId: created.id,
      artifactSha256: sha,
      labels: ['a', 'b'],
      preprocessing: { version: 1, features: [{ name: 'x', kind: 'numeric' }] },
    });
    return { id: created.id, versions: [version.id] };
  }

  beforeAll(async () => {
    services = await startTestServices();
    admin = await services.as(Role.ADMIN);
    project = await createProject('KPIs');
    other = await createProject('Elsewhere');
  });
  afterAll(async () => {
    await services?.close();
  });

  it('refuses bad keys and the keys the hub derives, writing nothing', async () => {
    await define('first_reply_minutes', { direction: KpiDirection.LOWER_IS_BETTER });
    for (const key of ['Bad-Key', '9lives', '', 'x'.repeat(64), 'spaced key']) {
      expect(await refusal(define(key))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'key' });
    }
    expect(await refusal(define('ticket_handling_time', { unit: 'hours' }))).toMatchObject({
      code: 'CONFLICT',
      field: 'key',
    });
    const [{ n }] = (await services.db.query(
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
    expect(await record(thousand)).toEqual({ recorded: 1_000, attributed: 0 });
    expect(await rows('queue_minutes')).toBe(1_000);
    const { lines } = await series('queue_minutes', '2031-01-01T00:00:00Z', '2031-01-02T00:00:00Z');
    expect(lines).toHaveLength(1);
    expect(lines[0].summary.count).toBe(1_000);
    expect(lines[0].summary.value).toBeCloseTo(mean(thousand.map((p) => p.value)), 9);

    const foreign = await model(other.slug);
    await services.kpis.ensureDerived(project.id, ['ticket']);
    const ok = (i: number): Point => ({ ...thousand[i], sourceRef: `ref-${i}` });
    // A time that is not a date never gets here: the API's DateTime scalar refuses it (kpis.e2e.ts).
    const cases: Array<[Point[], string, string]> = [
      [[ok(0), ok(1), ok(2), { ...ok(3), kpi: 'no_such_kpi' }], 'NOT_FOUND', 'points.3.kpi'],
      [
        [ok(0), ok(1), { ...ok(2), modelVersionId: foreign.versions[0] }],
        'NOT_FOUND',
        'points.2.modelVersionId',
      ],
      [[ok(0), { ...ok(1), modelVersionId: 'not-an-id' }], 'BAD_USER_INPUT', 'points.1.modelVersionId'],
      [[ok(0), { ...ok(1), kpi: 'ticket_handling_time' }], 'BAD_USER_INPUT', 'points.1.kpi'],
      [[], 'BAD_USER_INPUT', 'points'],
      [Array.from({ length: 10_001 }, (_, i) => thousand[i % 1_000]), 'BAD_USER_INPUT', 'points'],
      [[ok(0), ok(1), { ...ok(2), sourceRef: 'ref-0' }], 'BAD_USER_INPUT', 'points'],
    ];
    for (const [points, code, field] of cases) {
      const err = await refusal(record(points));
      expect(err.code).toBe(code);
      expect(err.field).toBe(field);
    }
    expect(await rows('queue_minutes')).toBe(1_000);
    expect(await rows('ticket_handling_time')).toBe(0);
    // Exactly at the limit is fine.
    const limit = Array.from({ length: 10_000 }, (_, i) => ({ ...thousand[i % 1_000], value: i }));
    expect(await record(limit)).toEqual({ recorded: 10_000, attributed: 0 });
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
    expect(await record(batch, key)).toEqual({ recorded: 5, attributed: 0 });
    expect(await record(batch, key)).toEqual({ recorded: 5, attributed: 0 });
    expect(await rows('refunds')).toBe(5);
    const changed = await refusal(record([{ ...batch[0], value: 99 }], key));
    expect(changed).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(await rows('refunds')).toBe(5);

    const refs: Point[] = [
      { kpi: 'refunds', time: '2031-02-10T00:00:00Z', value: 10, sourceRef: 'order-1' },
      { kpi: 'refunds', time: '2031-02-10T00:00:00Z', value: 20, sourceRef: 'order-2' },
    ];
    expect(await record(refs)).toEqual({ recorded: 2, attributed: 0 });
    expect(await record([{ ...refs[0], value: 15, time: '2031-02-11T00:00:00Z' }])).toEqual({
      recorded: 1,
      attributed: 0,
    });
    expect(await rows('refunds')).toBe(7);
    const stored = (await services.db.query(
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
    await record([...inside, ...outside]);
    const from = '2031-03-01T00:00:00Z';
    const to = '2031-03-03T00:00:00Z';

    for (const [granularity, length] of [
      [KpiGranularity.DAY, 10],
      [KpiGranularity.HOUR, 13],
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
    expect((await series('wait_minutes', from, to)).lines[0].buckets.map((b) => b.count)).toEqual([4, 6]);
  });

  it('sums a SUM KPI per bucket', async () => {
    await define('tickets_closed', { aggregation: KpiAggregation.SUM, unit: 'tickets' });
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
    await record(points);
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

  it('lets bots push points, not viewers, and hides the project from a key scoped elsewhere', async () => {
    await define('bot_points');
    const point: Point = { kpi: 'bot_points', time: '2031-06-01T00:00:00Z', value: 1 };
    const viewer = await services.as(Role.VIEWER);
    expect(await refusal(record([point], undefined, viewer))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await rows('bot_points')).toBe(0);
    // A viewer still reads the series.
    const window = ['2031-06-01T00:00:00Z', '2031-06-02T00:00:00Z'] as const;
    await expect(series('bot_points', ...window, KpiGranularity.DAY, false, viewer)).resolves.toBeDefined();

    const bot = await services.as(Role.BOT, [project.id]);
    expect(await record([point], undefined, bot)).toEqual({ recorded: 1, attributed: 0 });
    expect(await rows('bot_points')).toBe(1);

    const elsewhere = await services.as(Role.BOT, [other.id]);
    expect(await refusal(record([point], undefined, elsewhere))).toMatchObject({ code: 'NOT_FOUND' });
    expect(
      await refusal(series('bot_points', ...window, KpiGranularity.DAY, false, elsewhere)),
    ).toMatchObject({ code: 'NOT_FOUND' });
    expect(await rows('bot_points')).toBe(1);
  });
});
