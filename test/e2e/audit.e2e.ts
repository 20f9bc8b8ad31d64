import { Role } from '../../src/modules/api-keys/api-key.entity';
import { auditHash } from '../../src/platform/audit/audit-trail';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';

const LOG = `query($p: String!, $actions: [String!], $actor: ID, $from: DateTimeISO, $to: DateTimeISO, $first: Int, $after: String) {
  auditLog(project: $p, actions: $actions, actorKeyId: $actor, from: $from, to: $to, first: $first, after: $after) {
    edges { node { id seq action subjectType subjectId actorKeyId actorName actorRole before after requestId at prevHash hash } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const VERIFY = `query($p: String!) { verifyAuditChain(project: $p) { ok events unkeyedEvents firstBroken { seq eventId reason } } }`;

interface Event {
  id: string;
  seq: number;
  action: string;
  subjectType: string;
  subjectId: string | null;
  actorKeyId: string;
  actorName: string;
  actorRole: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  requestId: string;
  prevHash: string;
  hash: string;
}

describe('audit trail', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };

  const failure = (res: GqlResult<unknown>) => {
    expect(res.errors).toHaveLength(1);
    return res.errors![0].extensions?.code;
  };
  const events = async (p = project.slug, variables: Record<string, unknown> = {}, key?: string) =>
    (
      await hub.gqlOk<{ auditLog: { edges: Array<{ node: Event }> } }>(
        LOG,
        { p, first: 100, ...variables },
        key,
      )
    ).auditLog.edges.map((e) => e.node);
  const verify = async (p = project.slug) =>
    (
      await hub.gqlOk<{
        verifyAuditChain: {
          ok: boolean;
          events: number;
          unkeyedEvents: number;
          firstBroken: { seq: number; eventId: string; reason: string } | null;
        };
      }>(VERIFY, { p })
    ).verifyAuditChain;

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  beforeEach(async () => {
    project = (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('audited'), name: 'Audited' } },
      )
    ).createProject;
  });

  it('records who did what, with before and after, in a chain that verifies', async () => {
    const engineer = await hub.key(Role.ML_ENGINEER, [project.id]);
    const dataset = await hub.gqlOk<{ createDataset: { id: string } }>(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { project: project.slug, name: 'tickets' } },
      engineer,
    );
    const key = await hub.gqlOk<{ createApiKey: { key: { id: string } } }>(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key { id } } }',
      { i: { name: 'bot', role: 'BOT', projectIds: [project.id] } },
    );
    await hub.gqlOk('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.createApiKey.key.id });
    await hub.gqlOk(
      'mutation($i: DefineKpiInput!) { defineKpi(input: $i) { id } }',
      { i: { project: project.slug, key: 'csat', name: 'CSAT', unit: 'score' } },
      engineer,
    );
    await hub.gqlOk(
      'mutation($i: DefineKpiInput!) { defineKpi(input: $i) { id } }',
      { i: { project: project.slug, key: 'csat', name: 'CSAT', unit: 'points' } },
      engineer,
    );

    const log = await events();
    expect(log.map((e) => e.action)).toEqual([
      'defineKpi',
      'defineKpi',
      'revokeApiKey',
      'createApiKey',
      'createDataset',
      // The engineer's key, made through the harness, is a key change too.
      'createApiKey',
      'createProject',
    ]);
    expect(log.map((e) => e.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    const [redefined] = log;
    expect(redefined).toMatchObject({
      actorRole: 'ML_ENGINEER',
      subjectType: 'Kpi',
      before: { unit: 'score' },
      after: { key: 'csat', unit: 'points' },
    });
    expect(log.find((e) => e.action === 'createDataset')).toMatchObject({
      subjectId: dataset.createDataset.id,
      after: { name: 'tickets' },
    });
    expect(log.find((e) => e.action === 'revokeApiKey')!.after!.revokedAt).toEqual(expect.any(String));
    // Each event carries the previous one's hash.
    const ascending = [...log].reverse();
    expect(ascending[0].prevHash).toBe('0'.repeat(64));
    for (let i = 1; i < ascending.length; i++) expect(ascending[i].prevHash).toBe(ascending[i - 1].hash);
    expect(await verify()).toEqual({ ok: true, events: 7, unkeyedEvents: 0, firstBroken: null });

    // Filters.
    expect((await events(project.slug, { actions: ['defineKpi'] })).map((e) => e.seq)).toEqual([7, 6]);
    const actor = log[0].actorKeyId;
    expect((await events(project.slug, { actor })).every((e) => e.actorKeyId === actor)).toBe(true);
    expect(await events(project.slug, { from: '2999-01-01T00:00:00Z' })).toEqual([]);
  });

  it('writes nothing for a refused mutation, and keeps one gap-free chain under concurrency', async () => {
    await hub.gqlOk('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
      i: { project: project.slug, name: 'dup' },
    });
    const dup = await hub.gql('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
      i: { project: project.slug, name: 'dup' },
    });
    expect(failure(dup)).toBe('CONFLICT');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        hub.gqlOk('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
          i: { project: project.slug, name: `parallel-${i}` },
        }),
      ),
    );
    const log = await events();
    expect(log).toHaveLength(22);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 22 }, (_, i) => 22 - i));
    expect(await verify()).toEqual({ ok: true, events: 22, unkeyedEvents: 0, firstBroken: null });
  });

  it('is readable by admins and auditors of the project only', async () => {
    const auditor = await hub.key(Role.AUDITOR, [project.id]);
    expect((await events(project.slug, {}, auditor)).length).toBeGreaterThan(0);
    const verified = await hub.gql(VERIFY, { p: project.slug }, auditor);
    expect(verified.errors).toBeUndefined();
    for (const role of [
      Role.VIEWER,
      Role.APPROVER,
      Role.ML_ENGINEER,
      Role.BOT,
      Role.ANALYST,
      Role.DATA_SCIENTIST,
    ]) {
      const key = await hub.key(role, [project.id]);
      expect({ role, code: failure(await hub.gql(LOG, { p: project.slug }, key)) }).toEqual({
        role,
        code: 'FORBIDDEN',
      });
      expect({ role, code: failure(await hub.gql(VERIFY, { p: project.slug }, key)) }).toEqual({
        role,
        code: 'FORBIDDEN',
      });
    }
    const elsewhere = (
      await hub.gqlOk<{ createProject: { id: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        { i: { slug: unique('other'), name: 'Other' } },
      )
    ).createProject;
    const otherAuditor = await hub.key(Role.AUDITOR, [elsewhere.id]);
    expect(failure(await hub.gql(LOG, { p: project.slug }, otherAuditor))).toBe('NOT_FOUND');
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    for (const sql of [
      `UPDATE audit_event SET action = 'nothing' WHERE chain = '${project.id}'`,
      `DELETE FROM audit_event WHERE chain = '${project.id}'`,
      'TRUNCATE audit_event',
    ]) {
      await expect(hub.db.query(sql)).rejects.toThrow(/append-only/);
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('detects an event edited or removed behind the trigger, naming the first broken link', async () => {
    for (let i = 0; i < 4; i++) {
      await hub.gqlOk('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
        i: { project: project.slug, name: `d${i}` },
      });
    }
    const log = await events();
    const third = log.find((e) => e.seq === 3)!;
    // A superuser disables the trigger, edits one row, and re-enables it.
    const tamper = async (sql: string, params: unknown[]) => {
      const runner = hub.db.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        await runner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await runner.query(sql, params);
        await runner.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
        await runner.commitTransaction();
      } finally {
        await runner.release();
      }
    };
    await tamper(`UPDATE audit_event SET after = jsonb_set(after, '{name}', '"innocent"') WHERE id = $1`, [
      third.id,
    ]);
    expect(await verify()).toEqual({
      ok: false,
      events: 2,
      unkeyedEvents: 0,
      firstBroken: { seq: 3, eventId: third.id, reason: expect.stringMatching(/altered/) },
    });
    // Recomputing the edited row's sha256 too does not help: the hash is keyed.
    const [{ hash }] = (await hub.db.query('SELECT hash FROM audit_event WHERE id = $1', [
      third.id,
    ])) as Array<{
      hash: string;
    }>;
    const [row] = (await hub.db.query(
      `SELECT chain, seq, project_id AS "projectId", actor_key_id AS "actorKeyId", actor_name AS "actorName",
              actor_role AS "actorRole", action, subject_type AS "subjectType", subject_id AS "subjectId",
              before, after, request_id AS "requestId", at, prev_hash AS "prevHash"
         FROM audit_event WHERE id = $1`,
      [third.id],
    )) as Array<Parameters<typeof auditHash>[0]>;
    const forged = auditHash(row);
    expect(forged).not.toBe(hash);
    await tamper('UPDATE audit_event SET hash = $2 WHERE id = $1', [third.id, forged]);
    expect(await verify()).toEqual({
      ok: false,
      events: 2,
      unkeyedEvents: 0,
      firstBroken: { seq: 3, eventId: third.id, reason: expect.stringMatching(/altered or forged/) },
    });
    // A link whose event holds but whose previous hash is not its predecessor's is named as such.
    await tamper('UPDATE audit_event SET hash = $2 WHERE id = $1', [third.id, hash]);
    await tamper("UPDATE audit_event SET after = jsonb_set(after, '{name}', '\"d1\"') WHERE id = $1", [
      third.id,
    ]);
    expect(await verify()).toMatchObject({ ok: true, events: 5 });
    await tamper('UPDATE audit_event SET prev_hash = $2 WHERE id = $1', [third.id, '1'.repeat(64)]);
    expect(await verify()).toEqual({
      ok: false,
      events: 2,
      unkeyedEvents: 0,
      firstBroken: { seq: 3, eventId: third.id, reason: expect.stringMatching(/previous hash/) },
    });
    // Removing an event is a missing position.
    await tamper('DELETE FROM audit_event WHERE id = $1', [log.find((e) => e.seq === 2)!.id]);
    expect(await verify()).toMatchObject({
      ok: false,
      events: 1,
      firstBroken: { seq: 2, reason: expect.stringMatching(/missing/) },
    });
  });
});

describe('audit chain keying', () => {
  let hub: TestHub;
  /** The hub as it ran before keying: no NERVE_SECRET_KEY, so it writes version-0 (plain sha256) events. */
  let unkeyed: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
    unkeyed = await startTestHub({ secretKey: undefined });
  });
  afterAll(async () => {
    await unkeyed.close();
    await hub.close();
  });

  const verify = async (slug: string) =>
    (await hub.gqlOk<{ verifyAuditChain: Record<string, unknown> }>(VERIFY, { p: slug })).verifyAuditChain;
  const createProject = async (on: TestHub) =>
    (
      await on.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('keyed'), name: 'Keyed' } },
      )
    ).createProject;
  const createDataset = (on: TestHub, project: string) =>
    on.gqlOk('mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', {
      i: { project, name: unique('d') },
    });

  /**
   * What someone with INSERT on the database (and no NERVE_SECRET_KEY) can do: append an event at the
   * chain's tail whose sha256 is correctly recomputed over its fields and the previous hash.
   */
  async function forge(chain: string, hashVersion: number): Promise<string> {
    const [last] = (await hub.db.query(
      'SELECT seq, hash FROM audit_event WHERE chain = $1 ORDER BY seq DESC LIMIT 1',
      [chain],
    )) as Array<{ seq: number; hash: string }>;
    const event = {
      chain,
      seq: last.seq + 1,
      projectId: chain,
      actorKeyId: '00000000-0000-0000-0000-000000000000',
      actorName: 'hub',
      actorRole: 'SYSTEM',
      action: 'setModelAlias',
      subjectType: 'ModelVersion',
      subjectId: 'innocent',
      before: null,
      after: { alias: 'champion' },
      requestId: 'forged',
      at: new Date('2026-01-01T00:00:00.000Z'),
      prevHash: last.hash,
    };
    const [{ id }] = (await hub.db.query(
      `INSERT INTO audit_event (chain, seq, project_id, actor_key_id, actor_name, actor_role, action,
         subject_type, subject_id, before, after, request_id, at, prev_hash, hash, hash_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
      [...Object.values({ ...event, after: JSON.stringify(event.after) }), auditHash(event), hashVersion],
    )) as Array<{ id: string }>;
    return String(id);
  }

  it('names an event inserted with a recomputed sha256, whichever hash version it claims', async () => {
    const project = await createProject(hub);
    await createDataset(hub, project.slug);
    expect(await verify(project.slug)).toEqual({ ok: true, events: 2, unkeyedEvents: 0, firstBroken: null });
    const forgedKeyed = await forge(project.id, 1);
    expect(await verify(project.slug)).toEqual({
      ok: false,
      events: 2,
      unkeyedEvents: 0,
      firstBroken: { seq: 3, eventId: forgedKeyed, reason: expect.stringMatching(/altered or forged/) },
    });

    const other = await createProject(hub);
    const forgedUnkeyed = await forge(other.id, 0);
    expect(await verify(other.slug)).toEqual({
      ok: false,
      events: 1,
      unkeyedEvents: 0,
      firstBroken: { seq: 2, eventId: forgedUnkeyed, reason: expect.stringMatching(/unkeyed after keyed/) },
    });
  });

  it('verifies a chain begun before keying, whose first keyed event seals the unkeyed prefix', async () => {
    const project = await createProject(unkeyed);
    await createDataset(unkeyed, project.slug);
    expect(await verify(project.slug)).toEqual({ ok: true, events: 2, unkeyedEvents: 2, firstBroken: null });
    await createDataset(hub, project.slug);
    expect(await verify(project.slug)).toEqual({ ok: true, events: 3, unkeyedEvents: 2, firstBroken: null });
    const forged = await forge(project.id, 0);
    expect(await verify(project.slug)).toMatchObject({
      ok: false,
      events: 3,
      firstBroken: { seq: 4, eventId: forged, reason: expect.stringMatching(/unkeyed after keyed/) },
    });
  });
});
