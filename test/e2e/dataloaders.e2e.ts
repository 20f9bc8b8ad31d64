import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { ConnectorStream, SyncRun } from '../../src/modules/connectors/connector.entity';
import { KpiAggregation, KpiDirection } from '../../src/modules/kpis/kpi.entity';
import { ModelTask } from '../../src/modules/models/model.entity';
import { ApprovalRequest, RolloutEvent, RolloutStrategy } from '../../src/modules/rollouts/rollout.entity';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';

const PROJECTS = 50;
const MODELS_PER_PROJECT = 2;
const VERSIONS_PER_MODEL = 2;

const QUERY = `query {
  projects(first: ${PROJECTS}) {
    edges { node { id models { id versions { version aliases { alias } } } } }
  }
}`;

interface Shape {
  projects: {
    edges: Array<{
      node: {
        id: string;
        models: Array<{
          id: string;
          versions: Array<{ version: number; aliases: Array<{ alias: string }> }>;
        }>;
      };
    }>;
  };
}

/** The table a SELECT reads from, by its FROM clause. */
const tableOf = (sql: string): string => /\bFROM\s+"?(\w+)"?/i.exec(sql)?.[1] ?? sql;

describe('dataloaders', () => {
  let hub: TestHub;
  let statements: string[] = [];
  let projectIds: string[] = [];

  beforeAll(async () => {
    // Default query limits: this nested query is what a frontend asks, and must pass them.
    // The outbox relay reads in the background on its own schedule; it is not the query's statements.
    hub = await startTestHub(
      {},
      {
        onQuery: (sql) => {
          if (tableOf(sql) !== 'outbox_event') statements.push(sql);
        },
      },
    );
    const { projects, models } = hub.services;
    // Arranged through the services, one project at a time in parallel; but the versions are written
    // directly: registering them reads 200 ONNX signatures, most of this suite's time once, and the
    // loaders do not care how a version came to be.
    projectIds = await Promise.all(
      Array.from({ length: PROJECTS }, async (_, p) => {
        const project = await projects.create(hub.system, { slug: unique('dl'), name: `Loader ${p}` });
        for (let m = 0; m < MODELS_PER_PROJECT; m++) {
          const model = await models.create(hub.system, {
            project: project.id,
            name: `model-${m}`,
            task: ModelTask.CLASSIFICATION,
          });
          let latest = '';
          for (let v = 1; v <= VERSIONS_PER_MODEL; v++) {
            const [row] = (await hub.db.query(
              `INSERT INTO model_version (model_id, project_id, version, artifact_sha256, artifact_size, signature)
               VALUES ($1, $2, $3, $4, 100, '{}') RETURNING id`,
              [model.id, project.id, v, 'c'.repeat(64)],
            )) as Array<{ id: string }>;
            latest = row.id;
          }
          await models.setAlias(hub.system, model.id, 'champion', latest);
          if (m === 0) await models.setAlias(hub.system, model.id, 'challenger', latest);
        }
        return project.id;
      }),
    );
  }, 120_000);
  afterAll(() => hub.close());

  it('answers projects → models → versions → aliases with one statement per level', async () => {
    // A key scoped to exactly these projects, so a shared database's other projects stay out of the page.
    const key = await hub.key(Role.VIEWER, projectIds);
    // Authenticating a key costs a lookup that is then cached; pay it before counting.
    expect((await hub.gql('{ me { role } }', {}, key)).errors).toBeUndefined();

    statements = [];
    const res = await hub.gql<Shape>(QUERY, {}, key);
    const issued = statements;
    statements = [];

    expect(res.errors).toBeUndefined();
    const nodes = res.data!.projects.edges.map((e) => e.node);
    expect(nodes.map((n) => n.id).sort()).toEqual([...projectIds].sort());
    for (const node of nodes) {
      expect(node.models).toHaveLength(MODELS_PER_PROJECT);
      for (const model of node.models) {
        expect(model.versions.map((v) => v.version)).toEqual([2, 1]);
        expect(model.versions[1].aliases).toEqual([]);
      }
      const aliases = node.models.map((m) => m.versions[0].aliases.map((a) => a.alias)).sort();
      expect(aliases).toEqual([['challenger', 'champion'], ['champion']]);
    }

    expect(issued.map(tableOf)).toEqual(['project', 'model', 'model_version', 'model_alias']);
  });

  it('still batches when the same level is asked twice with different arguments', async () => {
    const key = await hub.key(Role.VIEWER, projectIds.slice(0, 10));
    await hub.gql('{ me { role } }', {}, key);
    statements = [];
    const res = await hub.gql(
      '{ projects(first: 10) { edges { node { models { latest: versions(first: 1) { version } all: versions { version } aliases { alias } } } } } }',
      {},
      key,
    );
    const issued = statements;
    expect(res.errors).toBeUndefined();
    // One statement per distinct `first`, not per model.
    expect(issued.map(tableOf).sort()).toEqual([
      'model',
      'model_alias',
      'model_version',
      'model_version',
      'project',
    ]);
  });

  describe('connectors, rollouts and KPIs', () => {
    const PARENTS = 4;
    let project: { id: string; slug: string };
    let key: string;
    let fake: FakeZendeskServer;
    let connectorIds: string[] = [];
    let rolloutIds: string[] = [];
    const clients: Client[] = [];

    /** Runs `query` with the project's viewer key; returns its data and the tables of the statements it issued. */
    const counted = async <T>(query: string): Promise<{ data: T; tables: string[] }> => {
      statements = [];
      const res = await hub.gql<T>(query, { p: project.slug }, key);
      const tables = statements.map(tableOf);
      statements = [];
      expect(res.errors).toBeUndefined();
      return { data: res.data!, tables };
    };

    beforeAll(async () => {
      const { projects, models, endpoints, rollouts, connectors, kpis } = hub.services;
      const created = await projects.create(hub.system, { slug: unique('dl-nested'), name: 'Nested' });
      project = { id: created.id, slug: created.slug };

      fake = new FakeZendeskServer({ tickets: 3 });
      const url = await fake.start();
      connectorIds = [];
      for (let c = 0; c < PARENTS; c++) {
        const connector = await connectors.create(hub.system, {
          project: project.id,
          name: `zendesk-${c}`,
          kind: 'zendesk',
          config: {
            baseUrl: url,
            email: fake.email,
            pageSize: 100,
            routingFieldId: fake.routingFieldId,
            requestKeyFieldId: fake.requestKeyFieldId,
          },
          secrets: { apiToken: fake.token },
        });
        connectorIds.push(connector.id);
        // The last connector never ran: no streams, no last run. The others ran once or twice.
        const runs = c === PARENTS - 1 ? 0 : 1 + (c % 2);
        for (let run = 0; run < runs; run++)
          await connectors.syncScheduled(connector.id, new Date(Date.UTC(2026, 0, 1, c, run)));
      }

      const onnx = linearClassifierOnnx({ features: 3, classes: 2 });
      const sha = await uploadArtifact(hub, onnx, project.slug);
      const model = await models.create(hub.system, {
        project: project.id,
        name: 'router',
        task: ModelTask.CLASSIFICATION,
      });
      for (let v = 0; v < 2; v++)
        await models.registerVersion(hub.system, {
          modelId: model.id,
          artifactSha256: sha,
          featureNames: ['a', 'b', 'c'],
          labels: ['yes', 'no'],
        });
      rolloutIds = [];
      for (let r = 0; r < PARENTS; r++) {
        const endpoint = await endpoints.create(hub.system, {
          project: project.id,
          name: unique('dl-ep'),
          model: model.id,
          version: 1,
        });
        // Half wait at a manual gate (an approval request), half take traffic; one of those is paused.
        const gated = r % 2 === 0;
        const rollout = await rollouts.deploy(hub.system, {
          endpoint: endpoint.name,
          version: 2,
          strategy: RolloutStrategy.CANARY,
          steps: [{ weight: 50, pauseMinutes: 5, manualGate: gated }],
        });
        if (r === 1) await hub.services.rolloutApprovals.pause(hub.system, rollout.id, 'looking into it');
        rolloutIds.push(rollout.id);
      }

      for (let k = 0; k < PARENTS; k++) {
        await kpis.define(hub.system, {
          project: project.id,
          key: `kpi_${k}`,
          name: `KPI ${k}`,
          unit: 'min',
          aggregation: KpiAggregation.MEAN,
          direction: KpiDirection.LOWER_IS_BETTER,
        });
        // KPI k holds k points: the first holds none.
        if (k > 0) {
          const points = Array.from({ length: k }, (_, i) => ({
            kpi: `kpi_${k}`,
            time: new Date(Date.UTC(2026, 0, 1, i)),
            value: i,
          }));
          await kpis.record(hub.system, { project: project.id, points });
        }
      }
      // An analyst reads connectors, rollouts and KPIs, in this project only.
      key = await hub.key(Role.ANALYST, [project.id]);
      await hub.gql('{ me { role } }', {}, key);
    }, 120_000);
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.dispose()));
      await fake.close();
    });

    it('answers connectors → streams and lastRun with one statement per level', async () => {
      const { data, tables } = await counted<{
        connectors: {
          edges: Array<{
            node: {
              id: string;
              streams: Array<{ stream: string; recordsSynced: number }>;
              lastRun: { id: string } | null;
            };
          }>;
        };
      }>(
        'query($p: String!) { connectors(project: $p) { edges { node { id streams { stream recordsSynced } lastRun { id } } } } }',
      );

      const nodes = data.connectors.edges.map((e) => e.node);
      expect(nodes.map((n) => n.id).sort()).toEqual([...connectorIds].sort());
      for (const node of nodes) {
        // The same answer as one query per connector gives.
        const streams = await hub.services.db
          .getRepository(ConnectorStream)
          .find({ where: { connectorId: node.id }, order: { stream: 'ASC' } });
        expect(node.streams).toEqual(
          streams.map((s) => ({ stream: s.stream, recordsSynced: s.recordsSynced })),
        );
        const last = await hub.services.db
          .getRepository(SyncRun)
          .findOne({ where: { connectorId: node.id }, order: { startedAt: 'DESC' } });
        expect(node.lastRun?.id ?? null).toBe(last?.id ?? null);
      }
      const never = nodes.find((n) => n.id === connectorIds[PARENTS - 1])!;
      expect(never).toMatchObject({ streams: [], lastRun: null });
      expect(nodes.filter((n) => n.lastRun).length).toBe(PARENTS - 1);

      expect(tables.sort()).toEqual(['connector', 'connector_stream', 'project', 'sync_run']);
    });

    it('answers rollouts → events and approvals with one statement per level', async () => {
      const { data, tables } = await counted<{
        rollouts: {
          edges: Array<{
            node: {
              id: string;
              events: Array<{ id: string; type: string }>;
              approvals: Array<{ id: string; status: string }>;
            };
          }>;
        };
      }>(
        'query($p: String!) { rollouts(project: $p) { edges { node { id events { id type } approvals { id status } } } } }',
      );

      const nodes = data.rollouts.edges.map((e) => e.node);
      expect(nodes.map((n) => n.id).sort()).toEqual([...rolloutIds].sort());
      for (const node of nodes) {
        const events = await hub.services.db
          .getRepository(RolloutEvent)
          .find({ where: { rolloutId: node.id }, order: { id: 'ASC' } });
        expect(node.events).toEqual(events.map((e) => ({ id: e.id, type: e.type })));
        const approvals = await hub.services.db
          .getRepository(ApprovalRequest)
          .find({ where: { rolloutId: node.id }, order: { createdAt: 'ASC' } });
        expect(node.approvals).toEqual(approvals.map((a) => ({ id: a.id, status: a.status })));
      }
      const byId = new Map(nodes.map((n) => [n.id, n]));
      expect(byId.get(rolloutIds[0])!.approvals).toHaveLength(1);
      expect(byId.get(rolloutIds[1])!.approvals).toEqual([]);
      expect(byId.get(rolloutIds[1])!.events.map((e) => e.type)).toEqual([
        'REQUESTED',
        'STEP_STARTED',
        'PAUSED',
      ]);

      expect(tables.sort()).toEqual(['approval_request', 'project', 'rollout', 'rollout_event']);
    });

    it('answers kpis → points with one statement per level', async () => {
      const { data, tables } = await counted<{
        kpis: { edges: Array<{ node: { id: string; key: string; points: number } }> };
      }>('query($p: String!) { kpis(project: $p) { edges { node { id key points } } } }');

      const nodes = data.kpis.edges.map((e) => e.node);
      // The connectors' syncs derived KPIs of their own; every one counts as a per-KPI query counts.
      expect(nodes.length).toBeGreaterThan(PARENTS);
      for (const node of nodes) {
        const [{ n }] = (await hub.services.db.query(
          'SELECT count(*)::int AS n FROM kpi_point WHERE kpi_id = $1',
          [node.id],
        )) as Array<{ n: number }>;
        expect(node.points).toBe(n);
      }
      const points = Object.fromEntries(nodes.map((n) => [n.key, n.points]));
      for (let k = 0; k < PARENTS; k++) expect(points[`kpi_${k}`]).toBe(k);

      expect(tables.sort()).toEqual(['kpi', 'kpi_point', 'project']);
    });

    it('gives each subscription event fresh loaders: the second event sees what changed since the first', async () => {
      const rolloutId = rolloutIds[3];
      const client = createClient({
        url: hub.url.replace('http://', 'ws://'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${key}` },
        retryAttempts: 0,
      });
      clients.push(client);
      type Change = { rollout: { id: string; events: Array<{ type: string }> } };
      const changes: Change[] = [];
      const before = hub.services.events.subscribers;
      client.subscribe(
        {
          query:
            'subscription($p: String!) { rolloutChanged(project: $p) { rollout { id events { type } approvals { id } } } }',
          variables: { p: project.slug },
        },
        {
          next: (r) => void changes.push((r.data as { rolloutChanged: Change }).rolloutChanged),
          error: (e) =>
            void changes.push({ rollout: { id: 'error', events: [{ type: JSON.stringify(e) }] } }),
          complete: () => undefined,
        },
      );
      while (hub.services.events.subscribers === before) await new Promise((r) => setTimeout(r, 10));

      const waitFor = async (n: number): Promise<void> => {
        const deadline = Date.now() + 5_000;
        while (changes.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(changes).toHaveLength(n);
      };
      await hub.services.rolloutApprovals.pause(hub.system, rolloutId, 'looking into it');
      await waitFor(1);
      await hub.services.rolloutApprovals.resume(hub.system, rolloutId, 'all clear');
      await waitFor(2);

      expect(changes.map((c) => c.rollout.id)).toEqual([rolloutId, rolloutId]);
      expect(changes[0].rollout.events.map((e) => e.type)).toEqual(['REQUESTED', 'STEP_STARTED', 'PAUSED']);
      expect(changes[1].rollout.events.map((e) => e.type)).toEqual([
        'REQUESTED',
        'STEP_STARTED',
        'PAUSED',
        'RESUMED',
      ]);
    });
  });
});
