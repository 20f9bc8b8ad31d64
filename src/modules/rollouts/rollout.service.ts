import { In, type DataSource, type EntityManager } from 'typeorm';
import {
  BadInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  fromDatabaseError,
} from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { EventBus } from '../../events/event-bus';
import { Topics } from '../../events/topics';
import { murmur3 } from '../../common/murmur3';
import { AlertKind, AlertSeverity } from '../alerts/alert.entity';
import type { AlertService } from '../alerts/alert.service';
import { Endpoint, EndpointTraffic } from '../endpoints/endpoint.entity';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { IdempotencyService } from '../idempotency/idempotency.service';
import { missingModelCardSections } from '../models/model-card';
import { Model, ModelVersion } from '../models/model.entity';
import type { ModelService } from '../models/model.service';
import { Project, RiskLevel } from '../projects/project.entity';
import type { AuditService } from '../audit/audit.service';
import type { ImpactAssessmentService } from '../governance/impact-assessment.service';
import type { ProjectService } from '../projects/project.service';
import { analyze, type Verdict } from './rollout-analysis';
import type { RolloutSignals } from './rollout-signals';
import {
  ACTIVE_STATUSES,
  AnalysisMetric,
  ApprovalRequest,
  ApprovalStatus,
  Rollout,
  RolloutEvent,
  RolloutEventType,
  RolloutStatus,
  RolloutStrategy,
  type Analysis,
  type RolloutStep,
} from './rollout.entity';
import type {
  AnalysisInput,
  ApprovalRequestsArgs,
  DeployInput,
  RolloutChange,
  RolloutsArgs,
  RolloutStepInput,
  ServedVersion,
} from './rollout.types';

/** The alias a successful rollout moves to the candidate (and a rollback leaves on the stable version). */
export const CHAMPION = 'champion';

/** What a HIGH-risk project's model card must hold: the models module owns the one completeness check. */
export { REQUIRED_MODEL_CARD_SECTIONS, missingModelCardSections } from '../models/model-card';

const MAX_STEPS = 20;
const MAX_PAUSE_MINUTES = 7 * 24 * 60;
const LOCK_SPACE = 0x726f;

/** What `Topics.rollout` carries. */
export interface RolloutMessage {
  projectId: string;
  endpointId: string;
  change: RolloutChange;
}

/**
 * Progressive delivery: `deploy` starts a rollout, the driver (`advance`, run by the worker) moves it
 * through its steps on live analysis, rolling back by itself on failure; people promote, roll back,
 * pause and approve. Every change is an event with who, why and the evidence.
 */
export class RolloutService {
  constructor(
    private readonly db: DataSource,
    private readonly projects: ProjectService,
    private readonly endpoints: EndpointService,
    private readonly models: ModelService,
    private readonly signals: RolloutSignals,
    private readonly alerts: AlertService,
    private readonly idempotency: IdempotencyService,
    private readonly events: EventBus,
    private readonly now: () => Date,
    private readonly audit: AuditService,
    private readonly governance: ImpactAssessmentService,
  ) {}

  async deploy(ctx: RequestContext, input: DeployInput): Promise<Rollout> {
    const endpoint = await this.endpoints.byName(ctx, input.endpoint, 'endpoint');
    ctx.authorize('deploy', 'Endpoint', endpoint.projectId);
    const model = await this.db.getRepository(Model).findOneByOrFail({ id: endpoint.modelId });
    const candidate = await this.db
      .getRepository(ModelVersion)
      .findOneBy({ modelId: model.id, version: input.version });
    if (!candidate) throw new BadInputError('version', `model ${model.name} has no version ${input.version}`);
    if (candidate.id === endpoint.stableVersionId)
      throw new BadInputError('version', `version ${input.version} is already the stable version`);
    const steps = checkSteps(input.strategy, input.steps);
    const analysis = checkAnalysis(input.strategy, input.analysis);
    const reason = input.reason == null ? null : requireText('reason', input.reason, 1_000);
    await this.governance.assertMayServe(endpoint.projectId, 'endpoint');
    const project = await this.db.getRepository(Project).findOneByOrFail({ id: endpoint.projectId });
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
    let created: { id: string; change?: RolloutChange };
    try {
      created = await this.idempotency.run(ctx, 'deploy', input.idempotencyKey, request, async (manager) => {
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
        await this.event(manager, rollout, RolloutEventType.REQUESTED, ctx.caller.keyId, reason, {
          strategy: input.strategy,
          fromVersionId: rollout.fromVersionId,
          toVersionId: rollout.toVersionId,
        });
        let change: RolloutChange;
        if (highRisk) {
          change = await this.requestApproval(manager, rollout, null, `project ${project.slug} is HIGH risk`);
        } else if (steps[0]?.manualGate) {
          change = await this.requestApproval(manager, rollout, 0, 'step 1 is a manual gate');
        } else {
          change = await this.begin(manager, rollout);
        }
        return { id: rollout.id, change };
      });
    } catch (error) {
      if (fromDatabaseError(error) instanceof ConflictError)
        throw new ConflictError(`endpoint ${endpoint.name} already has a rollout in progress`, 'endpoint');
      throw error;
    }
    if (created.change) this.publish(created.change);
    return this.db.getRepository(Rollout).findOneByOrFail({ id: created.id });
  }

  /**
   * One tick of the driver for one rollout: under an advisory lock (so with several workers exactly one
   * drives it) and the row's lock, analyse the current step when its interval is due, then advance,
   * roll back or wait. All state lives in the row: a restarted worker resumes where it was.
   */
  async advance(rolloutId: string): Promise<Rollout | null> {
    const seen = await this.db.getRepository(Rollout).findOneBy({ id: rolloutId });
    if (!seen || seen.status !== RolloutStatus.PROGRESSING) return seen;
    const at = this.now();
    const interval = seen.analysis.intervalMinutes * 60_000;
    if (seen.lastAnalysisAt && at.getTime() - seen.lastAnalysisAt.getTime() < interval) return seen;
    // Signals are read outside the transaction: no connection is held while the window is aggregated.
    const endpoint = await this.db.getRepository(Endpoint).findOneByOrFail({ id: seen.endpointId });
    const verdict = analyze(seen, await this.signals.collect(seen, endpoint, seen.stepStartedAt ?? at));
    const changes: RolloutChange[] = [];
    let rolledBack = null as { reason: string; evidence: Record<string, unknown> } | null;
    const result = await this.db.transaction(async (manager) => {
      const [{ locked }] = (await manager.query('SELECT pg_try_advisory_xact_lock($1, $2) AS locked', [
        LOCK_SPACE,
        murmur3(rolloutId) | 0,
      ])) as Array<{ locked: boolean }>;
      if (!locked) return null;
      const rollout = await manager.findOne(Rollout, {
        where: { id: rolloutId },
        lock: { mode: 'pessimistic_write' },
      });
      // Another driver (or a person) moved it since the signals were read: this verdict is stale.
      if (
        !rollout ||
        rollout.status !== RolloutStatus.PROGRESSING ||
        rollout.currentStep !== seen.currentStep ||
        rollout.lastAnalysisAt?.getTime() !== seen.lastAnalysisAt?.getTime()
      )
        return rollout;
      rollout.lastAnalysisAt = at;
      const type =
        verdict.outcome === 'PASSED'
          ? RolloutEventType.ANALYSIS_PASSED
          : verdict.outcome === 'FAILED'
            ? RolloutEventType.ANALYSIS_FAILED
            : RolloutEventType.ANALYSIS_INCONCLUSIVE;
      changes.push(await this.event(manager, rollout, type, null, verdict.summary, verdictEvidence(verdict)));
      if (verdict.outcome === 'FAILED') {
        rollout.failures++;
        if (rollout.failures > rollout.analysis.failureLimit) {
          rolledBack = { reason: `analysis failed: ${verdict.summary}`, evidence: verdictEvidence(verdict) };
          changes.push(await this.rollBack(manager, rollout, null, rolledBack.reason, rolledBack.evidence));
          return rollout;
        }
      }
      const elapsed = at.getTime() - (rollout.stepStartedAt ?? at).getTime();
      if (
        verdict.outcome === 'PASSED' &&
        elapsed >= rollout.steps[rollout.currentStep].pauseMinutes * 60_000
      ) {
        changes.push(await this.nextStep(manager, rollout));
      } else {
        rollout.updatedAt = at;
        await manager.save(rollout);
      }
      return rollout;
    });
    for (const change of changes) this.publish(change);
    if (rolledBack && result) await this.alertRollback(result, rolledBack.reason, rolledBack.evidence);
    return result;
  }

  /** A rollout the driver rolled back is an alert: nobody asked for it. */
  private async alertRollback(
    rollout: Rollout,
    reason: string,
    evidence: Record<string, unknown>,
  ): Promise<void> {
    const version = await this.db.getRepository(ModelVersion).findOneByOrFail({ id: rollout.toVersionId });
    const model = await this.db.getRepository(Model).findOneByOrFail({ id: version.modelId });
    await this.alerts.raise({
      projectId: rollout.projectId,
      endpointId: rollout.endpointId,
      modelVersionId: rollout.toVersionId,
      kind: AlertKind.ROLLOUT,
      severity: AlertSeverity.CRITICAL,
      dedupeKey: `rollout:${rollout.id}`,
      title: `rollout of ${model.name} v${version.version} rolled back: ${reason}`,
      evidence: { rolloutId: rollout.id, ...evidence },
    });
  }

  /** The driver's job: every rollout in progress, one tick each (locked rows are another worker's). */
  async driveAll(lost?: AbortSignal): Promise<void> {
    const active = await this.db.getRepository(Rollout).find({
      where: { status: RolloutStatus.PROGRESSING },
      select: { id: true },
    });
    for (const { id } of active) {
      // One replica drives rollouts; without its lock, another may be driving them now.
      lost?.throwIfAborted();
      await this.advance(id);
    }
  }

  /** Promotes now, whatever step it is on: the candidate takes all traffic and the champion alias. */
  async promote(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(
      ctx,
      id,
      reason,
      [RolloutStatus.PROGRESSING, RolloutStatus.PAUSED],
      (manager, rollout, why) => this.finish(manager, rollout, ctx.caller.keyId, why),
    );
  }

  async rollback(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(ctx, id, reason, ACTIVE_STATUSES, (manager, rollout, why) =>
      this.rollBack(manager, rollout, ctx.caller.keyId, why ?? 'rolled back by hand', null),
    );
  }

  async pause(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(ctx, id, reason, [RolloutStatus.PROGRESSING], async (manager, rollout, why) => {
      rollout.status = RolloutStatus.PAUSED;
      rollout.updatedAt = this.now();
      await manager.save(rollout);
      return this.event(manager, rollout, RolloutEventType.PAUSED, ctx.caller.keyId, why, null);
    });
  }

  async resume(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(ctx, id, reason, [RolloutStatus.PAUSED], async (manager, rollout, why) => {
      rollout.status = RolloutStatus.PROGRESSING;
      rollout.lastAnalysisAt = null;
      rollout.updatedAt = this.now();
      await manager.save(rollout);
      return this.event(manager, rollout, RolloutEventType.RESUMED, ctx.caller.keyId, why, null);
    });
  }

  /**
   * An approver decides a pending request. The requester may not decide their own (four eyes), whatever
   * their role. Approval starts the gated step (or the rollout); rejection rolls it back.
   */
  async decideApproval(
    ctx: RequestContext,
    id: string,
    approve: boolean,
    comment?: string | null,
  ): Promise<ApprovalRequest> {
    const requestId = requireId('id', id);
    const text = comment == null ? null : requireText('comment', comment, 2_000);
    const changes: RolloutChange[] = [];
    const decided = await this.db.transaction(async (manager) => {
      const approval = await manager.findOne(ApprovalRequest, {
        where: { id: requestId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!approval || !ctx.can('read', 'Endpoint', approval.projectId))
        throw new NotFoundError('ApprovalRequest', requestId, 'id');
      ctx.authorize('approve', 'Endpoint', approval.projectId);
      if (approval.requestedByKeyId === ctx.caller.keyId)
        throw new ForbiddenError('a requester cannot decide their own approval request');
      if (approval.status !== ApprovalStatus.PENDING)
        throw new ConflictError(`the request was already ${approval.status.toLowerCase()}`, 'id');
      const at = this.now();
      approval.status = approve ? ApprovalStatus.APPROVED : ApprovalStatus.REJECTED;
      approval.decidedByKeyId = ctx.caller.keyId;
      approval.decidedAt = at;
      approval.comment = text;
      await manager.save(approval);
      const rollout = await manager.findOne(Rollout, {
        where: { id: approval.rolloutId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!rollout || rollout.status !== RolloutStatus.PENDING_APPROVAL)
        throw new ConflictError('the rollout is no longer waiting for this approval', 'id');
      const evidence = { approvalRequestId: approval.id, step: approval.step };
      if (!approve) {
        changes.push(
          await this.event(manager, rollout, RolloutEventType.REJECTED, ctx.caller.keyId, text, evidence),
        );
        changes.push(
          await this.rollBack(
            manager,
            rollout,
            ctx.caller.keyId,
            `approval rejected${text ? `: ${text}` : ''}`,
            evidence,
          ),
        );
        return approval;
      }
      changes.push(
        await this.event(manager, rollout, RolloutEventType.APPROVED, ctx.caller.keyId, text, evidence),
      );
      // A whole-rollout approval may be followed by the gate of its first step.
      if (
        approval.step === null &&
        rollout.steps[rollout.currentStep]?.manualGate &&
        rollout.stepStartedAt === null
      ) {
        changes.push(
          await this.requestApproval(
            manager,
            rollout,
            rollout.currentStep,
            `step ${rollout.currentStep + 1} is a manual gate`,
          ),
        );
      } else {
        changes.push(await this.begin(manager, rollout));
      }
      return approval;
    });
    for (const change of changes) this.publish(change);
    return decided;
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

  /** `Rollout.events`: its full history, oldest first. */
  eventsOf(rollout: Rollout): Promise<RolloutEvent[]> {
    return this.db
      .getRepository(RolloutEvent)
      .find({ where: { rolloutId: rollout.id }, order: { id: 'ASC' } });
  }

  approvalsOf(rollout: Rollout): Promise<ApprovalRequest[]> {
    return this.db
      .getRepository(ApprovalRequest)
      .find({ where: { rolloutId: rollout.id }, order: { createdAt: 'ASC' } });
  }

  /** Which version (and split) served an endpoint at an instant, from its traffic history. */
  async servedVersion(ctx: RequestContext, name: string, at: Date): Promise<ServedVersion> {
    if (Number.isNaN(at.getTime())) throw new BadInputError('at', 'is not a valid instant');
    const endpoint = await this.endpoints.byName(ctx, name, 'endpoint');
    const row = await this.db
      .getRepository(EndpointTraffic)
      .createQueryBuilder('t')
      .where('t.endpointId = :id AND t.validFrom <= :at AND (t.validTo IS NULL OR t.validTo > :at)', {
        id: endpoint.id,
        at,
      })
      .getOne();
    if (!row)
      throw new NotFoundError(
        'Traffic',
        `of ${endpoint.name} at ${at.toISOString()} (the endpoint did not exist yet)`,
        'at',
      );
    const ids = [row.stableVersionId, row.canaryVersionId, row.shadowVersionId].filter(
      (v): v is string => v !== null,
    );
    const versions = new Map(
      (await this.db.getRepository(ModelVersion).findBy({ id: In(ids) })).map((v) => [v.id, v.version]),
    );
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

  /** Starts the current step (or, for IMMEDIATE, finishes at once). */
  private async begin(manager: EntityManager, rollout: Rollout): Promise<RolloutChange> {
    const at = this.now();
    rollout.status = RolloutStatus.PROGRESSING;
    if (rollout.strategy === RolloutStrategy.IMMEDIATE || rollout.steps.length === 0)
      return this.finish(manager, rollout, null, 'immediate');
    const step = rollout.steps[rollout.currentStep];
    const shadow = rollout.strategy !== RolloutStrategy.CANARY;
    await this.endpoints.applyTraffic(
      manager,
      rollout.endpointId,
      {
        stableVersionId: rollout.fromVersionId,
        canaryVersionId: shadow ? null : rollout.toVersionId,
        canaryWeight: shadow ? 0 : step.weight,
        shadowVersionId: shadow ? rollout.toVersionId : null,
      },
      null,
      `rollout ${rollout.id}: step ${rollout.currentStep + 1} of ${rollout.steps.length}`,
      `rollout:${rollout.id}`,
    );
    rollout.stepStartedAt = at;
    rollout.lastAnalysisAt = null;
    rollout.updatedAt = at;
    await manager.save(rollout);
    return this.event(manager, rollout, RolloutEventType.STEP_STARTED, null, null, {
      step: rollout.currentStep,
      weight: shadow ? 0 : step.weight,
      mirrored: shadow,
    });
  }

  private async nextStep(manager: EntityManager, rollout: Rollout): Promise<RolloutChange> {
    if (rollout.currentStep + 1 >= rollout.steps.length) {
      if (rollout.strategy === RolloutStrategy.SHADOW) {
        // A shadow never takes traffic by itself: it waits, analysed and passing, for a person to promote.
        rollout.status = RolloutStatus.PAUSED;
        rollout.updatedAt = this.now();
        await manager.save(rollout);
        return this.event(
          manager,
          rollout,
          RolloutEventType.PAUSED,
          null,
          'shadow analysis passed: promote by hand',
          null,
        );
      }
      return this.finish(manager, rollout, null, 'every step passed its analysis');
    }
    rollout.currentStep++;
    rollout.stepStartedAt = null;
    if (rollout.steps[rollout.currentStep].manualGate)
      return this.requestApproval(
        manager,
        rollout,
        rollout.currentStep,
        `step ${rollout.currentStep + 1} is a manual gate`,
      );
    return this.begin(manager, rollout);
  }

  /** The candidate becomes stable for all traffic and takes the champion alias. */
  private async finish(
    manager: EntityManager,
    rollout: Rollout,
    keyId: string | null,
    reason: string | null,
  ): Promise<RolloutChange> {
    const at = this.now();
    await this.endpoints.applyTraffic(
      manager,
      rollout.endpointId,
      { stableVersionId: rollout.toVersionId, canaryVersionId: null, canaryWeight: 0, shadowVersionId: null },
      keyId,
      `rollout ${rollout.id}: promoted`,
      `rollout:${rollout.id}`,
    );
    const model = await this.modelOf(manager, rollout);
    await this.models.moveAlias(
      manager,
      model,
      CHAMPION,
      rollout.toVersionId,
      keyId,
      `rollout:${rollout.id}`,
    );
    rollout.status = RolloutStatus.SUCCEEDED;
    rollout.finishedAt = at;
    rollout.updatedAt = at;
    await manager.save(rollout);
    return this.event(manager, rollout, RolloutEventType.PROMOTED, keyId, reason, {
      toVersionId: rollout.toVersionId,
    });
  }

  /** All traffic back to the stable version, the champion alias on it, an alert with the evidence. */
  private async rollBack(
    manager: EntityManager,
    rollout: Rollout,
    keyId: string | null,
    reason: string,
    evidence: Record<string, unknown> | null,
  ): Promise<RolloutChange> {
    const at = this.now();
    await this.endpoints.applyTraffic(
      manager,
      rollout.endpointId,
      {
        stableVersionId: rollout.fromVersionId,
        canaryVersionId: null,
        canaryWeight: 0,
        shadowVersionId: null,
      },
      keyId,
      `rollout ${rollout.id}: rolled back`,
      `rollout:${rollout.id}`,
    );
    const model = await this.modelOf(manager, rollout);
    const [champion] = (await manager.query(
      `SELECT version_id FROM model_alias WHERE model_id = $1 AND alias = $2 AND valid_to IS NULL`,
      [model.id, CHAMPION],
    )) as Array<{ version_id: string }>;
    if (champion?.version_id === rollout.toVersionId)
      await this.models.moveAlias(
        manager,
        model,
        CHAMPION,
        rollout.fromVersionId,
        keyId,
        `rollout:${rollout.id}`,
      );
    rollout.status = RolloutStatus.ROLLED_BACK;
    rollout.finishedAt = at;
    rollout.updatedAt = at;
    await manager.save(rollout);
    const change = await this.event(manager, rollout, RolloutEventType.ROLLED_BACK, keyId, reason, evidence);
    return change;
  }

  private async requestApproval(
    manager: EntityManager,
    rollout: Rollout,
    step: number | null,
    reason: string,
  ): Promise<RolloutChange> {
    const at = this.now();
    rollout.status = RolloutStatus.PENDING_APPROVAL;
    rollout.updatedAt = at;
    await manager.save(rollout);
    const approval = manager.create(ApprovalRequest, {
      projectId: rollout.projectId,
      rolloutId: rollout.id,
      step,
      reason,
      requestedByKeyId: rollout.requestedByKeyId,
      status: ApprovalStatus.PENDING,
      createdAt: at,
    });
    await manager.save(approval);
    return this.event(manager, rollout, RolloutEventType.APPROVAL_REQUESTED, null, reason, {
      approvalRequestId: approval.id,
      step,
    });
  }

  private async byHand(
    ctx: RequestContext,
    id: string,
    reason: string | null | undefined,
    allowed: RolloutStatus[],
    act: (manager: EntityManager, rollout: Rollout, reason: string | null) => Promise<RolloutChange>,
  ): Promise<Rollout> {
    const found = await this.byId(ctx, id);
    ctx.authorize('deploy', 'Endpoint', found.projectId);
    const why = reason == null ? null : requireText('reason', reason, 1_000);
    let change: RolloutChange | undefined;
    const rollout = await this.db.transaction(async (manager) => {
      const locked = await manager.findOne(Rollout, {
        where: { id: found.id },
        lock: { mode: 'pessimistic_write' },
      });
      if (!locked) throw new NotFoundError('Rollout', found.id, 'id');
      if (!allowed.includes(locked.status))
        throw new ConflictError(`the rollout is ${locked.status}; this needs ${allowed.join(' or ')}`, 'id');
      change = await act(manager, locked, why);
      return locked;
    });
    if (change) this.publish(change);
    return rollout;
  }

  private async event(
    manager: EntityManager,
    rollout: Rollout,
    type: RolloutEventType,
    actorKeyId: string | null,
    reason: string | null,
    evidence: Record<string, unknown> | null,
  ): Promise<RolloutChange> {
    const event = manager.create(RolloutEvent, {
      rolloutId: rollout.id,
      type,
      step: rollout.currentStep,
      at: this.now(),
      actorKeyId,
      reason,
      evidence,
    });
    await manager.save(event);
    await this.audit.recordAs(manager, actorKeyId, `rollout:${rollout.id}`, {
      action: `rollout.${type}`,
      subjectType: 'Rollout',
      subjectId: rollout.id,
      projectId: rollout.projectId,
      after: {
        endpointId: rollout.endpointId,
        fromVersionId: rollout.fromVersionId,
        toVersionId: rollout.toVersionId,
        status: rollout.status,
        step: rollout.currentStep,
        reason,
        evidence,
      },
    });
    return { rollout: { ...rollout } as Rollout, event };
  }

  private async modelOf(manager: EntityManager, rollout: Rollout): Promise<Model> {
    const version = await manager.findOneByOrFail(ModelVersion, { id: rollout.toVersionId });
    return manager.findOneByOrFail(Model, { id: version.modelId });
  }

  private publish(change: RolloutChange): void {
    const message: RolloutMessage = {
      projectId: change.rollout.projectId,
      endpointId: change.rollout.endpointId,
      change,
    };
    this.events.publish(Topics.rollout, message);
  }
}

function verdictEvidence(verdict: Verdict): Record<string, unknown> {
  return {
    outcome: verdict.outcome,
    window: verdict.window,
    candidate: verdict.candidate,
    stable: verdict.stable,
    checks: verdict.checks,
  };
}

function checkSteps(strategy: RolloutStrategy, input: RolloutStepInput[] | null | undefined): RolloutStep[] {
  if (strategy === RolloutStrategy.IMMEDIATE) {
    if (input?.length) throw new BadInputError('steps', 'an IMMEDIATE rollout has no steps');
    return [];
  }
  const defaults: RolloutStepInput[] =
    strategy === RolloutStrategy.CANARY
      ? [5, 25, 50, 100].map((weight) => ({ weight, pauseMinutes: 5, manualGate: false }))
      : [{ pauseMinutes: 30, manualGate: false }];
  const steps = input?.length ? input : defaults;
  if (steps.length > MAX_STEPS) throw new BadInputError('steps', `must hold at most ${MAX_STEPS} steps`);
  if (strategy !== RolloutStrategy.CANARY && steps.length !== 1)
    throw new BadInputError('steps', `a ${strategy} rollout has one phase: give one step`);
  let previous = 0;
  return steps.map((s, i) => {
    const pauseMinutes = s.pauseMinutes ?? 5;
    if (!(Number.isFinite(pauseMinutes) && pauseMinutes >= 0 && pauseMinutes <= MAX_PAUSE_MINUTES))
      throw new BadInputError(`steps.${i}.pauseMinutes`, `must be from 0 to ${MAX_PAUSE_MINUTES}`);
    let weight = 0;
    if (strategy === RolloutStrategy.CANARY) {
      weight = s.weight ?? NaN;
      if (!(weight > previous && weight <= 100))
        throw new BadInputError(
          `steps.${i}.weight`,
          `must rise from step to step, above ${previous} and at most 100`,
        );
      previous = weight;
    } else if (s.weight != null && s.weight !== 0) {
      throw new BadInputError(
        `steps.${i}.weight`,
        `a ${strategy} candidate is mirrored, not weighted: leave it out`,
      );
    }
    return { weight, pauseMinutes, manualGate: s.manualGate ?? false };
  });
}

function checkAnalysis(strategy: RolloutStrategy, input: AnalysisInput | null | undefined): Analysis {
  const intervalMinutes = input?.intervalMinutes ?? 1;
  if (!(Number.isFinite(intervalMinutes) && intervalMinutes > 0 && intervalMinutes <= 24 * 60))
    throw new BadInputError('analysis.intervalMinutes', 'must be above 0 and at most 1440');
  const minSamples = input?.minSamples ?? 50;
  if (!(Number.isInteger(minSamples) && minSamples >= 1 && minSamples <= 1_000_000))
    throw new BadInputError('analysis.minSamples', 'must be a whole number from 1 to 1,000,000');
  const failureLimit = input?.failureLimit ?? 0;
  if (!(Number.isInteger(failureLimit) && failureLimit >= 0 && failureLimit <= 100))
    throw new BadInputError('analysis.failureLimit', 'must be a whole number from 0 to 100');
  const conditions = input?.conditions?.length
    ? input.conditions
    : [
        { metric: AnalysisMetric.P95_LATENCY, maxRatio: 1.5 },
        { metric: AnalysisMetric.ERROR_RATE, maxIncrease: 0.02 },
        { metric: AnalysisMetric.DRIFT },
      ];
  conditions.forEach((c, i) => {
    const field = `analysis.conditions.${i}`;
    const bounds = [c.maxRatio, c.maxIncrease, c.maxDecrease, c.max, c.min].filter((b) => b != null);
    if (bounds.some((b) => !Number.isFinite(b) || (b as number) < 0))
      throw new BadInputError(field, 'bounds must be finite numbers >= 0');
    if (c.metric !== AnalysisMetric.DRIFT && bounds.length === 0)
      throw new BadInputError(
        field,
        `${c.metric} needs a bound (maxRatio, maxIncrease, maxDecrease, max or min)`,
      );
    if (c.metric === AnalysisMetric.AGREEMENT && strategy === RolloutStrategy.CANARY)
      throw new BadInputError(field, 'AGREEMENT compares mirrored answers: SHADOW and BLUE_GREEN only');
  });
  return {
    intervalMinutes,
    minSamples,
    failureLimit,
    conditions: conditions.map((c) => ({
      metric: c.metric,
      maxRatio: c.maxRatio ?? null,
      maxIncrease: c.maxIncrease ?? null,
      maxDecrease: c.maxDecrease ?? null,
      max: c.max ?? null,
      min: c.min ?? null,
    })),
  };
}
