import { instantOrNull, type RolloutChanged } from '../../events/catalogue';
import type { Change } from '../../platform/unit-of-work';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { Model } from '../models/model.entity';
import { aliasedVersionId, modelById, versionById } from '../models/model.repository';
import type { ModelService } from '../models/model.service';
import type { Platform } from '../../platform/platform';
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

export interface RolloutTransitionsDeps extends Pick<Platform, 'now'> {
  endpoints: EndpointService;
  models: ModelService;
}

/**
 * The moves of a rollout that deploy, the driver and people share, each inside the caller's
 * change: start a step, go on after one, promote, roll back, ask for approval. Every move is a rollout
 * event, an audit event and a `rollout.changed` domain event, all committed with the change.
 */
export class RolloutTransitions {
  private readonly now: () => Date;
  private readonly endpoints: EndpointService;
  private readonly models: ModelService;

  constructor(deps: RolloutTransitionsDeps) {
    this.now = deps.now;
    this.endpoints = deps.endpoints;
    this.models = deps.models;
  }

  /** Starts the current step (or, for IMMEDIATE, finishes at once). */
  async begin(tx: Change, rollout: Rollout): Promise<RolloutChange> {
    const { manager } = tx;
    const at = this.now();
    rollout.status = RolloutStatus.PROGRESSING;
    if (promotesAtOnce(rollout)) return this.finish(tx, rollout, null, 'immediate');
    const { traffic, weight, mirrored } = stepTraffic(rollout);
    await this.endpoints.applyTraffic(
      tx,
      rollout.endpointId,
      traffic,
      `rollout ${rollout.id}: step ${rollout.currentStep + 1} of ${rollout.steps.length}`,
      rollout.id,
    );
    rollout.stepStartedAt = at;
    rollout.lastAnalysisAt = null;
    rollout.updatedAt = at;
    await manager.save(rollout);
    return this.event(tx, rollout, RolloutEventType.STEP_STARTED, null, null, {
      step: rollout.currentStep,
      weight,
      mirrored,
    });
  }

  /** After the current step passed: the next step, its gate, promotion, or (SHADOW) a wait for a person. */
  async nextStep(tx: Change, rollout: Rollout): Promise<RolloutChange> {
    const { manager } = tx;
    const next = phaseAfterStep(rollout);
    if (next.kind === 'AWAIT_PROMOTION') {
      // A shadow never takes traffic by itself: it waits, analysed and passing, for a person to promote.
      rollout.status = RolloutStatus.PAUSED;
      rollout.updatedAt = this.now();
      await manager.save(rollout);
      return this.event(
        tx,
        rollout,
        RolloutEventType.PAUSED,
        null,
        'shadow analysis passed: promote by hand',
        null,
      );
    }
    if (next.kind === 'PROMOTE') return this.finish(tx, rollout, null, 'every step passed its analysis');
    rollout.currentStep = next.step;
    rollout.stepStartedAt = null;
    if (next.kind === 'GATE') return this.requestApproval(tx, rollout, next.step, gateReason(next.step));
    return this.begin(tx, rollout);
  }

  /** The candidate becomes stable for all traffic and takes the champion alias. */
  async finish(
    tx: Change,
    rollout: Rollout,
    keyId: string | null,
    reason: string | null,
  ): Promise<RolloutChange> {
    const { manager } = tx;
    const at = this.now();
    await this.endpoints.applyTraffic(
      tx,
      rollout.endpointId,
      promotedTraffic(rollout),
      `rollout ${rollout.id}: promoted`,
      rollout.id,
    );
    const model = await this.modelOf(tx, rollout);
    await this.models.moveAlias(tx, model, CHAMPION, rollout.toVersionId);
    rollout.status = RolloutStatus.SUCCEEDED;
    rollout.finishedAt = at;
    rollout.updatedAt = at;
    await manager.save(rollout);
    return this.event(tx, rollout, RolloutEventType.PROMOTED, keyId, reason, {
      toVersionId: rollout.toVersionId,
    });
  }

  /** All traffic back to the stable version, the champion alias on it, an alert with the evidence. */
  async rollBack(
    tx: Change,
    rollout: Rollout,
    keyId: string | null,
    reason: string,
    evidence: Record<string, unknown> | null,
  ): Promise<RolloutChange> {
    const { manager } = tx;
    const at = this.now();
    await this.endpoints.applyTraffic(
      tx,
      rollout.endpointId,
      rolledBackTraffic(rollout),
      `rollout ${rollout.id}: rolled back`,
      rollout.id,
    );
    const model = await this.modelOf(tx, rollout);
    if ((await aliasedVersionId(manager, model.id, CHAMPION)) === rollout.toVersionId)
      await this.models.moveAlias(tx, model, CHAMPION, rollout.fromVersionId);
    rollout.status = RolloutStatus.ROLLED_BACK;
    rollout.finishedAt = at;
    rollout.updatedAt = at;
    await manager.save(rollout);
    const change = await this.event(tx, rollout, RolloutEventType.ROLLED_BACK, keyId, reason, evidence);
    return change;
  }

  async requestApproval(
    tx: Change,
    rollout: Rollout,
    step: number | null,
    reason: string,
  ): Promise<RolloutChange> {
    const { manager } = tx;
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
    return this.event(tx, rollout, RolloutEventType.APPROVAL_REQUESTED, null, reason, {
      approvalRequestId: approval.id,
      step,
    });
  }

  /** Records what happened to the rollout (a rollout event and its audit event) and returns the change. */
  async event(
    tx: Change,
    rollout: Rollout,
    type: RolloutEventType,
    actorKeyId: string | null,
    reason: string | null,
    evidence: Record<string, unknown> | null,
  ): Promise<RolloutChange> {
    const { manager } = tx;
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
    const change = { rollout: { ...rollout } as Rollout, event };
    tx.emit({
      type: 'rollout.changed',
      stream: `rollout:${rollout.id}`,
      projectId: rollout.projectId,
      payload: rolloutChanged(change),
    });
    tx.audit({
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
    return change;
  }

  private async modelOf({ manager }: Change, rollout: Rollout): Promise<Model> {
    const version = await versionById(manager, rollout.toVersionId);
    return modelById(manager, version.modelId);
  }
}

/** A rollout's change as `rolloutChanged` delivers it. */
function rolloutChanged({ rollout: r, event: e }: RolloutChange): RolloutChanged {
  return {
    projectId: r.projectId,
    endpointId: r.endpointId,
    rollout: {
      id: r.id,
      projectId: r.projectId,
      endpointId: r.endpointId,
      fromVersionId: r.fromVersionId,
      toVersionId: r.toVersionId,
      strategy: r.strategy,
      steps: r.steps.map((s) => ({
        weight: s.weight,
        pauseMinutes: s.pauseMinutes,
        manualGate: s.manualGate,
      })),
      analysis: JSON.parse(JSON.stringify(r.analysis)) as Record<string, unknown>,
      status: r.status,
      currentStep: r.currentStep,
      stepStartedAt: instantOrNull(r.stepStartedAt),
      lastAnalysisAt: instantOrNull(r.lastAnalysisAt),
      failures: r.failures,
      idempotencyKey: r.idempotencyKey,
      requestedByKeyId: r.requestedByKeyId,
      reason: r.reason,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
      finishedAt: instantOrNull(r.finishedAt),
    },
    event: {
      id: e.id,
      rolloutId: e.rolloutId,
      type: e.type,
      step: e.step,
      at: e.at.toISOString(),
      actorKeyId: e.actorKeyId,
      reason: e.reason,
      evidence: e.evidence,
    },
  };
}
