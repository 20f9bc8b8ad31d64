import type { DataSource } from 'typeorm';
import { tryXactLock } from '../../db/advisory-lock';
import { AlertKind, AlertSeverity } from '../alerts/alert.enums';
import type { AlertService } from '../alerts/alert.service';
import { endpointById } from '../endpoints/endpoint.repository';
import { modelById, versionById } from '../models/model.repository';
import { RequestContext } from '../../context/context';
import type { Logger } from '../../common/logger';
import type { Platform } from '../../platform/platform';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { analyze } from './rollout-analysis';
import { afterVerdict, analysisDue, analysisEventType, verdictEvidence } from './rollout-plan';
import type { RolloutSignals } from './rollout-signals';
import type { RolloutTransitions } from './rollout-transitions';
import { Rollout, RolloutStatus } from './rollout.entity';

export interface RolloutDriverDeps extends Pick<Platform, 'db' | 'now' | 'work' | 'logger'> {
  transitions: RolloutTransitions;
  signals: RolloutSignals;
  alerts: AlertService;
}

/**
 * The rollout driver, run by the worker: moves each rollout in progress through its steps on live
 * analysis, promoting at the end and rolling back by itself on failure (an alert: nobody asked for it).
 */
export class RolloutDriver {
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;
  private readonly logger: Logger;
  private readonly transitions: RolloutTransitions;
  private readonly signals: RolloutSignals;
  private readonly alerts: AlertService;

  constructor(deps: RolloutDriverDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.work = deps.work;
    this.logger = deps.logger;
    this.transitions = deps.transitions;
    this.signals = deps.signals;
    this.alerts = deps.alerts;
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
    if (!analysisDue(seen, at)) return seen;
    // Signals are read outside the transaction: no connection is held while the window is aggregated.
    const endpoint = await endpointById(this.db.manager, seen.endpointId);
    const verdict = analyze(seen, await this.signals.collect(seen, endpoint, seen.stepStartedAt ?? at));
    let rolledBack = null as { reason: string; evidence: Record<string, unknown> } | null;
    // The driver acts as the hub, under the rollout's name.
    const driver = RequestContext.system(this.logger, 'rollout-driver', `rollout:${rolloutId}`);
    const result = await this.work.run(driver, async (tx) => {
      const { manager } = tx;
      if (!(await tryXactLock(manager, 'rollout', rolloutId))) return null;
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
      const type = analysisEventType(verdict.outcome);
      await this.transitions.event(tx, rollout, type, null, verdict.summary, verdictEvidence(verdict));
      const { failures, next } = afterVerdict(rollout, verdict.outcome, at);
      rollout.failures = failures;
      if (next === 'ROLL_BACK') {
        rolledBack = { reason: `analysis failed: ${verdict.summary}`, evidence: verdictEvidence(verdict) };
        await this.transitions.rollBack(tx, rollout, null, rolledBack.reason, rolledBack.evidence);
        return rollout;
      }
      if (next === 'NEXT_STEP') {
        await this.transitions.nextStep(tx, rollout);
      } else {
        rollout.updatedAt = at;
        await manager.save(rollout);
      }
      return rollout;
    });
    if (rolledBack && result) await this.alertRollback(result, rolledBack.reason, rolledBack.evidence);
    return result;
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

  /** A rollout the driver rolled back is an alert: nobody asked for it. */
  private async alertRollback(
    rollout: Rollout,
    reason: string,
    evidence: Record<string, unknown>,
  ): Promise<void> {
    const version = await versionById(this.db.manager, rollout.toVersionId);
    const model = await modelById(this.db.manager, version.modelId);
    await this.alerts.raise(
      {
        projectId: rollout.projectId,
        endpointId: rollout.endpointId,
        modelVersionId: rollout.toVersionId,
        kind: AlertKind.ROLLOUT,
        severity: AlertSeverity.CRITICAL,
        dedupeKey: `rollout:${rollout.id}`,
        title: `rollout of ${model.name} v${version.version} rolled back: ${reason}`,
        evidence: { rolloutId: rollout.id, ...evidence },
      },
      RequestContext.system(this.logger, 'rollout-driver', `rollout:${rollout.id}`),
    );
  }
}
