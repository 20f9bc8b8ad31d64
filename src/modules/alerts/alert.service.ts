import type { DataSource } from 'typeorm';
import { ConflictError, NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireText } from '../../common/validate';
import { RequestContext } from '../../context/context';
import { instantOrNull, type AlertJson } from '../../events/catalogue';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import type { ProjectService } from '../projects/project.service';
import { Alert, type AlertKind, type AlertSeverity, AlertStatus } from './alert.entity';
import { AlertChange, type AlertsArgs } from './alert.types';
import type { Platform } from '../../platform/platform';

/** A condition an evaluator found: it opens an alert, or updates the open one with the same key. */
export interface Condition {
  projectId: string;
  endpointId?: string | null;
  modelVersionId?: string | null;
  kind: AlertKind;
  severity: AlertSeverity;
  dedupeKey: string;
  title: string;
  evidence: Record<string, unknown>;
}

export interface AlertServiceDeps extends Platform {
  projects: ProjectService;
  clearAfter?: number;
}

/**
 * Alerts with dedupe and hysteresis: `raise` opens one alert per key or updates the open one;
 * `clear` counts evaluations that found the condition gone, and resolves the alert after
 * `clearAfter` of them in a row (a flapping condition does not open and close alerts on every tick).
 */
export class AlertService {
  /** Who raises and clears alerts when no other actor is named: the hub's evaluators. */
  readonly evaluator: RequestContext;

  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly work: UnitOfWork;
  private readonly now: () => Date;
  private readonly clearAfter: number;

  constructor(deps: AlertServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.work = deps.work;
    this.now = deps.now;
    this.clearAfter = deps.clearAfter ?? 2;
    this.evaluator = RequestContext.system(deps.logger, 'monitoring');
  }

  /** Opens an alert for `condition`, or updates the open one with its key; `actor` names who found it. */
  async raise(condition: Condition, actor: RequestContext = this.evaluator): Promise<Alert> {
    return this.work.run(actor, (tx) => this.raiseIn(tx, condition));
  }

  /** `raise` inside a change already under way. */
  async raiseIn(tx: Change, condition: Condition): Promise<Alert> {
    const { manager } = tx;
    const at = this.now();
    const rows = (await manager.query(
      `INSERT INTO alert AS a (project_id, endpoint_id, model_version_id, kind, severity, status, dedupe_key,
                               title, evidence, occurrences, clear_streak, opened_at, last_seen_at)
       VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $8, 1, 0, $9, $9)
       ON CONFLICT (dedupe_key) WHERE status <> 'RESOLVED'
       DO UPDATE SET severity = EXCLUDED.severity, title = EXCLUDED.title, evidence = EXCLUDED.evidence,
                     occurrences = a.occurrences + 1, clear_streak = 0, last_seen_at = EXCLUDED.last_seen_at
       RETURNING a.id, (xmax = 0) AS inserted,
                 (SELECT severity FROM alert WHERE id = a.id) AS previous_severity`,
      [
        condition.projectId,
        condition.endpointId ?? null,
        condition.modelVersionId ?? null,
        condition.kind,
        condition.severity,
        condition.dedupeKey,
        condition.title,
        JSON.stringify(condition.evidence),
        at,
      ],
    )) as Array<{ id: string; inserted: boolean; previous_severity: AlertSeverity }>;
    const [{ id, inserted, previous_severity: previous }] = rows;
    const alert = await manager.findOneByOrFail(Alert, { id });
    if (inserted) emitChange(tx, AlertChange.RAISED, alert);
    else if (previous !== alert.severity) emitChange(tx, AlertChange.UPDATED, alert);
    return alert;
  }

  /** The condition behind `dedupeKey` was not found this evaluation. Returns the alert if it resolved now. */
  async clear(dedupeKey: string, actor: RequestContext = this.evaluator): Promise<Alert | null> {
    return this.work.run(actor, (tx) => this.clearIn(tx, dedupeKey));
  }

  /** `clear` inside a change already under way. */
  async clearIn(tx: Change, dedupeKey: string): Promise<Alert | null> {
    const { manager } = tx;
    const rows = (await manager.query(
      `UPDATE alert SET clear_streak = clear_streak + 1,
              status = CASE WHEN clear_streak + 1 >= $2 THEN 'RESOLVED'::alert_status ELSE status END,
              resolved_at = CASE WHEN clear_streak + 1 >= $2 THEN $3::timestamptz ELSE resolved_at END,
              resolution = CASE WHEN clear_streak + 1 >= $2 THEN 'the condition cleared' ELSE resolution END
        WHERE dedupe_key = $1 AND status <> 'RESOLVED'
        RETURNING id, status`,
      [dedupeKey, this.clearAfter, this.now()],
    )) as [Array<{ id: string; status: AlertStatus }>, number];
    const changed = rows[0]?.[0];
    if (!changed || changed.status !== AlertStatus.RESOLVED) return null;
    const alert = await manager.findOneByOrFail(Alert, { id: changed.id });
    emitChange(tx, AlertChange.RESOLVED, alert);
    return alert;
  }

  async acknowledge(ctx: RequestContext, id: string, note?: string | null): Promise<Alert> {
    return this.decide(ctx, id, AlertStatus.ACKNOWLEDGED, note);
  }

  async resolve(ctx: RequestContext, id: string, note?: string | null): Promise<Alert> {
    return this.decide(ctx, id, AlertStatus.RESOLVED, note);
  }

  async byId(ctx: RequestContext, id: string): Promise<Alert> {
    const alertId = requireId('id', id);
    const alert = await this.db.getRepository(Alert).findOneBy({ id: alertId });
    if (!alert || !ctx.can('read', 'Alert', alert.projectId)) throw new NotFoundError('Alert', alertId, 'id');
    return alert;
  }

  async list(ctx: RequestContext, args: AlertsArgs): Promise<ConnectionResult<Alert>> {
    const project = await this.projects.resolve(ctx, args.project, 'Alert');
    const qb = this.db
      .getRepository(Alert)
      .createQueryBuilder('a')
      .where('a.projectId = :projectId', { projectId: project.id });
    if (args.statuses?.length) qb.andWhere('a.status IN (:...statuses)', { statuses: args.statuses });
    if (args.kinds?.length) qb.andWhere('a.kind IN (:...kinds)', { kinds: args.kinds });
    return paginate(qb, args, { keys: ['openedAt', 'id'] });
  }

  /** Open (and acknowledged) alerts by kind and severity, for /metrics. */
  async openCounts(): Promise<Array<{ kind: AlertKind; severity: AlertSeverity; count: number }>> {
    return this.db.query(
      `SELECT kind, severity, count(*)::int AS count FROM alert WHERE status <> 'RESOLVED' GROUP BY 1, 2`,
    );
  }

  private async decide(
    ctx: RequestContext,
    id: string,
    status: AlertStatus.ACKNOWLEDGED | AlertStatus.RESOLVED,
    note: string | null | undefined,
  ): Promise<Alert> {
    const alert = await this.byId(ctx, id);
    ctx.authorize('update', 'Alert', alert.projectId);
    const text = note == null ? null : requireText('note', note, 2_000);
    const at = this.now();
    const allowed =
      status === AlertStatus.ACKNOWLEDGED ? [AlertStatus.OPEN] : [AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED];
    const changes =
      status === AlertStatus.ACKNOWLEDGED
        ? { status, acknowledgedAt: at, acknowledgedByKeyId: ctx.caller.keyId }
        : {
            status,
            resolvedAt: at,
            resolvedByKeyId: ctx.caller.keyId,
            resolution: text ?? 'resolved by hand',
          };
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const result = await manager
        .createQueryBuilder()
        .update(Alert)
        .set(changes)
        .where('id = :id AND status IN (:...allowed)', { id: alert.id, allowed })
        .execute();
      if (!result.affected)
        throw new ConflictError(
          `the alert is ${alert.status}, so it cannot be ${status.toLowerCase()}`,
          'id',
        );
      const updated = await manager.findOneByOrFail(Alert, { id: alert.id });
      emitChange(
        tx,
        status === AlertStatus.ACKNOWLEDGED ? AlertChange.ACKNOWLEDGED : AlertChange.RESOLVED,
        updated,
      );
      tx.audit({
        action: status === AlertStatus.ACKNOWLEDGED ? 'acknowledgeAlert' : 'resolveAlert',
        subjectType: 'Alert',
        subjectId: alert.id,
        projectId: alert.projectId,
        before: { status: alert.status },
        after: { status, note: text },
      });
      return updated;
    });
  }
}

/** The event of an alert's change, on its project's alert stream. */
function emitChange(tx: Change, change: AlertChange, alert: Alert): void {
  tx.emit({
    type: 'alert.changed',
    stream: `alerts:${alert.projectId}`,
    projectId: alert.projectId,
    payload: { change, alert: alertJson(alert) },
  });
}

export function alertJson(a: Alert): AlertJson {
  return {
    id: a.id,
    projectId: a.projectId,
    endpointId: a.endpointId,
    modelVersionId: a.modelVersionId,
    kind: a.kind,
    severity: a.severity,
    status: a.status,
    dedupeKey: a.dedupeKey,
    title: a.title,
    evidence: a.evidence,
    occurrences: a.occurrences,
    clearStreak: a.clearStreak,
    openedAt: a.openedAt.toISOString(),
    lastSeenAt: a.lastSeenAt.toISOString(),
    acknowledgedAt: instantOrNull(a.acknowledgedAt),
    acknowledgedByKeyId: a.acknowledgedByKeyId,
    resolvedAt: instantOrNull(a.resolvedAt),
    resolvedByKeyId: a.resolvedByKeyId,
    resolution: a.resolution,
  };
}
