import type { DataSource } from 'typeorm';
import type { Endpoint } from '../endpoints/endpoint.entity';
import type { PredictionService } from '../predictions/prediction.service';
import type { MonitoringService } from '../monitoring/monitoring.service';
import { RolloutStrategy, type Rollout } from './rollout.entity';
import type { Platform } from '../../platform/platform';

/** One side of a comparison: the candidate's or the stable version's figures in the window. */
export interface Figures {
  requests: number;
  errors: number;
  errorRate: number;
  p95Ms: number | null;
  /** Predictions with a recorded outcome, and the share answered right (classifiers). */
  outcomes: number;
  accuracy: number | null;
}

export interface Signals {
  window: { from: Date; to: Date };
  candidate: Figures;
  stable: Figures;
  driftAlertOpen: boolean;
  /** Mirrored requests answered by both, and how many got the same label (shadow phases only). */
  agreement: { compared: number; agreeing: number } | null;
}

const EMPTY: Figures = { requests: 0, errors: 0, errorRate: 0, p95Ms: null, outcomes: 0, accuracy: null };

export interface RolloutSignalsDeps extends Pick<Platform, 'db' | 'now'> {
  monitoring: MonitoringService;
  predictions: PredictionService;
}

/**
 * The live figures a rollout step is judged on, since the step started. A canary's come from the SLA
 * windows (every replica's sketches, by version); a mirrored candidate's from the prediction log,
 * where shadow scorings are kept apart.
 */
export class RolloutSignals {
  private readonly db: DataSource;
  private readonly monitoring: MonitoringService;
  private readonly predictions: PredictionService;
  private readonly now: () => Date;

  constructor(deps: RolloutSignalsDeps) {
    this.db = deps.db;
    this.monitoring = deps.monitoring;
    this.predictions = deps.predictions;
    this.now = deps.now;
  }

  async collect(rollout: Rollout, endpoint: Endpoint, since: Date): Promise<Signals> {
    const to = this.now();
    const mirrored = rollout.strategy !== RolloutStrategy.CANARY;
    const accuracy = await this.predictions.liveAccuracy(endpoint.id, since);
    const accuracyOf = (versionId: string, shadow: boolean): Pick<Figures, 'outcomes' | 'accuracy'> => {
      const row = accuracy.find((a) => a.modelVersionId === versionId && a.shadow === shadow);
      return { outcomes: row?.predictions ?? 0, accuracy: row?.accuracy ?? null };
    };
    const [{ open }] = (await this.db.query(
      `SELECT EXISTS (SELECT 1 FROM alert WHERE endpoint_id = $1 AND kind = 'DRIFT' AND status <> 'RESOLVED') AS open`,
      [endpoint.id],
    )) as Array<{ open: boolean }>;
    if (!mirrored) {
      const minutes = Math.max(1, Math.ceil((to.getTime() - since.getTime()) / 60_000));
      const stats = await this.monitoring.stats(endpoint, minutes);
      const figures = (versionId: string): Figures => {
        const v = stats.byVersion.find((b) => b.modelVersionId === versionId);
        return v
          ? {
              requests: v.requests,
              errors: v.errors,
              errorRate: v.errorRate,
              p95Ms: v.p95Ms,
              ...accuracyOf(versionId, false),
            }
          : { ...EMPTY, ...accuracyOf(versionId, false) };
      };
      return {
        window: { from: stats.from, to },
        candidate: figures(rollout.toVersionId),
        stable: figures(rollout.fromVersionId),
        driftAlertOpen: open,
        agreement: null,
      };
    }
    const rows = (await this.db.query(
      `SELECT shadow, count(*)::int AS n, count(error)::int AS errors,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE error IS NULL) AS p95
         FROM prediction_log
        WHERE endpoint_id = $1 AND created_at > $2 AND created_at <= $3
          AND ((shadow AND model_version_id = $4) OR (NOT shadow AND model_version_id = $5))
        GROUP BY shadow`,
      [endpoint.id, since, to, rollout.toVersionId, rollout.fromVersionId],
    )) as Array<{ shadow: boolean; n: number; errors: number; p95: number | null }>;
    const side = (shadow: boolean, versionId: string): Figures => {
      const r = rows.find((x) => x.shadow === shadow);
      if (!r) return { ...EMPTY, ...accuracyOf(versionId, shadow) };
      return {
        requests: r.n,
        errors: r.errors,
        errorRate: r.n ? r.errors / r.n : 0,
        p95Ms: r.p95 === null ? null : Number(r.p95),
        ...accuracyOf(versionId, shadow),
      };
    };
    const [agreement] = (await this.db.query(
      `SELECT count(*)::int AS compared, count(*) FILTER (WHERE s.outputs->>'label' = p.outputs->>'label')::int AS agreeing
         FROM prediction_log s
         JOIN prediction_log p ON p.endpoint_id = s.endpoint_id AND p.request_key = s.request_key AND NOT p.shadow
        WHERE s.endpoint_id = $1 AND s.shadow AND s.model_version_id = $2 AND s.error IS NULL AND p.error IS NULL
          AND s.created_at > $3 AND s.created_at <= $4`,
      [endpoint.id, rollout.toVersionId, since, to],
    )) as Array<{ compared: number; agreeing: number }>;
    return {
      window: { from: since, to },
      candidate: side(true, rollout.toVersionId),
      stable: side(false, rollout.fromVersionId),
      driftAlertOpen: open,
      agreement,
    };
  }
}
