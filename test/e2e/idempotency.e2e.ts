import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';
import { ASSESSMENT } from '../support/fixture';

const REGISTER_MODEL = `mutation($i: RegisterModelVersionInput!) {
  registerModelVersion(input: $i) { id version createdAt }
}`;
const REGISTER_DATASET = `mutation($i: RegisterDatasetVersionInput!) {
  registerDatasetVersion(input: $i) { id version rowCount }
}`;

interface Created {
  id: string;
  version: number;
}

/**
 * What a pipeline sees when its call's answer is lost: it retries, alone or (a timeout and a queue
 * redelivery) several times at once. With the same idempotency key, every retry gets the first
 * result and nothing is created twice; the same key with other arguments is a mistake, not a retry.
 */
describe('idempotent creation', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  beforeEach(async () => {
    project = (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('idem'), name: 'Idempotent' } },
      )
    ).createProject;
  });

  const count = async (sql: string, id: string): Promise<number> =>
    Number(((await hub.db.query(sql, [id])) as Array<{ n: string }>)[0].n);
  const auditCount = (action: string) =>
    count(`SELECT count(*) AS n FROM audit_event WHERE chain = $1 AND action = '${action}'`, project.id);
  const created = <K extends string>(res: GqlResult<Record<K, Created>>, field: K): Created => {
    expect(res.errors).toBeUndefined();
    return res.data![field];
  };

  /** Sequential retries, concurrent retries, then the key reused with other arguments. */
  async function retries<K extends string>(
    query: string,
    field: K,
    input: Record<string, unknown>,
    other: Record<string, unknown>,
    rows: () => Promise<number>,
  ): Promise<void> {
    const key = unique('attempt');
    const first = created(
      await hub.gql<Record<K, Created>>(query, { i: { ...input, idempotencyKey: key } }),
      field,
    );
    const again = created(
      await hub.gql<Record<K, Created>>(query, { i: { ...input, idempotencyKey: key } }),
      field,
    );
    expect(again).toEqual(first);
    expect(await rows()).toBe(1);

    const burstKey = unique('burst');
    const burst = await Promise.all(
      Array.from({ length: 5 }, () =>
        hub.gql<Record<K, Created>>(query, { i: { ...input, idempotencyKey: burstKey } }),
      ),
    );
    const answers = burst.map((r) => created(r, field));
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(answers[0].version).toBe(first.version + 1);
    expect(await rows()).toBe(2);

    const misuse = await hub.gql(query, { i: { ...other, idempotencyKey: key } });
    expect(misuse.errors?.[0].extensions).toEqual({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(await rows()).toBe(2);

    // Without a key, a call is a new call.
    created(await hub.gql<Record<K, Created>>(query, { i: input }), field);
    expect(await rows()).toBe(3);
  }

  it('registerModelVersion: a retry with the same key returns the same version and creates one row', async () => {
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: project.slug, name: unique('m'), task: 'CLASSIFICATION' } },
    );
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 2 }), project.slug);
    const input = { modelId: createModel.id, artifactSha256: sha, labels: ['no', 'yes'] };
    await retries(REGISTER_MODEL, 'registerModelVersion', input, { ...input, labels: ['yes', 'no'] }, () =>
      count('SELECT count(*) AS n FROM model_version WHERE model_id = $1', createModel.id),
    );
    expect(await auditCount('registerModelVersion')).toBe(3);
  });

  it('registerDatasetVersion: a retry with the same key returns the same version and creates one row', async () => {
    const { createDataset } = await hub.gqlOk<{ createDataset: { id: string } }>(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { project: project.slug, name: unique('d') } },
    );
    const input = { datasetId: createDataset.id, rows: [{ a: 1 }, { a: 2 }] };
    await retries(REGISTER_DATASET, 'registerDatasetVersion', input, { ...input, rows: [{ a: 3 }] }, () =>
      count('SELECT count(*) AS n FROM dataset_version WHERE dataset_id = $1', createDataset.id),
    );
    expect(await auditCount('registerDatasetVersion')).toBe(3);
  });
  it('every other creating mutation with a key: a retry gets the first row, and one row exists', async () => {
    const { createModel } = await hub.gqlOk<{ createModel: { id: string; name: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id name } }',
      { i: { project: project.slug, name: unique('served'), task: 'CLASSIFICATION' } },
    );
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 2 }), project.slug);
    await hub.gqlOk(REGISTER_MODEL, {
      i: { modelId: createModel.id, artifactSha256: sha, featureNames: ['a', 'b'], labels: ['no', 'yes'] },
    });
    const slug = unique('p');
    const cases: Array<{
      field: string;
      mutation: string;
      variables: Record<string, unknown>;
      rows: string;
    }> = [
      {
        field: 'createProject',
        mutation: 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        variables: { i: { slug, name: 'Retried' } },
        rows: `SELECT count(*) AS n FROM project WHERE slug = '${slug}' AND $1::uuid IS NOT NULL`,
      },
      {
        field: 'createModel',
        mutation: 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
        variables: { i: { project: project.slug, name: 'retried', task: 'REGRESSION' } },
        rows: 'SELECT count(*) AS n FROM model WHERE project_id = $1',
      },
      {
        field: 'createDataset',
        mutation: 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        variables: { i: { project: project.slug, name: 'retried' } },
        rows: 'SELECT count(*) AS n FROM dataset WHERE project_id = $1',
      },
      {
        field: 'createEndpoint',
        mutation: 'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }',
        variables: { i: { project: project.slug, name: unique('ep'), model: createModel.name, version: 1 } },
        rows: 'SELECT count(*) AS n FROM endpoint WHERE project_id = $1',
      },
      {
        field: 'startRun',
        mutation: 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }',
        variables: { i: { project: project.slug, name: 'train', kind: 'TRAINING' } },
        rows: 'SELECT count(*) AS n FROM run WHERE project_id = $1',
      },
      {
        field: 'submitImpactAssessment',
        mutation: `mutation($p: String!, $s: ImpactAssessmentInput!, $k: String) {
          submitImpactAssessment(project: $p, sections: $s, idempotencyKey: $k) { id }
        }`,
        variables: { p: project.slug, s: ASSESSMENT },
        rows: 'SELECT count(*) AS n FROM impact_assessment WHERE project_id = $1',
      },
    ];
    for (const { field, mutation, variables, rows } of cases) {
      const key = unique('k');
      const keyed =
        'i' in variables
          ? { i: { ...(variables.i as object), idempotencyKey: key } }
          : { ...variables, k: key };
      const answers = await Promise.all([hub.gql(mutation, keyed), hub.gql(mutation, keyed)]);
      answers.push(await hub.gql(mutation, keyed));
      expect({ field, errors: answers.map((a) => a.errors) }).toEqual({
        field,
        errors: [undefined, undefined, undefined],
      });
      const ids = answers.map((a) => (a.data as Record<string, { id: string }>)[field].id);
      expect({ field, distinct: new Set(ids).size }).toEqual({ field, distinct: 1 });
      expect({ field, rows: await count(rows, project.id) }).toEqual({
        field,
        rows: field === 'createModel' ? 2 : 1,
      });
    }
  });
});
