import type { DataSource } from 'typeorm';
import { AlertKind } from '../alerts/alert.enums';
import { hasOpenAlert } from '../alerts/alert.repository';
import type { Endpoint } from '../endpoints/endpoint.entity';
import { mirroredSides, shadowAgreement } from '../predictions/prediction-log.repository';
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
    const open = await hasOpenAlert(this.db.manager, endpoint.id, AlertKind.DRIFT);
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
    const rows = await mirroredSides(this.db.manager, {
      endpointId: endpoint.id,
      since,
      to,
      candidateId: rollout.toVersionId,
      stableId: rollout.fromVersionId,
    });
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
    const agreement = await shadowAgreement(this.db.manager, {
      endpointId: endpoint.id,
      shadowVersionId: rollout.toVersionId,
      since,
      to,
    });
    return {
      window: { from: since, to },
      candidate: side(true, rollout.toVersionId),
      stable: side(false, rollout.fromVersionId),
      driftAlertOpen: open,
      agreement,
    };
  }
}
