import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kind, parse, print } from 'graphql';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { Run, RunKind, RunStatus } from '../../src/modules/runs/run.entity';
import { linearClassifierOnnx, linearRegressorOnnx, sha256Hex, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const CREATE_PROJECT = 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }';
const CREATE_MODEL =
  'mutation($i: CreateModelInput!) { createModel(input: $i) { id name task projectId description } }';
const REGISTER = `mutation($i: RegisterModelVersionInput!) {
  registerModelVersion(input: $i) {
    id modelId projectId version artifactSha256 artifactSize format signature featureNames labels
    preprocessing preprocessingHash runId datasetVersionId metrics status modelCard
  }
}`;
const SET_ALIAS = `mutation($m: ID!, $a: String!, $v: ID) {
  setModelAlias(modelId: $m, alias: $a, versionId: $v) { id alias versionId validFrom validTo }
}`;
const HISTORY = `query($m: ID!, $a: String, $at: DateTimeISO, $first: Int, $after: String) {
  aliasHistory(modelId: $m, alias: $a, at: $at, first: $first, after: $after) {
    edges { cursor node { id alias versionId validFrom validTo } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface VersionRow {
  id: string;
  version: number;
  signature: unknown;
  artifactSize: number;
  preprocessingHash: string | null;
  metrics: Record<string, number>;
}
interface AliasRow {
  id: string;
  alias: string;
  versionId: string;
  validFrom: string;
  validTo: string | null;
}

/** The one error of a rejected operation: its code and field. */
function failure(res: GqlResult<unknown>): { code?: string; field?: string } {
  expect(res.errors).toHaveLength(1);
  const { code, field } = res.errors![0].extensions ?? {};
  return field === undefined ? { code } : { code, field };
}

describe('models', () => {
  // A clock the alias tests move by hand; validFrom and validTo come from it.
  let clock = new Date('2026-03-01T09:00:00.000Z');
  let hub: TestHub;
  let projectA: { id: string; slug: string };
  let projectB: { id: string; slug: string };
  let classifierSha: string;
  let regressorSha: string;

  const createModel = async (project: string, name = unique('model'), key?: string | null) =>
    hub.gql<{ createModel: { id: string; name: string; projectId: string } }>(
      CREATE_MODEL,
      { i: { project, name, task: 'CLASSIFICATION' } },
      key,
    );
  const register = async (input: Record<string, unknown>, key?: string) =>
    hub.gql<{ registerModelVersion: VersionRow }>(
      REGISTER,
      { i: { artifactSha256: classifierSha, ...input } },
      key,
    );
  const versionsOf = async (modelId: string): Promise<number[]> => {
    const res = await hub.gql<{ model: { versions: Array<{ version: number }> } }>(
      'query($id: ID!) { model(id: $id) { versions(first: 100) { version } } }',
      { id: modelId },
    );
    return res.data!.model.versions.map((v) => v.version);
  };

  beforeAll(async () => {
    hub = await startTestHub({}, { now: () => clock });
    const created = await Promise.all(
      ['a', 'b'].map(
        async (p) =>
          (
            await hub.gql<{ createProject: { id: string; slug: string } }>(CREATE_PROJECT, {
              i: { slug: unique(p), name: p },
            })
          ).data!.createProject,
      ),
    );
    [projectA, projectB] = created;
    const both = [projectA.slug, projectB.slug];
    classifierSha = await uploadArtifact(hub, linearClassifierOnnx({ features: 4, classes: 3 }), both);
    regressorSha = await uploadArtifact(hub, linearRegressorOnnx({ features: 2 }), both);
  });
  afterAll(() => hub.close());

  describe('createModel', () => {
    it('creates a model in a project named by slug or id; a duplicate name is a CONFLICT on name', async () => {
      const name = unique('churn');
      const bySlug = await hub.gql<{
        createModel: { name: string; projectId: string; task: string; description: string };
      }>(CREATE_MODEL, {
        i: { project: projectA.slug, name, task: 'CLASSIFICATION', description: '  Predicts churn  ' },
      });
      expect(bySlug.errors).toBeUndefined();
      expect(bySlug.data!.createModel).toMatchObject({
        name,
        projectId: projectA.id,
        task: 'CLASSIFICATION',
        description: 'Predicts churn',
      });
      const byId = await createModel(projectA.id);
      expect(byId.data!.createModel.projectId).toBe(projectA.id);

      expect(failure(await createModel(projectA.slug, name))).toEqual({ code: 'CONFLICT', field: 'name' });
      // The same name in another project is fine.
      expect((await createModel(projectB.slug, name)).errors).toBeUndefined();
    });

    it('rejects an empty name and an unknown project', async () => {
      expect(failure(await createModel(projectA.slug, '   '))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'name',
      });
      expect(failure(await createModel(unique('nowhere')))).toEqual({ code: 'NOT_FOUND' });
    });
  });

  describe('registerModelVersion', () => {
    it('reads the signature with onnxruntime, numbers versions and hashes the preprocessing spec', async () => {
      const model = (await createModel(projectA.slug)).data!.createModel;
      const preprocessing = {
        version: 1,
        features: ['age', 'tenure', 'plan', 'spend'].map((name, i) => ({
          name,
          kind: 'numeric',
          scale: { type: 'standard', mean: i, std: 1 },
        })),
      };
      const first = await register({
        modelId: model.id,
        featureNames: ['age', 'tenure', 'plan', 'spend'],
        labels: ['stay', 'churn', 'unknown'],
        preprocessing,
        metrics: { auc: 0.91, logloss: 0.33 },
        modelCard: { owner: 'ml-team', intendedUse: 'retention offers' },
      });
      expect(first.errors).toBeUndefined();
      const v1 = first.data!.registerModelVersion;
      expect(v1).toMatchObject({
        modelId: model.id,
        projectId: projectA.id,
        version: 1,
        artifactSha256: classifierSha,
        format: 'ONNX',
        status: 'REGISTERED',
        featureNames: ['age', 'tenure', 'plan', 'spend'],
        labels: ['stay', 'churn', 'unknown'],
        metrics: { auc: 0.91, logloss: 0.33 },
        modelCard: { owner: 'ml-team', intendedUse: 'retention offers' },
        runId: null,
        datasetVersionId: null,
      });
      expect(v1.artifactSize).toBe(linearClassifierOnnx({ features: 4, classes: 3 }).length);
      expect(v1.signature).toEqual({
        inputs: [{ name: 'features', type: 'float32', shape: [null, 4] }],
        outputs: [{ name: 'probabilities', type: 'float32', shape: [null, 3] }],
      });
      const canonical =
        '{"features":[' +
        ['age', 'tenure', 'plan', 'spend']
          .map(
            (name, i) =>
              `{"kind":"numeric","name":"${name}","scale":{"mean":${i},"std":1,"type":"standard"}}`,
          )
          .join(',') +
        '],"version":1}';
      expect(v1.preprocessingHash).toBe(createHash('sha256').update(canonical).digest('hex'));

      // The same spec with its keys in another order hashes the same; feature names come from it.
      const second = await register({
        modelId: model.id,
        labels: ['stay', 'churn', 'unknown'],
        preprocessing: {
          features: preprocessing.features.map((f) => ({
            scale: { std: f.scale.std, mean: f.scale.mean, type: f.scale.type },
            kind: f.kind,
            name: f.name,
          })),
          version: 1,
        },
      });
      expect(second.data!.registerModelVersion).toMatchObject({
        version: 2,
        preprocessingHash: v1.preprocessingHash,
        featureNames: ['age', 'tenure', 'plan', 'spend'],
        metrics: {},
      });
      const third = await register({ modelId: model.id, artifactSha256: regressorSha });
      expect(third.data!.registerModelVersion.signature).toEqual({
        inputs: [{ name: 'features', type: 'float32', shape: [null, 2] }],
        outputs: [{ name: 'prediction', type: 'float32', shape: [null, 1] }],
      });
    });

    it('gives concurrent registrations distinct, consecutive numbers', async () => {
      const model = (await createModel(projectA.slug)).data!.createModel;
      const results = await Promise.all(Array.from({ length: 6 }, () => register({ modelId: model.id })));
      expect(results.map((r) => r.errors)).toEqual(Array(6).fill(undefined));
      expect(results.map((r) => r.data!.registerModelVersion.version).sort((a, b) => a - b)).toEqual([
        1, 2, 3, 4, 5, 6,
      ]);
    });

    it('rejects bad input naming the field, and writes nothing', async () => {
      const model = (await createModel(projectA.slug)).data!.createModel;
      const missing = sha256Hex(Buffer.from(unique('never uploaded')));
      expect(failure(await register({ modelId: model.id, artifactSha256: missing }))).toEqual({
        code: 'NOT_FOUND',
        field: 'artifactSha256',
      });
      expect(failure(await register({ modelId: model.id, artifactSha256: 'xyz' }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'artifactSha256',
      });

      const garbage = await uploadArtifact(hub, Buffer.from(`not an onnx model ${unique()}`), projectA.slug);
      const notOnnx = await register({ modelId: model.id, artifactSha256: garbage });
      expect(failure(notOnnx)).toEqual({ code: 'BAD_USER_INPUT', field: 'artifactSha256' });
      expect(notOnnx.errors![0].message).toMatch(/^artifactSha256: is not a loadable ONNX model: /);
      // No server path, C++ source location or stack in what the caller sees.
      expect(notOnnx.errors![0].message).not.toMatch(/\/|\bat \w|onnxruntime_src/);

      expect(failure(await register({ modelId: model.id, metrics: { auc: 0.9, f1: 'NaN' } }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'metrics.f1',
      });
      expect(failure(await register({ modelId: model.id, metrics: { auc: null } }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'metrics.auc',
      });
      // JSON cannot carry Infinity in variables, but a GraphQL float literal can overflow to it.
      const infinite = await hub.gql(
        `mutation($m: ID!, $a: String!) { registerModelVersion(input: { modelId: $m, artifactSha256: $a, metrics: { loss: 1e999 } }) { id } }`,
        { m: model.id, a: classifierSha },
      );
      expect(failure(infinite)).toEqual({ code: 'BAD_USER_INPUT', field: 'metrics.loss' });
      expect(failure(await register({ modelId: model.id, featureNames: ['a', 'b'] }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'featureNames',
      });
      expect(failure(await register({ modelId: model.id, labels: ['x', 'x'] }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'labels.1',
      });
      // GraphQL's JSONObject scalar turns an array away during variable coercion.
      expect(
        failure(
          await register({ modelId: model.id, preprocessing: [1, 2] as unknown as Record<string, unknown> }),
        ),
      ).toMatchObject({ code: 'BAD_USER_INPUT' });

      // Lineage must exist, in the same project.
      const unknownId = '5f0c7a38-0000-4000-8000-000000000001';
      expect(failure(await register({ modelId: model.id, runId: unknownId }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'runId',
      });
      expect(failure(await register({ modelId: model.id, datasetVersionId: unknownId }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'datasetVersionId',
      });
      expect(failure(await register({ modelId: model.id, runId: 'not-a-uuid' }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'runId',
      });
      const runs = hub.db.getRepository(Run);
      const otherRun = runs.create({
        projectId: projectB.id,
        name: unique('run'),
        kind: RunKind.TRAINING,
        status: RunStatus.SUCCEEDED,
      });
      await runs.save(otherRun);
      expect(failure(await register({ modelId: model.id, runId: otherRun.id }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'runId',
      });
      const ownRun = runs.create({
        projectId: projectA.id,
        name: unique('run'),
        kind: RunKind.TRAINING,
        status: RunStatus.SUCCEEDED,
      });
      await runs.save(ownRun);

      expect(failure(await register({ modelId: '5f0c7a38-0000-4000-8000-000000000002' }))).toEqual({
        code: 'NOT_FOUND',
        field: 'modelId',
      });
      expect(await versionsOf(model.id)).toEqual([]);

      // After all those rejections, the first accepted version is still number 1.
      const ok = await register({ modelId: model.id, runId: ownRun.id });
      expect(ok.data!.registerModelVersion).toMatchObject({ version: 1 });
      expect(await versionsOf(model.id)).toEqual([1]);
    });
  });

  describe('aliases', () => {
    it('moves, keeps and removes aliases, and answers which version held one at any instant', async () => {
      const model = (await createModel(projectA.slug)).data!.createModel;
      const v1 = (await register({ modelId: model.id })).data!.registerModelVersion;
      const v2 = (await register({ modelId: model.id })).data!.registerModelVersion;

      const t1 = new Date('2026-03-02T10:00:00.000Z');
      const t2 = new Date('2026-03-05T10:00:00.000Z');
      const t3 = new Date('2026-03-09T10:00:00.000Z');

      clock = t1;
      const set1 = (
        await hub.gql<{ setModelAlias: AliasRow }>(SET_ALIAS, { m: model.id, a: 'champion', v: v1.id })
      ).data!.setModelAlias;
      expect(set1).toMatchObject({
        alias: 'champion',
        versionId: v1.id,
        validFrom: t1.toISOString(),
        validTo: null,
      });
      const t1b = new Date(t1.getTime() + 60_000);
      clock = t1b;
      await hub.gql(SET_ALIAS, { m: model.id, a: 'challenger', v: v2.id });

      // Pointing it where it already points changes nothing.
      clock = new Date('2026-03-03T10:00:00.000Z');
      const same = (
        await hub.gql<{ setModelAlias: AliasRow }>(SET_ALIAS, { m: model.id, a: 'champion', v: v1.id })
      ).data!.setModelAlias;
      expect(same).toEqual(set1);

      clock = t2;
      const set2 = (
        await hub.gql<{ setModelAlias: AliasRow }>(SET_ALIAS, { m: model.id, a: 'champion', v: v2.id })
      ).data!.setModelAlias;
      expect(set2).toMatchObject({ versionId: v2.id, validFrom: t2.toISOString(), validTo: null });

      const nested = await hub.gql<{
        model: {
          aliases: Array<{ alias: string; versionId: string }>;
          versions: Array<{ version: number; aliases: Array<{ alias: string }> }>;
        };
      }>(
        'query($id: ID!) { model(id: $id) { aliases { alias versionId } versions { version aliases { alias } } } }',
        { id: model.id },
      );
      expect(nested.data!.model.aliases).toEqual([
        { alias: 'challenger', versionId: v2.id },
        { alias: 'champion', versionId: v2.id },
      ]);
      expect(nested.data!.model.versions).toEqual([
        { version: 2, aliases: [{ alias: 'challenger' }, { alias: 'champion' }] },
        { version: 1, aliases: [] },
      ]);

      clock = t3;
      const removed = (
        await hub.gql<{ setModelAlias: AliasRow }>(SET_ALIAS, { m: model.id, a: 'champion', v: null })
      ).data!.setModelAlias;
      expect(removed).toMatchObject({ id: set2.id, versionId: v2.id, validTo: t3.toISOString() });
      const again = await hub.gql<{ setModelAlias: AliasRow | null }>(SET_ALIAS, {
        m: model.id,
        a: 'champion',
        v: null,
      });
      expect(again.errors).toBeUndefined();
      expect(again.data!.setModelAlias).toBeNull();

      const history = async (vars: Record<string, unknown>) => {
        const res = await hub.gql<{
          aliasHistory: {
            edges: Array<{ cursor: string; node: AliasRow }>;
            pageInfo: { hasNextPage: boolean; endCursor: string };
          };
        }>(HISTORY, { m: model.id, ...vars });
        expect(res.errors).toBeUndefined();
        return res.data!.aliasHistory;
      };
      const champion = await history({ a: 'champion' });
      expect(champion.edges.map((e) => [e.node.versionId, e.node.validFrom, e.node.validTo])).toEqual([
        [v2.id, t2.toISOString(), t3.toISOString()],
        [v1.id, t1.toISOString(), t2.toISOString()],
      ]);

      const heldAt = async (at: Date, alias: string | null = 'champion') =>
        (await history({ a: alias, at: at.toISOString() })).edges.map(
          (e) => `${e.node.alias}:${e.node.versionId}`,
        );
      expect(await heldAt(new Date('2026-03-01T00:00:00.000Z'))).toEqual([]);
      expect(await heldAt(t1)).toEqual([`champion:${v1.id}`]);
      expect(await heldAt(new Date(t2.getTime() - 1))).toEqual([`champion:${v1.id}`]);
      expect(await heldAt(t2)).toEqual([`champion:${v2.id}`]);
      expect(await heldAt(new Date('2026-03-07T00:00:00.000Z'))).toEqual([`champion:${v2.id}`]);
      expect(await heldAt(t3)).toEqual([]);
      expect(await heldAt(t3, null)).toEqual([`challenger:${v2.id}`]);

      // Every row of the model, newest first, in pages.
      const page1 = await history({ first: 2 });
      expect(page1.pageInfo.hasNextPage).toBe(true);
      const page2 = await history({ first: 2, after: page1.pageInfo.endCursor });
      expect(page2.pageInfo.hasNextPage).toBe(false);
      expect([...page1.edges, ...page2.edges].map((e) => [e.node.alias, e.node.validFrom])).toEqual([
        ['champion', t2.toISOString()],
        ['challenger', t1b.toISOString()],
        ['champion', t1.toISOString()],
      ]);
    });

    it('rejects bad alias names and versions of another model', async () => {
      const model = (await createModel(projectA.slug)).data!.createModel;
      const other = (await createModel(projectA.slug)).data!.createModel;
      const v = (await register({ modelId: model.id })).data!.registerModelVersion;
      const foreign = (await register({ modelId: other.id })).data!.registerModelVersion;
      for (const alias of ['Champion', '1st', 'with space', '', `a${'b'.repeat(63)}`]) {
        expect(failure(await hub.gql(SET_ALIAS, { m: model.id, a: alias, v: v.id }))).toEqual({
          code: 'BAD_USER_INPUT',
          field: 'alias',
        });
      }
      expect(failure(await hub.gql(SET_ALIAS, { m: model.id, a: 'champion', v: foreign.id }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'versionId',
      });
      expect(
        failure(
          await hub.gql(SET_ALIAS, { m: model.id, a: 'champion', v: '5f0c7a38-0000-4000-8000-000000000003' }),
        ),
      ).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'versionId',
      });
      expect(failure(await hub.gql(HISTORY, { m: model.id, a: 'Bad Name' }))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'alias',
      });
      const history = await hub.gql<{ aliasHistory: { edges: unknown[] } }>(HISTORY, { m: model.id });
      expect(history.data!.aliasHistory.edges).toEqual([]);
    });
  });

  describe('queries', () => {
    it('answers model, modelVersion and models with nested fields', async () => {
      const slug = (
        await hub.gql<{ createProject: { id: string; slug: string } }>(CREATE_PROJECT, {
          i: { slug: unique('q'), name: 'Q' },
        })
      ).data!.createProject.slug;
      const first = (await createModel(slug, unique('first'))).data!.createModel;
      const second = (await createModel(slug, unique('second'))).data!.createModel;
      await uploadArtifact(hub, linearClassifierOnnx({ features: 4, classes: 3 }), slug);
      const versions = [];
      for (let i = 0; i < 3; i++)
        versions.push((await register({ modelId: second.id })).data!.registerModelVersion);

      const list = await hub.gql<{
        models: {
          edges: Array<{ node: { id: string } }>;
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }>(
        'query($p: String!, $first: Int, $after: String) { models(project: $p, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
        { p: slug, first: 1 },
      );
      expect(list.data!.models.edges.map((e) => e.node.id)).toEqual([second.id]);
      expect(list.data!.models.pageInfo.hasNextPage).toBe(true);
      const rest = await hub.gql<{ models: { edges: Array<{ node: { id: string } }> } }>(
        'query($p: String!, $after: String) { models(project: $p, after: $after) { edges { node { id } } } }',
        { p: slug, after: list.data!.models.pageInfo.endCursor },
      );
      expect(rest.data!.models.edges.map((e) => e.node.id)).toEqual([first.id]);

      const latest = await hub.gql<{ model: { name: string; versions: Array<{ version: number }> } }>(
        'query($id: ID!) { model(id: $id) { name versions(first: 2) { version } } }',
        { id: second.id },
      );
      expect(latest.data!.model.versions.map((v) => v.version)).toEqual([3, 2]);
      expect(
        failure(
          await hub.gql('query($id: ID!) { model(id: $id) { versions(first: 0) { version } } }', {
            id: second.id,
          }),
        ),
      ).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'first',
      });

      const version = await hub.gql<{
        modelVersion: { version: number; model: { id: string; name: string } };
      }>('query($id: ID!) { modelVersion(id: $id) { version model { id name } } }', { id: versions[0].id });
      expect(version.data!.modelVersion).toEqual({ version: 1, model: { id: second.id, name: second.name } });

      const project = await hub.gql<{ project: { models: Array<{ id: string }> } }>(
        'query($s: String!) { project(slug: $s) { models { id } } }',
        { s: slug },
      );
      expect(project.data!.project.models.map((m) => m.id)).toEqual([second.id, first.id]);

      expect(
        failure(
          await hub.gql('query($id: ID!) { model(id: $id) { id } }', {
            id: '5f0c7a38-0000-4000-8000-000000000004',
          }),
        ),
      ).toEqual({ code: 'NOT_FOUND', field: 'id' });
      expect(
        failure(await hub.gql('query($id: ID!) { modelVersion(id: $id) { id } }', { id: 'nope' })),
      ).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
    });
  });

  describe('scopes', () => {
    it('keeps a key scoped to project A away from the models of project B', async () => {
      const modelA = (await createModel(projectA.slug)).data!.createModel;
      const modelB = (await createModel(projectB.slug)).data!.createModel;
      const versionB = (await register({ modelId: modelB.id })).data!.registerModelVersion;
      await hub.gql(SET_ALIAS, { m: modelB.id, a: 'champion', v: versionB.id });
      const scoped = await hub.key(Role.DATA_SCIENTIST, [projectA.id]);

      // Reads: B's models do not exist for this key.
      expect(
        failure(await hub.gql('query($id: ID!) { model(id: $id) { id } }', { id: modelB.id }, scoped)),
      ).toEqual({ code: 'NOT_FOUND', field: 'id' });
      expect(
        failure(
          await hub.gql('query($id: ID!) { modelVersion(id: $id) { id } }', { id: versionB.id }, scoped),
        ),
      ).toEqual({ code: 'NOT_FOUND', field: 'id' });
      expect(
        failure(
          await hub.gql(
            'query($p: String!) { models(project: $p) { edges { cursor } } }',
            { p: projectB.slug },
            scoped,
          ),
        ),
      ).toEqual({ code: 'NOT_FOUND' });
      expect(failure(await hub.gql(HISTORY, { m: modelB.id }, scoped))).toEqual({
        code: 'NOT_FOUND',
        field: 'modelId',
      });

      // Writes: neither creating in B, nor registering or moving aliases on B's model.
      expect(failure(await createModel(projectB.slug, unique('m'), scoped))).toEqual({ code: 'NOT_FOUND' });
      expect(failure(await register({ modelId: modelB.id }, scoped))).toEqual({
        code: 'NOT_FOUND',
        field: 'modelId',
      });
      expect(failure(await hub.gql(SET_ALIAS, { m: modelB.id, a: 'champion', v: null }, scoped))).toEqual({
        code: 'NOT_FOUND',
        field: 'modelId',
      });
      const stillThere = await hub.gql<{ model: { aliases: Array<{ alias: string }>; versions: unknown[] } }>(
        'query($id: ID!) { model(id: $id) { aliases { alias } versions { id } } }',
        { id: modelB.id },
      );
      expect(stillThere.data!.model).toEqual({
        aliases: [{ alias: 'champion' }],
        versions: [{ id: versionB.id }],
      });

      // In A, the same key works.
      const own = await register({ modelId: modelA.id }, scoped);
      expect(own.errors).toBeUndefined();
      const listed = await hub.gql<{ models: { edges: Array<{ node: { id: string } }> } }>(
        'query($p: String!) { models(project: $p, first: 100) { edges { node { id } } } }',
        { p: projectA.id },
        scoped,
      );
      expect(listed.data!.models.edges.map((e) => e.node.id)).toContain(modelA.id);

      // A viewer reads but cannot write, even in its own project.
      const viewer = await hub.key(Role.VIEWER, [projectA.id]);
      expect(
        (await hub.gql('query($id: ID!) { model(id: $id) { id } }', { id: modelA.id }, viewer)).errors,
      ).toBeUndefined();
      expect(failure(await createModel(projectA.slug, unique('m'), viewer))).toEqual({ code: 'FORBIDDEN' });
      expect(failure(await register({ modelId: modelA.id }, viewer))).toEqual({ code: 'FORBIDDEN' });
      expect(failure(await hub.gql(SET_ALIAS, { m: modelA.id, a: 'champion', v: null }, viewer))).toEqual({
        code: 'FORBIDDEN',
      });
    });

    it('rejects an anonymous caller', async () => {
      expect(
        failure(await hub.gql('query($id: ID!) { model(id: $id) { id } }', { id: projectA.id }, null)),
      ).toEqual({ code: 'UNAUTHENTICATED' });
      expect(failure(await createModel(projectA.slug, unique('m'), null))).toEqual({
        code: 'UNAUTHENTICATED',
      });
    });
  });

  describe('graphql/operations/models.graphql', () => {
    it('runs every example operation against the hub', async () => {
      const document = parse(
        fs.readFileSync(path.join(projectRoot, 'graphql', 'operations', 'models.graphql'), 'utf8'),
      );
      const ops = new Map(
        document.definitions.flatMap((d) =>
          d.kind === Kind.OPERATION_DEFINITION && d.name ? [[d.name.value, print(d)] as const] : [],
        ),
      );
      const run = async <T>(name: string, variables: Record<string, unknown>): Promise<T> => {
        const res = await hub.gql<T>(ops.get(name)!, variables);
        expect({ name, errors: res.errors }).toEqual({ name, errors: undefined });
        ops.delete(name);
        return res.data!;
      };
      const model = (
        await run<{ createModel: { id: string } }>('CreateModel', {
          input: { project: projectA.slug, name: unique('ops'), task: 'REGRESSION' },
        })
      ).createModel;
      const version = (
        await run<{ registerModelVersion: { id: string } }>('RegisterModelVersion', {
          input: {
            modelId: model.id,
            artifactSha256: regressorSha,
            featureNames: ['x1', 'x2'],
            metrics: { rmse: 1.5 },
          },
        })
      ).registerModelVersion;
      await run('SetModelAlias', { modelId: model.id, alias: 'champion', versionId: version.id });
      const got = await run<{ model: { versions: Array<{ aliases: Array<{ alias: string }> }> } }>('Model', {
        id: model.id,
      });
      expect(got.model.versions[0].aliases).toEqual([{ alias: 'champion' }]);
      await run('ModelVersion', { id: version.id });
      await run('Models', { project: projectA.slug, first: 5 });
      const history = await run<{ aliasHistory: { edges: unknown[] } }>('AliasHistory', {
        modelId: model.id,
        alias: 'champion',
        at: clock.toISOString(),
      });
      expect(history.aliasHistory.edges).toHaveLength(1);
      await run('UpdateModelCard', { versionId: version.id, card: { intendedUse: 'Demand forecast' } });
      const card = await run<{ modelCard: { missing: string[] } }>('ModelCard', { versionId: version.id });
      expect(card.modelCard.missing).toContain('owners');
      expect([...ops.keys()]).toEqual([]);
    });
  });
});
