import path from 'node:path';
import type { LogLevel } from '../common/logger';
import type { Role } from '../common/role';

export type { LogLevel };

export type NerveRole = 'all' | 'api' | 'worker';

/** Typed configuration, read from the environment once at boot. */
export interface Config {
  /** Unset: the embedded PGlite database under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  role: NerveRole;
  redisUrl: string | undefined;
  secretKey: string | undefined;
  inferenceProviders: string[];
  /** Worker threads running ONNX sessions (each loads every model it runs). */
  inferenceWorkers: number;
  /** onnxruntime intra-op threads per session. */
  inferenceThreads: number;
  /** Most rows one `predictBatch` may carry. */
  maxPredictBatch: number;
  /** Most milliseconds a prediction row waits in the log buffer before a write starts. */
  predictionLogFlushMs: number;
  logLevel: LogLevel;
  dbPoolSize: number;
  /** `application_name` of the database connections, so an operator can tell this process's sessions apart. */
  dbApplicationName: string;
  maxArtifactBytes: number;
  maxRequestBytes: number;
  /** How long an automation run's claim holds it: a runner that died leaves its runs to others after this. */
  automationLeaseMs: number;
  /**
   * How long an idempotency claim around a vendor call is honoured before another caller may take it
   * over (the claim of a process that died mid-call): longer than a vendor call with its retries.
   */
  claimLeaseMs: number;
  /** Largest webhook body accepted (vendors' events are kilobytes); more is 413. */
  maxWebhookBytes: number;
  /**
   * The hub's address as vendors call it (scheme, host, optional path prefix), e.g. https://nerve.example.com:
   * HubSpot signs the URL it called. Default: the request's Host header over http.
   */
  publicUrl: string | undefined;
  /**
   * Most lexical tokens in one GraphQL document, enforced while parsing (HTTP and WebSocket): a huge
   * document is refused after this many tokens instead of being parsed and validated whole.
   */
  maxQueryTokens: number;
  /** Browser origins allowed to call the API cross-origin (exact `scheme://host[:port]`); none by default. */
  corsOrigins: string[];
  /** Most open WebSocket connections of one API key, per process. */
  wsMaxConnectionsPerKey: number;
  /** A WebSocket with no operation running for this long is closed (milliseconds). */
  wsIdleTimeoutMs: number;
  limits: QueryLimits;
  /** Requests per minute per API key, by the key's role; 0 is unlimited. Counted per process. */
  rateLimits: RateLimits;
  /** Record SLA windows from served predictions (`NERVE_MONITORING=false` turns it off, e.g. to measure its cost). */
  monitoringEnabled: boolean;
  /** How often each replica reads the outbox for events other replicas committed (ms). */
  outboxPollMs: number;
  /** Days domain events stay in the outbox (the retention job deletes older ones). */
  outboxRetentionDays: number;
  /**
   * Fault injection for tests: the process kills itself (SIGKILL) right after its Nth commit that wrote
   * domain events, before it publishes them, to prove that a crash between commit and publish loses no
   * event. 0: off.
   */
  killAfterCommits: number;
  /** Run scheduled jobs (SLA flushes; on the worker role, evaluations and drift checks). */
  schedulerEnabled: boolean;
  /** Seed a demo project on the first start of an empty database. */
  seedDemo: boolean;
}

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

/** Requests per minute allowed to one API key of each role (0: unlimited). */
export type RateLimits = Readonly<Record<Role, number>>;

/**
 * Default per-key limits, per process. A hub process answers a few thousand trivial operations and
 * about 2,000 predictions a second (see the README's benchmarks), so one key at these rates takes a
 * percent or less of it: dozens of keys must run away together before the hub starves.
 * - Machine callers get 1200/min (20/s sustained, bursts of 1200): BOT (RPA robots and business
 *   systems calling `predict`, `recordKpiPoints`), and DATA_SCIENTIST and ML_ENGINEER, whose keys
 *   drive pipelines logging runs and metrics. A caller with more rows batches them (`predictBatch`,
 *   `logRunMetrics` and `recordKpiPoints` count once) or gets a higher limit in NERVE_RATE_LIMITS.
 * - People and their dashboards (VIEWER, ANALYST, APPROVER, AUDITOR) get 600/min: a page firing
 *   dozens of queries at once fits in the burst, and ten queries refreshed every second stay within it.
 * - ADMIN is unlimited: the operator's key must still work mid-incident, to revoke the runaway key.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  BOT: 1200,
  DATA_SCIENTIST: 1200,
  ML_ENGINEER: 1200,
  VIEWER: 600,
  ANALYST: 600,
  APPROVER: 600,
  AUDITOR: 600,
  ADMIN: 0,
};

/** No limit for any role: for benchmarks that measure the hub flat out with one key. */
export const UNLIMITED_RATE_LIMITS: RateLimits = Object.fromEntries(
  Object.keys(DEFAULT_RATE_LIMITS).map((role) => [role, 0]),
) as Record<Role, number>;

/** The most requests per minute a role may be given: beyond it, a limit means nothing on one process. */
const MAX_RATE_LIMIT = 1_000_000;

/**
 * `NERVE_RATE_LIMITS`, e.g. `BOT=600,VIEWER=300,ADMIN=0`: the roles named override the defaults.
 * Every bad entry is reported, with the default kept for its role.
 */
function rateLimits(env: Env, problems: string[]): RateLimits {
  const name = 'NERVE_RATE_LIMITS';
  const limits: Record<string, number> = { ...DEFAULT_RATE_LIMITS };
  const raw = env[name];
  if (!raw) return limits as RateLimits;
  const roles = Object.keys(DEFAULT_RATE_LIMITS);
  const seen = new Set<string>();
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const match = /^([A-Za-z_]+)\s*=\s*(\S+)$/.exec(entry);
    if (!match) {
      problems.push(`${name}: "${entry}" is not ROLE=requests-per-minute`);
      continue;
    }
    const [, role, value] = match;
    if (!roles.includes(role)) {
      problems.push(`${name}: unknown role "${role}" (${roles.join(', ')})`);
      continue;
    }
    if (seen.has(role)) {
      problems.push(`${name}: ${role} is given twice`);
      continue;
    }
    seen.add(role);
    const limit = Number(value);
    if (!/^\d+$/.test(value) || limit > MAX_RATE_LIMIT) {
      problems.push(
        `${name}: ${role} must be an integer between 0 (unlimited) and ${MAX_RATE_LIMIT}, got "${value}"`,
      );
      continue;
    }
    limits[role] = limit;
  }
  return limits as RateLimits;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
    return fallback;
  }
  return value;
}

function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
  problems: string[],
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return fallback;
  }
  return raw as T;
}

/**
 * `NERVE_CORS_ORIGINS`: comma-separated exact origins. `*` is refused: a wildcard would let any page
 * drive the API with a key it got hold of, and no origin is ever inferred.
 */
function corsOrigins(env: Env, problems: string[]): string[] {
  const name = 'NERVE_CORS_ORIGINS';
  const origins: string[] = [];
  for (const entry of (env[name] ?? '').split(',').map((e) => e.trim())) {
    if (!entry) continue;
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      if (/^https?:$/.test(url.protocol) && url.origin === entry.replace(/\/$/, '')) origin = url.origin;
    } catch {
      // reported below
    }
    if (origin) origins.push(origin);
    else
      problems.push(
        `${name}: "${entry}" is not an origin like https://app.example.com (no "*", path or query)`,
      );
  }
  return origins;
}

/** Validates the environment and reports every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl))
    problems.push('REDIS_URL must start with redis:// or rediss://');
  const providers = (env.INFERENCE_PROVIDERS || 'cpu').split(',').map((p) => p.trim().toLowerCase());
  for (const p of providers) {
    if (!['cpu', 'cuda'].includes(p))
      problems.push(`INFERENCE_PROVIDERS: unknown provider "${p}" (cpu, cuda)`);
  }
  const secretKey = env.NERVE_SECRET_KEY || undefined;
  if (secretKey && Buffer.from(secretKey, 'base64').length !== 32) {
    problems.push('NERVE_SECRET_KEY must be 32 bytes, base64-encoded');
  }
  const config: Config = {
    databaseUrl,
    dataDir: path.resolve(env.NERVE_DATA_DIR || '.nerve'),
    port: int(env, 'PORT', 4000, 0, 65535, problems),
    host: env.HOST || '0.0.0.0',
    role: oneOf(env, 'NERVE_ROLE', ['all', 'api', 'worker'] as const, 'all', problems),
    redisUrl,
    secretKey,
    inferenceProviders: providers,
    inferenceWorkers: int(env, 'INFERENCE_WORKERS', 1, 1, 64, problems),
    inferenceThreads: int(env, 'INFERENCE_THREADS', 1, 1, 64, problems),
    maxPredictBatch: int(env, 'NERVE_MAX_PREDICT_BATCH', 1_000, 1, 100_000, problems),
    predictionLogFlushMs: int(env, 'NERVE_PREDICTION_LOG_FLUSH_MS', 100, 1, 60_000, problems),
    logLevel: oneOf(
      env,
      'LOG_LEVEL',
      ['debug', 'info', 'warn', 'error', 'silent'] as const,
      'info',
      problems,
    ),
    dbPoolSize: int(env, 'DB_POOL_SIZE', 10, 1, 200, problems),
    dbApplicationName: env.NERVE_DB_APPLICATION_NAME || 'nerve',
    maxArtifactBytes: int(
      env,
      'NERVE_MAX_ARTIFACT_BYTES',
      1024 * 1024 * 1024,
      1,
      Number.MAX_SAFE_INTEGER,
      problems,
    ),
    // The largest legitimate bodies, recordKpiPoints of 10,000 points and predictBatch of 1,000 rows of
    // ticket text, are 2 to 3 MiB of JSON; more goes through the artifact store.
    maxRequestBytes: int(env, 'NERVE_MAX_REQUEST_BYTES', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024, problems),
    automationLeaseMs: int(env, 'NERVE_AUTOMATION_LEASE_SECONDS', 30, 1, 3_600, problems) * 1000,
    claimLeaseMs: int(env, 'NERVE_CLAIM_LEASE_SECONDS', 600, 1, 86_400, problems) * 1000,
    maxWebhookBytes: int(env, 'NERVE_MAX_WEBHOOK_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024, problems),
    publicUrl: publicUrl(env, problems),
    // Shipped operations are under 700 tokens and the introspection query under 200.
    maxQueryTokens: int(env, 'NERVE_MAX_QUERY_TOKENS', 10_000, 100, 1_000_000, problems),
    corsOrigins: corsOrigins(env, problems),
    // Per key: a team's dashboards sharing one key fit; one leaked key cannot hold the process's sockets.
    wsMaxConnectionsPerKey: int(env, 'NERVE_WS_MAX_CONNECTIONS_PER_KEY', 100, 1, 1_000_000, problems),
    wsIdleTimeoutMs: int(env, 'NERVE_WS_IDLE_TIMEOUT', 300, 1, 86_400, problems) * 1000,
    limits: {
      maxDepth: int(env, 'NERVE_MAX_QUERY_DEPTH', 12, 2, 100, problems),
      maxAliases: int(env, 'NERVE_MAX_QUERY_ALIASES', 30, 1, 1000, problems),
      maxCost: int(env, 'NERVE_MAX_QUERY_COST', 200_000, 10, 10_000_000, problems),
    },
    rateLimits: rateLimits(env, problems),
    seedDemo: env.NERVE_SEED_DEMO !== 'false',
    schedulerEnabled: env.NERVE_SCHEDULER !== 'false',
    monitoringEnabled: env.NERVE_MONITORING !== 'false',
    outboxPollMs: int(env, 'NERVE_OUTBOX_POLL_MS', 200, 10, 60_000, problems),
    outboxRetentionDays: int(env, 'NERVE_OUTBOX_RETENTION_DAYS', 30, 1, 3650, problems),
    killAfterCommits: int(env, 'NERVE_FAULT_KILL_AFTER_COMMITS', 0, 0, 1_000_000, problems),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** NERVE_PUBLIC_URL: an http(s) URL without credentials, query or fragment; kept without a trailing slash. */
function publicUrl(env: NodeJS.ProcessEnv, problems: string[]): string | undefined {
  const value = env.NERVE_PUBLIC_URL;
  if (!value) return undefined;
  try {
    const url = new URL(value);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.search && !url.hash)
      return url.toString().replace(/\/+$/, '');
  } catch {
    // Reported below.
  }
  problems.push('NERVE_PUBLIC_URL must be an http(s) URL without credentials, query or fragment');
  return undefined;
}
