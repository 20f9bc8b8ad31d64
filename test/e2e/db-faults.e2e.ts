import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { Client } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Logger } from '../../src/common/logger';
import { createDataSource } from '../../src/db/data-source';
import { Scheduler } from '../../src/jobs/scheduler';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx, sha256Hex } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';
import { startHubProcess, type HubProcess } from '../support/hub-process';

type Reply = {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
};

/** What one request of the load did, and what it wrote when the hub said it had. */
type Outcome =
  | { kind: 'run'; ok: true; runName: string }
  | { kind: 'metrics'; ok: true; runId: string; key: string; points: number }
  | { kind: 'predict'; ok: true; requestKey: string }
  | { kind: 'stats'; ok: true }
  | { kind: string; ok: false; reply: Reply; status: number };

const START_RUN = 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }';
const LOG_METRICS =
  'mutation($r: ID!, $p: [MetricPointInput!]!) { logRunMetrics(runId: $r, points: $p) { accepted } }';
const PREDICT =
  'mutation($e: String!, $x: JSONObject!, $k: String) { predict(endpoint: $e, input: $x, requestKey: $k) { label } }';
const STATS =
  'query($e: String!, $p: String!) { endpoint(name: $e) { name stats(window: 5) { requests p95Ms } } runs(project: $p) { edges { cursor } } }';

const realPostgres = process.env.NERVE_TEST_EMBEDDED !== '1';
if (!realPostgres)
  console.warn('Skipping the database fault suite: embedded PGlite has no backends to terminate.');

/**
 * The hub in its own process (so a crash is an exit, not a failed test worker) under mixed load while
 * its PostgreSQL backends are terminated again and again, as a failover or an administrator would.
 */
(realPostgres ? describe : describe.skip)('database faults under load', () => {
  let arrange: TestHub;
  let hub: HubProcess | undefined;
  let admin: Client;
  let key: string;
  let project: string;
  let endpoint: string;
  const applicationName = unique('nerve-storm');
  let exitCode: number | null | undefined;

  beforeAll(async () => {
    arrange = await startTestHub();
    admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    key = await arrange.key(Role.ADMIN);
    hub = await startHubProcess({
      NERVE_DB_APPLICATION_NAME: applicationName,
      DB_POOL_SIZE: '8',
      NERVE_SECRET_KEY: process.env.NERVE_SECRET_KEY,
    });
    project = unique('storm');
    await ok('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: 'Storm' },
    });
    const model = await ok<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project, name: 'm', task: 'CLASSIFICATION' } },
    );
    // Uploaded to the process under test: the artifact store is its own data directory.
    const onnx = linearClassifierOnnx({ features: 2, classes: 2 });
    const sha = sha256Hex(onnx);
    const put = await fetch(hub.url.replace(/\/graphql$/, `/artifacts/sha256/${sha}?project=${project}`), {
      method: 'PUT',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: onnx,
    });
    expect(put.status).toBe(201);
    await ok('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
      i: { modelId: model.createModel.id, artifactSha256: sha, featureNames: ['x', 'y'] },
    });
    endpoint = unique('storm-ep');
    await ok('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project, name: endpoint, model: 'm', version: 1 },
    });
    hub.child.once('exit', (code) => (exitCode = code));
  }, 60_000);

  afterAll(async () => {
    if (hub && exitCode === undefined) {
      const exited = new Promise((resolve) => hub!.child.once('exit', resolve));
      hub.child.kill('SIGKILL');
      await exited;
    }
    if (hub) fs.rmSync(hub.dataDir, { recursive: true, force: true });
    await admin?.end();
    await arrange?.close();
  });

  const post = async (query: string, variables: Record<string, unknown>): Promise<[number, Reply]> => {
    const res = await fetch(hub!.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return [res.status, (await res.json()) as Reply];
  };

  const ok = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const [, reply] = await post(query, variables);
    if (reply.errors) throw new Error(JSON.stringify(reply.errors));
    return reply.data as T;
  };

  /** Terminates every backend of an application name (the hub process's by default); returns how many. */
  const terminate = async (name = applicationName): Promise<number> => {
    const killed = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [name],
    );
    return killed.rowCount ?? 0;
  };

  it('hears the end of every pooled connection, also one held outside a query runner', async () => {
    const name = unique('nerve-raw');
    const db = createDataSource({ url: process.env.DATABASE_URL!, poolSize: 2, applicationName: name });
    await db.initialize();
    try {
      // Held as TypeORM holds one at boot: pg-pool has dropped its idle listener, no query runner added one.
      const [client, release] = (await (db.driver as PostgresDriver).obtainMasterConnection()) as [
        EventEmitter,
        (error?: Error) => void,
      ];
      const ended = new Promise((resolve) => client.once('end', resolve));
      expect(await terminate(name)).toBeGreaterThan(0);
      await ended;
      release(new Error('its backend was terminated'));
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.destroy();
    }
  });

  it("tells a scheduled job that its lock went with its session, and frees the job's lock", async () => {
    const name = unique('nerve-lock');
    const db = createDataSource({ url: process.env.DATABASE_URL!, poolSize: 3, applicationName: name });
    await db.initialize();
    try {
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      let told: unknown;
      const job = {
        id: unique('job'),
        schedule: '0 0 1 1 *',
        run: async (lost?: AbortSignal): Promise<void> => {
          started();
          // A job that stops at its next step once told, as the rollout driver and monitoring do.
          await new Promise((resolve) => lost?.addEventListener('abort', resolve));
          told = lost?.reason;
        },
      };
      const scheduler = new Scheduler(db, new Logger('silent'), [job]);
      const tick = scheduler.runNow(job.id);
      await running;
      expect(await terminate(name)).toBeGreaterThan(0);
      expect(await tick).toBe(true);
      expect(String(told)).toMatch(/lost with its database session/);
      // The lock died with the session: the next tick takes it.
      let again = false;
      job.run = async () => {
        again = true;
      };
      expect(await scheduler.runNow(job.id)).toBe(true);
      expect(again).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('stays up through repeated termination storms, fails cleanly and loses no acknowledged write', async () => {
    // Open runs to log metrics against, made before the storm.
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [, reply] = await post(START_RUN, { i: { project, name: unique('run'), kind: 'TRAINING' } });
      runIds.push((reply.data!.startRun as { id: string }).id);
    }

    const one = async (i: number): Promise<Outcome> => {
      const kind = ['run', 'metrics', 'predict', 'stats'][i % 4];
      let status: number;
      let reply: Reply;
      if (kind === 'run') {
        const runName = unique('storm-run');
        [status, reply] = await post(START_RUN, { i: { project, name: runName, kind: 'TRAINING' } });
        if (reply.data?.startRun && !reply.errors) return { kind: 'run', ok: true, runName };
      } else if (kind === 'metrics') {
        const runId = runIds[i % runIds.length];
        const metric = unique('m');
        const points = Array.from({ length: 20 }, (_, step) => ({ key: metric, step, value: step / 7 }));
        [status, reply] = await post(LOG_METRICS, { r: runId, p: points });
        if (reply.data?.logRunMetrics && !reply.errors)
          return { kind: 'metrics', ok: true, runId, key: metric, points: points.length };
      } else if (kind === 'predict') {
        const requestKey = unique('storm-req');
        [status, reply] = await post(PREDICT, { e: endpoint, x: { x: i % 13, y: i % 7 }, k: requestKey });
        if (reply.data?.predict && !reply.errors) return { kind: 'predict', ok: true, requestKey };
      } else {
        [status, reply] = await post(STATS, {
          e: endpoint,
          p: project,
        });
        if (reply.data?.endpoint && !reply.errors) return { kind: 'stats', ok: true };
      }
      return { kind, ok: false, reply, status };
    };

    const outcomes: Outcome[] = [];
    let terminations = 0;
    let terminated = 0;
    const ROUNDS = 3;
    const CONCURRENCY = 200;
    for (let round = 0; round < ROUNDS; round++) {
      let done = 0;
      const waiters: Array<{ at: number; wake: () => void }> = [];
      const reached = (at: number): Promise<void> =>
        new Promise((wake) => (done >= at ? wake() : waiters.push({ at, wake })));
      const load = Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) =>
          one(round * CONCURRENCY + i).then((outcome) => {
            outcomes.push(outcome);
            done++;
            for (const w of waiters.filter((w) => done >= w.at)) w.wake();
            return outcome;
          }),
        ),
      );
      // Terminations land while requests are in flight: early, midway and late in each round.
      for (const at of [10, 80, 150]) {
        await reached(at);
        terminated += await terminate();
        terminations++;
      }
      await load;
      expect(exitCode).toBeUndefined();
    }

    // Whatever failed, failed as a lost database does: retryable, saying when, with a request id.
    const failed = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    for (const f of failed) {
      // In a resolver (200, with a path) or while checking the key (503, before any resolver ran).
      expect([200, 503]).toContain(f.status);
      expect(f.reply.errors).toHaveLength(1);
      expect(f.reply.errors![0].message).toBe('the database is unavailable; retry');
      expect(f.reply.errors![0].extensions).toEqual({
        code: 'UNAVAILABLE',
        retryAfterSeconds: 1,
        requestId: expect.any(String),
      });
    }
    const acked = outcomes.filter((o) => o.ok);
    expect(acked.length).toBeGreaterThan(outcomes.length / 4);

    // Serving afterwards: every kind of request succeeds again.
    for (let i = 0; i < 8; i++) {
      const after = await one(10_000 + i);
      if (!after.ok) throw new Error(`after the storm: ${JSON.stringify(after)}`);
      outcomes.push(after);
    }

    // A clean stop writes the prediction log's buffer: only then is every acknowledged prediction due.
    const exited = new Promise<number | null>((resolve) => hub!.child.once('exit', resolve));
    hub!.child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const ok = outcomes.filter((o) => o.ok);
    const runNames = ok.flatMap((o) => (o.kind === 'run' && o.ok ? [o.runName] : []));
    const metrics = ok.flatMap((o) => (o.kind === 'metrics' && o.ok ? [o] : []));
    const requestKeys = ok.flatMap((o) => (o.kind === 'predict' && o.ok ? [o.requestKey] : []));
    const runs = await admin.query('SELECT count(*)::int AS n FROM run WHERE name = ANY($1)', [runNames]);
    expect(runs.rows[0].n).toBe(runNames.length);
    const points = await admin.query('SELECT count(*)::int AS n FROM run_metric WHERE key = ANY($1)', [
      metrics.map((m) => (m.ok && m.kind === 'metrics' ? m.key : '')),
    ]);
    expect(points.rows[0].n).toBe(metrics.length * 20);
    const logged = await admin.query(
      'SELECT count(*)::int AS n FROM prediction_log WHERE request_key = ANY($1)',
      [requestKeys],
    );
    expect(logged.rows[0].n).toBe(requestKeys.length);

    expect(terminated).toBeGreaterThan(0);
    console.log(
      `storm: ${outcomes.length} requests (${failed.length} failed cleanly), ${terminations} terminations ` +
        `(${terminated} backends), acknowledged writes verified: ${runNames.length} runs, ` +
        `${metrics.length} metric batches, ${requestKeys.length} predictions`,
    );
  }, 90_000);
});
