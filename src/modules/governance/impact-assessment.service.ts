import type { DataSource, EntityManager } from 'typeorm';
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { isUuid, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { Project } from '../projects/project.entity';
import { RiskLevel } from '../projects/project.enums';
import { lockProject, projectById, updateProjectGovernance } from '../projects/project.repository';
import type { ProjectService } from '../projects/project.service';
import { AssessmentStatus, ImpactAssessment } from './impact-assessment.entity';
import type { ImpactAssessmentInput, ImpactAssessmentsArgs } from './impact-assessment.types';
import type { Platform } from '../../platform/platform';

const TEXT_MAX = 20_000;
const ITEMS_MAX = 200;

export interface ImpactAssessmentServiceDeps extends Pick<Platform, 'db' | 'work' | 'now'> {
  projects: ProjectService;
}

/**
 * Impact assessments (EU AI Act, GDPR DPIA): each submission is a new version, decided by an approver
 * other than its author, both in the audit trail. A HIGH-risk project serves production traffic
 * (an endpoint, a traffic change, a rollout) only while its latest version is APPROVED.
 */
export class ImpactAssessmentService {
  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly work: UnitOfWork;
  private readonly now: () => Date;

  constructor(deps: ImpactAssessmentServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.work = deps.work;
    this.now = deps.now;
  }

  async submit(
    ctx: RequestContext,
    projectRef: string,
    input: ImpactAssessmentInput,
    idempotencyKey?: string | null,
  ): Promise<ImpactAssessment> {
    const project = await this.projects.resolve(ctx, projectRef, 'ImpactAssessment');
    ctx.authorize('create', 'ImpactAssessment', project.id);
    const sections = validSections(input);
    const creating = {
      operation: 'submitImpactAssessment',
      key: idempotencyKey,
      args: { project: project.id, sections: input },
      entity: ImpactAssessment,
    };
    return this.work.create(ctx, creating, async (tx) => {
      const { manager } = tx;
      // One version at a time per project: the row lock orders concurrent submissions.
      await lockProject(manager, project.id);
      const [{ next }] = (await manager.query(
        'SELECT COALESCE(MAX(version), 0) + 1 AS next FROM impact_assessment WHERE project_id = $1',
        [project.id],
      )) as Array<{ next: number }>;
      const assessment = manager.create(ImpactAssessment, {
        projectId: project.id,
        version: Number(next),
        sections,
        status: AssessmentStatus.SUBMITTED,
        submittedByKeyId: ctx.caller.keyId,
        submittedAt: this.now(),
        decidedByKeyId: null,
        decidedAt: null,
        comment: null,
      });
      await manager.save(assessment);
      tx.audit({
        action: 'submitImpactAssessment',
        subjectType: 'ImpactAssessment',
        subjectId: assessment.id,
        projectId: project.id,
        after: { version: assessment.version, status: assessment.status, sections },
      });
      return assessment;
    });
  }

  async decide(ctx: RequestContext, id: string, approve: boolean, comment: string | null | undefined) {
    const text = comment == null ? null : requireText('comment', comment, TEXT_MAX);
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const assessment = isUuid(id)
        ? await manager.findOne(ImpactAssessment, { where: { id }, lock: { mode: 'pessimistic_write' } })
        : null;
      if (!assessment || !ctx.can('read', 'ImpactAssessment', assessment.projectId)) {
        throw new NotFoundError('ImpactAssessment', id, 'id');
      }
      ctx.authorize('approve', 'ImpactAssessment', assessment.projectId);
      if (assessment.submittedByKeyId === ctx.caller.keyId) {
        throw new ForbiddenError('an impact assessment is decided by someone other than its author');
      }
      if (assessment.status !== AssessmentStatus.SUBMITTED) {
        throw new ConflictError(
          `version ${assessment.version} was already ${assessment.status.toLowerCase()}`,
          'id',
        );
      }
      const latest = await this.latestIn(manager, assessment.projectId);
      if (latest && latest.id !== assessment.id) {
        throw new ConflictError(`version ${latest.version} supersedes version ${assessment.version}`, 'id');
      }
      const before = { status: assessment.status };
      Object.assign(assessment, {
        status: approve ? AssessmentStatus.APPROVED : AssessmentStatus.REJECTED,
        decidedByKeyId: ctx.caller.keyId,
        decidedAt: this.now(),
        comment: text,
      });
      await manager.save(assessment);
      tx.audit({
        action: 'decideImpactAssessment',
        subjectType: 'ImpactAssessment',
        subjectId: assessment.id,
        projectId: assessment.projectId,
        before,
        after: { version: assessment.version, status: assessment.status, comment: text },
      });
      return assessment;
    });
  }

  /** Reclassifies a project under the EU AI Act; only an admin may, with a reason, in the audit trail. */
  async setRiskLevel(
    ctx: RequestContext,
    projectRef: string,
    level: RiskLevel,
    reason: string,
  ): Promise<Project> {
    const project = await this.projects.resolve(ctx, projectRef);
    ctx.authorize('update', 'Project', project.id);
    // A project's own admin could otherwise lower its class past the assessment it must have.
    if (ctx.caller.projectIds) {
      throw new ForbiddenError('only a key for every project may reclassify a project');
    }
    const why = requireText('reason', reason, TEXT_MAX);
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      await updateProjectGovernance(manager, project.id, { riskLevel: level });
      tx.audit({
        action: 'setProjectRiskLevel',
        subjectType: 'Project',
        subjectId: project.id,
        projectId: project.id,
        before: { riskLevel: project.riskLevel },
        after: { riskLevel: level, reason: why },
      });
      return { ...project, riskLevel: level };
    });
  }

  async list(ctx: RequestContext, args: ImpactAssessmentsArgs): Promise<ConnectionResult<ImpactAssessment>> {
    const project = await this.projects.resolve(ctx, args.project, 'ImpactAssessment');
    const qb = this.db
      .getRepository(ImpactAssessment)
      .createQueryBuilder('a')
      .where('a.projectId = :id', { id: project.id });
    return paginate(qb, args, { keys: ['version'] as never });
  }

  /** The latest version of a project's assessment, if any. */
  async latest(projectId: string): Promise<ImpactAssessment | null> {
    return this.latestIn(this.db.manager, projectId);
  }

  /**
   * Why the project may not serve production traffic now, or null: a HIGH-risk project needs its
   * latest impact assessment APPROVED; UNACCEPTABLE-risk practices are prohibited (EU AI Act Art. 5).
   */
  async servingBlock(projectId: string, manager: EntityManager = this.db.manager): Promise<string | null> {
    const project = await projectById(manager, projectId);
    if (project.riskLevel === RiskLevel.UNACCEPTABLE) {
      return `project ${project.slug} is of UNACCEPTABLE risk: it may not serve (EU AI Act Art. 5)`;
    }
    if (project.riskLevel !== RiskLevel.HIGH) return null;
    const latest = await this.latestIn(manager, projectId);
    if (latest?.status === AssessmentStatus.APPROVED) return null;
    const state = latest
      ? `its latest impact assessment (version ${latest.version}) is ${latest.status.toLowerCase()}`
      : 'it has no impact assessment';
    return `project ${project.slug} is HIGH risk and ${state}: an approver must approve one before it serves traffic`;
  }

  /** CONFLICT naming `field` unless the project may serve (see servingBlock). */
  async assertMayServe(
    projectId: string,
    field: string,
    manager: EntityManager = this.db.manager,
  ): Promise<void> {
    const block = await this.servingBlock(projectId, manager);
    if (block) throw new ConflictError(block, field);
  }

  private latestIn(manager: EntityManager, projectId: string): Promise<ImpactAssessment | null> {
    return manager.findOne(ImpactAssessment, { where: { projectId }, order: { version: 'DESC' } });
  }
}

function validSections(input: ImpactAssessmentInput): Record<string, unknown> {
  const text = (field: keyof ImpactAssessmentInput) =>
    requireText(`sections.${field}`, input[field] as string, TEXT_MAX);
  if (input.dataCategories.length === 0) {
    throw new BadInputError('sections.dataCategories', 'must name at least one category (or "none")');
  }
  if (input.risksAndMitigations.length === 0) {
    throw new BadInputError('sections.risksAndMitigations', 'must name at least one risk and its mitigation');
  }
  for (const field of ['dataCategories', 'risksAndMitigations'] as const) {
    if (input[field].length > ITEMS_MAX)
      throw new BadInputError(`sections.${field}`, `must hold at most ${ITEMS_MAX} items`);
  }
  return {
    purpose: text('purpose'),
    affectedPeople: text('affectedPeople'),
    dataCategories: input.dataCategories.map((c, i) => requireText(`sections.dataCategories.${i}`, c)),
    lawfulBasis: input.lawfulBasis,
    risksAndMitigations: input.risksAndMitigations.map((r, i) => ({
      risk: requireText(`sections.risksAndMitigations.${i}.risk`, r.risk, TEXT_MAX),
      mitigation: requireText(`sections.risksAndMitigations.${i}.mitigation`, r.mitigation, TEXT_MAX),
    })),
    humanOversight: text('humanOversight'),
    accuracyAndRobustness: text('accuracyAndRobustness'),
  };
}
