import { ConflictError, ForbiddenError, NotFoundError } from '../../common/errors';
import { requireId, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { Platform } from '../../platform/platform';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import { gateAfterApproval, gateReason } from './rollout-plan';
import type { RolloutTransitions } from './rollout-transitions';
import {
  ACTIVE_STATUSES,
  ApprovalRequest,
  ApprovalStatus,
  Rollout,
  RolloutEventType,
  RolloutStatus,
} from './rollout.entity';
import type { RolloutService } from './rollout.service';
import type { RolloutChange } from './rollout.types';

export interface RolloutApprovalDeps extends Pick<Platform, 'now' | 'work'> {
  rollouts: RolloutService;
  transitions: RolloutTransitions;
}

/**
 * What people do to a rollout: approve or reject a pending request (four eyes), pause, resume, promote
 * now or roll back. Each is one transaction on the locked rollout row, with who and why in its event.
 */
export class RolloutApprovalService {
  private readonly now: () => Date;
  private readonly work: UnitOfWork;
  private readonly rollouts: RolloutService;
  private readonly transitions: RolloutTransitions;

  constructor(deps: RolloutApprovalDeps) {
    this.now = deps.now;
    this.work = deps.work;
    this.rollouts = deps.rollouts;
    this.transitions = deps.transitions;
  }

  /** Promotes now, whatever step it is on: the candidate takes all traffic and the champion alias. */
  async promote(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(
      ctx,
      id,
      reason,
      [RolloutStatus.PROGRESSING, RolloutStatus.PAUSED],
      (tx, rollout, why) => this.transitions.finish(tx, rollout, ctx.caller.keyId, why),
    );
  }

  async rollback(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(ctx, id, reason, ACTIVE_STATUSES, (tx, rollout, why) =>
      this.transitions.rollBack(tx, rollout, ctx.caller.keyId, why ?? 'rolled back by hand', null),
    );
  }

  async pause(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(ctx, id, reason, [RolloutStatus.PROGRESSING], async (tx, rollout, why) => {
      rollout.status = RolloutStatus.PAUSED;
      rollout.updatedAt = this.now();
      await tx.manager.save(rollout);
      return this.transitions.event(tx, rollout, RolloutEventType.PAUSED, ctx.caller.keyId, why, null);
    });
  }

  async resume(ctx: RequestContext, id: string, reason?: string | null): Promise<Rollout> {
    return this.byHand(ctx, id, reason, [RolloutStatus.PAUSED], async (tx, rollout, why) => {
      rollout.status = RolloutStatus.PROGRESSING;
      rollout.lastAnalysisAt = null;
      rollout.updatedAt = this.now();
      await tx.manager.save(rollout);
      return this.transitions.event(tx, rollout, RolloutEventType.RESUMED, ctx.caller.keyId, why, null);
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
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
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
      const keyId = ctx.caller.keyId;
      if (!approve) {
        await this.transitions.event(tx, rollout, RolloutEventType.REJECTED, keyId, text, evidence);
        await this.transitions.rollBack(
          tx,
          rollout,
          keyId,
          `approval rejected${text ? `: ${text}` : ''}`,
          evidence,
        );
        return approval;
      }
      await this.transitions.event(tx, rollout, RolloutEventType.APPROVED, keyId, text, evidence);
      // A whole-rollout approval may be followed by the gate of its first step.
      const gate = gateAfterApproval(rollout, approval.step);
      if (gate !== null) {
        await this.transitions.requestApproval(tx, rollout, gate, gateReason(gate));
      } else {
        await this.transitions.begin(tx, rollout);
      }
      return approval;
    });
  }

  private async byHand(
    ctx: RequestContext,
    id: string,
    reason: string | null | undefined,
    allowed: RolloutStatus[],
    act: (tx: Change, rollout: Rollout, reason: string | null) => Promise<RolloutChange>,
  ): Promise<Rollout> {
    const found = await this.rollouts.byId(ctx, id);
    ctx.authorize('deploy', 'Endpoint', found.projectId);
    const why = reason == null ? null : requireText('reason', reason, 1_000);
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const locked = await manager.findOne(Rollout, {
        where: { id: found.id },
        lock: { mode: 'pessimistic_write' },
      });
      if (!locked) throw new NotFoundError('Rollout', found.id, 'id');
      if (!allowed.includes(locked.status))
        throw new ConflictError(`the rollout is ${locked.status}; this needs ${allowed.join(' or ')}`, 'id');
      await act(tx, locked, why);
      return locked;
    });
  }
}
