import type { DataSource } from 'typeorm';
import { ConflictError, ForbiddenError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { ConnectionResult } from '../../common/pagination';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { RequestContext } from '../../context/context';
import { connectorProjectId, deleteRecordsBefore } from '../connectors/connector.repository';
import type { FeatureRedactor } from '../predictions/prediction-log-writer';
import { deleteLoggedBefore } from '../predictions/prediction-log.repository';
import type { Project } from '../projects/project.entity';
import {
  projectById,
  projectsWithRetention,
  storedDataPolicy,
  updateProjectGovernance,
} from '../projects/project.repository';
import type { ProjectService } from '../projects/project.service';
import {
  compilePolicy,
  featureMasker,
  PERSONAL_RECORD_FIELDS,
  PersonalDataTreatment,
  projectHasher,
  recordMasker,
  REDACTED_RAW,
  validDataPolicy,
  valueMask,
  type CompiledPolicy,
  type DataPolicyInputValue,
  type Hasher,
} from './data-policy';
import type { DataPolicy } from './data-policy.types';
import type { Platform } from '../../platform/platform';

/** How long a replica serves a project's policy from memory: a change reaches every replica within it. */
const POLICY_TTL_MS = 1_000;
/** Rows per DELETE of the retention purge: each statement is its own short transaction. */
export const PURGE_BATCH_ROWS = 10_000;
const DAY_MS = 86_400_000;

/** What one retention run purged. */
export interface RetentionReport {
  /** Projects with a retention period. */
  projects: number;
  predictionLogs: number;
  /** Rows purged per synced table. */
  records: Record<string, number>;
}

export interface DataPolicyServiceDeps extends Platform {
  projects: ProjectService;
  /** NERVE_SECRET_KEY (base64, 32 bytes): the root of the hashing keys; undefined: HASH is refused. */
  secretKey: string | undefined;
}

/**
 * Personal data: a project's policy (which prediction features and synced columns are personal, how
 * they are masked, how long logs and records are kept); masking in prediction logs (every row) and in
 * API responses (for callers without `readPersonalData`); and the retention purge.
 */
export class DataPolicyService implements FeatureRedactor {
  private readonly cache = new Map<string, { at: number; policy: Promise<CompiledPolicy> }>();
  private readonly hashers = new Map<string, Hasher>();
  private readonly secret: Buffer | undefined;
  private warnedNoKey = false;

  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly work: UnitOfWork;
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(deps: DataPolicyServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.work = deps.work;
    this.logger = deps.logger;
    this.now = deps.now;
    this.secret = deps.secretKey ? Buffer.from(deps.secretKey, 'base64') : undefined;
  }

  /** The project's policy as the API shows it. */
  view(project: Project): DataPolicy {
    const stored = project.dataPolicy ?? {};
    return {
      personalFields: stored.personalFields ?? [],
      treatment: stored.treatment === 'HASH' ? PersonalDataTreatment.HASH : PersonalDataTreatment.REDACT,
      predictionRetentionDays: stored.predictionRetentionDays ?? null,
      syncedRecordRetentionDays: stored.syncedRecordRetentionDays ?? null,
    };
  }

  /**
   * Replaces a project's policy (admins), audited with before and after in the same transaction. It
   * applies to predictions logged and records read from then on; rows already logged keep what they
   * hold until the retention purge removes them.
   */
  async set(ctx: RequestContext, ref: string, input: DataPolicyInputValue): Promise<Project> {
    const project = await this.projects.resolve(ctx, ref);
    ctx.authorize('update', 'Project', project.id);
    const policy = validDataPolicy(input, 'policy');
    if (policy.treatment === 'HASH' && !this.secret)
      throw new ConflictError(
        'HASH needs NERVE_SECRET_KEY (the hashing key is derived from it); set it or use REDACT',
        'policy.treatment',
      );
    const updated = await this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const before = await storedDataPolicy(manager, project.id, true);
      await updateProjectGovernance(manager, project.id, { dataPolicy: policy });
      tx.audit({
        action: 'setDataPolicy',
        subjectType: 'Project',
        subjectId: project.id,
        projectId: project.id,
        before,
        after: policy,
      });
      return await projectById(manager, project.id);
    });
    this.cache.delete(project.id);
    return updated;
  }

  /** The project's policy, from memory for up to a second: no query per prediction. */
  policy(projectId: string): Promise<CompiledPolicy> {
    const cached = this.cache.get(projectId);
    const at = Date.now();
    if (cached && at - cached.at < POLICY_TTL_MS) return cached.policy;
    const policy = storedDataPolicy(this.db.manager, projectId).then(compilePolicy);
    this.cache.set(projectId, { at, policy });
    policy.catch(() => this.cache.delete(projectId));
    return policy;
  }

  /** For the prediction log writer: how a project's logged inputs are masked, or null to log them as given. */
  async featureMask(projectId: string): Promise<((features: unknown) => unknown) | null> {
    const policy = await this.policy(projectId);
    return featureMasker(policy, this.mask(projectId, policy));
  }

  /**
   * A page of a synced table, its personal columns masked for a caller without `readPersonalData`.
   * `filters` (column → the value asked for) must not name a personal column for such a caller: a
   * filter by value would tell whether a person is there (`crmContacts(email:)`), so it is refused.
   */
  async records<T extends { projectId: string }>(
    ctx: RequestContext,
    table: string,
    projectRef: string,
    filters: Record<string, unknown>,
    read: () => Promise<ConnectionResult<T>>,
  ): Promise<ConnectionResult<T>> {
    const asked = Object.entries(filters).filter(([, v]) => v != null && !(Array.isArray(v) && !v.length));
    if (asked.length) {
      const project = await this.projects.resolve(ctx, projectRef, 'Connector');
      if (!ctx.can('readPersonalData', 'Project', project.id)) {
        const marked = (await this.policy(project.id)).tables.get(table);
        const personal = asked.find(([column]) => marked?.has(column));
        if (personal)
          throw new ForbiddenError(
            `${table}.${personal[0]} is personal data in this project: filtering on it needs the right to read personal data`,
          );
      }
    }
    const page = await read();
    if (!page.edges.length) return page;
    const maskers = new Map<string, (<R extends object>(record: R) => R) | null>();
    for (const projectId of new Set(page.edges.map((e) => e.node.projectId))) {
      if (ctx.can('readPersonalData', 'Project', projectId)) maskers.set(projectId, null);
      else {
        const policy = await this.policy(projectId);
        maskers.set(projectId, recordMasker(table, policy, this.mask(projectId, policy)));
      }
    }
    if ([...maskers.values()].every((m) => m === null)) return page;
    return {
      ...page,
      edges: page.edges.map((e) => {
        const masker = maskers.get(e.node.projectId);
        return masker ? { ...e, node: masker(e.node) } : e;
      }),
    };
  }

  /**
   * An automation run as a caller may see it: when the project marks any field personal (a synced field
   * or a prediction feature) and the caller lacks `readPersonalData`, each step's input and output is
   * redacted whole: a mapping may carry a personal value anywhere, so no field-by-field rule could hold.
   */
  async automationRun<T extends { projectId: string; steps: Array<{ input: unknown; output: unknown }> }>(
    ctx: RequestContext,
    run: T,
  ): Promise<T> {
    if (ctx.can('readPersonalData', 'Project', run.projectId)) return run;
    const policy = await this.policy(run.projectId);
    if (policy.tables.size === 0 && policy.features.size === 0) return run;
    const hidden = (value: unknown) => (value == null ? value : REDACTED_RAW);
    return {
      ...run,
      steps: run.steps.map((s) => ({ ...s, input: hidden(s.input), output: hidden(s.output) })),
    };
  }

  /**
   * A connector action's answer (the vendor's object): its `raw` redacted for a caller without
   * `readPersonalData` when the project marks any synced field personal.
   */
  async actionResult<T extends { raw: Record<string, unknown> }>(
    ctx: RequestContext,
    connectorId: string,
    act: () => Promise<T>,
  ): Promise<T> {
    const result = await act();
    const projectId = await connectorProjectId(this.db.manager, connectorId);
    if (!projectId || ctx.can('readPersonalData', 'Project', projectId)) return result;
    const policy = await this.policy(projectId);
    return policy.tables.size ? { ...result, raw: REDACTED_RAW as Record<string, unknown> } : result;
  }

  /**
   * Purges, per project with a retention period, prediction logs created before `now` minus
   * predictionRetentionDays and synced records last modified in the vendor before `now` minus
   * syncedRecordRetentionDays, {@link PURGE_BATCH_ROWS} rows per statement. KPI points derived from
   * purged records stay: they hold a value, a time and a model version, no personal data. Each project
   * that lost rows gets an audit event saying how many; a project that fails is logged and skipped.
   * Stops before the next project once `lost` says the job's lock went with its database session.
   */
  async runRetention(now: Date = this.now(), lost?: AbortSignal): Promise<RetentionReport> {
    const projects = await projectsWithRetention(this.db.manager);
    const report: RetentionReport = { projects: projects.length, predictionLogs: 0, records: {} };
    for (const { id, dataPolicy } of projects) {
      lost?.throwIfAborted();
      try {
        const purged = await this.purgeProject(id, compilePolicy(dataPolicy), now);
        report.predictionLogs += purged.predictionLogs;
        for (const [table, n] of Object.entries(purged.records))
          report.records[table] = (report.records[table] ?? 0) + n;
      } catch (error) {
        this.logger.error('retention purge failed', { project: id, error });
      }
    }
    return report;
  }

  private async purgeProject(
    projectId: string,
    policy: CompiledPolicy,
    now: Date,
  ): Promise<{ predictionLogs: number; records: Record<string, number> }> {
    const cutoff = (days: number | null): Date | null =>
      days === null ? null : new Date(now.getTime() - days * DAY_MS);
    const logsBefore = cutoff(policy.predictionRetentionDays);
    const recordsBefore = cutoff(policy.syncedRecordRetentionDays);
    let predictionLogs = 0;
    const records: Record<string, number> = {};
    if (logsBefore) {
      predictionLogs = await this.purge((limit) =>
        deleteLoggedBefore(this.db.manager, projectId, logsBefore, limit),
      );
    }
    if (recordsBefore) {
      for (const table of PERSONAL_RECORD_FIELDS.keys()) {
        const n = await this.purge((limit) =>
          deleteRecordsBefore(this.db.manager, table, projectId, recordsBefore, limit),
        );
        if (n) records[table] = n;
      }
    }
    if (predictionLogs || Object.keys(records).length) {
      const retention = RequestContext.system(this.logger, 'retention', `retention:${now.toISOString()}`);
      await this.work.run(retention, async (tx) =>
        tx.audit({
          action: 'purgeExpiredData',
          subjectType: 'Project',
          subjectId: projectId,
          projectId,
          after: {
            predictionLogs,
            predictionLogsBefore: logsBefore,
            records,
            recordsBefore,
          },
        }),
      );
    }
    return { predictionLogs, records };
  }

  /** Deletes batch after batch until one deletes less than a full batch; the rows deleted. */
  private async purge(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await deleteBatch(PURGE_BATCH_ROWS);
      total += n;
      if (n < PURGE_BATCH_ROWS) return total;
    }
  }

  /** The value mask of a project's policy. HASH without a key (it was since unset) redacts: never clear. */
  private mask(projectId: string, policy: CompiledPolicy): (value: unknown) => unknown {
    if (policy.treatment !== PersonalDataTreatment.HASH) return valueMask(PersonalDataTreatment.REDACT, null);
    if (!this.secret) {
      if (!this.warnedNoKey) this.logger.warn('NERVE_SECRET_KEY is not set: HASH policies redact instead');
      this.warnedNoKey = true;
      return valueMask(PersonalDataTreatment.REDACT, null);
    }
    let hasher = this.hashers.get(projectId);
    if (!hasher) this.hashers.set(projectId, (hasher = projectHasher(this.secret, projectId)));
    return valueMask(PersonalDataTreatment.HASH, hasher);
  }
}
