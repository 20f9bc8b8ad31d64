import type { DataSource } from 'typeorm';
import { ConflictError, NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { EventBus } from '../../events/event-bus';
import { Topics } from '../../events/topics';
import type { AuditService } from '../audit/audit.service';
import type { ProjectService } from '../projects/project.service';
import { Alert, type AlertKind, type AlertSeverity, AlertStatus } from './alert.entity';
import { AlertChange, type AlertEvent, type AlertsArgs } from './alert.types';

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

/** What subscribers receive on `Topics.alert`. */
export type AlertMessage = AlertEvent;

/**
 * Alerts with dedupe and hysteresis: `raise` opens one alert per key or updates the open one;
 * `clear` counts evaluations that found the condition gone, and resolves the alert after
 * `clearAfter` of them in a row (a flapping condition does not open and close alerts on every tick).
 */
export class AlertService {
  constructor(
    private readonly db: DataSource,
    private readonly projects: ProjectService,
    private readonly events: EventBus,
    private readonly now: () => Date,
    private readonly audit: AuditService,
    private readonly clearAfter = 2,
  ) {}

  async raise(condition: Condition): Promise<Alert> {
    const at = this.now();
    const rows = (await this.db.query(
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
    const alert = await this.db.getRepository(Alert).findOneByOrFail({ id });
    if (inserted) this.publish(AlertChange.RAISED, alert);
    else if (previous !== alert.severity) this.publish(AlertChange.UPDATED, alert);
    return alert;
  }

  /** The condition behind `dedupeKey` was not found this evaluation. Returns the alert if it resolved now. */
  async clear(dedupeKey: string): Promise<Alert | null> {
    const rows = (await this.db.query(
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
    const alert = await this.db.getRepository(Alert).findOneByOrFail({ id: changed.id });
    this.publish(AlertChange.RESOLVED, alert);
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
    const updated = await this.audit.transaction(ctx, async (manager) => {
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
      return {
        result: await manager.findOneByOrFail(Alert, { id: alert.id }),
        audit: {
          action: status === AlertStatus.ACKNOWLEDGED ? 'acknowledgeAlert' : 'resolveAlert',
          subjectType: 'Alert',
          subjectId: alert.id,
          projectId: alert.projectId,
          before: { status: alert.status },
          after: { status, note: text },
        },
      };
    });
    this.publish(
      status === AlertStatus.ACKNOWLEDGED ? AlertChange.ACKNOWLEDGED : AlertChange.RESOLVED,
      updated,
    );
    return updated;
  }

  private publish(change: AlertChange, alert: Alert): void {
    const message: AlertMessage = { change, alert };
    this.events.publish(Topics.alert, message);
  }
}
