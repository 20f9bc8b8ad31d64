import type { EntityManager } from 'typeorm';
import type { EventBus } from '../../events/event-bus';
import { Topics } from '../../events/topics';
import type { AuditService } from '../audit/audit.service';
import type { EndpointService } from '../endpoints/endpoint.service';
import { Model, ModelVersion } from '../models/model.entity';
import type { ModelService } from '../models/model.service';
import type { Platform } from '../platform';
import {
  gateReason,
  phaseAfterStep,
  promotedTraffic,
  promotesAtOnce,
  rolledBackTraffic,
  stepTraffic,
} from './rollout-plan';
import {
  ApprovalRequest,
  ApprovalStatus,
  RolloutEvent,
  RolloutEventType,
  RolloutStatus,
  type Rollout,
} from './rollout.entity';
import type { RolloutChange } from './rollout.types';

/** The alias a successful rollout moves to the candidate (and a rollback leaves on the stable version). */
export const CHAMPION = 'champion';

/** What `Topics.rollout` carries. */
export interface RolloutMessage {
  projectId: string;
  endpointId: string;
  change: RolloutChange;
}

export interface RolloutTransitionsDeps extends Pick<Platform, 'now' | 'audit'> {
  endpoints: EndpointService;
  models: ModelService;
  events: EventBus;
}

/**
 * The moves of a rollout that deploy, the driver and people share, each inside the caller's
 * transaction: start a step, go on after one, promote, roll back, ask for approval. Every move is a
 * rollout event and an audit event; `publish` tells subscribers once the caller has committed.
 */
export class RolloutTransitions {
  private readonly now: () => Date;
  private readonly audit: AuditService;
  private readonly endpoints: EndpointService;
  private readonly models: ModelService;
  private readonly events: EventBus;

  constructor(deps: RolloutTransitionsDeps) {
    this.now = deps.now;
    this.audit = deps.audit;
    this.endpoints = deps.endpoints;
    this.models = deps.models;
    this.events = deps.events;
  }

  /** Starts the current step (or, for IMMEDIATE, finishes at once). */
  async begin(manager: EntityManager, rollout: Rollout): Promise<RolloutChange> {
    const at = this.now();
    rollout.status = RolloutStatus.PROGRESSING;
    if (promotesAtOnce(rollout)) return this.finish(manager, rollout, null, 'immediate');
    const { traffic, weight, mirrored } = stepTraffic(rollout);
    await this.endpoints.applyTraffic(
      manager,
      rollout.endpointId,
      traffic,
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
      weight,
      mirrored,
    });
  }

  /** After the current step passed: the next step, its gate, promotion, or (SHADOW) a wait for a person. */
  async nextStep(manager: EntityManager, rollout: Rollout): Promise<RolloutChange> {
    const next = phaseAfterStep(rollout);
    if (next.kind === 'AWAIT_PROMOTION') {
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
    if (next.kind === 'PROMOTE') return this.finish(manager, rollout, null, 'every step passed its analysis');
    rollout.currentStep = next.step;
    rollout.stepStartedAt = null;
    if (next.kind === 'GATE') return this.requestApproval(manager, rollout, next.step, gateReason(next.step));
    return this.begin(manager, rollout);
  }

  /** The candidate becomes stable for all traffic and takes the champion alias. */
  async finish(
    manager: EntityManager,
    rollout: Rollout,
    keyId: string | null,
    reason: string | null,
  ): Promise<RolloutChange> {
    const at = this.now();
    await this.endpoints.applyTraffic(
      manager,
      rollout.endpointId,
      promotedTraffic(rollout),
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
  async rollBack(
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
      rolledBackTraffic(rollout),
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

  async requestApproval(
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

  /** Records what happened to the rollout (a rollout event and its audit event) and returns the change. */
  async event(
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

  /** Tells subscribers of the rollout's project; call it after the change committed. */
  publish(change: RolloutChange): void {
    const message: RolloutMessage = {
      projectId: change.rollout.projectId,
      endpointId: change.rollout.endpointId,
      change,
    };
    this.events.publish(Topics.rollout, message);
  }

  private async modelOf(manager: EntityManager, rollout: Rollout): Promise<Model> {
    const version = await manager.findOneByOrFail(ModelVersion, { id: rollout.toVersionId });
    return manager.findOneByOrFail(Model, { id: version.modelId });
  }
}
