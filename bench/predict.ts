/**
 * Live inference through the hub: `predict` and `predictBatch` over HTTP against onnxruntime-node's own
 * `session.run` on the same ONNX model in this process. The model is the ticket router exactly as
 * `trainTicketRouter()` builds it (hashed subject and body n-grams, one-hot channel and tier, three
 * scaled counts: 1,290 float32 columns into 5 queues), so callers send raw ticket fields and every
 * request pays the hub's preprocessing, as a real caller's does. Load comes from bench/load-client.ts in
 * its own process: closed loop, keep-alive, one request in flight per connection, and a distinct request
 * key on every request (the prediction log dedupes on (endpoint, request key), so a repeated key would
 * log nothing). Measured in one run:
 *
 *   1. raw `session.run` at 1, 32 and 1,000 rows, with the hub's session options;
 *   2. `predict` at concurrency 1, 8, 32 and 64 with batching on (maxBatchSize 32, queue delay 0 ms and
 *      BENCH_QUEUE_DELAY_MS) and off (maxBatchSize 1), beside `{ me { keyId } }` on the same server;
 *   3. `predictBatch` of 1,000 rows;
 *   4. the hub process's event-loop delay, CPU and batch sizes in every phase;
 * then the hub is profiled under the concurrency-64 load and under `predictBatch`.
 *
 *   npm run build && node dist/bench/predict.js
 *   BENCH_WARMUP_S=1 BENCH_DURATION_S=3 BENCH_ROUNDS=1 BENCH_PROFILE=0 node dist/bench/predict.js
 *   DATABASE_URL=postgres://... node dist/bench/predict.js   (the prediction log in PostgreSQL, not in-process)
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { compilePreprocessing, type Preprocessor } from '../src/modules/inference/preprocessing';
import { generateTickets, ticketFields, type TicketFields } from '../src/training/ticket-dataset';
import { trainTicketRouter, type TrainedTicketRouter } from '../src/training/train-ticket-router';
import { SEQUENCE_PLACEHOLDER, type LoadJob, type LoadResult } from './load-client';
import { openProfiler, printPackages, printTopFunctions, summarize, type CpuProfile } from './profile';
import {
  RUN_TAG,
  envInt,
  expectData,
  fmt,
  machineLine,
  printResult,
  runLoadClient,
  runMain,
  startBenchHub,
  unique,
  type BenchHub,
} from './support';

const CONCURRENCIES = [1, 8, 32, 64];
const MAX_BATCH_SIZE = 32;
const BATCH_ROWS = 1_000;
/** Distinct tickets the load client sends in turn. */
const DISTINCT_TICKETS = 256;
/** What every successful prediction in a response carries. */
const EXPECT = '"label":"';

const PREDICT =
  'mutation Predict($endpoint: String!, $input: JSONObject!, $requestKey: String) { predict(endpoint: $endpoint, input: $input, requestKey: $requestKey) { requestKey label score } }';
const PREDICT_BATCH =
  'mutation PredictBatch($endpoint: String!, $inputs: [JSONObject!]!, $requestKeys: [String!]) { predictBatch(endpoint: $endpoint, inputs: $inputs, requestKeys: $requestKeys) { latencyMs predictions { requestKey label score } } }';
const TRIVIAL = '{ me { keyId } }';
const RUNTIME =
  '{ inferenceRuntime { workers batches rows failures predictionLogBuffered batchSizeHistogram { le count } } }';

interface RuntimeCounters {
  workers: number;
  batches: number;
  rows: number;
  failures: number;
  predictionLogBuffered: number;
  batchSizeHistogram: Array<{ le: number | null; count: number }>;
}

interface Mode {
  name: string;
  /** The endpoint it predicts through; none for the trivial query. */
  endpoint?: string;
}

interface Phase extends LoadResult {
  p95Ms: number;
  mode: string;
  concurrency: number;
  /** Event-loop delay of this (the hub's) process over the measured phase: a 1 ms timer's interval. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** CPU of this process, every thread (the inference worker included), per measured request. */
  cpuUsPerRequest: number;
  /** The same split: the main thread, and every other thread; undefined off Linux. */
  mainCpuUsPerRequest?: number;
  otherCpuUsPerRequest?: number;
  /** Requests per second of each round, when the phase combines several. */
  rounds: number[];
  /** Event-loop utilization of the main thread. */
  elu: number;
  /** Batches and rows the runtime ran during the phase (warm-up included), with their sizes. */
  batches: number;
  rows: number;
  failures: number;
  histogram: Array<{ le: number | null; count: number }>;
}

// ---------------------------------------------------------------------------------------------------
// The raw baseline: onnxruntime-node in this process.

interface RawFigure {
  rows: number;
  runs: number;
  meanUs: number;
  p50Us: number;
  rowsPerSecond: number;
}

/** Runs `once` back to back for about `ms` milliseconds after a short warm-up; each call scores `rows` rows. */
async function timeRuns(rows: number, ms: number, once: (i: number) => Promise<unknown>): Promise<RawFigure> {
  for (let i = 0; i < 20; i++) await once(i);
  const samples: number[] = [];
  const started = performance.now();
  let now = started;
  for (let i = 0; now - started < ms; i++) {
    const t = now;
    await once(i);
    now = performance.now();
    samples.push(now - t);
  }
  const elapsedMs = now - started;
  samples.sort((a, b) => a - b);
  return {
    rows,
    runs: samples.length,
    meanUs: (elapsedMs * 1000) / samples.length,
    p50Us: (samples[Math.floor(samples.length / 2)] ?? 0) * 1000,
    rowsPerSecond: (samples.length * rows) / (elapsedMs / 1000),
  };
}

/** Up to 16 consecutive blocks of `rows` items, taken in turn so runs do not all see the same rows. */
function blocksOf<T extends { slice(start: number, end: number): T }>(
  items: T,
  count: number,
  rows: number,
  unit = 1,
): T[] {
  return Array.from({ length: Math.max(1, Math.min(16, Math.floor(count / rows))) }, (_, i) =>
    items.slice(i * rows * unit, (i + 1) * rows * unit),
  );
}

/**
 * The baseline: a tight `session.run` loop on already encoded rows, each block its own buffer (as the
 * worker receives them) and a fresh input tensor per run (as the worker makes one). Nothing else.
 */
function rawRuns(
  session: ort.InferenceSession,
  matrix: Float32Array,
  width: number,
  rows: number,
  ms: number,
): Promise<RawFigure> {
  const input = session.inputNames[0];
  const blocks = blocksOf(matrix, matrix.length / width, rows, width);
  return timeRuns(rows, ms, (i) =>
    session.run({ [input]: new ort.Tensor('float32', blocks[i % blocks.length], [rows, width]) }),
  );
}

/**
 * A reference beside the baseline: raw ticket fields encoded by the hub's own Preprocessor, then
 * `session.run`, in this process: the hub's inference work without the hub.
 */
function rawPipeline(
  session: ort.InferenceSession,
  preprocessor: Preprocessor,
  tickets: TicketFields[],
  rows: number,
  ms: number,
): Promise<RawFigure> {
  const input = session.inputNames[0];
  const blocks = blocksOf(tickets, tickets.length, rows);
  return timeRuns(rows, ms, (i) => {
    const block = blocks[i % blocks.length];
    const features = preprocessor.encode(block, (j) => `inputs.${j}`);
    return session.run({ [input]: new ort.Tensor('float32', features, [block.length, preprocessor.width]) });
  });
}

/** Microseconds per call of `fn`, over about `ms` milliseconds after a short warm-up. */
function microsPerCall(fn: () => unknown, ms: number): number {
  for (let i = 0; i < 20; i++) fn();
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    fn();
    calls++;
  }
  return ((performance.now() - started) * 1000) / calls;
}

/**
 * CPU time of this process's main thread and of all its other threads (the inference worker, GC and
 * compiler helpers, libuv's pool), in µs, from /proc (clock ticks, 10 ms). Undefined off Linux.
 */
function threadCpuUs(): { main: number; others: number } | undefined {
  try {
    const tick = 1e6 / 100;
    let main = 0;
    let others = 0;
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * tick;
      if (Number(tid) === process.pid) main += us;
      else others += us;
    }
    return { main, others };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// The hub side.

/** Registers the trained router on a fresh project and opens one endpoint per batching mode. */
async function arrange(
  env: BenchHub,
  trained: TrainedTicketRouter,
  queueDelayMs: number,
  logSampleRate: number,
): Promise<{ botKey: string; modes: Mode[]; batchEndpoint: string }> {
  const project = expectData(
    await env.gql<{ createProject: { id: string; slug: string } }>(
      'mutation($input: CreateProjectInput!) { createProject(input: $input) { id slug } }',
      { input: { name: 'predict bench', slug: unique('predict') } },
    ),
    'createProject',
  ).createProject;

  const sha256 = createHash('sha256').update(trained.onnx).digest('hex');
  const base = env.hub.url.replace(/\/graphql$/, '');
  const upload = await fetch(`${base}/artifacts/sha256/${sha256}?project=${project.slug}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${env.adminKey}`, 'content-type': 'application/octet-stream' },
    body: trained.onnx,
  });
  if (upload.status !== 200 && upload.status !== 201)
    throw new Error(`artifact upload failed: HTTP ${upload.status} ${await upload.text()}`);

  const model = expectData(
    await env.gql<{ createModel: { id: string } }>(
      'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }',
      { input: { project: project.slug, name: 'ticket-router', task: 'CLASSIFICATION' } },
    ),
    'createModel',
  ).createModel;
  const version = expectData(
    await env.gql<{ registerModelVersion: { version: number; status: string } }>(
      'mutation($input: RegisterModelVersionInput!) { registerModelVersion(input: $input) { version status } }',
      {
        input: {
          modelId: model.id,
          artifactSha256: sha256,
          featureNames: trained.featureNames,
          labels: trained.labels,
          preprocessing: trained.preprocessing,
          goldenSamples: trained.goldenSamples,
        },
      },
    ),
    'registerModelVersion',
  ).registerModelVersion;
  if (version.status === 'REJECTED') throw new Error('the golden samples were not reproduced');

  const endpoint = async (
    suffix: string,
    batching: { maxBatchSize: number; maxQueueDelayMs: number },
  ): Promise<string> => {
    const name = `${RUN_TAG}-${suffix}`;
    expectData(
      await env.gql('mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }', {
        input: {
          project: project.slug,
          name,
          model: model.id,
          version: version.version,
          batching,
          logSampleRate,
        },
      }),
      'createEndpoint',
    );
    return name;
  };
  const on = { maxBatchSize: MAX_BATCH_SIZE, maxQueueDelayMs: 0 };
  const modes: Mode[] = [
    { name: 'trivial { me { keyId } }' },
    { name: 'batched, delay 0 ms', endpoint: await endpoint('on', on) },
    {
      name: `batched, delay ${queueDelayMs} ms`,
      endpoint: await endpoint('delay', { maxBatchSize: MAX_BATCH_SIZE, maxQueueDelayMs: queueDelayMs }),
    },
    { name: 'unbatched', endpoint: await endpoint('off', { maxBatchSize: 1, maxQueueDelayMs: 0 }) },
  ];
  const batchEndpoint = await endpoint('batch', on);

  const bot = expectData(
    await env.gql<{ createApiKey: { secret: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
      { input: { name: unique('bot'), role: 'BOT', projectIds: [project.id] } },
    ),
    'createApiKey',
  ).createApiKey;
  return { botKey: bot.secret, modes, batchEndpoint };
}

async function runtimeCounters(env: BenchHub): Promise<RuntimeCounters> {
  return expectData(await env.gql<{ inferenceRuntime: RuntimeCounters }>(RUNTIME), 'inferenceRuntime')
    .inferenceRuntime;
}

/** One load phase with the hub-side probes: event-loop delay, CPU, utilization, batches formed. */
async function measure(env: BenchHub, job: LoadJob, mode: string): Promise<Phase> {
  const before = await runtimeCounters(env);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let elu = performance.eventLoopUtilization();
  let cpu = process.cpuUsage();
  let threads = threadCpuUs();
  let eluOut = 0;
  let cpuOut = 0;
  let threadsOut: { main: number; others: number } | undefined;
  const result = await runLoadClient(
    job,
    () => {
      delay.reset();
      delay.enable();
      elu = performance.eventLoopUtilization();
      cpu = process.cpuUsage();
      threads = threadCpuUs();
    },
    () => {
      delay.disable();
      eluOut = performance.eventLoopUtilization(elu).utilization;
      const used = process.cpuUsage(cpu);
      cpuOut = used.user + used.system;
      const now = threadCpuUs();
      if (now && threads) threadsOut = { main: now.main - threads.main, others: now.others - threads.others };
    },
  );
  const perRequest = (us: number | undefined): number | undefined =>
    us === undefined ? undefined : us / Math.max(1, result.requests);
  const after = await runtimeCounters(env);
  return {
    ...result,
    p95Ms: result.p95Ms ?? 0,
    mode,
    concurrency: job.concurrency,
    loopP99Ms: delay.percentile(99) / 1e6,
    loopMaxMs: delay.max / 1e6,
    cpuUsPerRequest: cpuOut / Math.max(1, result.requests),
    mainCpuUsPerRequest: perRequest(threadsOut?.main),
    otherCpuUsPerRequest: perRequest(threadsOut?.others),
    rounds: [result.rps],
    elu: eluOut,
    batches: after.batches - before.batches,
    rows: after.rows - before.rows,
    failures: after.failures - before.failures,
    histogram: after.batchSizeHistogram.map((b, i) => ({
      le: b.le,
      count: b.count - (before.batchSizeHistogram[i]?.count ?? 0),
    })),
  };
}

async function profileUnderLoad(job: LoadJob, name: string): Promise<void> {
  const profiler = await openProfiler();
  let stopped: Promise<CpuProfile> | undefined;
  const result = await runLoadClient(
    job,
    () => void profiler.start(),
    () => (stopped = profiler.stop()),
  );
  if (!stopped) throw new Error('the load client never reported the end of its measured phase');
  const profile = await stopped;
  const file = profiler.save(profile, name);
  if (file) console.log(`  raw profile written to ${file} (open in Chrome DevTools)`);
  const summary = summarize(profile, result.requests);
  console.log(
    `  ${name}: ${fmt(result.requests)} requests at ${fmt(result.rps, 1)} req/s; main thread busy ${fmt(summary.busyUs / 1000)} ms, idle ${fmt(summary.idleUs / 1000)} ms = ${fmt(summary.busyUs / Math.max(1, result.requests), 1)} µs busy per request`,
  );
  printPackages([{ label: name, summary }], 12);
  printTopFunctions(name, summary, 25);
}

/**
 * Rounds of one mode and concurrency as one phase: totals over total measured time; latency and
 * event-loop percentiles are the median of the rounds' (the max for the maximum).
 */
function combine(rounds: Phase[]): Phase {
  const sum = (f: (p: Phase) => number): number => rounds.reduce((a, p) => a + f(p), 0);
  const median = (f: (p: Phase) => number): number =>
    rounds.map(f).sort((a, b) => a - b)[Math.floor(rounds.length / 2)] ?? 0;
  const requests = sum((p) => p.requests);
  const seconds = sum((p) => p.seconds);
  const weighted = (f: (p: Phase) => number | undefined): number | undefined =>
    rounds.some((p) => f(p) === undefined)
      ? undefined
      : sum((p) => f(p)! * p.requests) / Math.max(1, requests);
  return {
    mode: rounds[0].mode,
    concurrency: rounds[0].concurrency,
    requests,
    errors: sum((p) => p.errors),
    seconds,
    rps: requests / seconds,
    p50Ms: median((p) => p.p50Ms),
    p95Ms: median((p) => p.p95Ms),
    p99Ms: median((p) => p.p99Ms),
    firstError: rounds.find((p) => p.firstError)?.firstError,
    loopP99Ms: median((p) => p.loopP99Ms),
    loopMaxMs: Math.max(...rounds.map((p) => p.loopMaxMs)),
    cpuUsPerRequest: weighted((p) => p.cpuUsPerRequest) ?? 0,
    mainCpuUsPerRequest: weighted((p) => p.mainCpuUsPerRequest),
    otherCpuUsPerRequest: weighted((p) => p.otherCpuUsPerRequest),
    rounds: rounds.flatMap((p) => p.rounds),
    elu: sum((p) => p.elu * p.seconds) / seconds,
    batches: sum((p) => p.batches),
    rows: sum((p) => p.rows),
    failures: sum((p) => p.failures),
    histogram: rounds[0].histogram.map((b, i) => ({
      le: b.le,
      count: sum((p) => p.histogram[i]?.count ?? 0),
    })),
  };
}

// ---------------------------------------------------------------------------------------------------
// Printing.

const ms = (x: number): string => fmt(x, 2).padStart(7);

function histogramLine(h: Phase['histogram']): string {
  return h
    .filter((b) => b.count > 0)
    .map((b) => `≤${b.le ?? '∞'}: ${fmt(b.count)}`)
    .join(', ');
}

const split = (p: Phase): string =>
  p.mainCpuUsPerRequest === undefined || p.otherCpuUsPerRequest === undefined
    ? '-'
    : `${fmt(p.mainCpuUsPerRequest)}+${fmt(p.otherCpuUsPerRequest)}`;

function printPhases(phases: Phase[]): void {
  console.log(
    `  ${'mode'.padEnd(26)} ${'conc'.padStart(4)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p95 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'rows/batch'.padStart(10)} ${'loop p99'.padStart(8)} ${'loop max'.padStart(8)} ${'CPU µs/req'.padStart(10)} ${'main+other'.padStart(11)} ${'ELU'.padStart(4)}  errors`,
  );
  for (const p of phases) {
    console.log(
      `  ${p.mode.padEnd(26)} ${String(p.concurrency).padStart(4)} ${fmt(p.rps).padStart(8)} ${ms(p.p50Ms)} ${ms(p.p95Ms)} ${ms(p.p99Ms)} ${(p.batches ? fmt(p.rows / p.batches, 1) : '-').padStart(10)} ${ms(p.loopP99Ms).padStart(8)} ${ms(p.loopMaxMs).padStart(8)} ${fmt(p.cpuUsPerRequest).padStart(10)} ${split(p).padStart(11)} ${`${fmt(p.elu * 100)}%`.padStart(4)}  ${p.errors}${p.failures ? ` (+${p.failures} failed batches)` : ''}${p.rounds.length > 1 ? `  (rounds ${p.rounds.map((x) => fmt(x)).join(' / ')})` : ''}`,
    );
  }
}

const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const warmupMs = envInt('BENCH_WARMUP_S', 1) * 1000;
  const durationMs = envInt('BENCH_DURATION_S', 5) * 1000;
  const roundCount = envInt('BENCH_ROUNDS', 3);
  const profileMs = envInt('BENCH_PROFILE_S', 3) * 1000;
  const rawMs = envInt('BENCH_RAW_MS', 1500);
  const queueDelayMs = envInt('BENCH_QUEUE_DELAY_MS', 1);
  // 0 turns the prediction log off, to see what it costs; the default logs every prediction.
  const logSampleRate = Number(process.env.BENCH_LOG_SAMPLE_RATE ?? '1');
  if (!(logSampleRate >= 0 && logSampleRate <= 1)) throw new Error('BENCH_LOG_SAMPLE_RATE must be 0 to 1');
  const withProfile = process.env.BENCH_PROFILE !== '0';
  console.log(
    '== predict: live inference through the hub vs onnxruntime-node session.run in this process ==',
  );
  console.log(machineLine());

  const trained = trainTicketRouter();
  const preprocessor = compilePreprocessing(trained.preprocessing);
  const width = preprocessor.width;
  const tickets: TicketFields[] = generateTickets({ rows: BATCH_ROWS, seed: 4242 }).map(ticketFields);
  console.log(
    `model: trainTicketRouter() defaults (${fmt(trained.trainingMs)} ms to train; held-out accuracy ${fmt(trained.metrics.accuracy, 3)}): preprocessing ${trained.preprocessing.features.map((f) => `${f.name}:${f.kind}`).join(', ')} → float32 [N, ${fmt(width)}] → MatMul + Add + Softmax → [N, ${trained.labels.length}] (${trained.labels.join(', ')}); ONNX ${fmt(trained.onnx.length / 1024)} KiB`,
  );
  console.log(
    `inputs: ${fmt(BATCH_ROWS)} unseen tickets (generateTickets seed 4242), mean ${fmt(tickets.reduce((a, t) => a + JSON.stringify(t).length, 0) / tickets.length)} bytes of JSON each`,
  );

  // 1. Raw baseline, before the hub starts so nothing else runs in this process.
  const matrix = preprocessor.encode(tickets, (i) => `inputs.${i}`);
  const session = await ort.InferenceSession.create(trained.onnx, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const raw1 = await rawRuns(session, matrix, width, 1, rawMs);
  const raw32 = await rawRuns(session, matrix, width, MAX_BATCH_SIZE, rawMs);
  const raw1000 = await rawRuns(session, matrix, width, BATCH_ROWS, rawMs);
  const pipe1 = await rawPipeline(session, preprocessor, tickets, 1, rawMs);
  const pipe1000 = await rawPipeline(session, preprocessor, tickets, BATCH_ROWS, rawMs);
  await session.release();
  const encodeUsPerRow =
    microsPerCall(() => preprocessor.encode(tickets.slice(0, 100), (i) => `inputs.${i}`), 500) / 100;
  const predictBody = JSON.stringify({
    query: PREDICT,
    variables: { endpoint: 'x', input: tickets[0], requestKey: 'k' },
  });
  const parseUs = microsPerCall(() => JSON.parse(predictBody), 300);
  console.log('');
  console.log(
    'raw baseline: onnxruntime-node InferenceSession in this process, cpu provider, intraOpNumThreads 1, interOpNumThreads 1, graphOptimizationLevel all (as the hub worker opens it; INFERENCE_THREADS default 1); input already encoded',
  );
  for (const r of [raw1, raw32, raw1000]) {
    console.log(
      `  session.run, ${String(r.rows).padStart(4)} rows: ${fmt(r.runs).padStart(7)} runs, mean ${fmt(r.meanUs, 1).padStart(8)} µs, p50 ${fmt(r.p50Us, 1).padStart(8)} µs per run = ${fmt(r.rowsPerSecond).padStart(9)} rows/s`,
    );
  }
  for (const r of [pipe1, pipe1000]) {
    console.log(
      `  (reference) preprocess raw tickets + session.run, ${String(r.rows).padStart(4)} rows: mean ${fmt(r.meanUs, 1)} µs, p50 ${fmt(r.p50Us, 1)} µs per run = ${fmt(r.rowsPerSecond)} rows/s`,
    );
  }
  console.log(
    `  reference costs in this process: preprocessing (hashed n-grams etc.) ${fmt(encodeUsPerRow, 1)} µs per ticket; JSON.parse of one predict body (${fmt(predictBody.length)} bytes) ${fmt(parseUs, 1)} µs`,
  );

  const env = await startBenchHub();
  try {
    console.log('');
    console.log(`database: ${env.databaseLabel}`);
    const { botKey, modes, batchEndpoint } = await arrange(env, trained, queueDelayMs, logSampleRate);
    const info = await runtimeCounters(env);
    console.log(
      `hub: ${info.workers} inference worker thread(s) (INFERENCE_WORKERS), ${logSampleRate === 1 ? 'every prediction logged (logSampleRate 1)' : `logSampleRate ${logSampleRate} (BENCH_LOG_SAMPLE_RATE)`} to prediction_log; callers use a BOT key scoped to the project`,
    );

    // The load client numbers requests from 0 in every process: the job number keeps keys apart.
    let jobs = 0;
    const bodies = (mode: Mode): string[] => {
      if (!mode.endpoint) return [JSON.stringify({ query: TRIVIAL })];
      const prefix = `${mode.endpoint}-${++jobs}`;
      return tickets.slice(0, DISTINCT_TICKETS).map((ticket) =>
        JSON.stringify({
          query: PREDICT,
          variables: {
            endpoint: mode.endpoint,
            input: ticket,
            requestKey: `${prefix}-${SEQUENCE_PLACEHOLDER}`,
          },
        }),
      );
    };
    const job = (mode: Mode, concurrency: number): LoadJob => {
      const all = bodies(mode);
      return {
        url: env.hub.url,
        body: all[0],
        bodies: all,
        headers: { authorization: `Bearer ${botKey}` },
        concurrency,
        warmupMs,
        durationMs,
        expect: mode.endpoint ? EXPECT : '"keyId"',
      };
    };

    console.log('');
    console.log(
      `load: node dist/bench/load-client.js in a child process, closed loop, N keep-alive connections with one request in flight on each; per concurrency, the four modes take turns in ${roundCount} rounds (${warmupMs / 1000} s warm-up before the first, 0.5 s before the others) of ${fmt(durationMs / roundCount / 1000, 2)} s measured, ${durationMs / 1000} s per mode in all; latency and loop percentiles are the median of the rounds'; ${DISTINCT_TICKETS} distinct tickets in turn, request key "<endpoint>-<job>-<sequence>" never repeated; every 200 response checked for ${EXPECT} on a sample of 50`,
    );
    console.log(
      '  columns: latency as the client sees it; rows/batch = rows the runtime ran / batches it ran (warm-up included); loop p99/max = monitorEventLoopDelay of the hub process (resolution 1 ms, so ~1.1 ms when idle); CPU = the hub process per measured request, all threads, then split into main thread + other threads (inference worker, GC helpers, libuv pool; /proc, 10 ms ticks); ELU = main thread utilization',
    );
    // Unmeasured: JIT, the workers' sessions, the batchers and the routes warm up before anything counts.
    for (const mode of modes)
      await runLoadClient({ ...job(mode, 32), warmupMs: 0, durationMs: 1500 }, noop, noop);

    // Other work on the machine comes and goes: at each concurrency the modes take turns in short rounds.
    const phases: Phase[] = [];
    for (const concurrency of CONCURRENCIES) {
      const rounds = new Map<string, Phase[]>(modes.map((m) => [m.name, []]));
      for (let round = 0; round < roundCount; round++) {
        for (const mode of modes) {
          const roundJob = {
            ...job(mode, concurrency),
            warmupMs: round === 0 ? warmupMs : 500,
            durationMs: durationMs / roundCount,
          };
          rounds.get(mode.name)!.push(await measure(env, roundJob, mode.name));
        }
      }
      const combined = modes.map((m) => combine(rounds.get(m.name)!));
      phases.push(...combined);
      printPhases(combined);
    }
    const at = (mode: Mode, concurrency: number): Phase =>
      phases.find((p) => p.mode === mode.name && p.concurrency === concurrency)!;
    const [trivial, batched0, delayed, unbatched] = modes;
    const best = at(delayed, 32).rps > at(batched0, 32).rps ? delayed : batched0;

    console.log('');
    console.log('all phases:');
    printPhases(phases);
    console.log('');
    console.log(
      'batch sizes the runtime formed (inferenceRuntime.batchSizeHistogram, delta over each phase):',
    );
    for (const mode of [batched0, delayed, unbatched])
      for (const concurrency of CONCURRENCIES) {
        const p = at(mode, concurrency);
        console.log(
          `  ${mode.name.padEnd(20)} c=${String(concurrency).padEnd(3)} ${fmt(p.batches)} batches, ${fmt(p.rows)} rows: ${histogramLine(p.histogram)}`,
        );
      }

    // 3. predictBatch of 1,000 rows.
    const batchJob = (concurrency: number): LoadJob => {
      const prefix = `${batchEndpoint}-${++jobs}-${SEQUENCE_PLACEHOLDER}`;
      const body = JSON.stringify({
        query: PREDICT_BATCH,
        variables: {
          endpoint: batchEndpoint,
          inputs: tickets,
          requestKeys: tickets.map((_, i) => `${prefix}-${i}`),
        },
      });
      return {
        url: env.hub.url,
        body,
        headers: { authorization: `Bearer ${botKey}` },
        concurrency,
        warmupMs: Math.max(warmupMs, 2000),
        durationMs,
        expect: EXPECT,
      };
    };
    const firstBatchJob = batchJob(1);
    console.log('');
    console.log(
      `predictBatch: ${fmt(BATCH_ROWS)} tickets and ${fmt(BATCH_ROWS)} request keys per call (${fmt(firstBatchJob.body.length / 1024)} KiB body), same load client, one call in flight`,
    );
    const batch1 = await measure(env, firstBatchJob, 'predictBatch 1,000');
    console.log(
      `  ${fmt(batch1.rps, 2)} calls/s = ${fmt(batch1.rps * BATCH_ROWS)} rows/s; p50 ${fmt(batch1.p50Ms, 1)} ms, p95 ${fmt(batch1.p95Ms, 1)} ms per call; loop p99 ${fmt(batch1.loopP99Ms, 1)} ms, max ${fmt(batch1.loopMaxMs, 1)} ms; CPU ${fmt(batch1.cpuUsPerRequest / BATCH_ROWS, 1)} µs/row (main thread ${batch1.mainCpuUsPerRequest === undefined ? '-' : fmt(batch1.mainCpuUsPerRequest / BATCH_ROWS, 1)}); ELU ${fmt(batch1.elu * 100)}%; batches ${histogramLine(batch1.histogram)}; errors ${batch1.errors}`,
    );
    console.log(
      `  raw session.run on ${fmt(BATCH_ROWS)} rows: ${fmt(raw1000.rowsPerSecond)} rows/s (${fmt(raw1000.meanUs / 1000, 2)} ms per run)`,
    );

    const logged = await env.raw.query<{ rows: string }>(
      `SELECT count(*) AS rows FROM prediction_log l JOIN endpoint e ON e.id = l.endpoint_id WHERE e.name LIKE $1`,
      [`${RUN_TAG}-%`],
    );
    const measured = phases.filter((p) => p.mode !== trivial.name).reduce((a, p) => a + p.requests, 0);
    const after = await runtimeCounters(env);
    console.log('');
    console.log(
      `prediction_log: ${fmt(Number(logged.rows[0]?.rows ?? 0))} rows written so far for this run's endpoints (measured predict requests alone: ${fmt(measured)}, measured predictBatch rows: ${fmt(batch1.requests * BATCH_ROWS)}; warm-up requests are logged too); ${fmt(after.predictionLogBuffered)} still buffered`,
    );

    // The aims.
    const c32Ratio = at(best, 32).rps / at(unbatched, 32).rps;
    const addedMs = (mode: Mode): number => at(mode, 1).p50Ms - raw1.p50Us / 1000;
    const batchRatio = (batch1.rps * BATCH_ROWS) / raw1000.rowsPerSecond;
    const loop64 = at(best, 64).loopP99Ms;
    // At each concurrency the better batched variant: a 1 ms queue delay only costs at concurrency 1.
    const vsTrivial = (c: number): number =>
      Math.max(at(batched0, c).rps, at(delayed, c).rps) / at(trivial, c).rps;
    console.log('');
    console.log(
      `aims (batched = "${best.name}", the better of the two queue delays at concurrency 32: ${fmt(at(batched0, 32).rps)} vs ${fmt(at(delayed, 32).rps)} req/s):`,
    );
    console.log(
      `  batched / unbatched predict at c=32: ${fmt(at(best, 32).rps)} / ${fmt(at(unbatched, 32).rps)} = ${fmt(c32Ratio, 2)}x (delay 0: ${fmt(at(batched0, 32).rps / at(unbatched, 32).rps, 2)}x; at c=64: ${fmt(at(best, 64).rps / at(unbatched, 64).rps, 2)}x; hub CPU per request unbatched/batched at c=32: ${fmt(at(unbatched, 32).cpuUsPerRequest / at(best, 32).cpuUsPerRequest, 2)}x)  aim >= 2x: ${verdict(c32Ratio >= 2)}`,
    );
    console.log(
      `  hub's added p50 at c=1: predict p50 ${fmt(at(batched0, 1).p50Ms, 3)} ms - raw batch-1 run p50 ${fmt(raw1.p50Us / 1000, 3)} ms = ${fmt(addedMs(batched0), 3)} ms with delay 0 (${fmt(addedMs(delayed), 3)} ms with delay ${queueDelayMs} ms; ${fmt(at(unbatched, 1).p50Ms - raw1.p50Us / 1000, 3)} ms unbatched); trivial query p50 at c=1 ${fmt(at(trivial, 1).p50Ms, 3)} ms  aim <= 1 ms: ${verdict(addedMs(batched0) <= 1)}`,
    );
    console.log(
      `  predictBatch / raw session.run, ${fmt(BATCH_ROWS)} rows: ${fmt(batch1.rps * BATCH_ROWS)} / ${fmt(raw1000.rowsPerSecond)} rows/s = ${fmt(batchRatio, 3)}; against preprocessing + session.run in-process: ${fmt((batch1.rps * BATCH_ROWS) / pipe1000.rowsPerSecond, 3)}  aim >= 0.5: ${verdict(batchRatio >= 0.5)}`,
    );
    console.log(
      `  hub event-loop delay p99 under predict at c=64 (${best.name}): ${fmt(loop64, 2)} ms (max ${fmt(at(best, 64).loopMaxMs, 1)} ms; unbatched ${fmt(at(unbatched, 64).loopP99Ms, 2)} ms; the trivial query at c=64 ${fmt(at(trivial, 64).loopP99Ms, 2)} ms; under predictBatch ${fmt(batch1.loopP99Ms, 2)} ms)  aim < 10 ms: ${verdict(loop64 < 10)}`,
    );
    console.log(
      `  predict (the better batched variant at each) / trivial query req/s at the same concurrency: ${CONCURRENCIES.map((c) => `c=${c} ${fmt(vsTrivial(c), 3)}`).join(', ')}; hub CPU per request trivial/predict at c=32: ${fmt(at(trivial, 32).cpuUsPerRequest / at(best, 32).cpuUsPerRequest, 3)}  aim >= 0.8 (at c=32): ${verdict(vsTrivial(32) >= 0.8)}`,
    );
    console.log(
      `  load average after: ${os
        .loadavg()
        .map((x) => fmt(x, 2))
        .join(' ')} (on ${os.cpus().length} CPUs)`,
    );

    if (withProfile) {
      console.log('');
      console.log(
        `where the hub's main thread spends its time (V8 sampling profiler via node:inspector, 200 µs interval, ${fmt(profileMs / 1000, 1)} s of each load; the inference worker thread is not sampled):`,
      );
      await profileUnderLoad({ ...job(best, 64), warmupMs: 500, durationMs: profileMs }, 'predict-c64');
      await profileUnderLoad({ ...batchJob(1), warmupMs: 500, durationMs: profileMs }, 'predictBatch');
    }

    const errors = phases.reduce((a, p) => a + p.errors, 0) + batch1.errors;
    printResult({
      bench: 'predict',
      project: {
        label: `predictBatch of ${fmt(BATCH_ROWS)} tickets over HTTP`,
        value: batch1.rps * BATCH_ROWS,
        unit: 'rows/s',
      },
      baseline: {
        label: `onnxruntime-node session.run, ${fmt(BATCH_ROWS)} encoded rows`,
        value: raw1000.rowsPerSecond,
        unit: 'rows/s',
      },
      ratio: batchRatio,
      aim: '>= 0.5',
      note:
        `vs preprocessing + session.run in-process ${fmt((batch1.rps * BATCH_ROWS) / pipe1000.rowsPerSecond, 2)};` +
        ` batched/unbatched predict at c=32 ${fmt(c32Ratio, 2)}x (aim >= 2); added p50 at c=1 ${fmt(addedMs(batched0), 2)} ms (aim <= 1);` +
        ` loop p99 at c=64 ${fmt(loop64, 1)} ms (aim < 10); predict/trivial at c=32 ${fmt(vsTrivial(32), 2)} (aim >= 0.8)` +
        (errors ? `; ${errors} errors` : ''),
    });
  } finally {
    await env.close();
  }
}

const noop = (): void => undefined;

runMain(main);
