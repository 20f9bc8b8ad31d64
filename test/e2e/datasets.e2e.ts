import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import type {
  CategoricalProfile,
  ColumnSpec,
  NumericProfile,
} from '../../src/modules/datasets/dataset-profile';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const OPERATIONS = fs.readFileSync(path.join(__dirname, '../../graphql/operations/datasets.graphql'), 'utf8');

interface VersionData {
  id: string;
  datasetId: string;
  projectId: string;
  version: number;
  sha256: string;
  uri: string | null;
  rowCount: number;
  columns: ColumnSpec[];
  profile: Record<string, NumericProfile | CategoricalProfile>;
  dataset?: { id: string; name: string };
}

interface DatasetData {
  id: string;
  name: string;
  project: { id: string; slug: string };
  versions: VersionData[];
}

interface DatasetsData {
  datasets: {
    edges: Array<{
      cursor: string;
      node: { id: string; name: string; versions: Array<{ version: number }> };
    }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

/** Keys sorted at every level: what the hub hashes for rows given inline. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );

describe('datasets', () => {
  let hub: TestHub;
  const statements: string[] = [];
  let projectA: { id: string; slug: string };
  let projectB: { id: string; slug: string };

  /** Runs one of the named operations in graphql/operations/datasets.graphql. */
  const op = async <T>(
    operationName: string,
    variables: Record<string, unknown>,
    key: string | null = hub.adminKey,
  ): Promise<GqlResult<T>> => {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query: OPERATIONS, operationName, variables }),
    });
    return { status: res.status, ...((await res.json()) as object) };
  };

  /** Uploads to project A, where the tests below register. */
  const upload = async (content: string | Buffer, project = projectA.slug): Promise<string> => {
    const hex = sha256(content);
    const res = await fetch(`${hub.url.replace('/graphql', '')}/artifacts/sha256/${hex}?project=${project}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'text/csv' },
      body: content,
    });
    expect([200, 201]).toContain(res.status);
    return hex;
  };

  const createProject = async (): Promise<{ id: string; slug: string }> => {
    const slug = unique('ds');
    const res = await hub.gql<{ createProject: { id: string; slug: string } }>(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
      { i: { slug, name: slug } },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createProject;
  };

  const createDataset = async (project: string, key?: string): Promise<string> => {
    const res = await op<{ createDataset: { id: string } }>(
      'CreateDataset',
      { input: { project, name: unique('set') } },
      key,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createDataset.id;
  };

  const register = (input: Record<string, unknown>, key?: string) =>
    op<{ registerDatasetVersion: VersionData }>('RegisterDatasetVersion', { input }, key);

  const versionsOf = async (id: string): Promise<number[]> => {
    const res = await op<{ dataset: DatasetData }>('Dataset', { id, versions: 100 });
    expect(res.errors).toBeUndefined();
    return res.data!.dataset.versions.map((v) => v.version);
  };

  const expectError = (res: GqlResult<unknown>, code: string, field?: string): void => {
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe(code);
    if (field !== undefined) expect(res.errors?.[0].extensions?.field).toBe(field);
  };

  beforeAll(async () => {
    hub = await startTestHub({}, { onQuery: (sql) => statements.push(sql) });
    projectA = await createProject();
    projectB = await createProject();
  });
  afterAll(() => hub.close());

  it('creates datasets by project slug or id, and refuses a duplicate name', async () => {
    const name = unique('churn');
    const bySlug = await op<{
      createDataset: { id: string; projectId: string; name: string; description: string };
    }>('CreateDataset', {
      input: { project: projectA.slug, name, description: 'monthly churn snapshot' },
    });
    expect(bySlug.errors).toBeUndefined();
    expect(bySlug.data?.createDataset).toMatchObject({
      projectId: projectA.id,
      name,
      description: 'monthly churn snapshot',
    });

    const byId = await op('CreateDataset', { input: { project: projectA.id, name: unique('other') } });
    expect(byId.errors).toBeUndefined();

    expectError(await op('CreateDataset', { input: { project: projectA.slug, name } }), 'CONFLICT', 'name');
    // The same name in another project is fine.
    expect((await op('CreateDataset', { input: { project: projectB.slug, name } })).errors).toBeUndefined();
    expectError(
      await op('CreateDataset', { input: { project: projectA.slug, name: '  ' } }),
      'BAD_USER_INPUT',
      'name',
    );
    expectError(await op('CreateDataset', { input: { project: unique('nope'), name: 'x' } }), 'NOT_FOUND');
  });

  it('registers inline rows as numbered versions with a profile', async () => {
    const datasetId = await createDataset(projectA.slug);
    const rows = [
      { age: 30, city: 'Oslo', score: '0.5' },
      { city: 'Rome', age: 40, score: 1.5 },
      { age: null, city: 'Oslo', score: 2.5 },
      { age: 50, city: 'Oslo' },
    ];
    const first = await register({ datasetId, rows, uri: 's3://bucket/churn.parquet' });
    expect(first.errors).toBeUndefined();
    const v1 = first.data!.registerDatasetVersion;
    expect(v1).toMatchObject({
      datasetId,
      projectId: projectA.id,
      version: 1,
      rowCount: 4,
      uri: 's3://bucket/churn.parquet',
    });
    expect(v1.sha256).toBe(sha256(canonical(rows)));
    expect(v1.columns).toEqual([
      { name: 'age', type: 'NUMERIC', nullable: true },
      { name: 'city', type: 'CATEGORICAL', nullable: false },
      { name: 'score', type: 'NUMERIC', nullable: true },
    ]);
    expect(v1.profile.age).toMatchObject({
      type: 'NUMERIC',
      count: 3,
      nullCount: 1,
      min: 30,
      max: 50,
      mean: 40,
    });
    const age = v1.profile.age as NumericProfile;
    expect(age.edges[0]).toBe(30);
    expect(age.edges.at(-1)).toBe(50);
    expect(sum(age.frequencies)).toBeCloseTo(1, 12);
    expect(v1.profile.city).toEqual({
      type: 'CATEGORICAL',
      count: 4,
      nullCount: 0,
      frequencies: { Oslo: 0.75, Rome: 0.25 },
    });

    // Key order does not change the hash; a declared type overrides inference.
    const reordered = rows.map((r) => Object.fromEntries(Object.entries(r).reverse()));
    const second = await register({
      datasetId,
      rows: reordered,
      columns: [{ name: 'age', type: 'CATEGORICAL' }],
    });
    expect(second.errors).toBeUndefined();
    const v2 = second.data!.registerDatasetVersion;
    expect(v2.version).toBe(2);
    expect(v2.sha256).toBe(v1.sha256);
    expect(v2.profile.age).toEqual({
      type: 'CATEGORICAL',
      count: 3,
      nullCount: 1,
      frequencies: { '30': 1 / 3, '40': 1 / 3, '50': 1 / 3 },
    });

    const read = await op<{ datasetVersion: VersionData }>('DatasetVersion', { id: v1.id });
    expect(read.errors).toBeUndefined();
    expect(read.data?.datasetVersion).toMatchObject({ id: v1.id, version: 1, dataset: { id: datasetId } });
    expect(read.data?.datasetVersion.profile).toEqual(v1.profile);

    const dataset = await op<{ dataset: DatasetData }>('Dataset', { id: datasetId, versions: 1 });
    expect(dataset.errors).toBeUndefined();
    expect(dataset.data?.dataset.project).toEqual(projectA);
    expect(dataset.data?.dataset.versions.map((v) => v.version)).toEqual([2]);
    expect(await versionsOf(datasetId)).toEqual([2, 1]);
  });

  it('numbers concurrent registrations one after another', async () => {
    const datasetId = await createDataset(projectA.slug);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => register({ datasetId, rows: [{ x: i }] })),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(results.map((r) => r.data!.registerDatasetVersion.version).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    expect(await versionsOf(datasetId)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('rejects bad input with the offending field, and writes nothing', async () => {
    const datasetId = await createDataset(projectA.slug);
    const csv = await upload('a,b\n1,2\n');
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ datasetId, rows: [{ a: 1 }], csvSha256: csv }, 'BAD_USER_INPUT', 'csvSha256'],
      [{ datasetId }, 'BAD_USER_INPUT', 'rows'],
      [{ datasetId, rows: [] }, 'BAD_USER_INPUT', 'rows'],
      [{ datasetId, rows: Array.from({ length: 10_001 }, (_, i) => ({ i })) }, 'BAD_USER_INPUT', 'rows'],
      [{ datasetId, rows: [{}, {}] }, 'BAD_USER_INPUT', 'rows'],
      [
        { datasetId, rows: [Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`c${i}`, i]))] },
        'BAD_USER_INPUT',
        'rows',
      ],
      [{ datasetId, rows: [{ a: 1 }, { a: { nested: true } }] }, 'BAD_USER_INPUT', 'rows.1.a'],
      [
        {
          datasetId,
          rows: [{ age: 1 }, { age: 2 }, { age: 'abc' }],
          columns: [{ name: 'age', type: 'NUMERIC' }],
        },
        'BAD_USER_INPUT',
        'rows.2.age',
      ],
      [
        { datasetId, rows: [{ a: 1 }], columns: [{ name: 'zzz', type: 'NUMERIC' }] },
        'BAD_USER_INPUT',
        'columns.0.name',
      ],
      [
        {
          datasetId,
          rows: [{ a: 1 }],
          columns: [
            { name: 'a', type: 'NUMERIC' },
            { name: 'a', type: 'NUMERIC' },
          ],
        },
        'BAD_USER_INPUT',
        'columns.1.name',
      ],
      [{ datasetId: 'not-a-uuid', rows: [{ a: 1 }] }, 'BAD_USER_INPUT', 'datasetId'],
      [{ datasetId, csvSha256: 'xyz' }, 'BAD_USER_INPUT', 'csvSha256'],
      [{ datasetId, rows: [{ a: 1 }], uri: 'x'.repeat(3000) }, 'BAD_USER_INPUT', 'uri'],
    ];
    for (const [input, code, field] of cases) {
      const res = await register(input);
      expect({ field, extensions: res.errors?.[0].extensions }).toEqual({
        field,
        extensions: expect.objectContaining({ code, field }),
      });
    }
    // Rows that are not objects fail GraphQL's own coercion of JSONObject, which names the path.
    const notObjects = await register({ datasetId, rows: [{ a: 1 }, 7] });
    expectError(notObjects, 'BAD_USER_INPUT');
    expect(notObjects.errors?.[0].message).toContain('input.rows[1]');

    expectError(
      await register({ datasetId: '00000000-0000-4000-8000-000000000000', rows: [{ a: 1 }] }),
      'NOT_FOUND',
    );
    expectError(await register({ datasetId, csvSha256: sha256('never uploaded') }), 'NOT_FOUND');
    expect(await versionsOf(datasetId)).toEqual([]);
  });

  it('profiles a CSV artifact and reports bad CSV by line', async () => {
    const datasetId = await createDataset(projectA.slug);
    const content = 'id,plan,amount\n1,basic,10\n2,pro,20.5\n3,"basic",\n4,enterprise,"1e2"\n';
    const hex = await upload(content);
    const res = await register({ datasetId, csvSha256: hex });
    expect(res.errors).toBeUndefined();
    const v = res.data!.registerDatasetVersion;
    expect(v).toMatchObject({ version: 1, sha256: hex, rowCount: 4, uri: null });
    expect(v.columns).toEqual([
      { name: 'id', type: 'NUMERIC', nullable: false },
      { name: 'plan', type: 'CATEGORICAL', nullable: false },
      { name: 'amount', type: 'NUMERIC', nullable: true },
    ]);
    expect(v.profile.amount).toMatchObject({
      count: 3,
      nullCount: 1,
      min: 10,
      max: 100,
      edges: expect.any(Array),
    });
    expect(v.profile.plan).toEqual({
      type: 'CATEGORICAL',
      count: 4,
      nullCount: 0,
      frequencies: { basic: 0.5, enterprise: 0.25, pro: 0.25 },
    });

    const bad = await register({ datasetId, csvSha256: hex, columns: [{ name: 'plan', type: 'NUMERIC' }] });
    expectError(bad, 'BAD_USER_INPUT', 'csvSha256');
    expect(bad.errors?.[0].extensions).toMatchObject({ line: 2, column: 'plan' });

    const ragged = await register({ datasetId, csvSha256: await upload('a,b\n1,2\n3\n') });
    expectError(ragged, 'BAD_USER_INPUT', 'csvSha256');
    expect(ragged.errors?.[0].message).toMatch(/line 3/);
    expectError(await register({ datasetId, csvSha256: await upload('\n') }), 'BAD_USER_INPUT', 'csvSha256');
    expectError(
      await register({ datasetId, csvSha256: await upload('a,b\n') }),
      'BAD_USER_INPUT',
      'csvSha256',
    );
    expectError(
      await register({ datasetId, csvSha256: await upload('a,,c\n1,2,3\n') }),
      'BAD_USER_INPUT',
      'csvSha256',
    );
    expectError(
      await register({ datasetId, csvSha256: await upload('a,"b\n1,2\n') }),
      'BAD_USER_INPUT',
      'csvSha256',
    );
    const wide = Array.from({ length: 501 }, (_, i) => `c${i}`).join(',');
    expectError(
      await register({ datasetId, csvSha256: await upload(`${wide}\n${wide}\n`) }),
      'BAD_USER_INPUT',
      'csvSha256',
    );
    expect(await versionsOf(datasetId)).toEqual([1]);
  });

  it('streams a 200k-row CSV and profiles known distributions', async () => {
    const datasetId = await createDataset(projectA.slug);
    const n = 200_000;
    let state = 12345;
    const random = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 4294967296;
    };
    const lines = ['uniform,index,tier,sparse'];
    for (let i = 0; i < n; i++) {
      const tier = i % 10 < 5 ? 'gold' : i % 10 < 8 ? 'silver' : 'bronze';
      lines.push(`${random().toFixed(6)},${i},${tier},${i % 4 === 0 ? '' : i % 7}`);
    }
    const hex = await upload(`${lines.join('\n')}\n`);
    const res = await register({ datasetId, csvSha256: hex });
    expect(res.errors).toBeUndefined();
    const v = res.data!.registerDatasetVersion;
    expect(v.rowCount).toBe(n);

    const uniform = v.profile.uniform as NumericProfile;
    expect(uniform).toMatchObject({ type: 'NUMERIC', count: n, nullCount: 0 });
    expect(uniform.edges).toHaveLength(11);
    expect(uniform.edges[0]).toBe(uniform.min);
    expect(uniform.edges[10]).toBe(uniform.max);
    uniform.edges.forEach((e, i) => expect(Math.abs(e - i / 10)).toBeLessThan(0.01));
    uniform.frequencies.forEach((f) => expect(Math.abs(f - 0.1)).toBeLessThan(0.01));
    expect(sum(uniform.frequencies)).toBeCloseTo(1, 9);
    expect(uniform.mean).toBeCloseTo(0.5, 2);
    expect(uniform.std).toBeCloseTo(Math.sqrt(1 / 12), 2);

    const index = v.profile.index as NumericProfile;
    expect(index).toMatchObject({ min: 0, max: n - 1, mean: (n - 1) / 2 });
    index.frequencies.forEach((f) => expect(Math.abs(f - 0.1)).toBeLessThan(0.01));
    for (let i = 1; i < index.edges.length; i++) expect(index.edges[i]).toBeGreaterThan(index.edges[i - 1]);

    expect(v.profile.tier).toEqual({
      type: 'CATEGORICAL',
      count: n,
      nullCount: 0,
      frequencies: { gold: 0.5, silver: 0.3, bronze: 0.2 },
    });
    const sparse = v.profile.sparse as NumericProfile;
    expect(sparse).toMatchObject({ count: n * 0.75, nullCount: n / 4, min: 0, max: 6 });
    expect(sum(sparse.frequencies)).toBeCloseTo(1, 9);

    // Same content, same profile: sampling is seeded.
    const again = await register({ datasetId, csvSha256: hex });
    expect(again.data?.registerDatasetVersion.profile).toEqual(v.profile);
    expect(again.data?.registerDatasetVersion.version).toBe(2);
  }, 120_000);

  it("keeps a project-scoped key inside its project's datasets", async () => {
    const inB = await createDataset(projectB.slug);
    const versionB = (await register({ datasetId: inB, rows: [{ a: 1 }] })).data!.registerDatasetVersion.id;
    const scientistA = await hub.key(Role.DATA_SCIENTIST, [projectA.id]);

    const own = await createDataset(projectA.slug, scientistA);
    expect((await register({ datasetId: own, rows: [{ a: 1 }] }, scientistA)).errors).toBeUndefined();

    expectError(
      await op('CreateDataset', { input: { project: projectB.slug, name: unique('x') } }, scientistA),
      'NOT_FOUND',
    );
    expectError(
      await op('CreateDataset', { input: { project: projectB.id, name: unique('x') } }, scientistA),
      'NOT_FOUND',
    );
    expectError(await register({ datasetId: inB, rows: [{ a: 1 }] }, scientistA), 'NOT_FOUND');
    expectError(await op('Dataset', { id: inB }, scientistA), 'NOT_FOUND');
    expectError(await op('DatasetVersion', { id: versionB }, scientistA), 'NOT_FOUND');
    expectError(await op('Datasets', { project: projectB.slug }, scientistA), 'NOT_FOUND');
    expect(await versionsOf(inB)).toEqual([1]);

    const viewerA = await hub.key(Role.VIEWER, [projectA.id]);
    expectError(
      await op('CreateDataset', { input: { project: projectA.slug, name: unique('x') } }, viewerA),
      'FORBIDDEN',
    );
    expectError(await register({ datasetId: own, rows: [{ a: 1 }] }, viewerA), 'FORBIDDEN');
    expect((await op('Dataset', { id: own }, viewerA)).errors).toBeUndefined();

    // A key scoped to B only cannot write into A, even with the right role.
    const scientistB = await hub.key(Role.DATA_SCIENTIST, [projectB.id]);
    expectError(await register({ datasetId: own, rows: [{ a: 1 }] }, scientistB), 'NOT_FOUND');

    for (const [name, variables] of [
      ['Datasets', { project: projectA.slug }],
      ['Dataset', { id: own }],
      ['CreateDataset', { input: { project: projectA.slug, name: 'x' } }],
      ['RegisterDatasetVersion', { input: { datasetId: own, rows: [{ a: 1 }] } }],
    ] as const) {
      expectError(await op(name, variables, null), 'UNAUTHENTICATED');
    }
  });

  it('pages through datasets and loads their versions in one statement', async () => {
    const project = await createProject();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await createDataset(project.slug);
      ids.push(id);
      for (let v = 0; v <= i; v++)
        expect((await register({ datasetId: id, rows: [{ v }] })).errors).toBeUndefined();
    }

    statements.length = 0;
    const first = await op<DatasetsData>('Datasets', { project: project.slug, first: 3 });
    expect(first.errors).toBeUndefined();
    const versionQueries = statements.filter((sql) => /FROM "dataset_version"/.test(sql));
    expect(versionQueries).toHaveLength(1);
    const page1 = first.data!.datasets;
    expect(page1.pageInfo.hasNextPage).toBe(true);
    // Newest first; `versions(first: 3)` keeps each dataset's three newest.
    expect(page1.edges.map((e) => e.node.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect(page1.edges.map((e) => e.node.versions.map((v) => v.version))).toEqual([
      [5, 4, 3],
      [4, 3, 2],
      [3, 2, 1],
    ]);

    const second = await op<DatasetsData>('Datasets', {
      project: project.id,
      first: 3,
      after: page1.pageInfo.endCursor,
    });
    expect(second.errors).toBeUndefined();
    expect(second.data!.datasets.edges.map((e) => e.node.id)).toEqual([ids[1], ids[0]]);
    expect(second.data!.datasets.pageInfo.hasNextPage).toBe(false);

    // DatasetVersion.dataset is batched too: many versions, one dataset lookup.
    statements.length = 0;
    const many = await hub.gql<{
      a: { versions: Array<{ dataset: { id: string } }> };
      b: { versions: Array<{ dataset: { id: string } }> };
    }>(
      'query($a: ID!, $b: ID!) { a: dataset(id: $a) { versions { dataset { id } } } b: dataset(id: $b) { versions { dataset { id } } } }',
      { a: ids[4], b: ids[3] },
    );
    expect(many.errors).toBeUndefined();
    expect(many.data!.a.versions.every((v) => v.dataset.id === ids[4])).toBe(true);
    expect(statements.filter((sql) => /FROM "dataset_version"/.test(sql))).toHaveLength(1);
    expect(statements.filter((sql) => /FROM "dataset"(?!_)/.test(sql))).toHaveLength(1);

    expectError(await op('Datasets', { project: project.slug, first: 0 }), 'BAD_USER_INPUT', 'first');
    expectError(await op('Datasets', { project: project.slug, after: 'garbage' }), 'BAD_USER_INPUT', 'after');
    expectError(await op('Dataset', { id: ids[0], versions: 101 }), 'BAD_USER_INPUT', 'first');
  });
});
