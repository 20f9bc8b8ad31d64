/**
 * A drift check over a big window: 1,000,000 logged predictions of one endpoint, 20 features (14
 * numeric, 6 categorical) plus the predicted label, against the profile the hub itself made of a
 * 10,000-row reference registered through the API. The project's figure is `runDriftCheck` over HTTP
 * (histograms in SQL, statistics, the stored report, the alert); the baseline, in the same run on the
 * same rows, is a hand-written single-scan histogram query with the same bins: `width_bucket` against
 * the reference's inner decile edges per numeric feature, the value itself per categorical one, one
 * `GROUP BY GROUPING SETS`. The logged rows are loaded straight into `prediction_log` by
 * `INSERT ... SELECT FROM generate_series` (not through `predict`), spread over the last 50 minutes.
 * Each side runs up to BENCH_RUNS times (alternating which goes first) while the pairs fit in
 * BENCH_TIME_BUDGET_S; the medians are compared. The hub's statements are timestamped through the
 * hub's `onQuery` hook to show where a check's time goes, and the hub's own drift SQL is run raw with
 * its subquery fenced (`OFFSET 0`) as a reference (BENCH_HUB_SQL=1: also as it is). Then, with no
 * database at all, `judge` on 200 windows of 500 rows drawn from the reference distribution (the
 * false-alarm rate) and 200 from the shifted live one (the detection rate).
 *
 *   npm run build && node dist/bench/drift-check.js
 *   BENCH_ROWS=200000 BENCH_RUNS=5 node dist/bench/drift-check.js
 *   DATABASE_URL=postgres://... BENCH_RUNS=3 BENCH_TIME_BUDGET_S=400 node dist/bench/drift-check.js
 *
 * On the embedded PGlite (WebAssembly, one backend, in this process) the default is 100,000 rows, since
 * a million take minutes to load and to scan there; BENCH_ROWS overrides either default. Also exports
 * the tabular scenario (columns, generators, model) that bench/logging-monitoring.ts serves.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../src/common/random';
import type { FeatureProfile, NumericProfile } from '../src/modules/datasets/dataset-profile';
import { compilePreprocessing, type PreprocessingSpec } from '../src/modules/inference/preprocessing';
import { ALPHA, driftQuery, judge, planDrift, type Probe } from '../src/modules/monitoring/drift';
import { exportLinearClassifier } from '../src/training/onnx-export';
import {
  envInt,
  expectData,
  fmt,
  machineLine,
  median,
  printResult,
  runMain,
  startBenchHub,
  timed,
  unique,
  uploadArtifact,
  verdict,
  type BenchHub,
} from './support';

// ---------------------------------------------------------------------------------------------------
// The scenario: a tabular risk model. Every column is defined once and drawn both in JS (reference
// rows, false-alarm windows, predict inputs) and in SQL (the logged window), from the same law.

type Law =
  | { dist: 'normal'; mean: number; sd: number }
  | { dist: 'lognormal'; mu: number; sigma: number }
  | { dist: 'uniform'; min: number; max: number }
  | { dist: 'exponential'; rate: number }
  | { dist: 'integer'; min: number; max: number };

export type Column =
  | { name: string; kind: 'numeric'; law: Law; decimals: number }
  | { name: string; kind: 'categorical'; categories: string[]; weights: number[] };

export const COLUMNS: Column[] = [
  { name: 'amount', kind: 'numeric', law: { dist: 'lognormal', mu: 3.5, sigma: 0.8 }, decimals: 2 },
  { name: 'tenure_days', kind: 'numeric', law: { dist: 'integer', min: 0, max: 3650 }, decimals: 0 },
  { name: 'age', kind: 'numeric', law: { dist: 'normal', mean: 41, sd: 12 }, decimals: 0 },
  { name: 'sessions_7d', kind: 'numeric', law: { dist: 'exponential', rate: 0.2 }, decimals: 0 },
  { name: 'items', kind: 'numeric', law: { dist: 'integer', min: 1, max: 12 }, decimals: 0 },
  { name: 'basket_value', kind: 'numeric', law: { dist: 'normal', mean: 80, sd: 25 }, decimals: 2 },
  { name: 'discount', kind: 'numeric', law: { dist: 'uniform', min: 0, max: 0.3 }, decimals: 3 },
  { name: 'page_load_ms', kind: 'numeric', law: { dist: 'lognormal', mu: 6, sigma: 0.5 }, decimals: 1 },
  { name: 'rating', kind: 'numeric', law: { dist: 'uniform', min: 1, max: 5 }, decimals: 1 },
  { name: 'distance_km', kind: 'numeric', law: { dist: 'exponential', rate: 0.1 }, decimals: 2 },
  { name: 'pages_viewed', kind: 'numeric', law: { dist: 'integer', min: 1, max: 40 }, decimals: 0 },
  { name: 'balance', kind: 'numeric', law: { dist: 'normal', mean: 1500, sd: 600 }, decimals: 2 },
  { name: 'failed_logins', kind: 'numeric', law: { dist: 'integer', min: 0, max: 2 }, decimals: 0 },
  { name: 'hour', kind: 'numeric', law: { dist: 'integer', min: 0, max: 23 }, decimals: 0 },
  {
    name: 'channel',
    kind: 'categorical',
    categories: ['email', 'chat', 'phone', 'web'],
    weights: [0.4, 0.3, 0.2, 0.1],
  },
  {
    name: 'country',
    kind: 'categorical',
    categories: ['us', 'de', 'fr', 'gb', 'es', 'it', 'nl', 'pl'],
    weights: [0.3, 0.15, 0.12, 0.12, 0.1, 0.09, 0.07, 0.05],
  },
  {
    name: 'device',
    kind: 'categorical',
    categories: ['ios', 'android', 'desktop'],
    weights: [0.35, 0.4, 0.25],
  },
  {
    name: 'plan',
    kind: 'categorical',
    categories: ['free', 'basic', 'pro', 'enterprise'],
    weights: [0.5, 0.3, 0.15, 0.05],
  },
  {
    name: 'language',
    kind: 'categorical',
    categories: ['en', 'de', 'fr', 'es', 'it'],
    weights: [0.45, 0.2, 0.15, 0.12, 0.08],
  },
  { name: 'segment', kind: 'categorical', categories: ['a', 'b', 'c'], weights: [0.5, 0.3, 0.2] },
];

/** The live traffic of the logged window: three columns moved, the rest as in the reference. */
export const LIVE_SHIFTS: Record<string, Column> = {
  amount: { name: 'amount', kind: 'numeric', law: { dist: 'lognormal', mu: 3.8, sigma: 0.8 }, decimals: 2 },
  basket_value: {
    name: 'basket_value',
    kind: 'numeric',
    law: { dist: 'normal', mean: 95, sd: 25 },
    decimals: 2,
  },
  device: {
    name: 'device',
    kind: 'categorical',
    categories: ['ios', 'android', 'desktop'],
    weights: [0.25, 0.35, 0.4],
  },
};

export const LABELS = ['low', 'medium', 'high', 'critical'];
/** The reference column holding the labels (the target the model was trained on). */
export const TARGET = 'risk';

export type Row = Record<string, number | string>;

const liveColumns = (): Column[] => COLUMNS.map((c) => LIVE_SHIFTS[c.name] ?? c);

/** The label rule, identical in {@link labelOf} and {@link labelSql}. */
export function labelOf(row: Row): string {
  const score =
    (row.failed_logins as number) + (row.plan === 'free' ? 1 : 0) + ((row.amount as number) > 100 ? 1 : 0);
  return LABELS[Math.min(LABELS.length - 1, score)];
}

function labelSql(): string {
  return `(ARRAY[${LABELS.map(quote).join(', ')}])[least(${LABELS.length - 1}, "failed_logins"::int + ("plan" = 'free')::int + ("amount" > 100)::int) + 1]`;
}

const quote = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** Draws rows from the reference (or, with `live`, the shifted) distribution. */
export function drawRows(seed: number, n: number, live = false): Row[] {
  const random = mulberry32(seed);
  const columns = live ? liveColumns() : COLUMNS;
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const draw = (law: Law): number => {
    switch (law.dist) {
      case 'normal':
        return law.mean + law.sd * normal();
      case 'lognormal':
        return Math.exp(law.mu + law.sigma * normal());
      case 'uniform':
        return law.min + (law.max - law.min) * random();
      case 'exponential':
        return -Math.log(1 - random()) / law.rate;
      case 'integer':
        return law.min + Math.floor(random() * (law.max - law.min + 1));
    }
  };
  const rows = new Array<Row>(n);
  for (let i = 0; i < n; i++) {
    const row: Row = {};
    for (const column of columns) {
      if (column.kind === 'numeric') {
        const scale = 10 ** column.decimals;
        row[column.name] = Math.round(draw(column.law) * scale) / scale;
      } else {
        const u = random();
        let k = 0;
        let cumulative = column.weights[0];
        while (k < column.categories.length - 1 && u >= cumulative) cumulative += column.weights[++k];
        row[column.name] = column.categories[k];
      }
    }
    rows[i] = row;
  }
  return rows;
}

/** The same draw as {@link drawRows}, as a SQL expression (random() per call, so one draw per row). */
function columnSql(column: Column): string {
  if (column.kind === 'categorical') {
    const cumulative: number[] = [];
    column.weights.slice(0, -1).reduce((acc, w) => (cumulative.push(acc + w), acc + w), 0);
    return `(ARRAY[${column.categories.map(quote).join(', ')}])[width_bucket(random(), ARRAY[${cumulative.join(', ')}]::float8[]) + 1]`;
  }
  const normal = 'sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())';
  const law = column.law;
  const value =
    law.dist === 'normal'
      ? `${law.mean} + ${law.sd} * ${normal}`
      : law.dist === 'lognormal'
        ? `exp(${law.mu} + ${law.sigma} * ${normal})`
        : law.dist === 'uniform'
          ? `${law.min} + ${law.max - law.min} * random()`
          : law.dist === 'exponential'
            ? `-ln(1 - random()) / ${law.rate}`
            : `${law.min} + floor(random() * ${law.max - law.min + 1})`;
  const scale = 10 ** column.decimals;
  return `round((${value}) * ${scale}) / ${scale}`;
}

/**
 * One statement that logs rows `first`..`last` of the live distribution for an endpoint, as the hub's
 * writer would have: features and outputs (label, score, scores) as jsonb, created within the last
 * `spreadSeconds` before `$5`. The generator is fenced (OFFSET 0) so each draw happens once per row.
 */
function loadSql(): string {
  const columns = liveColumns();
  const draws = columns.map((c) => `${columnSql(c)} AS "${c.name}"`).join(',\n              ');
  const features = columns.map((c) => `${quote(c.name)}, "${c.name}"`).join(', ');
  const other = `round((1 - sc) / ${LABELS.length - 1} * 10000) / 10000`;
  const scores = LABELS.map(
    (l) =>
      `jsonb_build_object('label', ${quote(l)}, 'score', CASE WHEN lbl = ${quote(l)} THEN sc ELSE ${other} END)`,
  ).join(', ');
  return `INSERT INTO prediction_log
      (project_id, endpoint_id, model_version_id, request_key, features, outputs, latency_ms, error, shadow, created_at)
    SELECT $1::uuid, $2::uuid, $3::uuid, $4::text || g, jsonb_build_object(${features}),
           jsonb_build_object('label', lbl, 'score', sc, 'scores', jsonb_build_array(${scores})),
           lat, NULL, false, $5::timestamptz - age_s * interval '1 second'
      FROM (SELECT s.*, ${labelSql()} AS lbl
              FROM (SELECT g, ${draws},
                           round((0.4 + 0.55 * random()) * 10000) / 10000 AS sc,
                           0.5 + 3 * random() AS lat, random() * $6::float8 AS age_s
                      FROM generate_series($7::int, $8::int) g OFFSET 0) s OFFSET 0) t`;
}

export interface Tabular {
  projectId: string;
  projectSlug: string;
  endpoint: string;
  endpointId: string;
  modelVersionId: string;
  spec: PreprocessingSpec;
  /** The hub's profile of the reference rows; null without a dataset. */
  profile: FeatureProfile | null;
  /** A BOT key scoped to the project, for predict traffic. */
  botKey: string;
}

/**
 * Registers the scenario through the API: a project, optionally a dataset version of `referenceRows`
 * reference rows given inline (profiled by the hub), a linear softmax model over the 20 features
 * (seeded random weights: what it answers does not matter here) with the preprocessing spec, and
 * one endpoint serving it. Without a dataset the version names none, so no drift job ever scans it.
 */
export async function arrangeTabular(
  env: BenchHub,
  options: { referenceRows: number; withDataset: boolean; endpointOptions?: Record<string, unknown> },
): Promise<Tabular> {
  const project = expectData(
    await env.gql<{ createProject: { id: string; slug: string } }>(
      'mutation($input: CreateProjectInput!) { createProject(input: $input) { id slug } }',
      { input: { name: 'tabular bench', slug: unique('tab') } },
    ),
    'createProject',
  ).createProject;
  const reference: Row[] = drawRows(1, options.referenceRows).map((row) => ({
    ...row,
    [TARGET]: labelOf(row),
  }));
  let profile: FeatureProfile | null = null;
  let datasetVersionId: string | null = null;
  if (options.withDataset) {
    const dataset = expectData(
      await env.gql<{ createDataset: { id: string } }>(
        'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }',
        { input: { project: project.slug, name: unique('reference') } },
      ),
      'createDataset',
    ).createDataset;
    const version = expectData(
      await env.gql<{ registerDatasetVersion: { id: string; profile: FeatureProfile } }>(
        'mutation($input: RegisterDatasetVersionInput!) { registerDatasetVersion(input: $input) { id profile } }',
        { input: { datasetId: dataset.id, rows: reference } },
      ),
      'registerDatasetVersion',
    ).registerDatasetVersion;
    profile = version.profile;
    datasetVersionId = version.id;
  }
  // Scaling from the reference itself (as a training pipeline would), whether or not it is registered.
  const moments = (name: string): { mean: number; std: number } => {
    const values = reference.map((r) => r[name] as number);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) || 1;
    return { mean, std };
  };
  const spec: PreprocessingSpec = {
    version: 1,
    features: COLUMNS.map((c) =>
      c.kind === 'numeric'
        ? { name: c.name, kind: 'numeric', scale: { type: 'standard', ...moments(c.name) } }
        : { name: c.name, kind: 'categorical', categories: c.categories },
    ),
  };
  const width = compilePreprocessing(spec).width;
  const random = mulberry32(7);
  const onnx = exportLinearClassifier({
    inputs: width,
    outputs: LABELS.length,
    weights: Array.from({ length: width * LABELS.length }, () => random() - 0.5),
    bias: LABELS.map(() => 0),
  });
  const sha256 = await uploadArtifact(env, onnx, project.slug);
  const model = expectData(
    await env.gql<{ createModel: { id: string } }>(
      'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }',
      { input: { project: project.slug, name: 'risk', task: 'CLASSIFICATION' } },
    ),
    'createModel',
  ).createModel;
  const version = expectData(
    await env.gql<{ registerModelVersion: { id: string; version: number } }>(
      'mutation($input: RegisterModelVersionInput!) { registerModelVersion(input: $input) { id version } }',
      {
        input: {
          modelId: model.id,
          artifactSha256: sha256,
          labels: LABELS,
          preprocessing: spec,
          datasetVersionId,
        },
      },
    ),
    'registerModelVersion',
  ).registerModelVersion;
  const endpoint = unique('risk');
  const created = expectData(
    await env.gql<{ createEndpoint: { id: string } }>(
      'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }',
      {
        input: {
          project: project.slug,
          name: endpoint,
          model: model.id,
          version: version.version,
          ...options.endpointOptions,
        },
      },
    ),
    'createEndpoint',
  ).createEndpoint;
  const bot = expectData(
    await env.gql<{ createApiKey: { secret: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
      { input: { name: unique('bot'), role: 'BOT', projectIds: [project.id] } },
    ),
    'createApiKey',
  ).createApiKey;
  return {
    projectId: project.id,
    projectSlug: project.slug,
    endpoint,
    endpointId: created.id,
    modelVersionId: version.id,
    spec,
    profile,
    botKey: bot.secret,
  };
}

// ---------------------------------------------------------------------------------------------------
// The baseline: what a data engineer would write for the same histograms.

interface Histogram {
  size: number;
  /** Bin names as the hub's report names categorical bins (numeric bins go by position). */
  bins: string[];
  counts: number[];
}

/**
 * One scan of the window: `width_bucket` of each numeric feature against the reference's inner edges
 * (bucket 0 below the first, as the hub's first bin), each categorical value as it is, and one
 * `GROUP BY GROUPING SETS`, a set per feature: one row per (feature, bin). `OFFSET 0` keeps the
 * planner from inlining the subquery: inlined, it estimates a million groups per expression and sorts
 * the window once per set instead of hashing (3x slower on PostgreSQL 15).
 */
function baselineQuery(
  probes: Probe[],
  where: { endpointId: string; from: Date; to: Date },
): { text: string; params: unknown[] } {
  if (probes.length > 31) throw new Error('grouping() takes at most 31 columns');
  const params: unknown[] = [where.endpointId, where.from, where.to];
  const columns = probes.map((probe, i) => {
    const value = `${probe.source}->>${quote(probe.key)}`;
    if (probe.kind === 'CATEGORICAL') return `${value} AS b${i}`;
    params.push(probe.reference.edges.slice(1, -1));
    return `width_bucket((${value})::float8, $${params.length}::float8[]) AS b${i}`;
  });
  const names = probes.map((_, i) => `b${i}`);
  const text = `SELECT grouping(${names.join(', ')}) AS g, ${names.join(', ')}, count(*)::int AS n
    FROM (SELECT ${columns.join(', ')}
            FROM prediction_log
           WHERE endpoint_id = $1 AND NOT shadow AND error IS NULL AND created_at > $2 AND created_at <= $3
          OFFSET 0) w
   GROUP BY GROUPING SETS (${names.map((n) => `(${n})`).join(', ')})`;
  return { text, params };
}

/** The baseline's rows as per-probe histograms in the hub's bin order (categories, then `__other__`). */
function baselineHistograms(probes: Probe[], rows: Array<Record<string, unknown>>): Histogram[] {
  const m = probes.length;
  const all = 2 ** m - 1;
  const perProbe = probes.map(() => new Map<string, number>());
  for (const row of rows) {
    const grouped = all & ~Number(row.g);
    const i = m - 1 - Math.log2(grouped);
    const value = row[`b${i}`];
    if (value !== null && value !== undefined) perProbe[i].set(String(value), Number(row.n));
  }
  return probes.map((probe, i) => {
    const found = perProbe[i];
    const size = [...found.values()].reduce((a, b) => a + b, 0);
    if (probe.kind === 'NUMERIC') {
      const bins = probe.reference.edges.length - 1;
      return {
        size,
        bins: Array.from({ length: bins }, (_, j) => String(j)),
        counts: Array.from({ length: bins }, (_, j) => found.get(String(j)) ?? 0),
      };
    }
    const bins = [...probe.categories];
    const counts = probe.categories.map((c) => found.get(c) ?? 0);
    const known = counts.reduce((a, b) => a + b, 0);
    if ((probe.reference.frequencies.__other__ ?? 0) > 0 || size > known) {
      bins.push('__other__');
      counts.push(size - known);
    }
    return { size, bins, counts };
  });
}

interface ReportFeature {
  feature: string;
  kind: string;
  bins: string[];
  sampleSize: number;
  current: number[];
  drifted: boolean;
  psi: number;
  psiThreshold: number;
  pValue: number;
}

/** Bins where the hub's report and the baseline disagree by more than the report's rounding. */
function disagreements(probes: Probe[], features: ReportFeature[], base: Histogram[]): string[] {
  const out: string[] = [];
  probes.forEach((probe, i) => {
    const f = features.find((x) => x.feature === probe.name);
    const h = base[i];
    if (!f) return void out.push(`${probe.name}: not in the report`);
    if (f.sampleSize !== h.size) out.push(`${probe.name}: size ${f.sampleSize} vs ${h.size}`);
    if (f.current.length !== h.counts.length)
      return void out.push(`${probe.name}: ${f.current.length} vs ${h.counts.length} bins`);
    // Categorical bins by name: the report's category order is the stored profile's (jsonb key order).
    f.current.forEach((share, j) => {
      const hub = share * f.sampleSize;
      const k = f.kind === 'NUMERIC' ? j : h.bins.indexOf(f.bins[j]);
      const count = h.counts[k] ?? NaN;
      if (!(Math.abs(hub - count) <= Math.max(1, f.sampleSize * 1e-6)))
        out.push(`${probe.name} bin ${f.bins[j]}: ${fmt(hub)} vs ${count}`);
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The false-alarm evidence: `judge` on windows drawn in JS, no database.

/** The drift query's one row, computed in JS from rows, with the SQL's semantics. */
function windowRow(probes: Probe[], rows: Row[], labelFor: (row: Row) => string): Record<string, number> {
  const out: Record<string, number> = { n: rows.length };
  probes.forEach((probe, i) => {
    const values = rows.map((r) => (probe.source === 'outputs' ? labelFor(r) : r[probe.key]));
    const present = values.filter((v) => v !== undefined && v !== null);
    out[`n${i}`] = present.length;
    if (probe.kind === 'NUMERIC') {
      probe.reference.edges.slice(1, -1).forEach((edge, j) => {
        out[`c${i}_${j}`] = present.filter((v) => (v as number) < edge).length;
      });
    } else {
      probe.categories.forEach((category, j) => {
        out[`c${i}_${j}`] = present.filter((v) => String(v) === category).length;
      });
    }
  });
  return out;
}

function alarmRate(
  probes: Probe[],
  windows: number,
  size: number,
  live: boolean,
): { flagged: number; byFeature: Map<string, number>; ms: number } {
  const byFeature = new Map<string, number>();
  let flagged = 0;
  const started = performance.now();
  for (let w = 0; w < windows; w++) {
    const rows = drawRows((live ? 50_000 : 10_000) + w, size, live);
    const verdicts = judge(probes, windowRow(probes, rows, labelOf));
    const drifted = verdicts.filter((v) => v.drifted);
    if (drifted.length) flagged++;
    for (const v of drifted) byFeature.set(v.feature, (byFeature.get(v.feature) ?? 0) + 1);
  }
  return { flagged, byFeature, ms: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------------

const DRIFT = `mutation($endpoint: String!, $window: Int!) { runDriftCheck(endpoint: $endpoint, window: $window) {
  id sampleSize insufficient drifted driftedFeatures skipped
  features { feature kind bins sampleSize current drifted psi psiThreshold pValue } } }`;

const WINDOW_MINUTES = 60;
const SPREAD_SECONDS = 50 * 60;

interface Statement {
  at: number;
  sql: string;
}

async function main(): Promise<void> {
  console.log('== drift-check: runDriftCheck over a big window vs a hand-written histogram query ==');
  console.log(machineLine());
  let recording = false;
  const statements: Statement[] = [];
  // The hub's own statements, timestamped as they are sent: where a check's time goes, without touching it.
  const env = await startBenchHub(
    // No scheduled drift check may scan the window while it is being measured.
    { schedulerEnabled: false },
    { onQuery: (sql) => void (recording && statements.push({ at: performance.now(), sql })) },
  );
  let tabular: Tabular | undefined;
  try {
    console.log(`database: ${env.databaseLabel}`);
    const rows = envInt('BENCH_ROWS', env.isPglite ? 100_000 : 1_000_000);
    const runs = envInt('BENCH_RUNS', 3);
    const budgetMs = envInt('BENCH_TIME_BUDGET_S', 60) * 1000;
    const referenceRows = Math.min(10_000, envInt('BENCH_REFERENCE_ROWS', 10_000));
    const chunk = env.isPglite ? 25_000 : 100_000;

    let ms = await timed(async () => {
      tabular = await arrangeTabular(env, { referenceRows, withDataset: true });
    });
    const t = tabular!;
    const profile = t.profile!;
    const { probes, skipped } = planDrift(t.spec, profile, LABELS);
    const numeric = probes.filter((p) => p.kind === 'NUMERIC').length;
    console.log(
      `reference: ${fmt(referenceRows)} rows of ${COLUMNS.length} features + "${TARGET}" given inline to registerDatasetVersion and profiled by the hub; model, version and endpoint through the API (${fmt(ms)} ms)`,
    );
    console.log(
      `probes: ${probes.length} (${numeric} numeric with ${probes
        .filter((p) => p.kind === 'NUMERIC')
        .map((p) => (p.reference as NumericProfile).edges.length - 1)
        .join(
          '/',
        )} bins, ${probes.length - numeric} categorical incl. the predicted label)${skipped.length ? `; skipped ${skipped.join('; ')}` : ''}`,
    );

    // The window, loaded directly: the shape the writer produces, without the cost of producing it.
    const loadedAt = new Date();
    const text = loadSql();
    const prefix = `${t.endpoint}-`;
    ms = await timed(async () => {
      for (let first = 0; first < rows; first += chunk) {
        const last = Math.min(rows, first + chunk) - 1;
        await env.raw.query(text, [
          t.projectId,
          t.endpointId,
          t.modelVersionId,
          prefix,
          loadedAt,
          SPREAD_SECONDS,
          first,
          last,
        ]);
      }
    });
    const loadMs = ms;
    ms = await timed(() => env.raw.query('VACUUM ANALYZE prediction_log'));
    const size = await env.raw.query<{ bytes: string; avg: string }>(
      `SELECT pg_total_relation_size('prediction_log')::text AS bytes,
              (SELECT avg(pg_column_size(features) + pg_column_size(outputs)) FROM (SELECT features, outputs FROM prediction_log WHERE endpoint_id = $1 LIMIT 1000) s)::text AS avg`,
      [t.endpointId],
    );
    console.log(
      `window: ${fmt(rows)} rows INSERT ... SELECT FROM generate_series in ${fmt(Math.ceil(rows / chunk))} statements of ${fmt(chunk)} (${fmt(loadMs / 1000, 1)} s, ${fmt(rows / (loadMs / 1000))} rows/s), created over the ${SPREAD_SECONDS / 60} minutes before ${loadedAt.toISOString()}; amount, basket_value and device shifted; VACUUM ANALYZE ${fmt(ms / 1000, 1)} s; prediction_log now ${fmt(Number(size.rows[0].bytes) / 2 ** 20)} MiB, ~${fmt(Number(size.rows[0].avg))} bytes of jsonb per row`,
    );
    if (rows !== 1_000_000)
      console.log(
        `  (BENCH_ROWS or the ${env.isPglite ? 'PGlite' : ''} default: ${fmt(rows)} rows, not 1,000,000)`,
      );

    const windowOf = (): { endpointId: string; from: Date; to: Date } => {
      const to = new Date();
      return { endpointId: t.endpointId, from: new Date(to.getTime() - WINDOW_MINUTES * 60_000), to };
    };
    const hubCheck = async (): Promise<{
      ms: number;
      features: ReportFeature[];
      report: Record<string, unknown>;
      timeline: string;
    }> => {
      statements.length = 0;
      recording = true;
      const start = performance.now();
      const response = await env.gql<{
        runDriftCheck: Record<string, unknown> & { features: ReportFeature[]; sampleSize: number };
      }>(DRIFT, {
        endpoint: t.endpoint,
        window: WINDOW_MINUTES,
      });
      const end = performance.now();
      recording = false;
      const report = expectData(response, 'runDriftCheck').runDriftCheck;
      if (report.sampleSize !== rows)
        throw new Error(`the report counts ${report.sampleSize} rows, expected ${rows}`);
      const spans = statements.map((s, i) => ({
        ms: (statements[i + 1]?.at ?? end) - s.at,
        sql: s.sql.replace(/\s+/g, ' ').slice(0, 48),
      }));
      const timeline =
        `${fmt(statements[0] ? statements[0].at - start : 0, 1)} ms before the first statement; ` +
        spans.map((s) => `${fmt(s.ms, 1)} ms "${s.sql}…"`).join(' | ');
      return { ms: end - start, features: report.features, report, timeline };
    };
    const baseline = async (): Promise<{ ms: number; histograms: Histogram[] }> => {
      const { text: sql, params } = baselineQuery(probes, windowOf());
      let result: Array<Record<string, unknown>> = [];
      const elapsed = await timed(async () => {
        result = (await env.raw.query(sql, params)).rows as Array<Record<string, unknown>>;
      });
      return { ms: elapsed, histograms: baselineHistograms(probes, result) };
    };

    console.log('');
    console.log(
      `project side : mutation runDriftCheck(endpoint, window: ${WINDOW_MINUTES}) over HTTP (admin key): endpoint, version, dataset profile, the hub's driftQuery (one statement, count(*) FILTER per bin), judge, INSERT drift_report, raise/clear the alert`,
    );
    console.log(
      `baseline side: one statement on the bench's own connection: SELECT width_bucket((features->>'f')::float8, <inner edges>) per numeric feature, the value per categorical one and outputs->>'label' FROM the window OFFSET 0, then GROUP BY GROUPING SETS ((b0), ..., (b${probes.length - 1})); bins mapped to the hub's in JS`,
    );
    console.log(
      `plan: up to ${runs} pairs, alternating which side goes first, while they fit in ${budgetMs / 1000} s after the first; median of each side`,
    );
    const hubMs: number[] = [];
    const baseMs: number[] = [];
    let last: Awaited<ReturnType<typeof hubCheck>> | undefined;
    let lastBase: Histogram[] = [];
    const started = Date.now();
    for (let r = 0; r < runs; r++) {
      const pairStarted = Date.now();
      const sides = r % 2 === 0 ? (['hub', 'base'] as const) : (['base', 'hub'] as const);
      for (const side of sides) {
        if (side === 'hub') {
          last = await hubCheck();
          hubMs.push(last.ms);
        } else {
          const b = await baseline();
          baseMs.push(b.ms);
          lastBase = b.histograms;
        }
      }
      const pairMs = Date.now() - pairStarted;
      console.log(`  pair ${r + 1}: hub ${fmt(hubMs.at(-1)!)} ms, baseline ${fmt(baseMs.at(-1)!)} ms`);
      if (Date.now() - started + pairMs > budgetMs && r + 1 < runs) {
        console.log(`  (time budget of ${budgetMs / 1000} s: ${r + 1} pair(s) measured)`);
        break;
      }
    }
    const report = last!;
    const mismatches = disagreements(probes, report.features, lastBase);
    console.log(
      `check: the report's bins (shares x sample size) and the baseline's counts ${mismatches.length ? `DISAGREE: ${mismatches.slice(0, 5).join('; ')}` : `agree on all ${probes.length} probes`}; report sampleSize ${fmt(Number(report.report.sampleSize))}`,
    );
    const drifted = report.features.filter((f) => f.drifted);
    console.log(
      `report: drifted ${report.report.drifted} — ${drifted.map((f) => `${f.feature} (PSI ${fmt(f.psi, 3)} > ${fmt(f.psiThreshold, 3)})`).join(', ') || 'none'}`,
    );
    console.log(
      `where the hub's last check spent its time (statements as sent, each until the next): ${report.timeline}`,
    );

    // The hub's own SQL with its subquery fenced off: does each feature then leave the jsonb once per row?
    const hubSql = driftQuery(probes, windowOf());
    // (The hub fences its subquery itself now; then there is nothing to compare.)
    const fenced = /OFFSET 0\) w$/.test(hubSql.text)
      ? hubSql.text
      : hubSql.text.replace(/\) w$/, ' OFFSET 0) w');
    let fencedMs: number | undefined;
    if (fenced !== hubSql.text) {
      fencedMs = await timed(() => env.raw.query(fenced, driftQuery(probes, windowOf()).params));
      console.log(
        `reference: the hub's driftQuery text run raw with "OFFSET 0" added to its subquery (so the planner cannot inline it and re-extract each feature from the jsonb in every FILTER): ${fmt(fencedMs)} ms`,
      );
    }
    if (process.env.BENCH_HUB_SQL === '1') {
      const rawHub = await timed(() => env.raw.query(hubSql.text, hubSql.params));
      console.log(`reference: the hub's driftQuery run raw as it is: ${fmt(rawHub)} ms`);
    }

    const hub = median(hubMs);
    const base = median(baseMs);
    console.log('');
    console.log(
      `  hub runDriftCheck: median ${fmt(hub)} ms (${hubMs.map((x) => fmt(x)).join(' / ')}) = ${fmt(rows / (hub / 1000))} rows/s`,
    );
    console.log(
      `  baseline query   : median ${fmt(base)} ms (${baseMs.map((x) => fmt(x)).join(' / ')}) = ${fmt(rows / (base / 1000))} rows/s`,
    );
    const ratio = base / hub;
    console.log(
      `  ratio baseline/hub time: ${fmt(ratio, 3)}  aim close to 1 (>= 0.8): ${verdict(ratio >= 0.8)}`,
    );

    // No database: judge on windows from the reference (false alarms) and from the live law (detection).
    const windows = envInt('BENCH_ALARM_WINDOWS', 200);
    const windowRows = envInt('BENCH_ALARM_WINDOW_ROWS', 500);
    const calm = alarmRate(probes, windows, windowRows, false);
    const shifted = alarmRate(probes, windows, windowRows, true);
    const byFeature = (m: Map<string, number>): string =>
      [...m].map(([f, n]) => `${f} ${n}`).join(', ') || 'none';
    console.log('');
    console.log(
      `false alarms: judge() on ${windows} windows of ${windowRows} rows drawn from the reference distribution: ${calm.flagged} flagged = ${fmt((100 * calm.flagged) / windows, 1)}% (the rule tests ${probes.length} probes at ${ALPHA}/${probes.length} each, so at most ~${fmt(ALPHA * 100, 0)}% by chance; by feature: ${byFeature(calm.byFeature)}; ${fmt(calm.ms / windows, 2)} ms per window incl. drawing)`,
    );
    console.log(
      `detection   : the same on ${windows} windows from the live distribution (amount, basket_value, device shifted): ${shifted.flagged} flagged = ${fmt((100 * shifted.flagged) / windows, 1)}% (by feature: ${byFeature(shifted.byFeature)})`,
    );

    printResult({
      bench: 'drift-check',
      project: { label: `runDriftCheck over ${fmt(rows)} rows`, value: rows / (hub / 1000), unit: 'rows/s' },
      baseline: { label: 'width_bucket + GROUPING SETS', value: rows / (base / 1000), unit: 'rows/s' },
      ratio,
      aim: '~1 (>= 0.8)',
      note:
        `median ${fmt(hub)} ms vs ${fmt(base)} ms on ${fmt(rows)} rows, ${probes.length} probes; hub SQL fenced with OFFSET 0: ${fencedMs === undefined ? 'n/a' : `${fmt(fencedMs)} ms`};` +
        ` false alarms ${calm.flagged}/${windows} windows of ${windowRows}; detection ${shifted.flagged}/${windows}` +
        (mismatches.length ? `; ${mismatches.length} bin mismatches` : ''),
    });
  } finally {
    if (tabular)
      await env.raw.query('DELETE FROM prediction_log WHERE endpoint_id = $1', [tabular.endpointId]);
    await env.close();
  }
}

if (require.main === module) runMain(main);
