import { Role } from '../../src/modules/api-keys/api-key.entity';

/**
 * Who may call each root field of the API: the access policy, written out by hand from
 * `src/auth/abilities.ts`, the resolvers' `@Can`/`@Authorized` and the services' object-level checks.
 * `test/e2e/role-matrix.e2e.ts` proves the hub enforces exactly this for every role, and that every
 * root field has a row here (a new field is a policy decision); README.md shows it as a table.
 */
export interface Rule {
  /** Roles whose key, limited to the project, may call it; every other role gets FORBIDDEN. */
  roles: readonly Role[];
  /** Only a key for every project may call it: a project-limited key of any role gets FORBIDDEN. */
  unscopedOnly?: true;
}

/** The table's columns, in the order of the Role enum. */
export const ROLES: readonly Role[] = Object.values(Role);

const { ANALYST, DATA_SCIENTIST, ML_ENGINEER, APPROVER, AUDITOR, ADMIN, BOT } = Role;

const everyone: Rule = { roles: ROLES };
/** Project, dataset, model, run, endpoint, rollout, alert and KPI data: every role reads it. */
const readers = everyone;
/** Connectors and the records they sync (tickets, CRM contacts, RPA jobs): customer data. */
const connectorReaders: Rule = { roles: [ANALYST, ML_ENGINEER, AUDITOR, ADMIN, BOT] };
const auditReaders: Rule = { roles: [AUDITOR, ADMIN] };
const authors: Rule = { roles: [DATA_SCIENTIST, ML_ENGINEER, ADMIN] };
const runWriters: Rule = { roles: [DATA_SCIENTIST, ML_ENGINEER, ADMIN, BOT] };
const endpointEditors: Rule = { roles: [ML_ENGINEER, ADMIN] };
const deployers: Rule = { roles: [ML_ENGINEER, ADMIN] };
const predictors: Rule = { roles: [ML_ENGINEER, ADMIN, BOT] };
const approvers: Rule = { roles: [APPROVER, ADMIN] };
const kpiWriters: Rule = { roles: [ANALYST, ML_ENGINEER, ADMIN, BOT] };
/** Defining a KPI is a business decision; a bot only pushes points. */
const kpiDefiners: Rule = { roles: [ANALYST, ML_ENGINEER, ADMIN] };
const alertHandlers: Rule = { roles: [ML_ENGINEER, ADMIN] };
const connectorEditors: Rule = { roles: [ML_ENGINEER, ADMIN] };
const connectorOperators: Rule = { roles: [ML_ENGINEER, ADMIN, BOT] };
const admins: Rule = { roles: [ADMIN] };

/** Keyed `query.<field>`, `mutation.<field>`, `subscription.<field>`. */
export const POLICY: Record<string, Rule> = {
  // Who is calling, and what this hub is.
  'query.me': everyone,
  'query.inferenceRuntime': everyone,
  'query.connectorKinds': everyone,

  // Projects and keys.
  'query.projects': readers,
  'query.project': readers,
  'mutation.createProject': { roles: [ADMIN], unscopedOnly: true },
  'mutation.createApiKey': admins,
  'mutation.revokeApiKey': admins,

  // Data, runs, models.
  'query.datasets': readers,
  'query.dataset': readers,
  'query.datasetVersion': readers,
  'mutation.createDataset': authors,
  'mutation.registerDatasetVersion': authors,
  'query.runs': readers,
  'query.run': readers,
  'query.lineage': readers,
  'mutation.startRun': runWriters,
  'mutation.logRunMetrics': runWriters,
  'mutation.finishRun': runWriters,
  'query.models': readers,
  'query.model': readers,
  'query.modelVersion': readers,
  'query.aliasHistory': readers,
  'mutation.createModel': authors,
  'mutation.registerModelVersion': authors,
  'mutation.setModelAlias': authors,
  'query.modelCard': readers,
  'mutation.updateModelCard': authors,

  // Serving.
  'query.endpoints': readers,
  'query.endpoint': readers,
  'query.servedVersion': readers,
  'mutation.createEndpoint': endpointEditors,
  'mutation.updateEndpoint': endpointEditors,
  'mutation.setEndpointTraffic': deployers,
  'mutation.predict': predictors,
  'mutation.predictBatch': predictors,
  'mutation.recordPredictionOutcome': predictors,
  // Re-scores logged inputs (customer features): with the right to deploy, not to read.
  'mutation.replayPredictions': deployers,
  'subscription.endpointStats': readers,

  // Progressive delivery.
  'query.rollouts': readers,
  'query.rollout': readers,
  'query.approvalRequests': readers,
  'mutation.deploy': deployers,
  'mutation.promoteRollout': deployers,
  'mutation.rollback': deployers,
  'mutation.pauseRollout': deployers,
  'mutation.resumeRollout': deployers,
  'mutation.decideApproval': approvers,
  'subscription.rolloutChanged': readers,

  // Monitoring.
  'query.alerts': readers,
  'query.alert': readers,
  'query.driftReports': readers,
  'mutation.runDriftCheck': endpointEditors,
  'mutation.acknowledgeAlert': alertHandlers,
  'mutation.resolveAlert': alertHandlers,
  'subscription.alertRaised': readers,
  'subscription.driftReported': readers,

  // Business KPIs.
  'query.kpis': readers,
  'query.kpiSeries': readers,
  'mutation.defineKpi': kpiDefiners,
  'mutation.recordKpiPoints': kpiWriters,

  // Connectors and synced records.
  'query.connectors': connectorReaders,
  'query.connector': connectorReaders,
  'query.syncRuns': connectorReaders,
  'query.tickets': connectorReaders,
  'query.rpaJobs': connectorReaders,
  'query.queueItems': connectorReaders,
  'query.crmContacts': connectorReaders,
  'query.crmDeals': connectorReaders,
  'mutation.createConnector': connectorEditors,
  'mutation.updateConnector': connectorEditors,
  'mutation.checkConnector': connectorOperators,
  'mutation.syncConnector': connectorOperators,
  'mutation.runConnectorAction': connectorOperators,
  'subscription.syncRunChanged': connectorReaders,

  // Automations: their runs carry synced records and model answers, so they are read as connectors are.
  'query.automations': connectorReaders,
  'query.automation': connectorReaders,
  'query.automationRuns': connectorReaders,
  'query.automationRun': connectorReaders,
  'mutation.createAutomation': connectorEditors,
  'mutation.updateAutomation': connectorEditors,
  'mutation.pauseAutomation': connectorEditors,
  'mutation.resumeAutomation': connectorEditors,
  'mutation.testAutomation': connectorOperators,
  'mutation.retryAutomationRun': connectorOperators,
  'query.automationSigningSecret': connectorEditors,
  'subscription.automationRunChanged': connectorReaders,

  // Governance.
  'query.auditLog': auditReaders,
  'query.verifyAuditChain': auditReaders,
  'query.impactAssessments': readers,
  'mutation.submitImpactAssessment': authors,
  // By an approver other than the author.
  'mutation.decideImpactAssessment': approvers,
  'mutation.setProjectRiskLevel': { roles: [ADMIN], unscopedOnly: true },
  'mutation.setDataPolicy': admins,
};

const KIND_ORDER = ['query', 'mutation', 'subscription'];

/** The rows of `policy` in table order: queries, mutations, subscriptions, each by name. */
export function policyRows(policy: Record<string, Rule> = POLICY): Array<[string, Rule]> {
  return Object.entries(policy).sort(([a], [b]) => {
    const [ka, fa] = a.split('.');
    const [kb, fb] = b.split('.');
    return KIND_ORDER.indexOf(ka) - KIND_ORDER.indexOf(kb) || fa.localeCompare(fb);
  });
}

/**
 * `policy` as a Markdown table (rows: operations, columns: roles, ✓ where allowed), laid out as
 * Prettier lays out tables, so README.md holds it byte for byte.
 */
export function renderPolicyTable(policy: Record<string, Rule> = POLICY): string {
  const rows = policyRows(policy);
  const cells = [
    ['Operation', ...ROLES],
    ...rows.map(([field, rule]) => {
      const [kind, name] = field.split('.');
      const mark = rule.unscopedOnly ? '✓¹' : '✓';
      return [`${kind} \`${name}\``, ...ROLES.map((r) => (rule.roles.includes(r) ? mark : ''))];
    }),
  ];
  const widths = cells[0].map((_, i) => Math.max(3, ...cells.map((row) => row[i].length)));
  const line = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const lines = [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)];
  if (rows.some(([, rule]) => rule.unscopedOnly)) {
    lines.push('', '¹ Only with a key for every project: a key limited to projects gets FORBIDDEN.');
  }
  return lines.join('\n');
}
