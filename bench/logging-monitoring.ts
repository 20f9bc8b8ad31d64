/**
 * What monitoring costs the prediction log: two hubs in this process, one with monitoring on (SLA
 * minutes recorded per prediction into DDSketches, per-endpoint Prometheus series) and one with
 * `NERVE_MONITORING=false`, each serving the same 20-feature tabular model (bench/drift-check.ts's
 * scenario, no reference dataset so no drift job scans it). The same load drives each in turn:
 * `predict` over HTTP from bench/load-client.ts in its own process, 32 keep-alive connections, one
 * request in flight on each, a distinct request key per request (the log dedupes on it), 256 distinct
 * rows in turn. The figure is prediction rows written to `prediction_log` per second
 * (`hub.services.predictionLog.written` over the load client's measured phase); "on" is the project's
 * side and "off" the baseline. The sides alternate in an ABBA order and every round is printed, since
 * the machine is shared; the ratio is the median of the per-round on/off ratios (adjacent rounds see
 * much the same outside load), with this process's CPU per logged row beside it.
 *
 *   npm run build && node dist/bench/logging-monitoring.js
 *   BENCH_ROUNDS=10 BENCH_ROUND_S=3 BENCH_PROFILE=0 node dist/bench/logging-monitoring.js
 *   DATABASE_URL=postgres://... node dist/bench/logging-monitoring.js   (both hubs on that database)
 */
import 'reflect-metadata';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { arrangeTabular, drawRows, type Tabular } from './drift-check';
import { SEQUENCE_PLACEHOLDER, type LoadJob, type LoadResult } from './load-client';
import { openProfiler, printPackages, printTopFunctions, summarize, type ProfileSummary } from './profile';
import {
  envInt,
  fmt,
  machineLine,
  median,
  printResult,
  runLoadClient,
  runMain,
  startBenchHub,
  verdict,
  type BenchHub,
} from './support';

const CONCURRENCY = 32;
const DISTINCT_ROWS = 256;
const PREDICT =
  'mutation Predict($endpoint: String!, $input: JSONObject!, $requestKey: String) { predict(endpoint: $endpoint, input: $input, requestKey: $requestKey) { requestKey label score } }';

interface Side {
  name: 'on' | 'off';
  env: BenchHub;
  tabular: Tabular;
  rounds: Round[];
}

interface Round extends LoadResult {
  /** Rows the hub's prediction log wrote during the measured phase, per second. */
  loggedPerSecond: number;
  /** CPU of this process (the loaded hub, and with PGlite its database) per logged row, µs. */
  cpuUsPerRow: number;
  elu: number;
}

let jobs = 0;

function jobFor(side: Side, warmupMs: number, durationMs: number): LoadJob {
  // The load client numbers requests from 0 in every process: the job number keeps keys apart.
  const prefix = `${side.tabular.endpoint}-${++jobs}`;
  const bodies = drawRows(99, DISTINCT_ROWS).map((input) =>
    JSON.stringify({
      query: PREDICT,
      variables: { endpoint: side.tabular.endpoint, input, requestKey: `${prefix}-${SEQUENCE_PLACEHOLDER}` },
    }),
  );
  return {
    url: side.env.hub.url,
    body: bodies[0],
    bodies,
    headers: { authorization: `Bearer ${side.tabular.botKey}` },
    concurrency: CONCURRENCY,
    warmupMs,
    durationMs,
    expect: '"label":"',
  };
}

/** One round on one side: the written counter, CPU and loop utilization over exactly the measured phase. */
async function round(side: Side, warmupMs: number, durationMs: number): Promise<Round> {
  const log = side.env.hub.services.predictionLog;
  let written = 0;
  let started = 0;
  let seconds = 0;
  let cpu = process.cpuUsage();
  let cpuUs = 0;
  let elu = performance.eventLoopUtilization();
  let eluOut = 0;
  const result = await runLoadClient(
    jobFor(side, warmupMs, durationMs),
    () => {
      written = log.written;
      started = performance.now();
      cpu = process.cpuUsage();
      elu = performance.eventLoopUtilization();
    },
    () => {
      written = log.written - written;
      seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      cpuUs = used.user + used.system;
      eluOut = performance.eventLoopUtilization(elu).utilization;
    },
  );
  if (result.firstError) console.log(`    first error seen by the client: ${result.firstError}`);
  // Whatever is still buffered is written before the other side's round starts.
  await log.flush();
  return {
    ...result,
    loggedPerSecond: written / seconds,
    cpuUsPerRow: cpuUs / Math.max(1, written),
    elu: eluOut,
  };
}

async function profileSide(side: Side, durationMs: number): Promise<ProfileSummary> {
  const profiler = await openProfiler();
  let stopped: Promise<Parameters<typeof summarize>[0]> | undefined;
  const result = await runLoadClient(
    jobFor(side, 500, durationMs),
    () => void profiler.start(),
    () => (stopped = profiler.stop()),
  );
  if (!stopped) throw new Error('the load client never reported the end of its measured phase');
  const profile = await stopped;
  const file = profiler.save(profile, `logging-monitoring-${side.name}`);
  if (file) console.log(`  raw profile written to ${file}`);
  await side.env.hub.services.predictionLog.flush();
  return summarize(profile, result.requests);
}

async function main(): Promise<void> {
  const rounds = envInt('BENCH_ROUNDS', 8);
  const roundMs = envInt('BENCH_ROUND_S', 4) * 1000;
  const warmupMs = envInt('BENCH_WARMUP_S', 3) * 1000;
  const profileMs = envInt('BENCH_PROFILE_S', 3) * 1000;
  const withProfile = process.env.BENCH_PROFILE !== '0';
  console.log('== logging-monitoring: prediction log throughput with monitoring on vs off ==');
  console.log(machineLine());
  const sides: Side[] = [];
  try {
    for (const name of ['on', 'off'] as const) {
      const env = await startBenchHub({ monitoringEnabled: name === 'on' });
      const tabular = await arrangeTabular(env, {
        referenceRows: 1_000,
        withDataset: false,
        endpointOptions: { batching: { maxBatchSize: 32, maxQueueDelayMs: 0 } },
      });
      sides.push({ name, env, tabular, rounds: [] });
    }
    const [on, off] = sides;
    console.log(
      `database: ${on.env.databaseLabel}${on.env.isPglite ? ' — one per hub, both in this process' : ' — shared by both hubs'}`,
    );
    console.log(
      `hubs: "on" with monitoringEnabled true (NERVE_MONITORING unset), "off" with it false; both with the scheduler on, every prediction logged (logSampleRate 1), batching maxBatchSize 32 / delay 0 ms; model: a linear softmax over 20 features (14 numeric standardized, 6 one-hot), 41 columns, 4 labels`,
    );
    console.log(
      `load: node dist/bench/load-client.js in a child process, predict over HTTP, ${CONCURRENCY} keep-alive connections, one request in flight on each, ${DISTINCT_ROWS} distinct rows in turn, a new request key each time; ${warmupMs / 1000} s unmeasured per side first, then ${rounds} rounds per side in ABBA order, each 0.5 s unmeasured + ${roundMs / 1000} s measured; the log is flushed between rounds`,
    );

    for (const side of sides) await round(side, 0, warmupMs);
    // ABBA: on off off on on off ...; each side is first as often as second.
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [on, off] : [off, on];
      for (const side of order) side.rounds.push(await round(side, 500, roundMs));
      console.log(
        `  round ${r + 1}: ${order.map((s) => `${s.name} ${fmt(s.rounds.at(-1)!.loggedPerSecond)} rows/s (${fmt(s.rounds.at(-1)!.rps)} req/s)`).join(', ')}`,
      );
    }

    console.log('');
    const line = (side: Side): string => {
      const logged = side.rounds.map((x) => x.loggedPerSecond);
      const sorted = [...logged].sort((a, b) => a - b);
      const errors = side.rounds.reduce((a, x) => a + x.errors, 0);
      return (
        `  monitoring ${side.name.padEnd(3)}: median ${fmt(median(logged))} rows logged/s (rounds ${logged.map((x) => fmt(x)).join(' / ')}; spread ${fmt(sorted[0])}–${fmt(sorted.at(-1)!)}, ±${fmt((100 * (sorted.at(-1)! - sorted[0])) / 2 / median(logged), 1)}%);` +
        ` median ${fmt(median(side.rounds.map((x) => x.rps)))} req/s, p50 ${fmt(median(side.rounds.map((x) => x.p50Ms)), 2)} ms, p99 ${fmt(median(side.rounds.map((x) => x.p99Ms)), 2)} ms;` +
        ` this process ${fmt(median(side.rounds.map((x) => x.cpuUsPerRow)))} µs CPU per logged row, ELU ${fmt(100 * median(side.rounds.map((x) => x.elu)))}%; ${errors} errors`
      );
    };
    console.log(line(on));
    console.log(line(off));
    // Each round's on/off ratio compares two adjacent rounds, so load that comes and goes cancels better
    // than in the ratio of the two medians; the median of those ratios is the figure.
    const pairs = on.rounds.map((x, i) => x.loggedPerSecond / off.rounds[i].loggedPerSecond);
    const sortedPairs = [...pairs].sort((a, b) => a - b);
    const ratio = median(pairs);
    const ofMedians =
      median(on.rounds.map((x) => x.loggedPerSecond)) / median(off.rounds.map((x) => x.loggedPerSecond));
    const cpuRatio =
      median(off.rounds.map((x) => x.cpuUsPerRow)) / median(on.rounds.map((x) => x.cpuUsPerRow));
    console.log(
      `  ratio on/off: median of the per-round ratios ${fmt(ratio, 3)} (rounds ${pairs.map((x) => fmt(x, 3)).join(' / ')}; range ${fmt(sortedPairs[0], 3)}–${fmt(sortedPairs.at(-1)!, 3)}); ratio of the medians ${fmt(ofMedians, 3)}; CPU per logged row off/on ${fmt(cpuRatio, 3)}  aim >= 0.9: ${verdict(ratio >= 0.9)}`,
    );

    // Every acknowledged prediction is in the table, on both sides.
    for (const side of sides) {
      await side.env.hub.services.predictionLog.flush();
      const stored = Number(
        (
          await side.env.raw.query<{ n: string }>(
            'SELECT count(*) AS n FROM prediction_log WHERE endpoint_id = $1',
            [side.tabular.endpointId],
          )
        ).rows[0].n,
      );
      const written = side.env.hub.services.predictionLog.written;
      console.log(
        `  check ${side.name}: prediction_log holds ${fmt(stored)} rows for the endpoint, the writer counted ${fmt(written)}${stored === written ? '' : '  <-- MISMATCH'}`,
      );
    }
    const sla = await on.env.raw.query<{ n: string }>(
      'SELECT count(*) AS n FROM endpoint_stats_minute WHERE endpoint_id = $1',
      [on.tabular.endpointId],
    );
    const slaOff = await off.env.raw.query<{ n: string }>(
      'SELECT count(*) AS n FROM endpoint_stats_minute WHERE endpoint_id = $1',
      [off.tabular.endpointId],
    );
    console.log(
      `  SLA minute rows stored: on ${sla.rows[0].n}, off ${slaOff.rows[0].n} (monitoring really was on and off); load average after ${os
        .loadavg()
        .map((x) => fmt(x, 2))
        .join(' ')}`,
    );

    if (withProfile) {
      console.log('');
      console.log(
        `where this process spends its time (V8 sampling profiler, 200 µs interval, ${profileMs / 1000} s of the same load on each hub; "per request" = per prediction):`,
      );
      const onProfile = await profileSide(on, profileMs);
      const offProfile = await profileSide(off, profileMs);
      console.log(
        `  on: busy ${fmt(onProfile.busyUs / onProfile.requests, 1)} µs per prediction; off: ${fmt(offProfile.busyUs / offProfile.requests, 1)} µs`,
      );
      printPackages(
        [
          { label: 'on', summary: onProfile },
          { label: 'off', summary: offProfile },
        ],
        14,
      );
      printTopFunctions('on', onProfile, 15);
    }

    printResult({
      bench: 'logging-monitoring',
      project: {
        label: 'rows logged/s, monitoring on',
        value: median(on.rounds.map((x) => x.loggedPerSecond)),
        unit: 'rows/s',
      },
      baseline: {
        label: 'monitoring off',
        value: median(off.rounds.map((x) => x.loggedPerSecond)),
        unit: 'rows/s',
      },
      ratio,
      aim: '>= 0.9',
      note:
        `median of per-round on/off ratios; predict over HTTP at c=${CONCURRENCY}; ${rounds} ABBA rounds of ${roundMs / 1000} s per side;` +
        ` per-round ${fmt(sortedPairs[0], 2)}–${fmt(sortedPairs.at(-1)!, 2)}; ratio of medians ${fmt(ofMedians, 2)}; CPU per logged row off/on ${fmt(cpuRatio, 2)}`,
    });
  } finally {
    for (const side of sides) await side.env.close();
  }
}

runMain(main);
