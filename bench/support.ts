/**
 * What the benchmarks share: a hub on loopback against DATABASE_URL or an in-memory embedded PGlite,
 * a keep-alive GraphQL client, timing statistics, and the one-line result that `run-all` tabulates.
 * Not a benchmark itself; it imports from src/ only, never from test/.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig, UNLIMITED_RATE_LIMITS, type Config } from '../src/config/config';
import { Logger } from '../src/common/logger';
import { RequestContext } from '../src/context/context';
import { EmbeddedPostgres } from '../src/db/embedded-postgres';
import { Role } from '../src/modules/api-keys/api-key.entity';
import { startHub, type Hub, type HubOptions } from '../src/server/hub';
import type { LoadJob, LoadResult } from './load-client';

/** The prefix of every row name a bench run creates, so runs sharing a database never collide. */
export const RUN_TAG = `bench-${randomBytes(4).toString('hex')}`;

/** A fresh name within this run. */
export const unique = (prefix: string): string => `${RUN_TAG}-${prefix}-${randomBytes(4).toString('hex')}`;

export interface GqlResponse<T> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export interface BenchHub {
  hub: Hub;
  /** An unscoped admin key for arranging data. */
  adminKey: string;
  /** The database both the hub and the raw baselines talk to. */
  databaseUrl: string;
  /** Where that database lives, for the printout. */
  databaseLabel: string;
  /** Whether the database is PGlite (no COPY FROM STDIN over its wire server). */
  isPglite: boolean;
  /** A raw `pg` connection of the bench's own, outside the hub's pool. */
  raw: Client;
  gql<T>(query: string, variables?: Record<string, unknown>, key?: string): Promise<GqlResponse<T>>;
  /** Deletes this run's projects (rows below cascade) and keys, then stops everything. */
  close(): Promise<void>;
}

/**
 * Starts a hub on 127.0.0.1 (ephemeral port). DATABASE_URL when set, else an in-memory embedded
 * PGlite served over the wire protocol, whose URL is handed to the hub as DATABASE_URL.
 */
export async function startBenchHub(
  overrides: Partial<Config> = {},
  options: HubOptions = {},
): Promise<BenchHub> {
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = process.env.DATABASE_URL || undefined;
  let databaseLabel: string;
  if (databaseUrl) {
    databaseLabel = `DATABASE_URL (${redact(databaseUrl)})`;
  } else {
    embedded = await EmbeddedPostgres.open('memory://');
    databaseUrl = await embedded.listen();
    databaseLabel = 'embedded PGlite (memory://) over its loopback wire server';
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-bench-'));
  const config: Config = {
    ...loadConfig({
      DATABASE_URL: databaseUrl,
      NERVE_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      NERVE_SEED_DEMO: 'false',
    }),
    // The benches measure throughput on one key: a per-key limit would measure the limiter instead.
    rateLimits: UNLIMITED_RATE_LIMITS,
    // The fan-out bench opens 1,000 sockets with one key; the per-key cap would refuse all but the first.
    wsMaxConnectionsPerKey: 1_000_000,
    ...overrides,
  };
  const logger = new Logger(config.logLevel);
  const hub = await startHub(config, { logger, ...options });
  const system = RequestContext.system(logger, 'bench');
  const { secret: adminKey } = await hub.services.apiKeys.create(system, {
    name: unique('admin'),
    role: Role.ADMIN,
  });

  const raw = new Client({ connectionString: databaseUrl, application_name: 'nerve-bench-raw' });
  await raw.connect();
  const version = (
    (await raw.query<{ version: string }>('SELECT version() AS version')).rows[0]?.version ?? ''
  ).trim();
  const isPglite = /pglite/i.test(version);
  databaseLabel += ` — ${version.split(' on ')[0]}`;

  const client = new GqlClient(hub.url);
  return {
    hub,
    adminKey,
    databaseUrl,
    databaseLabel,
    isPglite,
    raw,
    gql: (query, variables, key = adminKey) => client.post(query, variables, key),
    close: async () => {
      client.close();
      try {
        await raw.query(`DELETE FROM project WHERE slug LIKE $1`, [`${RUN_TAG}%`]);
        await raw.query(`DELETE FROM api_key WHERE name LIKE $1`, [`${RUN_TAG}%`]);
      } finally {
        await raw.end();
        await hub.close();
        if (embedded) await embedded.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'unparseable URL';
  }
}

/** A GraphQL-over-HTTP client on one keep-alive socket: the cheapest client node:http offers. */
export class GqlClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly target: URL;

  constructor(url: string) {
    this.target = new URL(url);
  }

  post<T>(query: string, variables?: Record<string, unknown>, key?: string): Promise<GqlResponse<T>> {
    return this.postRaw<T>(JSON.stringify({ query, variables }), key);
  }

  /** POSTs an already serialized body, so a caller can keep serialization out of a timed region. */
  postRaw<T>(body: string | Buffer, key?: string): Promise<GqlResponse<T>> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(key ? { authorization: `Bearer ${key}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<
                GqlResponse<T>,
                'status'
              >;
              resolve({ status: res.statusCode ?? 0, ...parsed });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Whether a GraphQL response failed because the schema lacks a field (not built yet). */
export function missingField(response: GqlResponse<unknown>): string | undefined {
  const error = response.errors?.find((e) =>
    /Cannot query field|Unknown type|Unknown argument/.test(e.message),
  );
  return error?.message;
}

/** Throws with the GraphQL errors unless the response has data and no errors. */
export function expectData<T>(response: GqlResponse<T>, what: string): T {
  if (response.errors?.length || !response.data) {
    throw new Error(
      `${what} failed (HTTP ${response.status}): ${JSON.stringify(response.errors ?? response)}`,
    );
  }
  return response.data;
}

export interface Stats {
  count: number;
  totalMs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export function stats(samplesMs: number[]): Stats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const totalMs = samplesMs.reduce((a, b) => a + b, 0);
  return {
    count: samplesMs.length,
    totalMs,
    meanMs: samplesMs.length ? totalMs / samplesMs.length : 0,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    maxMs: sorted.at(-1) ?? 0,
  };
}

/** Milliseconds that `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export const fmt = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function printStats(label: string, s: Stats): void {
  console.log(
    `  ${label.padEnd(34)} n=${s.count}  mean ${fmt(s.meanMs, 2)} ms  p50 ${fmt(s.p50Ms, 2)} ms  p95 ${fmt(s.p95Ms, 2)} ms  max ${fmt(s.maxMs, 2)} ms`,
  );
}

/** An integer from the environment, for shortening or lengthening a bench without editing it. */
export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

export interface Figure {
  label: string;
  value: number;
  unit: string;
}

export interface BenchResult {
  bench: string;
  /** Null when the project's side could not be measured (say why in `note`). */
  project: Figure | null;
  baseline: Figure;
  /** project / baseline, higher is better for the project; null when the project side is missing. */
  ratio: number | null;
  aim: string;
  note?: string;
}

/** The marker `run-all` looks for on stdout. */
export const RESULT_MARKER = '##bench-result ';

export function printResult(result: BenchResult): void {
  console.log('');
  console.log(
    `RESULT ${result.bench}: project ${result.project ? `${fmt(result.project.value, 1)} ${result.project.unit}` : 'n/a'}` +
      ` | baseline ${fmt(result.baseline.value, 1)} ${result.baseline.unit}` +
      ` | ratio ${result.ratio === null ? 'n/a' : fmt(result.ratio, 3)} (aim ${result.aim})` +
      (result.note ? `\n  note: ${result.note}` : ''),
  );
  console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
}

/** Runs a bench's main, printing a failure and setting the exit code; the process then exits by itself. */
export function runMain(main: () => Promise<void>): void {
  const started = Date.now();
  main()
    .then(() => {
      console.log(`(bench finished in ${fmt((Date.now() - started) / 1000, 1)} s)`);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    })
    .finally(() => {
      // Anything a failed bench left open (a socket, a timer) must not keep the process alive.
      setTimeout(() => process.exit(), 2_000).unref();
    });
}

export function machineLine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  return `machine: ${cpus.length} x ${cpus[0]?.model.trim() ?? 'cpu'}, node ${process.version}, ${os.platform()} ${os.arch()}, load average ${load} (other processes skew absolute figures; ratios are taken within one run)`;
}

/**
 * Uploads `bytes` as a content-addressed artifact of `project` (PUT /artifacts/sha256/<hex>?project=,
 * admin key) and returns the hex digest that registers it there.
 */
export async function uploadArtifact(env: BenchHub, bytes: Buffer, project: string): Promise<string> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const base = env.hub.url.replace(/\/graphql$/, '');
  const response = await fetch(`${base}/artifacts/sha256/${sha256}?project=${encodeURIComponent(project)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${env.adminKey}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (response.status !== 200 && response.status !== 201)
    throw new Error(`artifact upload failed: HTTP ${response.status} ${await response.text()}`);
  return sha256;
}

/**
 * Runs bench/load-client.js in its own process, the job on stdin (bodies too large for an argument);
 * `onStart` and `onStop` fire as its measured phase begins and ends, so server-side probes cover
 * exactly that window.
 */
export async function runLoadClient(
  job: LoadJob,
  onStart: () => void = () => undefined,
  onStop: () => void = () => undefined,
): Promise<LoadResult> {
  const child = spawn(process.execPath, [path.join(__dirname, 'load-client.js'), '-'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.end(JSON.stringify({ ...job, signal: true }));
  const kill = setTimeout(() => child.kill(), job.warmupMs + job.durationMs + 60_000);
  let output = '';
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'measuring') onStart();
      else if (line === 'done') onStop();
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(kill);
  if (code !== 0) throw new Error(`load client exited with ${code}`);
  const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as LoadResult;
  if (result.firstError) console.log(`    first error seen by the client: ${result.firstError}`);
  return result;
}

/** The q-quantile (0 to 1) of `values` by the nearest-rank rule; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** The middle value, or the mean of the two middle ones for an even count; 0 for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (!sorted.length) return 0;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Whether an aim was met, as the printouts say it. */
export const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
