import { In, type DataSource, type EntityManager } from 'typeorm';
import { BadInputError, ConflictError, NotFoundError, fromDatabaseError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import { trafficAt } from '../endpoints/endpoint.repository';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { ImpactAssessmentService } from '../governance/impact-assessment.service';
import { missingModelCardSections } from '../models/model-card';
import { modelById, versionByNumber, versionNumbers } from '../models/model.repository';
import type { Platform } from '../../platform/platform';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { RiskLevel } from '../projects/project.enums';
import { projectById } from '../projects/project.repository';
import type { ProjectService } from '../projects/project.service';
import { checkAnalysis, checkSteps, gateReason } from './rollout-plan';
import type { RolloutTransitions } from './rollout-transitions';
import { ACTIVE_STATUSES, ApprovalRequest, Rollout, RolloutEventType, RolloutStatus } from './rollout.entity';
import type { ApprovalRequestsArgs, DeployInput, RolloutsArgs, ServedVersion } from './rollout.types';

/** The champion alias is the transitions' (re-exported for its readers). */
export { CHAMPION } from './rollout-transitions';

/** What a HIGH-risk project's model card must hold: the models module owns the one completeness check. */
export { REQUIRED_MODEL_CARD_SECTIONS, missingModelCardSections } from '../models/model-card';

export interface RolloutServiceDeps extends Pick<Platform, 'db' | 'now' | 'work'> {
  projects: ProjectService;
  endpoints: EndpointService;
  governance: ImpactAssessmentService;
  transitions: RolloutTransitions;
}

/**
 * Progressive delivery: `deploy` starts a rollout, which the driver (`RolloutDriver`, run by the
 * worker) moves through its steps on live analysis, rolling back by itself on failure; people promote,
 * roll back, pause and approve (`RolloutApprovalService`). Every change is an event with who, why and
 * the evidence. This service starts rollouts and answers the queries about them.
 */
export class RolloutService {
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly projects: ProjectService;
  private readonly endpoints: EndpointService;
  private readonly work: UnitOfWork;
  private readonly governance: ImpactAssessmentService;
  private readonly transitions: RolloutTransitions;

  constructor(deps: RolloutServiceDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.projects = deps.projects;
    this.endpoints = deps.endpoints;
    this.work = deps.work;
    this.governance = deps.governance;
    this.transitions = deps.transitions;
  }

  async deploy(ctx: RequestContext, input: DeployInput): Promise<Rollout> {
    const endpoint = await this.endpoints.byName(ctx, input.endpoint, 'endpoint');
    ctx.authorize('deploy', 'Endpoint', endpoint.projectId);
    const model = await modelById(this.db.manager, endpoint.modelId);
    const candidate = await versionByNumber(this.db.manager, model.id, input.version);
    if (!candidate) throw new BadInputError('version', `model ${model.name} has no version ${input.version}`);
    if (candidate.id === endpoint.stableVersionId)
      throw new BadInputError('version', `version ${input.version} is already the stable version`);
    const steps = checkSteps(input.strategy, input.steps);
    const analysis = checkAnalysis(input.strategy, input.analysis);
    const reason = input.reason == null ? null : requireText('reason', input.reason, 1_000);
    await this.governance.assertMayServe(endpoint.projectId, 'endpoint');
    const project = await projectById(this.db.manager, endpoint.projectId);
    const highRisk = project.riskLevel === RiskLevel.HIGH;
    if (highRisk) {
      const missing = missingModelCardSections(candidate.modelCard);
      if (missing.length)
        throw new BadInputError(
          'version',
          `project ${project.slug} is HIGH risk: version ${candidate.version} needs a complete model card (missing ${missing.join(', ')})`,
        );
    }
    // Load the candidate before any traffic can reach it; a version that cannot be served is refused here.
    await this.endpoints.servableVersion(model, candidate.version, 'version');

    const request = {
      endpoint: endpoint.id,
      version: candidate.id,
      strategy: input.strategy,
      steps,
      analysis,
      reason,
    };
    let created: { id: string };
    try {
      created = await this.work.run(
        ctx,
        async (tx) => {
          const { manager } = tx;
          const at = this.now();
          const rollout = manager.create(Rollout, {
            projectId: endpoint.projectId,
            endpointId: endpoint.id,
            fromVersionId: endpoint.stableVersionId,
            toVersionId: candidate.id,
            strategy: input.strategy,
            steps,
            analysis,
            status: RolloutStatus.PROGRESSING,
            currentStep: 0,
            stepStartedAt: null,
            lastAnalysisAt: null,
            failures: 0,
            idempotencyKey: input.idempotencyKey ?? null,
            requestedByKeyId: ctx.caller.keyId,
            reason,
            updatedAt: at,
            finishedAt: null,
          });
          await manager.save(rollout);
          await this.transitions.event(tx, rollout, RolloutEventType.REQUESTED, ctx.caller.keyId, reason, {
            strategy: input.strategy,
            fromVersionId: rollout.fromVersionId,
            toVersionId: rollout.toVersionId,
          });
          if (highRisk) {
            await this.transitions.requestApproval(tx, rollout, null, `project ${project.slug} is HIGH risk`);
          } else if (steps[0]?.manualGate) {
            await this.transitions.requestApproval(tx, rollout, 0, gateReason(0));
          } else {
            await this.transitions.begin(tx, rollout);
          }
          return { id: rollout.id };
        },
        { operation: 'deploy', key: input.idempotencyKey, args: request },
      );
    } catch (error) {
      if (fromDatabaseError(error) instanceof ConflictError)
        throw new ConflictError(`endpoint ${endpoint.name} already has a rollout in progress`, 'endpoint');
      throw error;
    }
    return this.db.getRepository(Rollout).findOneByOrFail({ id: created.id });
  }

  /**
   * A manual traffic change's guard (EndpointService.trafficGuards): refused while a rollout is changing
   * the endpoint's traffic.
   */
  async refuseWhileRollingOut(manager: EntityManager, endpointId: string): Promise<void> {
    const active = await manager
      .getRepository(Rollout)
      .findOne({ select: { id: true }, where: { endpointId, status: In(ACTIVE_STATUSES) } });
    if (active)
      throw new ConflictError(
        `rollout ${active.id} is changing this endpoint's traffic: promote, roll back or wait for it`,
        'endpoint',
      );
  }

  async byId(ctx: RequestContext, id: string): Promise<Rollout> {
    const rolloutId = requireId('id', id);
    const rollout = await this.db.getRepository(Rollout).findOneBy({ id: rolloutId });
    if (!rollout || !ctx.can('read', 'Endpoint', rollout.projectId))
      throw new NotFoundError('Rollout', rolloutId, 'id');
    return rollout;
  }

  async list(ctx: RequestContext, args: RolloutsArgs): Promise<ConnectionResult<Rollout>> {
    const project = await this.projects.resolve(ctx, args.project, 'Endpoint');
    const qb = this.db
      .getRepository(Rollout)
      .createQueryBuilder('r')
      .where('r.projectId = :p', { p: project.id });
    if (args.endpoint != null) {
      const endpoint = await this.endpoints.byName(ctx, args.endpoint, 'endpoint');
      qb.andWhere('r.endpointId = :e', { e: endpoint.id });
    }
    if (args.statuses?.length) qb.andWhere('r.status IN (:...s)', { s: args.statuses });
    return paginate(qb, args);
  }

  async approvals(
    ctx: RequestContext,
    args: ApprovalRequestsArgs,
  ): Promise<ConnectionResult<ApprovalRequest>> {
    const project = await this.projects.resolve(ctx, args.project, 'Endpoint');
    const qb = this.db
      .getRepository(ApprovalRequest)
      .createQueryBuilder('a')
      .where('a.projectId = :p', { p: project.id });
    if (args.statuses?.length) qb.andWhere('a.status IN (:...s)', { s: args.statuses });
    return paginate(qb, args);
  }

  /** Which version (and split) served an endpoint at an instant, from its traffic history. */
  async servedVersion(ctx: RequestContext, name: string, at: Date): Promise<ServedVersion> {
    if (Number.isNaN(at.getTime())) throw new BadInputError('at', 'is not a valid instant');
    const endpoint = await this.endpoints.byName(ctx, name, 'endpoint');
    const row = await trafficAt(this.db.manager, endpoint.id, at);
    if (!row)
      throw new NotFoundError(
        'Traffic',
        `of ${endpoint.name} at ${at.toISOString()} (the endpoint did not exist yet)`,
        'at',
      );
    const ids = [row.stableVersionId, row.canaryVersionId, row.shadowVersionId].filter(
      (v): v is string => v !== null,
    );
    const versions = await versionNumbers(this.db.manager, ids);
    return {
      endpoint: endpoint.name,
      at,
      stableVersionId: row.stableVersionId,
      stableVersion: versions.get(row.stableVersionId)!,
      canaryVersionId: row.canaryVersionId,
      canaryVersion: row.canaryVersionId ? (versions.get(row.canaryVersionId) ?? null) : null,
      canaryWeight: row.canaryWeight,
      shadowVersionId: row.shadowVersionId,
      shadowVersion: row.shadowVersionId ? (versions.get(row.shadowVersionId) ?? null) : null,
      validFrom: row.validFrom,
      validTo: row.validTo,
    };
  }
}
