/**
 * The per-request overhead of the hub: `{ me { keyId } }` over HTTP through the whole hub (auth,
 * context, Apollo, type-graphql) against plain graphql-js `execute` of an equivalent tiny schema
 * behind a bare node:http handler in the same process. Load comes from a separate Node process
 * (bench/load-client.ts): 32 keep-alive connections, one request in flight on each. Then the hub is
 * profiled under the same load and its self time is grouped by package.
 *
 *   npm run build && node dist/bench/trivial-query.js
 *   BENCH_WARMUP_S=2 BENCH_DURATION_S=5 BENCH_AUTOCANNON=0 node dist/bench/trivial-query.js
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { buildSchema, execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { LoadJob, LoadResult } from './load-client';
import {
  openProfiler,
  printPackages,
  printTopFunctions,
  summarize,
  type CpuProfile,
  type ProfileSummary,
} from './profile';
import {
  envInt,
  expectData,
  fmt,
  machineLine,
  printResult,
  runLoadClient,
  runMain,
  startBenchHub,
  unique,
} from './support';

const QUERY = '{ me { keyId } }';
const CONCURRENCY = 32;

/** The baseline: parse+validate cached per query string, execute, JSON.stringify. No framework. */
function bareServer(keyId: string): http.Server {
  const schema: GraphQLSchema = buildSchema('type Me { keyId: ID! } type Query { me: Me }');
  const rootValue = { me: () => ({ keyId }) };
  const documents = new Map<string, DocumentNode>();
  const reply = (res: http.ServerResponse, status: number, payload: unknown): void => {
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          query: string;
          variables?: Record<string, unknown>;
        };
        let document = documents.get(body.query);
        if (!document) {
          document = parse(body.query);
          const errors = validate(schema, document);
          if (errors.length) {
            reply(res, 400, { errors });
            return;
          }
          documents.set(body.query, document);
        }
        const result = execute({ schema, document, rootValue, variableValues: body.variables });
        if (result instanceof Promise) {
          result.then(
            (r) => reply(res, 200, r),
            () => reply(res, 500, { errors: [{ message: 'internal' }] }),
          );
        } else {
          reply(res, 200, result);
        }
      } catch {
        reply(res, 400, { errors: [{ message: 'bad request' }] });
      }
    });
  });
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`),
    );
  });
}

function spawnNode(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

interface Measured extends LoadResult {
  /** Event-loop utilization of this (server) process during the measured phase. */
  elu: number;
  /** CPU time of this process (user + system) during the measured phase, in µs. */
  cpuUs: number;
}

async function load(job: LoadJob): Promise<Measured> {
  let elu = performance.eventLoopUtilization();
  let cpu = process.cpuUsage();
  let eluOut = 0;
  let cpuOut = 0;
  const result = await runLoadClient(
    job,
    () => {
      elu = performance.eventLoopUtilization();
      cpu = process.cpuUsage();
    },
    () => {
      eluOut = performance.eventLoopUtilization(elu).utilization;
      const used = process.cpuUsage(cpu);
      cpuOut = used.user + used.system;
    },
  );
  return { ...result, elu: eluOut, cpuUs: cpuOut };
}

/** Sums rounds into one figure: total requests over total measured seconds. */
function combine(rounds: Measured[]): Measured & { rounds: number[] } {
  const sum = (f: (m: Measured) => number): number => rounds.reduce((a, m) => a + f(m), 0);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const requests = sum((m) => m.requests);
  const seconds = sum((m) => m.seconds);
  return {
    requests,
    errors: sum((m) => m.errors),
    seconds,
    rps: requests / seconds,
    p50Ms: median(rounds.map((m) => m.p50Ms)),
    p99Ms: median(rounds.map((m) => m.p99Ms)),
    elu: sum((m) => m.elu * m.seconds) / seconds,
    cpuUs: sum((m) => m.cpuUs),
    rounds: rounds.map((m) => m.rps),
  };
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

/** autocannon against `url`, when it is installed: a warm-up run, then a measured one. */
async function autocannon(
  url: string,
  body: string,
  headers: Record<string, string>,
  warmupS: number,
  durationS: number,
): Promise<AutocannonJson | string> {
  let bin: string;
  try {
    bin = require.resolve('autocannon');
  } catch {
    return 'autocannon not installed';
  }
  const args = (d: number): string[] => {
    const out = [bin, '-c', String(CONCURRENCY), '-d', String(d), '-m', 'POST', '-b', body, '-j', '-n'];
    for (const [k, v] of Object.entries({ 'content-type': 'application/json', ...headers }))
      out.push('-H', `${k}=${v}`);
    out.push(url);
    return out;
  };
  await spawnNode(args(warmupS), (warmupS + 60) * 1000);
  const stdout = await spawnNode(args(durationS), (durationS + 60) * 1000);
  return JSON.parse(stdout) as AutocannonJson;
}

/** Profiles this process while the load client's measured phase runs (it says when it starts and stops). */
async function profileUnderLoad(job: LoadJob, name: string): Promise<ProfileSummary> {
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
  return summarize(profile, result.requests);
}

function printProfiles(hub: ProfileSummary, base: ProfileSummary, seconds: number): void {
  console.log('');
  console.log(
    `where the time goes (in-process V8 sampling profiler via node:inspector, 200 µs interval, ${fmt(seconds, 1)} s of the same load each):`,
  );
  console.log(
    `  hub: ${fmt(hub.requests)} requests, busy ${fmt(hub.busyUs / 1000)} ms, idle ${fmt(hub.idleUs / 1000)} ms = ${fmt(hub.busyUs / Math.max(1, hub.requests), 1)} µs busy (wall) per request;` +
      ` baseline: ${fmt(base.requests)} requests, ${fmt(base.busyUs / Math.max(1, base.requests), 1)} µs busy (wall) per request`,
  );
  console.log(
    '  the profiler samples the JS thread in wall time: a write syscall that wakes the client process may be charged with time the kernel spent on the client (see writev); process CPU per request above is the firmer figure',
  );
  printPackages([
    { label: 'hub', summary: hub },
    { label: 'baseline', summary: base },
  ]);
  printTopFunctions('hub', hub);
}

/**
 * A reference, not the baseline: Apollo Server alone, with the same built-in plugins disabled, behind
 * the same kind of lean node:http handler, no auth and no context. The distance between it and the
 * hub is what the hub's own request path (auth, context, limits, metrics) costs.
 */
async function leanApolloServer(keyId: string): Promise<{ server: http.Server; stop: () => Promise<void> }> {
  const apollo = new ApolloServer({
    schema: buildSchema('type Me { keyId: ID! } type Query { me: Me }'),
    rootValue: { me: () => ({ keyId }) },
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
    ],
  });
  await apollo.start();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      apollo
        .executeHTTPGraphQLRequest({
          httpGraphQLRequest: {
            method: req.method ?? 'POST',
            headers,
            search: '',
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
          },
          context: async () => ({}),
        })
        .then((response) => {
          res.statusCode = response.status ?? 200;
          for (const [k, v] of response.headers) res.setHeader(k, v);
          res.end(response.body.kind === 'complete' ? response.body.string : '');
        })
        .catch(() => {
          res.statusCode = 500;
          res.end();
        });
    });
  });
  return { server, stop: () => apollo.stop() };
}

async function main(): Promise<void> {
  const warmupMs = envInt('BENCH_WARMUP_S', 5) * 1000;
  const rounds = envInt('BENCH_ROUNDS', 5);
  const durationMs = envInt('BENCH_DURATION_S', 10) * 1000;
  const profileMs = envInt('BENCH_PROFILE_S', 5) * 1000;
  const withAutocannon = process.env.BENCH_AUTOCANNON !== '0';
  console.log('== trivial-query: { me { keyId } } through the hub vs bare graphql-js behind node:http ==');
  console.log(machineLine());
  const env = await startBenchHub();
  let bare: http.Server | undefined;
  let lean: { server: http.Server; stop: () => Promise<void> } | undefined;
  try {
    console.log(
      `database: ${env.databaseLabel} (the key lookup is cached for 5 s, so the database is rarely asked)`,
    );
    const key = expectData(
      await env.gql<{ createApiKey: { secret: string; key: { id: string } } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret key { id } } }',
        { input: { name: unique('viewer'), role: 'VIEWER' } },
      ),
      'createApiKey',
    ).createApiKey;
    bare = bareServer(key.key.id);
    const bareUrl = await listen(bare);
    lean = await leanApolloServer(key.key.id);
    const leanUrl = await listen(lean.server);
    const body = JSON.stringify({ query: QUERY });
    const hubJob: LoadJob = {
      url: env.hub.url,
      body,
      headers: { authorization: `Bearer ${key.secret}` },
      concurrency: CONCURRENCY,
      warmupMs,
      durationMs,
      expect: key.key.id,
    };
    const bareJob: LoadJob = { ...hubJob, url: bareUrl, headers: {} };
    const leanJob: LoadJob = { ...hubJob, url: leanUrl, headers: {} };
    console.log(
      `load: node dist/bench/load-client.js in a child process, ${CONCURRENCY} keep-alive connections (http.Agent keepAlive, maxSockets ${CONCURRENCY}), one request in flight on each; ${warmupMs / 1000} s warm-up per server, then ${rounds} alternating rounds (hub, baseline) of 0.5 s unmeasured + ${fmt(durationMs / rounds / 1000, 1)} s measured, ${durationMs / 1000} s measured per server; POST ${body}`,
    );
    console.log(
      'hub: Bearer VIEWER key; baseline: no auth, buildSchema("type Me { keyId: ID! } type Query { me: Me }"), parse+validate cached per query string',
    );

    // Other work on the machine comes and goes: alternate short rounds so both sides see the same.
    await load({ ...hubJob, durationMs: 500 });
    await load({ ...bareJob, durationMs: 500 });
    await load({ ...leanJob, durationMs: 500 });
    const hubRounds: Measured[] = [];
    const baseRounds: Measured[] = [];
    const leanRounds: Measured[] = [];
    for (let r = 0; r < rounds; r++) {
      hubRounds.push(await load({ ...hubJob, warmupMs: 500, durationMs: durationMs / rounds }));
      baseRounds.push(await load({ ...bareJob, warmupMs: 500, durationMs: durationMs / rounds }));
      leanRounds.push(await load({ ...leanJob, warmupMs: 500, durationMs: durationMs / rounds }));
    }
    const hub = combine(hubRounds);
    const base = combine(baseRounds);
    const leanApollo = combine(leanRounds);
    const line = (name: string, m: ReturnType<typeof combine>): string =>
      `  ${name}: ${fmt(m.rps)} req/s  (${fmt(m.requests)} ok, ${m.errors} errors in ${fmt(m.seconds, 1)} s; rounds ${m.rounds.map((x) => fmt(x)).join(' / ')} req/s;` +
      ` median p50 ${fmt(m.p50Ms, 2)} ms, p99 ${fmt(m.p99Ms, 2)} ms; server process CPU ${fmt(m.cpuUs / Math.max(1, m.requests), 1)} µs/request, event-loop utilization ${fmt(m.elu * 100)}%)`;
    console.log(line('hub     ', hub));
    console.log(line('baseline', base));
    console.log(
      line('apollo-only (reference: Apollo with the same plugins off, no auth/context)', leanApollo),
    );
    console.log(
      `  apollo-only/baseline: ${fmt(leanApollo.rps / base.rps, 3)} (Apollo's own floor); hub/apollo-only: ${fmt(hub.rps / leanApollo.rps, 3)} (what the hub's request path keeps of it)`,
    );
    const ratios = hubRounds.map((h, i) => h.rps / baseRounds[i].rps);
    console.log(
      `  ratio hub/baseline: ${fmt(hub.rps / base.rps, 3)} (per round ${ratios.map((x) => fmt(x, 3)).join(' / ')}); CPU per request ratio baseline/hub ${fmt(base.cpuUs / base.requests / (hub.cpuUs / hub.requests), 3)}`,
    );
    console.log(
      `  load average after: ${os
        .loadavg()
        .map((x) => fmt(x, 2))
        .join(' ')} (on ${os.cpus().length} CPUs)`,
    );

    if (withAutocannon) {
      const acWarm = Math.max(1, Math.round(warmupMs / 2000));
      const acDur = Math.max(2, Math.round(durationMs / 2000));
      console.log(
        `autocannon (second opinion): node node_modules/autocannon/autocannon.js -c ${CONCURRENCY} -d ${acDur} -m POST -b '${body}' -H content-type=application/json [-H authorization=Bearer ...] -j <url>, after a ${acWarm} s warm-up run`,
      );
      const acHub = await autocannon(env.hub.url, body, hubJob.headers, acWarm, acDur);
      const acBase = await autocannon(bareUrl, body, {}, acWarm, acDur);
      if (typeof acHub === 'string' || typeof acBase === 'string') {
        console.log(`  skipped: ${typeof acHub === 'string' ? acHub : acBase}`);
      } else {
        const line = (name: string, r: AutocannonJson): string =>
          `  ${name}: ${fmt(r.requests.average)} req/s (p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors})`;
        console.log(line('hub     ', acHub));
        console.log(line('baseline', acBase));
        console.log(`  ratio hub/baseline: ${fmt(acHub.requests.average / acBase.requests.average, 3)}`);
      }
    }

    const hubProfile = await profileUnderLoad(
      { ...hubJob, warmupMs: 1000, durationMs: profileMs },
      'trivial-hub',
    );
    const baseProfile = await profileUnderLoad(
      { ...bareJob, warmupMs: 1000, durationMs: profileMs },
      'trivial-baseline',
    );
    printProfiles(hubProfile, baseProfile, profileMs / 1000);

    printResult({
      bench: 'trivial-query',
      project: { label: '{ me { keyId } } through the hub', value: hub.rps, unit: 'req/s' },
      baseline: { label: 'bare graphql-js + node:http', value: base.rps, unit: 'req/s' },
      ratio: hub.rps / base.rps,
      aim: '>= 0.3',
      note: hub.errors || base.errors ? `errors: hub ${hub.errors}, baseline ${base.errors}` : undefined,
    });
  } finally {
    if (bare) {
      bare.closeAllConnections();
      await new Promise((resolve) => bare!.close(resolve));
    }
    if (lean) {
      lean.server.closeAllConnections();
      await new Promise((resolve) => lean!.server.close(resolve));
      await lean.stop();
    }
    await env.close();
  }
}

runMain(main);
