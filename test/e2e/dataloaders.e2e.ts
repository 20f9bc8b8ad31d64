import { Role } from '../../src/modules/api-keys/api-key.entity';
import { ModelTask } from '../../src/modules/models/model.entity';
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
    hub = await startTestHub({}, { onQuery: (sql) => statements.push(sql) });
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
});
