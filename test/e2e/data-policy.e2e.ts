import { Role } from '../../src/modules/api-keys/api-key.entity';
import { projectHasher } from '../../src/modules/data-policy/data-policy';
import { PURGE_BATCH_ROWS } from '../../src/modules/data-policy/data-policy.service';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { FAKE_EPOCH_MS, FakeHubspotServer } from '../fakes/hubspot-server';
import { startTestHub, TEST_SECRET_KEY, unique, type GqlResult, type TestHub } from '../harness';

const SET_POLICY = `mutation($p: String!, $policy: DataPolicyInput!) {
  setDataPolicy(project: $p, policy: $policy) {
    id dataPolicy { personalFields treatment predictionRetentionDays syncedRecordRetentionDays }
  }
}`;
const POLICY = `query($slug: String!) {
  project(slug: $slug) { dataPolicy { personalFields treatment predictionRetentionDays syncedRecordRetentionDays } }
}`;
const AUDIT = `query($p: String!, $actions: [String!]) {
  auditLog(project: $p, actions: $actions, first: 50) {
    edges { node { action actorName actorRole subjectType subjectId before after } }
  }
}`;
const PREDICT = `mutation($e: String!, $i: JSONObject!, $k: String) {
  predict(endpoint: $e, input: $i, requestKey: $k) { requestKey label }
}`;
const CONTACTS = `query($p: String!, $email: String, $stage: String) {
  crmContacts(project: $p, email: $email, lifecycleStage: $stage, first: 100) {
    edges { node { externalId email firstName lastName company lifecycleStage raw } }
  }
}`;
const DEALS = `query($p: String!) { crmDeals(project: $p, first: 100) { edges { node { externalId name raw } } } }`;
const SYNC = `mutation($id: ID!) { syncConnector(id: $id) { id } }`;
const LAST_RUN = `query($id: ID!) { connector(id: $id) { lastRun { status error } } }`;

/** A model whose inputs include a personal one: amount, email (one-hot over two known addresses), plan. */
const SPEC = {
  version: 1,
  features: [
    { name: 'amount', kind: 'numeric' },
    { name: 'email', kind: 'categorical', categories: ['ann@example.com', 'bob@example.com'] },
    { name: 'plan', kind: 'categorical', categories: ['basic', 'pro'] },
  ],
};

type Contact = {
  externalId: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  lifecycleStage: string | null;
  raw: Record<string, unknown>;
};

const DAY_MS = 86_400_000;
const HMAC = /^hmac:[0-9a-f]{32}$/;

describe('data policy: personal data and retention', () => {
  let hub: TestHub;
  let clock = new Date(Date.UTC(2024, 1, 15));
  let policyReads = 0;
  const onnx = linearClassifierOnnx({ features: 5, classes: 2 });
  const closers: Array<{ close(): Promise<void> }> = [];

  const failure = (res: GqlResult<unknown>) => {
    expect(res.errors).toHaveLength(1);
    return { ...res.errors![0].extensions, message: res.errors![0].message };
  };

  async function newProject(): Promise<{ id: string; slug: string }> {
    const slug = unique('pii');
    const { createProject } = await hub.gqlOk<{ createProject: { id: string } }>(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
      { i: { slug, name: 'Personal data' } },
    );
    return { id: createProject.id, slug };
  }

  /** An endpoint serving the SPEC model in `project`; its name and id. */
  async function newEndpoint(project: string): Promise<{ name: string; id: string }> {
    const model = unique('churn');
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project, name: model, task: 'CLASSIFICATION' } },
    );
    const { registerModelVersion } = await hub.gqlOk<{ registerModelVersion: { version: number } }>(
      'mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { version } }',
      {
        i: {
          modelId: createModel.id,
          labels: ['stay', 'leave'],
          artifactSha256: await uploadArtifact(hub, onnx, project),
          preprocessing: SPEC,
        },
      },
    );
    const name = unique('ep');
    const { createEndpoint } = await hub.gqlOk<{ createEndpoint: { id: string } }>(
      'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }',
      { i: { project, model, name, version: registerModelVersion.version } },
    );
    return { name, id: createEndpoint.id };
  }

  async function logged(
    endpointId: string,
  ): Promise<Array<{ request_key: string; features: Record<string, unknown> }>> {
    await hub.services.predictionLog.flush();
    return hub.db.query(
      'SELECT request_key, features FROM prediction_log WHERE endpoint_id = $1 ORDER BY id',
      [endpointId],
    );
  }

  /** A HubSpot connector of `project` on a fake, synced once. */
  async function syncedHubspot(project: string, server: FakeHubspotServer, url: string): Promise<string> {
    const { createConnector } = await hub.gqlOk<{ createConnector: { id: string } }>(
      'mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }',
      {
        i: {
          project,
          name: unique('hubspot'),
          kind: 'hubspot',
          config: { baseUrl: url, pageSize: 100 },
          secrets: { accessToken: server.token },
        },
      },
    );
    await hub.gqlOk(SYNC, { id: createConnector.id });
    for (;;) {
      const { connector } = await hub.gqlOk<{
        connector: { lastRun: { status: string; error: string | null } };
      }>(LAST_RUN, { id: createConnector.id });
      if (connector.lastRun.status !== 'RUNNING') {
        expect(connector.lastRun).toMatchObject({ status: 'SUCCEEDED', error: null });
        return createConnector.id;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function hubspotFake(contacts: number, deals: number) {
    const server = new FakeHubspotServer({ contacts, deals, seed: 5 });
    closers.push(server);
    return { server, url: await server.start() };
  }

  const hashIn = (projectId: string) => projectHasher(Buffer.from(TEST_SECRET_KEY, 'base64'), projectId);

  beforeAll(async () => {
    hub = await startTestHub(
      { predictionLogFlushMs: 5 },
      {
        now: () => clock,
        onQuery: (sql) => {
          if (/^SELECT data_policy FROM project WHERE id = \$1$/.test(sql)) policyReads++;
        },
      },
    );
  });
  afterAll(async () => {
    for (const c of closers) await c.close();
    await hub.close();
  });

  it('setDataPolicy: admins only, every field checked by name with nothing written, audited with before and after', async () => {
    const project = await newProject();
    const attempt = (policy: Record<string, unknown>, key?: string) =>
      hub.gql(SET_POLICY, { p: project.slug, policy }, key);

    const bad: Array<[Record<string, unknown>, string]> = [
      [
        { personalFields: ['prediction.email', 'crm_contact.email', 'ticket.subject', 'crm_contact.phone'] },
        'policy.personalFields.3',
      ],
      [{ personalFields: ['crm_deal.amount'] }, 'policy.personalFields.0'],
      [{ personalFields: ['crm_contact.email', 'customer.email'] }, 'policy.personalFields.1'],
      [{ personalFields: ['prediction.'] }, 'policy.personalFields.0'],
      [{ personalFields: ['email'] }, 'policy.personalFields.0'],
      [{ personalFields: ['ticket.external_id'] }, 'policy.personalFields.0'],
      [{ predictionRetentionDays: 0 }, 'policy.predictionRetentionDays'],
      [{ syncedRecordRetentionDays: 1.5 }, 'policy.syncedRecordRetentionDays'],
    ];
    for (const [policy, field] of bad) {
      expect(failure(await attempt(policy))).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const unknownScope = failure(await attempt({ personalFields: ['customer.email'] }));
    expect(unknownScope.message).toMatch(
      /prediction, ticket, rpa_job, rpa_queue_item, crm_contact, crm_deal/,
    );
    const notPersonal = failure(await attempt({ personalFields: ['crm_deal.amount'] }));
    expect(notPersonal.message).toMatch(/\(name, pipeline, stage, raw\)/);

    for (const role of [Role.ML_ENGINEER, Role.AUDITOR, Role.APPROVER, Role.ANALYST]) {
      const key = await hub.key(role);
      expect(failure(await attempt({ personalFields: ['crm_contact.email'] }, key))).toMatchObject({
        code: 'FORBIDDEN',
      });
    }
    // Nothing was written: neither the policy nor an audit event.
    const [row] = await hub.db.query('SELECT data_policy FROM project WHERE id = $1', [project.id]);
    expect(row.data_policy).toEqual({});
    const none = await hub.gqlOk<{ auditLog: { edges: unknown[] } }>(AUDIT, {
      p: project.slug,
      actions: ['setDataPolicy'],
    });
    expect(none.auditLog.edges).toEqual([]);
    const fresh = await hub.gqlOk<{ project: { dataPolicy: unknown } }>(POLICY, { slug: project.slug });
    expect(fresh.project.dataPolicy).toEqual({
      personalFields: [],
      treatment: 'REDACT',
      predictionRetentionDays: null,
      syncedRecordRetentionDays: null,
    });

    const first = {
      personalFields: [' prediction.email ', 'crm_contact.email', 'crm_contact.email', 'ticket.raw'],
      treatment: 'HASH',
      predictionRetentionDays: 30,
    };
    const set = await hub.gqlOk<{ setDataPolicy: { dataPolicy: unknown } }>(SET_POLICY, {
      p: project.slug,
      policy: first,
    });
    const stored = {
      personalFields: ['prediction.email', 'crm_contact.email', 'ticket.raw'],
      treatment: 'HASH',
      predictionRetentionDays: 30,
      syncedRecordRetentionDays: null,
    };
    expect(set.setDataPolicy.dataPolicy).toEqual(stored);
    // Anyone who reads the project reads its policy: names of fields, never values.
    const viewer = await hub.key(Role.VIEWER, [project.id]);
    expect(
      (await hub.gqlOk<{ project: { dataPolicy: unknown } }>(POLICY, { slug: project.slug }, viewer)).project
        .dataPolicy,
    ).toEqual(stored);
    // A project-scoped admin sets its own project's policy.
    const scopedAdmin = await hub.key(Role.ADMIN, [project.id]);
    await hub.gqlOk(
      SET_POLICY,
      { p: project.id, policy: { personalFields: ['crm_contact.first_name'] } },
      scopedAdmin,
    );

    const { auditLog } = await hub.gqlOk<{
      auditLog: {
        edges: Array<{
          node: { action: string; actorRole: string; subjectId: string; before: unknown; after: unknown };
        }>;
      };
    }>(AUDIT, { p: project.slug, actions: ['setDataPolicy'] });
    expect(auditLog.edges.map((e) => e.node)).toMatchObject([
      {
        action: 'setDataPolicy',
        actorRole: 'ADMIN',
        subjectId: project.id,
        before: stored,
        after: {
          ...stored,
          personalFields: ['crm_contact.first_name'],
          treatment: 'REDACT',
          predictionRetentionDays: null,
        },
      },
      { action: 'setDataPolicy', actorRole: 'ADMIN', subjectId: project.id, before: {}, after: stored },
    ]);
    expect(
      await hub.gqlOk(`query($p: String!) { verifyAuditChain(project: $p) { ok } }`, { p: project.slug }),
    ).toEqual({
      verifyAuditChain: { ok: true },
    });
  });

  it('prediction logs: personal features are redacted or hashed before they are written, the others kept', async () => {
    const project = await newProject();
    const endpoint = await newEndpoint(project.slug);
    await hub.gqlOk(SET_POLICY, { p: project.slug, policy: { personalFields: ['prediction.email'] } });
    const input = { amount: 12.5, email: 'ann@example.com', plan: 'pro' };
    await hub.gqlOk(PREDICT, { e: endpoint.name, i: input, k: 'redacted-1' });
    expect(await logged(endpoint.id)).toEqual([
      { request_key: 'redacted-1', features: { amount: 12.5, email: '[redacted]', plan: 'pro' } },
    ]);

    await hub.gqlOk(SET_POLICY, {
      p: project.slug,
      policy: { personalFields: ['prediction.email', 'prediction.plan'], treatment: 'HASH' },
    });
    const rows = [
      { amount: 1, email: 'ann@example.com', plan: 'basic' },
      { amount: 2, email: 'bob@example.com', plan: 'basic' },
      { amount: 3, email: 'ann@example.com', plan: 'pro' },
    ];
    // The answer is scored on the clear input: masking touches the log only.
    const answers = [];
    for (const [i, row] of rows.entries()) {
      answers.push(
        (
          await hub.gqlOk<{ predict: { label: string } }>(PREDICT, {
            e: endpoint.name,
            i: row,
            k: `hashed-${i}`,
          })
        ).predict,
      );
    }
    const hashed = (await logged(endpoint.id)).slice(1).map((r) => r.features);
    const hash = hashIn(project.id);
    expect(hashed).toEqual([
      { amount: 1, email: hash('"ann@example.com"'), plan: hash('"basic"') },
      { amount: 2, email: hash('"bob@example.com"'), plan: hash('"basic"') },
      { amount: 3, email: hash('"ann@example.com"'), plan: hash('"pro"') },
    ]);
    expect(hashed[0].email).toMatch(HMAC);
    // Equal values hash equal (joins, category counts); another project's key hashes them apart.
    expect(hashed[0].email).toBe(hashed[2].email);
    expect(hashed[0].email).not.toBe(hashed[1].email);
    expect(hashIn(unique('other'))('"ann@example.com"')).not.toBe(hashed[0].email);
    expect(
      JSON.stringify(
        await hub.db.query('SELECT features FROM prediction_log WHERE endpoint_id = $1', [endpoint.id]),
      ),
    ).not.toMatch(/example\.com/);
    expect(answers).toHaveLength(3);

    // The hot path reads the policy from memory: a burst of predictions costs at most one read per
    // second of the burst, and every row of it is masked.
    policyReads = 0;
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          hub.gqlOk(PREDICT, {
            e: endpoint.name,
            i: { amount: i, email: 'bob@example.com', plan: 'pro' },
            k: `burst-${batch}-${i}`,
          }),
        ),
      );
    }
    const burst = (await logged(endpoint.id)).filter((r) => r.request_key.startsWith('burst-'));
    const seconds = (Date.now() - started) / 1000;
    expect(burst).toHaveLength(200);
    expect(new Set(burst.map((r) => r.features.email))).toEqual(new Set([hash('"bob@example.com"')]));
    expect(policyReads).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
  });

  it('synced records: personal columns masked for callers without the right (raw included), clear for admins; filters on them refused', async () => {
    const project = await newProject();
    const { server, url } = await hubspotFake(30, 6);
    await syncedHubspot(project.slug, server, url);
    await hub.gqlOk(SET_POLICY, {
      p: project.slug,
      policy: {
        personalFields: ['crm_contact.email', 'crm_contact.first_name', 'crm_contact.last_name'],
        treatment: 'HASH',
      },
    });
    const contacts = async (key: string, variables: Record<string, unknown> = {}): Promise<Contact[]> =>
      (
        await hub.gqlOk<{ crmContacts: { edges: Array<{ node: Contact }> } }>(
          CONTACTS,
          { p: project.slug, ...variables },
          key,
        )
      ).crmContacts.edges
        .map((e) => e.node)
        .sort((a, b) => Number(a.externalId) - Number(b.externalId));
    const fake = [...server.objects.contacts.values()].sort((a, b) => Number(a.id) - Number(b.id));

    // Admins (hub-wide or of the project) read them as synced.
    for (const key of [hub.adminKey, await hub.key(Role.ADMIN, [project.id])]) {
      const clear = await contacts(key);
      expect(clear.map((c) => [c.email, c.firstName, c.lastName])).toEqual(
        fake.map((o) => [o.properties.email, o.properties.firstname, o.properties.lastname]),
      );
      expect((clear[0].raw.properties as Record<string, unknown>).email).toBe(fake[0].properties.email);
    }

    // Everyone else who reads connectors gets hashes (joinable, HMAC-keyed), the other columns intact,
    // and no vendor object: it carries its own copy of every column.
    const hash = hashIn(project.id);
    for (const role of [Role.ANALYST, Role.ML_ENGINEER, Role.AUDITOR, Role.BOT]) {
      const masked = await contacts(await hub.key(role, [project.id]));
      expect(
        masked.map((c) => [c.email, c.firstName, c.lastName, c.company, c.lifecycleStage, c.raw]),
      ).toEqual(
        fake.map((o) => [
          hash(JSON.stringify(o.properties.email)),
          hash(JSON.stringify(o.properties.firstname)),
          o.properties.lastname === null ? null : hash(JSON.stringify(o.properties.lastname)),
          o.properties.company,
          o.properties.lifecyclestage,
          { redacted: true },
        ]),
      );
      expect(JSON.stringify(masked)).not.toMatch(/example\.com|First\d/);
    }
    // VIEWERs do not read synced records at all.
    const viewer = await hub.key(Role.VIEWER, [project.id]);
    expect(failure(await hub.gql(CONTACTS, { p: project.slug }, viewer))).toMatchObject({
      code: 'FORBIDDEN',
    });

    // A filter by a personal value would tell whether that person is there: refused without the right.
    const analyst = await hub.key(Role.ANALYST, [project.id]);
    const probe = fake[3].properties.email;
    const refused = failure(await hub.gql(CONTACTS, { p: project.slug, email: probe }, analyst));
    expect(refused).toMatchObject({ code: 'FORBIDDEN' });
    expect(refused.message).toMatch(/crm_contact\.email is personal data/);
    expect(refused.message).not.toContain(probe);
    expect((await contacts(hub.adminKey, { email: probe })).map((c) => c.email)).toEqual([probe]);
    // Filters on other columns still work.
    const stage = fake[0].properties.lifecyclestage;
    expect((await contacts(analyst, { stage })).length).toBe(
      fake.filter((o) => o.properties.lifecyclestage === stage).length,
    );

    // Deals hold no marked field: raw and all intact.
    const { crmDeals } = await hub.gqlOk<{
      crmDeals: { edges: Array<{ node: { name: string; raw: Record<string, unknown> } }> };
    }>(DEALS, { p: project.slug }, analyst);
    expect(crmDeals.edges).toHaveLength(6);
    for (const { node } of crmDeals.edges) expect(node.raw.properties).toMatchObject({ dealname: node.name });

    // REDACT: the same columns read "[redacted]".
    await hub.gqlOk(SET_POLICY, {
      p: project.slug,
      policy: { personalFields: ['crm_contact.email', 'crm_deal.raw'] },
    });
    const redacted = await contacts(analyst);
    expect(new Set(redacted.map((c) => c.email))).toEqual(new Set(['[redacted]']));
    expect(redacted.map((c) => c.firstName)).toEqual(fake.map((o) => o.properties.firstname));
    const deals = await hub.gqlOk<{ crmDeals: { edges: Array<{ node: { name: string; raw: unknown } }> } }>(
      DEALS,
      { p: project.slug },
      analyst,
    );
    for (const { node } of deals.crmDeals.edges)
      expect(node).toMatchObject({ name: expect.stringMatching(/^Deal /), raw: { redacted: true } });
  });

  it('retention purges exactly the prediction logs and synced records past the cutoff, in batches, and nothing newer', async () => {
    const project = await newProject();
    const other = await newProject();
    const endpoint = await newEndpoint(project.slug);
    const { server, url } = await hubspotFake(30, 9);
    clock = new Date(Date.UTC(2024, 1, 15));
    await syncedHubspot(project.slug, server, url);
    await syncedHubspot(other.slug, server, url);

    // Contacts were last modified at FAKE_EPOCH + 0.5 s, 1.5 s, … (three per second). With 30 days of
    // retention and "now" 30 days after FAKE_EPOCH + 4.5 s, those modified before 4.5 s are past it; those
    // at 4.5 s are not (strictly older only). Deals (modified at 0.5 s … 2.5 s) are all past it.
    const recordCutoff = new Date(FAKE_EPOCH_MS + 4_500);
    const now = new Date(recordCutoff.getTime() + 30 * DAY_MS);
    // Predictions at now - 8 days (past 7 days of retention), exactly 7 days (kept), 6 days, an hour.
    const ages = { old: 8 * DAY_MS, boundary: 7 * DAY_MS, recent: 6 * DAY_MS, fresh: 3_600_000 };
    for (const [name, age] of Object.entries(ages)) {
      clock = new Date(now.getTime() - age);
      await hub.gqlOk(PREDICT, {
        e: endpoint.name,
        i: { amount: 1, email: 'ann@example.com', plan: 'pro' },
        k: name,
      });
    }
    await hub.services.predictionLog.flush();
    const [{ model_version_id: versionId }] = await hub.db.query(
      'SELECT model_version_id FROM prediction_log WHERE endpoint_id = $1 LIMIT 1',
      [endpoint.id],
    );
    // A backlog larger than two purge batches, all past the cutoff.
    const backlog = 2 * PURGE_BATCH_ROWS + 5;
    await hub.db.query(
      `INSERT INTO prediction_log (project_id, endpoint_id, model_version_id, request_key, features, latency_ms, shadow, created_at)
       SELECT $1, $2, $3, 'backlog-' || g, '{}'::jsonb, 1, false, $4 FROM generate_series(1, $5) g`,
      [project.id, endpoint.id, versionId, new Date(now.getTime() - 40 * DAY_MS), backlog],
    );
    // The other project (no retention) has old logs too.
    await hub.db.query(
      `INSERT INTO prediction_log (project_id, endpoint_id, model_version_id, request_key, features, latency_ms, shadow, created_at)
       SELECT $1, gen_random_uuid(), $2, 'other-' || g, '{}'::jsonb, 1, false, $3 FROM generate_series(1, 5) g`,
      [other.id, versionId, new Date(now.getTime() - 400 * DAY_MS)],
    );

    const count = async (
      table: string,
      projectId: string,
      where = 'true',
      params: unknown[] = [],
    ): Promise<number> =>
      Number(
        (
          await hub.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE project_id = $1 AND ${where}`, [
            projectId,
            ...params,
          ])
        )[0].n,
      );
    const contactsPast = await count('crm_contact', project.id, 'updated_at < $2', [recordCutoff]);
    const contactsKept = await count('crm_contact', project.id, 'updated_at >= $2', [recordCutoff]);
    expect(contactsPast).toBe(12);
    expect(contactsKept).toBe(18);
    expect(await count('crm_contact', project.id, 'updated_at = $2', [recordCutoff])).toBe(3);
    const kpiPoints = await count('kpi_point', project.id);
    expect(kpiPoints).toBeGreaterThan(0);
    const otherBefore = {
      contacts: await count('crm_contact', other.id),
      deals: await count('crm_deal', other.id),
      logs: await count('prediction_log', other.id),
    };

    await hub.gqlOk(SET_POLICY, {
      p: project.slug,
      policy: { predictionRetentionDays: 7, syncedRecordRetentionDays: 30 },
    });
    const query = jest.spyOn(hub.db, 'query');
    const report = await hub.services.dataPolicy.runRetention(now);
    const purges = query.mock.calls.filter(
      ([sql, params]) => /DELETE FROM prediction_log/.test(sql) && (params as unknown[])[0] === project.id,
    );
    query.mockRestore();
    // Bounded statements: the backlog and the one old prediction took three.
    expect(purges).toHaveLength(3);
    expect(report.predictionLogs).toBeGreaterThanOrEqual(backlog + 1);

    const keys = (
      await hub.db.query(
        'SELECT request_key FROM prediction_log WHERE endpoint_id = $1 ORDER BY created_at',
        [endpoint.id],
      )
    ).map((r: { request_key: string }) => r.request_key);
    expect(keys).toEqual(['boundary', 'recent', 'fresh']);
    expect(await count('crm_contact', project.id, 'updated_at < $2', [recordCutoff])).toBe(0);
    expect(await count('crm_contact', project.id)).toBe(contactsKept);
    expect(await count('crm_deal', project.id)).toBe(0);
    // KPI points derived from purged deals stay: values, times and versions, no personal data.
    expect(await count('kpi_point', project.id)).toBe(kpiPoints);
    // Nothing of the other project moved.
    expect({
      contacts: await count('crm_contact', other.id),
      deals: await count('crm_deal', other.id),
      logs: await count('prediction_log', other.id),
    }).toEqual(otherBefore);

    const { auditLog } = await hub.gqlOk<{ auditLog: { edges: Array<{ node: Record<string, unknown> }> } }>(
      AUDIT,
      {
        p: project.slug,
        actions: ['purgeExpiredData'],
      },
    );
    expect(auditLog.edges.map((e) => e.node)).toEqual([
      {
        action: 'purgeExpiredData',
        actorName: 'retention',
        actorRole: 'SYSTEM',
        subjectType: 'Project',
        subjectId: project.id,
        before: null,
        after: {
          predictionLogs: backlog + 1,
          predictionLogsBefore: new Date(now.getTime() - 7 * DAY_MS).toISOString(),
          records: { crm_contact: contactsPast, crm_deal: 9 },
          recordsBefore: recordCutoff.toISOString(),
        },
      },
    ]);

    // The scheduled job runs the same purge on the hub's clock, under its lock: nothing is left to purge.
    clock = now;
    expect(await hub.services.scheduler.runNow('data-retention')).toBe(true);
    expect(await count('prediction_log', project.id)).toBe(3);
    expect(await count('crm_contact', project.id)).toBe(contactsKept);
    const again = await hub.gqlOk<{ auditLog: { edges: unknown[] } }>(AUDIT, {
      p: project.slug,
      actions: ['purgeExpiredData'],
    });
    expect(again.auditLog.edges).toHaveLength(1);
  });
});
