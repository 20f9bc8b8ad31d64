import fs from 'node:fs';
import path from 'node:path';
import { getNamedType, isInterfaceType, isObjectType, isUnionType, type GraphQLSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { projectRoot } from '../../src/common/paths';
import type { Role } from '../../src/modules/api-keys/api-key.entity';
import { buildNerveSchema } from '../../src/server/schema';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';
import { ASSESSMENT, ProjectFixture } from '../support/fixture';
import { loadExamples } from '../support/operations';
import { POLICY, ROLES, policyRows, renderPolicyTable } from '../support/policy';

type Vars = Record<string, unknown>;

interface Call {
  role: Role;
  /** Whether the policy lets this caller through: an allowed call gets a throwaway object to change. */
  allowed: boolean;
}

/** How to call one root field with valid arguments against the fixture. */
interface Case {
  vars(call: Call): Vars | Promise<Vars>;
}

/**
 * The access policy of `test/support/policy.ts`, proved against a live hub: every root field of the
 * schema, called by a key of every role limited to a project that holds real data (and, for fields
 * only a key for every project may call, by unlimited keys too). An allowed call succeeds; any other
 * gets FORBIDDEN exactly, with no data: not NOT_FOUND, which would tell a caller less than the truth
 * about why, and not a partial answer. Calls that change state run on throwaway objects, so callers
 * never meet each other's changes; denied callers go first, at objects that exist.
 */
describe('role matrix', () => {
  let hub: TestHub;
  let f: ProjectFixture;
  let schema: GraphQLSchema;
  const scopedKeys = new Map<Role, string>();
  const unscopedKeys = new Map<Role, string>();
  const texts = new Map<string, string>();

  beforeAll(async () => {
    schema = await buildNerveSchema();
    for (const example of loadExamples()) {
      if (example.rootFields.length === 1) texts.set(example.rootFields[0], example.text);
    }
    hub = await startTestHub();
    f = new ProjectFixture(hub);
    await f.build();
    for (const role of ROLES) {
      scopedKeys.set(role, await hub.key(role, [f.projectId]));
      unscopedKeys.set(role, await hub.key(role));
    }
  }, 120_000);
  afterAll(async () => {
    await f?.close();
    await hub?.close();
  });

  let step = 0;
  const hourAgo = (): string => new Date(Date.now() - 3_600_000).toISOString();
  const soon = (): string => new Date(Date.now() + 60_000).toISOString();
  const endpointFor = async ({ allowed }: Call): Promise<string> =>
    allowed ? f.freshEndpoint() : f.endpoint;
  const rolloutFor = async ({ allowed }: Call, options: { paused?: boolean } = {}): Promise<string> =>
    allowed ? (await f.freshRollout(options)).rolloutId : f.rolloutId;
  const alertFor = async ({ allowed }: Call): Promise<string> => (allowed ? f.freshAlert() : f.alertId);

  const cases: Record<string, Case> = {
    'query.me': { vars: () => ({}) },
    'query.inferenceRuntime': { vars: () => ({}) },
    'query.connectorKinds': { vars: () => ({}) },
    'query.projects': { vars: () => ({ first: 5 }) },
    'query.project': { vars: () => ({ slug: f.slug }) },
    'mutation.createProject': { vars: () => ({ input: { slug: unique('matrix'), name: 'Throwaway' } }) },
    'mutation.createApiKey': {
      vars: () => ({ input: { name: unique('key'), role: 'VIEWER', projectIds: [f.projectId] } }),
    },
    'mutation.revokeApiKey': { vars: async () => ({ id: await f.freshKeyId() }) },

    'query.datasets': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.dataset': { vars: () => ({ id: f.datasetId, versions: 5 }) },
    'query.datasetVersion': { vars: () => ({ id: f.datasetVersionId }) },
    'mutation.createDataset': { vars: () => ({ input: { project: f.slug, name: unique('dataset') } }) },
    'mutation.registerDatasetVersion': {
      vars: () => ({ input: { datasetId: f.datasetId, rows: [{ tenure: 1, spend: 2, plan: 'pro' }] } }),
    },
    'query.runs': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.run': { vars: () => ({ id: f.runId, metricKey: 'loss', first: 5 }) },
    'query.lineage': { vars: () => ({ modelVersionId: f.versionIds[0] }) },
    'mutation.startRun': {
      vars: () => ({ input: { project: f.slug, name: unique('run'), kind: 'TRAINING' } }),
    },
    'mutation.logRunMetrics': {
      vars: () => ({ runId: f.openRunId, points: [{ key: 'loss', step: ++step, value: 0.5 }] }),
    },
    'mutation.finishRun': {
      vars: async ({ allowed }) => ({ id: allowed ? await f.freshRun() : f.openRunId, status: 'CANCELLED' }),
    },
    'query.models': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.model': { vars: () => ({ id: f.modelId }) },
    'query.modelVersion': { vars: () => ({ id: f.versionIds[0] }) },
    'query.aliasHistory': { vars: () => ({ modelId: f.modelId, alias: 'champion', first: 5 }) },
    'mutation.createModel': {
      vars: () => ({ input: { project: f.slug, name: unique('model'), task: 'CLASSIFICATION' } }),
    },
    'mutation.registerModelVersion': { vars: () => ({ input: f.versionInput() }) },
    'mutation.setModelAlias': {
      vars: ({ role }) => ({
        modelId: f.modelId,
        alias: `by_${role.toLowerCase()}`,
        versionId: f.versionIds[1],
      }),
    },

    'query.endpoints': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.endpoint': { vars: () => ({ name: f.endpoint }) },
    'query.servedVersion': { vars: () => ({ endpoint: f.endpoint, at: new Date().toISOString() }) },
    'mutation.createEndpoint': {
      vars: () => ({
        input: { project: f.slug, name: unique('matrix-ep'), model: f.modelName, version: 1 },
      }),
    },
    'mutation.updateEndpoint': { vars: () => ({ input: { endpoint: f.endpoint, logSampleRate: 1 } }) },
    'mutation.setEndpointTraffic': {
      vars: () => ({
        input: { endpoint: f.trafficEndpoint, stableVersion: 1, canaryVersion: 2, canaryWeight: 10 },
      }),
    },
    'mutation.predict': {
      vars: () => ({ endpoint: f.endpoint, input: { tenure: 3, spend: 30 }, requestKey: unique('request') }),
    },
    'mutation.predictBatch': {
      vars: () => ({
        endpoint: f.endpoint,
        inputs: [
          { tenure: 1, spend: 90 },
          { tenure: 30, spend: 20 },
        ],
      }),
    },
    'mutation.recordPredictionOutcome': {
      vars: () => ({ endpoint: f.endpoint, requestKey: f.requestKey, label: 'stays' }),
    },
    'mutation.replayPredictions': {
      vars: () => ({ endpoint: f.endpoint, from: hourAgo(), to: soon(), version: 2 }),
    },
    'subscription.endpointStats': { vars: () => ({ endpoint: f.endpoint }) },

    'query.rollouts': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.rollout': { vars: () => ({ id: f.rolloutId }) },
    'query.approvalRequests': { vars: () => ({ project: f.slug }) },
    'mutation.deploy': {
      vars: async (call) => ({
        input: {
          endpoint: await endpointFor(call),
          version: 2,
          strategy: 'CANARY',
          steps: [{ weight: 10, pauseMinutes: 60 }],
        },
      }),
    },
    'mutation.promoteRollout': { vars: async (call) => ({ id: await rolloutFor(call) }) },
    'mutation.rollback': { vars: async (call) => ({ id: await rolloutFor(call) }) },
    'mutation.pauseRollout': { vars: async (call) => ({ id: await rolloutFor(call) }) },
    'mutation.resumeRollout': { vars: async (call) => ({ id: await rolloutFor(call, { paused: true }) }) },
    'mutation.decideApproval': {
      vars: async ({ allowed }) => ({
        id: allowed ? (await f.freshRollout({ gate: true })).approvalId : f.approvalId,
        approve: true,
        comment: 'reviewed',
      }),
    },
    'subscription.rolloutChanged': { vars: () => ({ project: f.slug }) },

    'query.alerts': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.alert': { vars: () => ({ id: f.alertId }) },
    'query.driftReports': { vars: () => ({ project: f.slug, endpoint: f.endpoint, first: 5 }) },
    'mutation.runDriftCheck': { vars: () => ({ endpoint: f.endpoint, window: 60 }) },
    'mutation.acknowledgeAlert': { vars: async (call) => ({ id: await alertFor(call), note: 'on it' }) },
    'mutation.resolveAlert': { vars: async (call) => ({ id: await alertFor(call), note: 'fixed' }) },
    'subscription.alertRaised': { vars: () => ({ project: f.slug }) },
    'subscription.driftReported': { vars: () => ({ project: f.slug, endpoint: f.endpoint }) },

    'query.kpis': { vars: () => ({ project: f.slug }) },
    'query.kpiSeries': {
      vars: () => ({ project: f.slug, kpi: f.kpi, from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' }),
    },
    'mutation.defineKpi': {
      vars: ({ role }) => ({
        input: { project: f.slug, key: `kpi_${role.toLowerCase()}`, name: 'Throwaway', unit: 'count' },
      }),
    },
    'mutation.recordKpiPoints': {
      vars: () => ({
        input: { project: f.slug, points: [{ kpi: f.kpi, time: '2026-11-22T10:00:00Z', value: 4 }] },
      }),
    },

    'query.connectors': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.connector': { vars: () => ({ id: f.connectorId }) },
    'query.syncRuns': { vars: () => ({ connector: f.connectorId, first: 5 }) },
    'query.tickets': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.rpaJobs': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.queueItems': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.crmContacts': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.crmDeals': { vars: () => ({ project: f.slug, first: 5 }) },
    'mutation.createConnector': { vars: () => ({ input: f.connectorInput() }) },
    'mutation.updateConnector': { vars: () => ({ id: f.connectorId, input: { schedule: '0 * * * *' } }) },
    'mutation.checkConnector': { vars: () => ({ id: f.connectorId }) },
    // One sync at a time per connector (a second is a CONFLICT while the first starts): one each.
    'mutation.syncConnector': {
      vars: async ({ allowed }) => ({ id: allowed ? await f.freshConnector() : f.connectorId }),
    },
    'mutation.runConnectorAction': {
      vars: () => ({
        input: {
          connector: f.connectorId,
          action: 'updateTicket',
          input: { ticketId: 1, routing: 'billing' },
        },
      }),
    },
    'subscription.syncRunChanged': { vars: () => ({ project: f.slug, connector: f.connectorId }) },
    'query.automations': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.automation': { vars: () => ({ id: f.automationId }) },
    'query.automationRuns': { vars: () => ({ automation: f.automationId, first: 5 }) },
    'query.automationRun': { vars: () => ({ id: f.automationRunId }) },
    'mutation.createAutomation': {
      vars: () => ({
        input: {
          project: f.slug,
          name: unique('matrix'),
          trigger: { kind: 'EVENT', event: 'drift.reported' },
          steps: [{ name: 'always', kind: 'CONDITION', input: 'true' }],
        },
      }),
    },
    'mutation.updateAutomation': {
      vars: async ({ allowed }) => ({
        input: { automation: allowed ? await f.freshAutomation() : f.automationId, maxAttempts: 3 },
      }),
    },
    'mutation.pauseAutomation': {
      vars: async ({ allowed }) => ({ id: allowed ? await f.freshAutomation() : f.automationId }),
    },
    'mutation.resumeAutomation': {
      vars: async ({ allowed }) => ({ id: allowed ? await f.freshAutomation() : f.automationId }),
    },
    'mutation.testAutomation': { vars: () => ({ automation: f.automationId, document: { event: {} } }) },
    'query.automationSigningSecret': { vars: () => ({ id: f.automationId }) },
    // A denied caller is refused before the run's state is looked at: the fixture's (SUCCEEDED) run serves.
    'mutation.retryAutomationRun': {
      vars: async ({ allowed }) => ({ id: allowed ? await f.freshFailedRun() : f.automationRunId }),
    },
    'subscription.automationRunChanged': { vars: () => ({ project: f.slug, automation: f.automationId }) },

    'query.modelCard': { vars: () => ({ versionId: f.versionIds[0] }) },
    'mutation.updateModelCard': {
      vars: () => ({
        versionId: f.versionIds[2],
        card: { intendedUse: 'Flag accounts likely to churn', owners: ['growth-ml@example.com'] },
      }),
    },

    'query.auditLog': { vars: () => ({ project: f.slug, first: 5 }) },
    'query.verifyAuditChain': { vars: () => ({ project: f.slug }) },
    'query.impactAssessments': { vars: () => ({ project: f.slug }) },
    'mutation.submitImpactAssessment': { vars: () => ({ project: f.slug, sections: ASSESSMENT }) },
    // Only the latest version can be decided: each allowed caller gets a new one.
    'mutation.decideImpactAssessment': {
      vars: async ({ allowed }) => ({
        id: allowed ? await f.freshAssessment() : f.assessmentId,
        approve: true,
        comment: 'reviewed',
      }),
    },
    // The project stays as it is: MINIMAL risk, no personal fields (both would change what others see).
    'mutation.setProjectRiskLevel': {
      vars: () => ({ project: f.slug, riskLevel: 'MINIMAL', reason: 'reviewed' }),
    },
    'mutation.setDataPolicy': {
      vars: () => ({ project: f.slug, policy: { personalFields: [], treatment: 'REDACT' } }),
    },
  };

  const rootFields = (): string[] =>
    (
      [
        ['query', schema.getQueryType()],
        ['mutation', schema.getMutationType()],
        ['subscription', schema.getSubscriptionType()],
      ] as const
    ).flatMap(([kind, type]) => Object.keys(type?.getFields() ?? {}).map((name) => `${kind}.${name}`));

  it('has a policy row for every root field of the schema, and no row for a field that is gone', () => {
    const fields = rootFields();
    const missing = fields.filter((field) => !POLICY[field]);
    const stale = Object.keys(POLICY).filter((field) => !fields.includes(field));
    if (missing.length || stale.length) {
      throw new Error(
        [
          ...(missing.length
            ? [
                'Root fields without a row in test/support/policy.ts (decide who may call each, then add a case in this file):',
                ...missing.map((field) => `  '${field}': { roles: [/* ${ROLES.join(', ')} */] },`),
              ]
            : []),
          ...(stale.length
            ? ['Rows for fields the schema no longer has:', ...stale.map((s) => `  ${s}`)]
            : []),
        ].join('\n'),
      );
    }
  });

  it('shows the policy in README.md, between the policy markers of "## Access policy"', () => {
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    const section = /^## Access policy\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1] ?? '';
    const table = /<!-- policy:start -->([\s\S]*?)<!-- policy:end -->/.exec(section)?.[1].trim();
    const expected = renderPolicyTable();
    if (table !== expected) {
      throw new Error(
        'README.md does not show test/support/policy.ts. Under "## Access policy", put this between the markers:\n\n' +
          `<!-- policy:start -->\n\n${expected}\n\n<!-- policy:end -->\n`,
      );
    }
  });

  /** The selection an example has for `field`, or the least selection that reaches its resolver. */
  function textFor(field: string, vars: Vars): string {
    const example = texts.get(field);
    if (example) return example;
    const [kind, name] = field.split('.') as ['query' | 'mutation' | 'subscription', string];
    const root = {
      query: schema.getQueryType(),
      mutation: schema.getMutationType(),
      subscription: schema.getSubscriptionType(),
    }[kind];
    const def = root!.getFields()[name];
    const args = def.args.filter((a) => a.name in vars);
    const named = getNamedType(def.type);
    const selection =
      isObjectType(named) || isInterfaceType(named) || isUnionType(named) ? ' { __typename }' : '';
    const defs = args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
    const pass = args.map((a) => `${a.name}: $${a.name}`).join(', ');
    return `${kind}${defs ? `(${defs})` : ''} { ${name}${pass ? `(${pass})` : ''}${selection} }`;
  }

  /** `ok`, or the code of the first error (with its message when it is not the one expected). */
  function outcomeOf(
    field: string,
    res: Pick<GqlResult<Record<string, unknown>>, 'data' | 'errors'>,
  ): string {
    const error = res.errors?.[0];
    if (!error) return 'ok';
    const code = error.extensions?.code ?? 'NO_CODE';
    if (code === 'FORBIDDEN' && res.data?.[field.split('.')[1]] != null) return 'FORBIDDEN, with data';
    return code === 'FORBIDDEN' ? code : `${code}: ${error.message}`;
  }

  async function subscribe(key: string, query: string, variables: Vars, field: string): Promise<string> {
    const client = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      retryAttempts: 0,
    });
    const before = hub.services.events.subscribers;
    const waitFor = async (done: () => boolean): Promise<boolean> => {
      for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
        if (done()) return true;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return done();
    };
    try {
      let answered: string | undefined;
      client.subscribe(
        { query, variables },
        {
          next: (result) => (answered ??= outcomeOf(field, result as GqlResult<Record<string, unknown>>)),
          error: (error) =>
            (answered ??= Array.isArray(error)
              ? outcomeOf(field, { errors: error })
              : `socket: ${String(error)}`),
          complete: () => (answered ??= 'completed without an event'),
        },
      );
      // Live (subscribed to the bus) with nothing said: allowed.
      await waitFor(() => answered !== undefined || hub.services.events.subscribers > before);
      return answered ?? (hub.services.events.subscribers > before ? 'ok' : 'no answer');
    } finally {
      await client.dispose();
      await waitFor(() => hub.services.events.subscribers <= before);
    }
  }

  async function call(field: string, role: Role, key: string, allowed: boolean): Promise<string> {
    const vars = await cases[field].vars({ role, allowed });
    const text = textFor(field, vars);
    if (field.startsWith('subscription.')) return subscribe(key, text, vars, field);
    return outcomeOf(field, await hub.gql(text, vars, key));
  }

  describe.each(policyRows().map(([field, rule]) => [field, rule] as const))('%s', (field, rule) => {
    it('answers each role as the policy says', async () => {
      const c = cases[field];
      if (!c) throw new Error(`no case for ${field}: add one to the cases of ${path.basename(__filename)}`);
      const expected: Record<string, string> = {};
      const actual: Record<string, string> = {};
      const callers: Array<{ who: string; role: Role; key: string; allowed: boolean }> = [];
      for (const role of ROLES) {
        const allowed = rule.roles.includes(role) && !rule.unscopedOnly;
        callers.push({ who: role, role, key: scopedKeys.get(role)!, allowed });
        if (rule.unscopedOnly) {
          const unscoped = rule.roles.includes(role);
          callers.push({
            who: `${role} (every project)`,
            role,
            key: unscopedKeys.get(role)!,
            allowed: unscoped,
          });
        }
      }
      // Denied callers first, at the objects that exist: nothing an allowed caller changed can excuse them.
      callers.sort((a, b) => Number(a.allowed) - Number(b.allowed));
      for (const { who, role, key, allowed } of callers) {
        expected[who] = allowed ? 'ok' : 'FORBIDDEN';
        actual[who] = await call(field, role, key, allowed);
      }
      expect(actual).toEqual(expected);
    });
  });
});
