import { AbilityBuilder, createMongoAbility, subject as tagSubject, type MongoAbility } from '@casl/ability';
import { Role } from '../common/role';

/**
 * `operate`: run a connector (check, sync, actions) without changing its config or secrets; test,
 * pause, resume and backfill an automation without redefining it.
 * `readPersonalData` (on a Project): see the fields its data policy marks personal in clear; only
 * ADMIN has it (through `manage`), every other role reads them redacted or hashed.
 */
export type Action =
  | 'read'
  | 'create'
  | 'update'
  | 'delete'
  | 'manage'
  | 'deploy'
  | 'approve'
  | 'predict'
  | 'operate'
  | 'readPersonalData';
export type Subject =
  | 'Project'
  | 'Dataset'
  | 'Model'
  | 'Run'
  | 'Artifact'
  | 'ApiKey'
  | 'Endpoint'
  | 'Alert'
  | 'Kpi'
  | 'Connector'
  | 'AuditEvent'
  | 'ImpactAssessment'
  | 'Automation'
  | 'all';

/** Every subject is checked as `{ projectId }`: for a Project, its own id. */
export interface ProjectScoped {
  projectId: string;
}

export type AppAbility = MongoAbility<[Action, Subject | (ProjectScoped & { __caslSubjectType__: Subject })]>;

/** Who is calling. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** null: every project. */
  projectIds: string[] | null;
}

const authoring: Subject[] = ['Dataset', 'Model', 'Run', 'Artifact'];

/** Deny by default; each role gets what it needs, limited to the key's projects when it has any. */
export function defineAbility(principal: Principal): AppAbility {
  const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  const scope = principal.projectIds ? { projectId: { $in: principal.projectIds } } : {};
  const allow = (action: Action | Action[], subjects: Subject | Subject[]): void => {
    // A scoped key's rules carry the condition; `can('create', 'Project')` thus stays false for it.
    can(action, subjects, scope as never);
  };
  allow('read', [
    'Project',
    'Dataset',
    'Model',
    'Run',
    'Artifact',
    'Endpoint',
    'Alert',
    'Kpi',
    'ImpactAssessment',
  ]);
  switch (principal.role) {
    case Role.VIEWER:
      break;
    case Role.ANALYST:
      allow(['create', 'update'], 'Kpi');
      allow('read', ['Connector', 'Automation']);
      break;
    case Role.DATA_SCIENTIST:
      allow(['create', 'update'], authoring);
      allow('create', 'ImpactAssessment');
      break;
    case Role.ML_ENGINEER:
      allow(['create', 'update'], [...authoring, 'Endpoint', 'Kpi', 'Connector', 'Automation']);
      allow('operate', ['Connector', 'Automation']);
      allow('create', 'ImpactAssessment');
      allow(['deploy', 'predict'], 'Endpoint');
      allow('update', 'Alert');
      allow('read', ['Connector', 'Automation']);
      break;
    case Role.APPROVER:
      allow('approve', 'all');
      break;
    case Role.AUDITOR:
      allow('read', ['Connector', 'AuditEvent', 'Automation']);
      break;
    case Role.BOT:
      allow('predict', 'Endpoint');
      // Pushes KPI points (create) but does not define or redefine KPIs (update).
      allow('create', 'Kpi');
      allow(['create', 'update'], ['Run', 'Artifact']);
      allow(['read', 'operate'], 'Connector');
      // Reads and tests automations; does not define them.
      allow(['read', 'operate'], 'Automation');
      break;
    case Role.ADMIN:
      allow('manage', 'all');
      break;
  }
  return build();
}

/** Tags a plain `{ projectId }` as the subject CASL should check. */
export function scoped(
  subjectType: Subject,
  projectId: string,
): ProjectScoped & { __caslSubjectType__: Subject } {
  return tagSubject(subjectType, { projectId }) as ProjectScoped & { __caslSubjectType__: Subject };
}
