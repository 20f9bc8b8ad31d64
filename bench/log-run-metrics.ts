/**
 * logRunMetrics at 10,000 points per call through the whole HTTP GraphQL server, against the same
 * rows written raw into run_metric by one `pg` connection in the same process: COPY FROM STDIN on
 * PostgreSQL, a multi-row INSERT from unnest arrays on PGlite (whose wire server has no COPY FROM STDIN).
 *
 *   npm run build && node dist/bench/log-run-metrics.js
 *   BENCH_CALLS=40 BENCH_RAW=unnest node dist/bench/log-run-metrics.js
 */
import 'reflect-metadata';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import {
  envInt,
  expectData,
  fmt,
  machineLine,
  missingField,
  printResult,
  printStats,
  runMain,
  startBenchHub,
  stats,
  timed,
  unique,
  GqlClient,
  type BenchHub,
} from './support';

const POINTS_PER_CALL = 10_000;
const KEYS = ['loss', 'accuracy', 'lr', 'grad_norm', 'val/loss'];
const LOG = `mutation Log($runId: ID!, $points: [MetricPointInput!]!, $idempotencyKey: String) {
  logRunMetrics(runId: $runId, points: $points, idempotencyKey: $idempotencyKey) { runId accepted }
}`;

interface Point {
  key: string;
  step: number;
  value: number;
  timestamp: string;
}

/** One call's worth of points; `batch` moves the steps on so every batch is new data. */
function makePoints(batch: number): Point[] {
  const base = Date.UTC(2026, 0, 1) + batch * 60_000;
  const points = new Array<Point>(POINTS_PER_CALL);
  for (let i = 0; i < POINTS_PER_CALL; i++) {
    const step = batch * (POINTS_PER_CALL / KEYS.length) + Math.floor(i / KEYS.length);
    points[i] = {
      key: KEYS[i % KEYS.length],
      step,
      value: Math.sin(step / 100) + Math.random() / 10,
      timestamp: new Date(base + i).toISOString(),
    };
  }
  return points;
}

type RawWriter = (points: Point[]) => Promise<void>;

function copyWriter(env: BenchHub, runId: string): RawWriter {
  return async (points) => {
    const lines = points.map((p) => `${runId}\t${p.key}\t${p.step}\t${p.value}\t${p.timestamp}\n`).join('');
    await pipeline(
      Readable.from([lines]),
      env.raw.query(copyFrom('COPY run_metric (run_id, key, step, value, timestamp) FROM STDIN')),
    );
  };
}

function unnestWriter(env: BenchHub, runId: string): RawWriter {
  const sql =
    'INSERT INTO run_metric (run_id, key, step, value, timestamp) ' +
    'SELECT $1::uuid, k, s, v, t FROM unnest($2::text[], $3::int[], $4::float8[], $5::timestamptz[]) AS u(k, s, v, t)';
  return async (points) => {
    await env.raw.query(sql, [
      runId,
      points.map((p) => p.key),
      points.map((p) => p.step),
      points.map((p) => p.value),
      points.map((p) => p.timestamp),
    ]);
  };
}

async function main(): Promise<void> {
  const calls = envInt('BENCH_CALLS', 20);
  const warmup = envInt('BENCH_WARMUP_CALLS', 3);
  const idemCalls = envInt('BENCH_IDEMPOTENT_CALLS', 5);
  const timeBudgetMs = envInt('BENCH_TIME_BUDGET_S', 60) * 1000;

  console.log('== log-run-metrics: logRunMetrics, 10,000 points per call, over HTTP vs raw writes ==');
  console.log(machineLine());
  const env = await startBenchHub();
  try {
    console.log(`database: ${env.databaseLabel}`);
    const forced = process.env.BENCH_RAW;
    const rawKind: 'copy' | 'unnest' =
      forced === 'copy' || forced === 'unnest' ? forced : env.isPglite ? 'unnest' : 'copy';

    const slug = unique('metrics');
    const project = expectData(
      await env.gql<{ createProject: { id: string } }>(
        'mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }',
        {
          input: { slug, name: 'bench metrics' },
        },
      ),
      'createProject',
    ).createProject;

    const started = await env.gql<{ startRun: { id: string } }>(
      'mutation($input: StartRunInput!) { startRun(input: $input) { id } }',
      { input: { project: slug, name: unique('run'), kind: 'TRAINING' } },
    );
    let missing = missingField(started);
    let runId: string;
    if (missing) {
      // The runs API is not in the schema yet: a run row of our own still lets the baseline run.
      runId = (
        await env.raw.query<{ id: string }>(
          `INSERT INTO run (project_id, name, kind, status) VALUES ($1, $2, 'TRAINING', 'RUNNING') RETURNING id`,
          [project.id, unique('run')],
        )
      ).rows[0].id;
    } else {
      runId = expectData(started, 'startRun').startRun.id;
    }

    // Payloads are built before timing: both sides are timed from "bytes ready" to "rows committed".
    const total = warmup + calls;
    const batches = Array.from({ length: total }, (_, i) => makePoints(i));
    const bodies = batches.map((points) => JSON.stringify({ query: LOG, variables: { runId, points } }));
    const raw = rawKind === 'copy' ? copyWriter(env, runId) : unnestWriter(env, runId);
    const rawLabel =
      rawKind === 'copy'
        ? 'COPY run_metric (run_id, key, step, value, timestamp) FROM STDIN (pg-copy-streams, text format)'
        : 'INSERT INTO run_metric ... SELECT FROM unnest($2::text[], $3::int[], $4::float8[], $5::timestamptz[]) (one statement per 10k rows)' +
          (rawKind === 'unnest' && env.isPglite && forced !== 'unnest'
            ? ' — COPY FROM STDIN is not served by the embedded PGlite wire server'
            : '');
    console.log(
      `project side : POST /graphql logRunMetrics(runId, points: 10,000 x {key, step, value, timestamp}), body ${fmt(Buffer.byteLength(bodies[0]) / 1024, 0)} KiB, one keep-alive socket, sequential`,
    );
    console.log(`baseline side: ${rawLabel}, own pg connection, sequential`);
    console.log(
      `plan: ${warmup} warm-up rounds, then ${calls} measured rounds (each round: one hub call, then one raw write of the same 10,000 rows into the same run)`,
    );

    const gql = new GqlClient(env.hub.url);
    const hubCall = async (body: string): Promise<void> => {
      const response = await gql.postRaw<{ logRunMetrics: { accepted: number } }>(body, env.adminKey);
      const accepted = expectData(response, 'logRunMetrics').logRunMetrics.accepted;
      if (accepted !== POINTS_PER_CALL)
        throw new Error(`logRunMetrics accepted ${accepted}, expected ${POINTS_PER_CALL}`);
    };

    const hubMs: number[] = [];
    const rawMs: number[] = [];
    let hubCalls = 0;
    let rawWrites = 0;
    if (missing) {
      console.log(`project side not measurable: ${missing}`);
    } else {
      const probe = await gql.postRaw(bodies[0], env.adminKey);
      missing = missingField(probe);
      if (missing) console.log(`project side not measurable: ${missing}`);
      else expectData(probe, 'logRunMetrics (first warm-up call)');
      hubCalls = 1;
    }
    const deadline = Date.now() + timeBudgetMs;
    for (let i = 0; i < total; i++) {
      if (i >= warmup && Date.now() > deadline) {
        console.log(`time budget of ${timeBudgetMs / 1000} s reached after ${i - warmup} measured rounds`);
        break;
      }
      if (!missing && i > 0) {
        const ms = await timed(() => hubCall(bodies[i]));
        hubCalls++;
        if (i >= warmup) hubMs.push(ms);
      }
      const ms = await timed(() => raw(batches[i]));
      rawWrites++;
      if (i >= warmup) rawMs.push(ms);
    }

    const stored = Number(
      (await env.raw.query<{ n: string }>('SELECT count(*) AS n FROM run_metric WHERE run_id = $1', [runId]))
        .rows[0].n,
    );
    const expected = (rawWrites + hubCalls) * POINTS_PER_CALL;
    console.log(
      `check: run_metric holds ${fmt(stored)} rows for the run, expected ${fmt(expected)} (${hubCalls} hub calls + ${rawWrites} raw writes)${stored === expected ? '' : '  <-- MISMATCH'}`,
    );

    const rawStats = stats(rawMs);
    const rawRate = (rawMs.length * POINTS_PER_CALL) / (rawStats.totalMs / 1000);
    console.log('');
    printStats(`raw ${rawKind} (per 10k rows)`, rawStats);
    console.log(`  raw ${rawKind}: ${fmt(rawRate)} rows/s`);

    let hubRate: number | null = null;
    if (!missing) {
      const hubStats = stats(hubMs);
      hubRate = (hubMs.length * POINTS_PER_CALL) / (hubStats.totalMs / 1000);
      printStats('hub logRunMetrics (per call)', hubStats);
      console.log(`  hub logRunMetrics: ${fmt(hubRate)} rows/s`);

      // A retry-safe pipeline passes an idempotencyKey: the same calls with a fresh key each.
      const idemMs: number[] = [];
      for (let i = 0; i < Math.min(idemCalls, batches.length); i++) {
        const body = JSON.stringify({
          query: LOG,
          variables: { runId, points: batches[i], idempotencyKey: unique('idem') },
        });
        idemMs.push(await timed(() => hubCall(body)));
      }
      const idemStats = stats(idemMs);
      printStats('hub with idempotencyKey (per call)', idemStats);
      console.log(
        `  hub logRunMetrics with idempotencyKey: ${fmt((idemMs.length * POINTS_PER_CALL) / (idemStats.totalMs / 1000))} rows/s (${idemMs.length} calls, secondary figure)`,
      );
    }
    gql.close();

    printResult({
      bench: 'log-run-metrics',
      project: hubRate === null ? null : { label: 'logRunMetrics over HTTP', value: hubRate, unit: 'rows/s' },
      baseline: { label: `raw ${rawKind}`, value: rawRate, unit: 'rows/s' },
      ratio: hubRate === null ? null : hubRate / rawRate,
      aim: '>= 0.5',
      note: missing
        ? `logRunMetrics/startRun not in the schema yet (${missing})`
        : rawKind === 'unnest'
          ? 'baseline is unnest INSERT, not COPY (PGlite)'
          : undefined,
    });
  } finally {
    await env.close();
  }
}

runMain(main);
