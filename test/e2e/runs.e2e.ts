import { Role } from '../../src/modules/api-keys/api-key.entity';
import { startTestHub, unique, type TestHub } from '../harness';

interface RunView {
  id: string;
  projectId: string;
  name: string;
  kind: string;
  status: string;
  params: Record<string, unknown>;
  tags: Record<string, string>;
  externalRef: string | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

const RUN_FIELDS = 'id projectId name kind status params tags externalRef error startedAt finishedAt';
const START = `mutation StartRun($input: StartRunInput!) { startRun(input: $input) { ${RUN_FIELDS} } }`;
const FINISH = `mutation FinishRun($id: ID!, $status: RunStatus!, $error: String) {
  finishRun(id: $id, status: $status, error: $error) { ${RUN_FIELDS} }
}`;
const LOG = `mutation LogRunMetrics($runId: ID!, $points: [MetricPointInput!]!, $idempotencyKey: String) {
  logRunMetrics(runId: $runId, points: $points, idempotencyKey: $idempotencyKey) { runId accepted }
}`;
const METRICS = `query RunMetrics($id: ID!, $key: String, $first: Int, $after: String) {
  run(id: $id) {
    metricKeys
    metrics(key: $key, first: $first, after: $after) {
      edges { cursor node { key step value timestamp } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const RUNS = `query Runs($project: String!, $status: RunStatus, $kind: RunKind, $first: Int, $after: String) {
  runs(project: $project, status: $status, kind: $kind, first: $first, after: $after) {
    edges { node { id name status kind } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const LINEAGE = `query Lineage($id: ID!) {
  lineage(modelVersionId: $id) { nodes { id kind label } edges { from to relation } }
}`;

interface MetricNode {
  key: string;
  step: number;
  value: number;
  timestamp: string;
}
interface MetricsPage {
  run: {
    metricKeys: string[];
    metrics: {
      edges: Array<{ cursor: string; node: MetricNode }>;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
}

describe('runs', () => {
  let hub: TestHub;
  let statements = 0;
  let projectA: { id: string; slug: string };
  let projectB: { id: string; slug: string };

  beforeAll(async () => {
    hub = await startTestHub({}, { onQuery: () => void statements++ });
    projectA = await createProject();
    projectB = await createProject();
  });
  afterAll(() => hub.close());

  async function createProject(): Promise<{ id: string; slug: string }> {
    const slug = unique('runs');
    const res = await hub.gql<{ createProject: { id: string; slug: string } }>(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
      { i: { slug, name: slug } },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createProject;
  }

  async function startRun(input: Record<string, unknown>, key?: string): Promise<RunView> {
    const res = await hub.gql<{ startRun: RunView }>(
      START,
      { input: { project: projectA.slug, name: unique('run'), kind: 'TRAINING', ...input } },
      key,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.startRun;
  }

  /** A dataset with one version, written directly: the datasets module is not needed to test runs. */
  async function datasetVersion(projectId: string): Promise<{ id: string; label: string }> {
    const name = unique('ds');
    const [dataset] = await hub.db.query(
      'INSERT INTO dataset (project_id, name) VALUES ($1, $2) RETURNING id',
      [projectId, name],
    );
    const [version] = await hub.db.query(
      `INSERT INTO dataset_version (dataset_id, project_id, version, sha256, row_count, columns, profile)
       VALUES ($1, $2, 1, $3, 10, '[]', '{}') RETURNING id`,
      [dataset.id, projectId, 'a'.repeat(64)],
    );
    return { id: version.id as string, label: `${name} v1` };
  }

  /** A model version written directly, with its lineage columns. */
  async function modelVersion(
    projectId: string,
    runId: string | null,
    datasetVersionId: string | null,
  ): Promise<{ id: string; label: string }> {
    const name = unique('model');
    const [model] = await hub.db.query(
      `INSERT INTO model (project_id, name, task) VALUES ($1, $2, 'CLASSIFICATION') RETURNING id`,
      [projectId, name],
    );
    const [version] = await hub.db.query(
      `INSERT INTO model_version (model_id, project_id, version, artifact_sha256, artifact_size, signature, run_id, dataset_version_id)
       VALUES ($1, $2, 3, $3, 100, '{}', $4, $5) RETURNING id`,
      [model.id, projectId, 'b'.repeat(64), runId, datasetVersionId],
    );
    return { id: version.id as string, label: `${name} v3` };
  }

  const metricRows = async (runId: string): Promise<number> =>
    Number((await hub.db.query('SELECT count(*)::int AS n FROM run_metric WHERE run_id = $1', [runId]))[0].n);

  describe('startRun', () => {
    it('starts a RUNNING run with params, tags and inputs, or a QUEUED one', async () => {
      const dv = await datasetVersion(projectA.id);
      const before = Date.now();
      const run = await startRun({
        params: { lr: 0.01, layers: [64, 32] },
        tags: { team: 'risk' },
        inputs: [dv.id],
      });
      expect(run).toMatchObject({
        projectId: projectA.id,
        kind: 'TRAINING',
        status: 'RUNNING',
        params: { lr: 0.01, layers: [64, 32] },
        tags: { team: 'risk' },
        finishedAt: null,
      });
      expect(Date.parse(run.startedAt!)).toBeGreaterThanOrEqual(before - 1000);
      const inputs = await hub.gql<{ run: { inputs: Array<{ id: string }>; outputs: unknown[] } }>(
        'query($id: ID!) { run(id: $id) { inputs { id } outputs { id } } }',
        { id: run.id },
      );
      expect(inputs.data?.run).toEqual({ inputs: [{ id: dv.id }], outputs: [] });

      const queued = await startRun({ queued: true, kind: 'EVALUATION', project: projectA.id });
      expect(queued).toMatchObject({
        status: 'QUEUED',
        kind: 'EVALUATION',
        startedAt: null,
        params: {},
        tags: {},
      });
    });

    it('returns the existing run for a known externalRef instead of creating another', async () => {
      const ref = unique('airflow');
      const first = await startRun({ externalRef: ref, name: 'nightly' });
      const again = await startRun({ externalRef: ref, name: 'nightly (retry)' });
      expect(again.id).toBe(first.id);
      expect(again.name).toBe('nightly');
      const [{ n }] = await hub.db.query('SELECT count(*)::int AS n FROM run WHERE external_ref = $1', [ref]);
      expect(n).toBe(1);
      // The same orchestrator id in another project is another run.
      const elsewhere = await startRun({ externalRef: ref, project: projectB.slug });
      expect(elsewhere.id).not.toBe(first.id);
      // Concurrent starts with one externalRef still make one run.
      const ref2 = unique('argo');
      const racing = await Promise.all([1, 2, 3, 4].map(() => startRun({ externalRef: ref2 })));
      expect(new Set(racing.map((r) => r.id)).size).toBe(1);
    });

    it('rejects bad input, naming the field, and writes nothing', async () => {
      const mine = await datasetVersion(projectA.id);
      const theirs = await datasetVersion(projectB.id);
      const name = unique('rejected');
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ inputs: [mine.id, theirs.id] }, 'inputs.1'],
        [{ inputs: [mine.id, '00000000-0000-4000-8000-000000000000'] }, 'inputs.1'],
        [{ inputs: ['not-an-id'] }, 'inputs.0'],
        [{ tags: { team: 3 } }, 'tags.team'],
        [{ name: '  ' }, 'name'],
      ];
      for (const [input, field] of cases) {
        const res = await hub.gql(START, {
          input: { project: projectA.slug, name, kind: 'TRAINING', ...input },
        });
        expect({ field, ext: res.errors?.[0].extensions }).toEqual({
          field,
          ext: { code: 'BAD_USER_INPUT', field },
        });
      }
      const [{ n }] = await hub.db.query('SELECT count(*)::int AS n FROM run WHERE name = $1', [name]);
      expect(n).toBe(0);
      const unknown = await hub.gql(START, { input: { project: unique('nope'), name, kind: 'TRAINING' } });
      expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    });

    it('needs a key that may create runs', async () => {
      const viewer = await hub.key(Role.VIEWER);
      const res = await hub.gql(
        START,
        { input: { project: projectA.slug, name: 'x', kind: 'TRAINING' } },
        viewer,
      );
      expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      const bot = await hub.key(Role.BOT, [projectA.id]);
      expect((await startRun({}, bot)).status).toBe('RUNNING');
    });
  });

  describe('finishRun', () => {
    it('follows the allowed transitions and keeps terminal states', async () => {
      const queued = await startRun({ queued: true });
      const tooEarly = await hub.gql(FINISH, { id: queued.id, status: 'SUCCEEDED' });
      expect(tooEarly.errors?.[0].extensions).toEqual({ code: 'CONFLICT', field: 'status' });
      const running = (await hub.gql<{ finishRun: RunView }>(FINISH, { id: queued.id, status: 'RUNNING' }))
        .data!.finishRun;
      expect(running).toMatchObject({ status: 'RUNNING', finishedAt: null });
      expect(running.startedAt).not.toBeNull();
      const done = (await hub.gql<{ finishRun: RunView }>(FINISH, { id: queued.id, status: 'SUCCEEDED' }))
        .data!.finishRun;
      expect(done.status).toBe('SUCCEEDED');
      expect(done.finishedAt).not.toBeNull();
      for (const status of ['FAILED', 'RUNNING', 'CANCELLED', 'SUCCEEDED']) {
        const res = await hub.gql(FINISH, { id: queued.id, status });
        expect(res.errors?.[0].extensions).toEqual({ code: 'CONFLICT', field: 'status' });
      }
      const [row] = await hub.db.query('SELECT status FROM run WHERE id = $1', [queued.id]);
      expect(row.status).toBe('SUCCEEDED');
    });

    it('records why a run failed, and cancels a queued run', async () => {
      const run = await startRun({});
      const failed = await hub.gql<{ finishRun: RunView }>(FINISH, {
        id: run.id,
        status: 'FAILED',
        error: 'CUDA out of memory',
      });
      expect(failed.data?.finishRun).toMatchObject({ status: 'FAILED', error: 'CUDA out of memory' });
      const other = await startRun({});
      const bad = await hub.gql(FINISH, { id: other.id, status: 'SUCCEEDED', error: 'nope' });
      expect(bad.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'error' });
      const queued = await startRun({ queued: true });
      const cancelled = await hub.gql<{ finishRun: RunView }>(FINISH, { id: queued.id, status: 'CANCELLED' });
      expect(cancelled.data?.finishRun).toMatchObject({ status: 'CANCELLED', startedAt: null });
      expect(cancelled.data?.finishRun.finishedAt).not.toBeNull();
      const missing = await hub.gql(FINISH, { id: '00000000-0000-4000-8000-000000000000', status: 'FAILED' });
      expect(missing.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    });
  });

  describe('logRunMetrics', () => {
    it('writes 10,000 points in one call and rejects 10,001', async () => {
      const run = await startRun({});
      const points = Array.from({ length: 10_000 }, (_, i) => ({
        key: i % 2 ? 'loss' : 'train/acc',
        step: i,
        value: i / 7,
      }));
      const ok = await hub.gql<{ logRunMetrics: { runId: string; accepted: number } }>(LOG, {
        runId: run.id,
        points,
      });
      expect(ok.errors).toBeUndefined();
      expect(ok.data?.logRunMetrics).toEqual({ runId: run.id, accepted: 10_000 });
      expect(await metricRows(run.id)).toBe(10_000);
      const tooMany = await hub.gql(LOG, { runId: run.id, points: [...points, { key: 'loss', value: 1 }] });
      expect(tooMany.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'points' });
      const none = await hub.gql(LOG, { runId: run.id, points: [] });
      expect(none.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'points' });
      expect(await metricRows(run.id)).toBe(10_000);
    });

    it('inserts nothing when one point in the middle is bad', async () => {
      const run = await startRun({});
      const points: Array<Record<string, unknown>> = Array.from({ length: 1_000 }, (_, i) => ({
        key: 'loss',
        step: i,
        value: 1,
      }));
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ key: 'bad key', value: 1 }, 'points.500.key'],
        [{ key: 'k'.repeat(201), value: 1 }, 'points.500.key'],
        [{ key: 'loss', step: -1, value: 1 }, 'points.500.step'],
      ];
      for (const [bad, field] of cases) {
        const res = await hub.gql(LOG, {
          runId: run.id,
          points: points.map((p, i) => (i === 500 ? bad : p)),
        });
        expect({ field, ext: res.errors?.[0].extensions }).toEqual({
          field,
          ext: { code: 'BAD_USER_INPUT', field },
        });
      }
      expect(await metricRows(run.id)).toBe(0);
    });

    it('keeps given timestamps and stamps the others with the time of the call', async () => {
      const run = await startRun({});
      const before = Date.now();
      await hub.gql(LOG, {
        runId: run.id,
        points: [
          { key: 'a', value: 1, timestamp: '2025-05-05T05:05:05.123Z' },
          { key: 'b', value: 2.5 },
        ],
      });
      const page = (await hub.gql<MetricsPage>(METRICS, { id: run.id })).data!.run;
      expect(page.metricKeys).toEqual(['a', 'b']);
      const [a, b] = page.metrics.edges.map((e) => e.node);
      expect(a).toEqual({ key: 'a', step: 0, value: 1, timestamp: '2025-05-05T05:05:05.123Z' });
      expect(b).toMatchObject({ key: 'b', step: 0, value: 2.5 });
      expect(Date.parse(b.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    });

    it('answers a retry with the same idempotency key with the first result, writing nothing twice', async () => {
      const run = await startRun({});
      const key = unique('idem');
      const points = Array.from({ length: 50 }, (_, i) => ({ key: 'loss', step: i, value: 1 / (i + 1) }));
      const first = await hub.gql<{ logRunMetrics: unknown }>(LOG, {
        runId: run.id,
        points,
        idempotencyKey: key,
      });
      expect(first.data?.logRunMetrics).toEqual({ runId: run.id, accepted: 50 });
      const retry = await hub.gql<{ logRunMetrics: unknown }>(LOG, {
        runId: run.id,
        points,
        idempotencyKey: key,
      });
      expect(retry.errors).toBeUndefined();
      expect(retry.data?.logRunMetrics).toEqual(first.data?.logRunMetrics);
      expect(await metricRows(run.id)).toBe(50);
      const concurrent = unique('idem');
      const racing = await Promise.all(
        [1, 2, 3].map(() => hub.gql(LOG, { runId: run.id, points, idempotencyKey: concurrent })),
      );
      expect(racing.map((r) => r.errors)).toEqual([undefined, undefined, undefined]);
      expect(await metricRows(run.id)).toBe(100);
      const conflicting = await hub.gql(LOG, { runId: run.id, points: points.slice(1), idempotencyKey: key });
      expect(conflicting.errors?.[0].extensions).toEqual({ code: 'CONFLICT', field: 'idempotencyKey' });
      expect(await metricRows(run.id)).toBe(100);
      // Without a key, each call writes.
      await hub.gql(LOG, { runId: run.id, points });
      await hub.gql(LOG, { runId: run.id, points });
      expect(await metricRows(run.id)).toBe(200);
    });

    it('takes metrics only while a run is QUEUED or RUNNING', async () => {
      const queued = await startRun({ queued: true });
      expect(
        (await hub.gql(LOG, { runId: queued.id, points: [{ key: 'x', value: 1 }] })).errors,
      ).toBeUndefined();
      await hub.gql(FINISH, { id: queued.id, status: 'CANCELLED' });
      const late = await hub.gql(LOG, { runId: queued.id, points: [{ key: 'x', value: 2 }] });
      expect(late.errors?.[0].extensions?.code).toBe('CONFLICT');
      expect(await metricRows(queued.id)).toBe(1);
    });

    it('pages through metrics by key and step with no duplicates or gaps', async () => {
      const run = await startRun({});
      const keys = ['val/loss', 'acc', 'loss'];
      const points = keys.flatMap((key) =>
        Array.from({ length: 87 }, (_, step) => ({ key, step: 86 - step, value: step })),
      );
      // Two points at one key and step: the id keeps them apart.
      points.push({ key: 'acc', step: 5, value: -1 });
      await hub.gql(LOG, { runId: run.id, points });
      const seen: MetricNode[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const res: { data?: MetricsPage; errors?: unknown } = await hub.gql<MetricsPage>(METRICS, {
          id: run.id,
          first: 50,
          after,
        });
        expect(res.errors).toBeUndefined();
        const { edges, pageInfo } = res.data!.run.metrics;
        seen.push(...edges.map((e) => e.node));
        pages++;
        if (!pageInfo.hasNextPage) break;
        after = pageInfo.endCursor;
      }
      expect(pages).toBe(6);
      expect(seen).toHaveLength(points.length);
      const order = seen.map((m) => `${m.key}@${m.step}`);
      const expected = [...points]
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.step - b.step))
        .map((m) => `${m.key}@${m.step}`);
      expect(order).toEqual(expected);
      expect(
        seen
          .filter((m) => m.key === 'acc' && m.step === 5)
          .map((m) => m.value)
          .sort(),
      ).toEqual([-1, 81]);

      const onlyLoss = (await hub.gql<MetricsPage>(METRICS, { id: run.id, key: 'loss', first: 100 })).data!
        .run;
      expect(onlyLoss.metricKeys).toEqual(['acc', 'loss', 'val/loss']);
      expect(onlyLoss.metrics.edges.map((e) => e.node.step)).toEqual(Array.from({ length: 87 }, (_, i) => i));
      const badCursor = await hub.gql(METRICS, { id: run.id, after: 'garbage' });
      expect(badCursor.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    });
  });

  describe('runs and run', () => {
    it("lists a project's runs newest first, filtered by status and kind", async () => {
      const project = await createProject();
      const made: RunView[] = [];
      for (const [kind, queued] of [
        ['TRAINING', false],
        ['EVALUATION', false],
        ['TRAINING', true],
        ['TRAINING', false],
      ] as const) {
        made.push(await startRun({ project: project.slug, kind, queued }));
        // createdAt has millisecond precision: keep the order unambiguous.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      type Page = {
        runs: {
          edges: Array<{ node: { id: string } }>;
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      };
      const ids = async (vars: Record<string, unknown>): Promise<string[]> => {
        const res = await hub.gql<Page>(RUNS, { project: project.slug, ...vars });
        expect(res.errors).toBeUndefined();
        return res.data!.runs.edges.map((e) => e.node.id);
      };
      expect(await ids({})).toEqual(made.map((r) => r.id).reverse());
      expect(await ids({ status: 'QUEUED' })).toEqual([made[2].id]);
      expect(await ids({ kind: 'TRAINING', status: 'RUNNING' })).toEqual([made[3].id, made[0].id]);
      const first = await hub.gql<Page>(RUNS, { project: project.id, first: 3 });
      expect(first.data?.runs.pageInfo.hasNextPage).toBe(true);
      expect(await ids({ first: 3, after: first.data!.runs.pageInfo.endCursor })).toEqual([made[0].id]);
    });

    it('batches inputs, outputs and metric keys across many runs', async () => {
      const project = await createProject();
      const dv = await datasetVersion(project.id);
      for (let i = 0; i < 5; i++) {
        const run = await startRun({ project: project.slug, inputs: [dv.id] });
        await modelVersion(project.id, run.id, dv.id);
        await hub.gql(LOG, { runId: run.id, points: [{ key: 'loss', value: i }] });
      }
      const query =
        'query($p: String!) { runs(project: $p) { edges { node { id inputs { id } outputs { id runId } metricKeys } } } }';
      statements = 0;
      const res = await hub.gql<{
        runs: {
          edges: Array<{
            node: { inputs: Array<{ id: string }>; outputs: Array<{ runId: string }>; metricKeys: string[] };
          }>;
        };
      }>(query, { p: project.slug });
      const used = statements;
      expect(res.errors).toBeUndefined();
      const nodes = res.data!.runs.edges.map((e) => e.node);
      expect(nodes).toHaveLength(5);
      for (const node of nodes) {
        expect(node.inputs).toEqual([{ id: dv.id }]);
        expect(node.outputs).toHaveLength(1);
        expect(node.metricKeys).toEqual(['loss']);
      }
      // project, runs page, inputs, outputs, metric keys (and perhaps the key lookup): not one per run.
      expect(used).toBeLessThanOrEqual(7);
    });
  });

  describe('scope', () => {
    it("keeps a key scoped to one project away from another project's runs", async () => {
      const runB = await startRun({ project: projectB.slug });
      await hub.gql(LOG, { runId: runB.id, points: [{ key: 'loss', value: 1 }] });
      const scopedA = await hub.key(Role.DATA_SCIENTIST, [projectA.id]);
      const notFound = async (query: string, variables: Record<string, unknown>): Promise<void> => {
        const res = await hub.gql(query, variables, scopedA);
        expect({ query: query.slice(0, 30), code: res.errors?.[0].extensions?.code }).toEqual({
          query: query.slice(0, 30),
          code: 'NOT_FOUND',
        });
      };
      await notFound('query($id: ID!) { run(id: $id) { id } }', { id: runB.id });
      await notFound(RUNS, { project: projectB.slug });
      await notFound(FINISH, { id: runB.id, status: 'FAILED' });
      await notFound(LOG, { runId: runB.id, points: [{ key: 'loss', value: 2 }] });
      await notFound(LOG, {
        runId: runB.id,
        points: [{ key: 'loss', value: 2 }],
        idempotencyKey: unique('k'),
      });
      await notFound(START, { input: { project: projectB.slug, name: 'sneaky', kind: 'TRAINING' } });
      const [row] = await hub.db.query(
        'SELECT status, (SELECT count(*)::int FROM run_metric WHERE run_id = $1) AS n FROM run WHERE id = $1',
        [runB.id],
      );
      expect(row).toEqual({ status: 'RUNNING', n: 1 });
      const [{ n }] = await hub.db.query(
        `SELECT count(*)::int AS n FROM run WHERE project_id = $1 AND name = 'sneaky'`,
        [projectB.id],
      );
      expect(n).toBe(0);

      // In its own project the key works, and its list shows only that project's runs.
      const own = await startRun({}, scopedA);
      expect(
        (await hub.gql(LOG, { runId: own.id, points: [{ key: 'x', value: 1 }] }, scopedA)).errors,
      ).toBeUndefined();
      const listed = await hub.gql<{ runs: { edges: Array<{ node: { id: string } }> } }>(
        RUNS,
        { project: projectA.slug, first: 100 },
        scopedA,
      );
      expect(listed.data?.runs.edges.map((e) => e.node.id)).toContain(own.id);

      // A viewer reads but cannot write.
      const viewer = await hub.key(Role.VIEWER, [projectA.id]);
      expect(
        (await hub.gql('query($id: ID!) { run(id: $id) { id } }', { id: own.id }, viewer)).errors,
      ).toBeUndefined();
      const denied = await hub.gql(LOG, { runId: own.id, points: [{ key: 'x', value: 1 }] }, viewer);
      expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      const deniedFinish = await hub.gql(FINISH, { id: own.id, status: 'FAILED' }, viewer);
      expect(deniedFinish.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    });

    it('rejects anonymous callers', async () => {
      const run = await startRun({});
      for (const [query, variables] of [
        [START, { input: { project: projectA.slug, name: 'x', kind: 'TRAINING' } }],
        [LOG, { runId: run.id, points: [{ key: 'x', value: 1 }] }],
        [FINISH, { id: run.id, status: 'FAILED' }],
        [METRICS, { id: run.id }],
        [RUNS, { project: projectA.slug }],
        [LINEAGE, { id: run.id }],
      ] as const) {
        const res = await hub.gql(query, variables, null);
        expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      }
    });
  });

  describe('lineage', () => {
    it('walks upstream from a model version to its run and the dataset versions behind both', async () => {
      const consumed = await datasetVersion(projectA.id);
      const trainedOn = await datasetVersion(projectA.id);
      const run = await startRun({ name: 'train-churn', inputs: [consumed.id, trainedOn.id] });
      await hub.gql(FINISH, { id: run.id, status: 'SUCCEEDED' });
      const version = await modelVersion(projectA.id, run.id, trainedOn.id);

      statements = 0;
      const res = await hub.gql<{
        lineage: {
          nodes: Array<{ id: string; kind: string; label: string }>;
          edges: Array<{ from: string; to: string; relation: string }>;
        };
      }>(LINEAGE, { id: version.id });
      expect(statements).toBeLessThanOrEqual(4);
      expect(res.errors).toBeUndefined();
      const { nodes, edges } = res.data!.lineage;
      expect(nodes).toHaveLength(4);
      expect(nodes).toEqual(
        expect.arrayContaining([
          { id: version.id, kind: 'MODEL_VERSION', label: version.label },
          { id: run.id, kind: 'RUN', label: 'train-churn' },
          { id: consumed.id, kind: 'DATASET_VERSION', label: consumed.label },
          { id: trainedOn.id, kind: 'DATASET_VERSION', label: trainedOn.label },
        ]),
      );
      expect(edges).toHaveLength(4);
      expect(edges).toEqual(
        expect.arrayContaining([
          { from: run.id, to: version.id, relation: 'PRODUCED' },
          { from: consumed.id, to: run.id, relation: 'CONSUMED' },
          { from: trainedOn.id, to: run.id, relation: 'CONSUMED' },
          { from: trainedOn.id, to: version.id, relation: 'TRAINED_ON' },
        ]),
      );

      const outputs = await hub.gql<{ run: { outputs: Array<{ id: string }> } }>(
        'query($id: ID!) { run(id: $id) { outputs { id } } }',
        { id: run.id },
      );
      expect(outputs.data?.run.outputs).toEqual([{ id: version.id }]);
    });

    it("is the version alone without a run, and NOT_FOUND outside the caller's projects", async () => {
      const lone = await modelVersion(projectA.id, null, null);
      const res = await hub.gql<{ lineage: { nodes: unknown[]; edges: unknown[] } }>(LINEAGE, {
        id: lone.id,
      });
      expect(res.data?.lineage).toEqual({
        nodes: [{ id: lone.id, kind: 'MODEL_VERSION', label: lone.label }],
        edges: [],
      });
      const scopedB = await hub.key(Role.VIEWER, [projectB.id]);
      const hidden = await hub.gql(LINEAGE, { id: lone.id }, scopedB);
      expect(hidden.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const missing = await hub.gql(LINEAGE, { id: '00000000-0000-4000-8000-000000000000' });
      expect(missing.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const malformed = await hub.gql(LINEAGE, { id: 'nope' });
      expect(malformed.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'modelVersionId' });
    });
  });
});
