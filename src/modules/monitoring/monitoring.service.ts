import type { DataSource } from 'typeorm';
import { BadInputError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import type { RequestContext } from '../../context/context';
import type { EventBus } from '../../events/event-bus';
import { LiveTopic } from '../../events/topics';
import type { DriftReportJson } from '../../events/catalogue';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { AlertKind, AlertSeverity } from '../alerts/alert.enums';
import type { AlertService } from '../alerts/alert.service';
import { datasetVersionById } from '../datasets/dataset.repository';
import type { Endpoint } from '../endpoints/endpoint.entity';
import { allEndpoints } from '../endpoints/endpoint.repository';
import type { EndpointService } from '../endpoints/endpoint.service';
import { compilePreprocessing, numericSpec } from '../inference/preprocessing';
import type { PredictionService } from '../predictions/prediction.service';
import { versionById, versionsByIds } from '../models/model.repository';
import type { DataPolicyService } from '../data-policy/data-policy.service';
import type { ProjectService } from '../projects/project.service';
import { DDSketch } from './ddsketch';
import { DriftReport } from './drift-report.entity';
import { driftQuery, judge, MIN_SAMPLE, OUTPUT, planDrift } from './drift';
import { EndpointStatsMinute } from './endpoint-stats.entity';
import type { DriftReportsArgs, EndpointStats, VersionStats } from './monitoring.types';
import type { SlaTracker } from './sla-tracker';
import type { Platform } from '../../platform/platform';

const MINUTE_MS = 60_000;
/** SLA conditions are judged over this many minutes, and only with this many requests in them. */
export const SLA_WINDOW_MINUTES = 5;
export const SLA_MIN_REQUESTS = 20;
/** Hysteresis: an SLA alert clears only once the figure is back below this share of its target. */
const LATENCY_CLEAR_RATIO = 0.9;
const ERROR_RATE_CLEAR_RATIO = 0.8;
/** A throughput alert clears once traffic is back above this multiple of the minimum. */
const THROUGHPUT_CLEAR_RATIO = 1.1;
/** Live accuracy is judged over the last hour, with at least this many recorded outcomes per version. */
const ACCURACY_WINDOW_MS = 60 * MINUTE_MS;
const ACCURACY_MIN_OUTCOMES = 30;
const ACCURACY_CLEAR_MARGIN = 0.02;
export const DRIFT_WINDOW_MINUTES = 60;

/** What {@link endpointStatsTopic} carries. */
export interface StatsMessage {
  projectId: string;
  stats: EndpointStats;
}

/** Each endpoint's live figures, one channel per endpoint (a subscriber's queue holds its endpoint's only). */
export const endpointStatsTopic = new LiveTopic<StatsMessage>('endpoint-stats');

export interface MonitoringServiceDeps extends Pick<Platform, 'db' | 'now' | 'work'> {
  projects: ProjectService;
  endpoints: EndpointService;
  predictions: PredictionService;
  alerts: AlertService;
  events: EventBus;
  tracker: SlaTracker;
  dataPolicy: DataPolicyService;
}

/**
 * SLA windows, drift checks and the alerts they raise. Windows merge every replica's per-minute
 * sketches; drift histograms are built in SQL over the prediction log.
 */
export class MonitoringService {
  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly endpoints: EndpointService;
  private readonly predictions: PredictionService;
  private readonly alerts: AlertService;
  private readonly events: EventBus;
  private readonly tracker: SlaTracker;
  private readonly now: () => Date;
  private readonly dataPolicy: DataPolicyService;
  private readonly work: UnitOfWork;

  constructor(deps: MonitoringServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.endpoints = deps.endpoints;
    this.predictions = deps.predictions;
    this.alerts = deps.alerts;
    this.events = deps.events;
    this.tracker = deps.tracker;
    this.now = deps.now;
    this.dataPolicy = deps.dataPolicy;
    this.work = deps.work;
  }

  /**
   * Requests, errors and latency quantiles of an endpoint over the last `minutes` whole minutes (the
   * current one included), overall and per version, merged across replicas.
   */
  async stats(endpoint: Endpoint, minutes: number): Promise<EndpointStats> {
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60)
      throw new BadInputError('window', 'must be 1 to 1440 minutes');
    await this.tracker.flush();
    const to = this.now();
    const from = new Date(Math.floor(to.getTime() / MINUTE_MS) * MINUTE_MS - (minutes - 1) * MINUTE_MS);
    const rows = await this.db
      .getRepository(EndpointStatsMinute)
      .createQueryBuilder('s')
      .where('s.endpointId = :id AND s.minute >= :from AND s.minute <= :to', { id: endpoint.id, from, to })
      .getMany();
    const perVersion = new Map<string, { requests: number; errors: number; sketch: DDSketch }>();
    const overall = { requests: 0, errors: 0, sketch: new DDSketch() };
    for (const row of rows) {
      const sketch = DDSketch.fromJSON(row.sketch);
      let version = perVersion.get(row.modelVersionId);
      if (!version)
        perVersion.set(row.modelVersionId, (version = { requests: 0, errors: 0, sketch: new DDSketch() }));
      for (const into of [version, overall]) {
        into.requests += row.requests;
        into.errors += row.errors;
        into.sketch.merge(sketch);
      }
    }
    const elapsedMinutes = Math.max(1 / 60, (to.getTime() - from.getTime()) / MINUTE_MS);
    const figures = (a: {
      requests: number;
      errors: number;
      sketch: DDSketch;
    }): Omit<VersionStats, 'modelVersionId'> => ({
      requests: a.requests,
      errors: a.errors,
      errorRate: a.requests ? a.errors / a.requests : 0,
      p50Ms: a.sketch.quantile(0.5),
      p95Ms: a.sketch.quantile(0.95),
      p99Ms: a.sketch.quantile(0.99),
    });
    return {
      endpointId: endpoint.id,
      endpoint: endpoint.name,
      windowMinutes: minutes,
      from,
      to,
      ...figures(overall),
      throughputPerMinute: overall.requests / elapsedMinutes,
      byVersion: [...perVersion].map(([modelVersionId, v]) => ({ modelVersionId, ...figures(v) })),
    };
  }

  /** `runDriftCheck`: checks an endpoint's last `minutes` of traffic now, and raises or clears its alert. */
  async runDriftCheck(
    ctx: RequestContext,
    name: string,
    minutes = DRIFT_WINDOW_MINUTES,
  ): Promise<DriftReport> {
    const endpoint = await this.endpoints.byName(ctx, name, 'endpoint');
    ctx.authorize('update', 'Endpoint', endpoint.projectId);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60)
      throw new BadInputError('window', 'must be 1 to 10080 minutes');
    return this.checkDrift(endpoint, minutes, ctx);
  }

  /**
   * Compares the window's features (and predicted labels) with the training profile of the stable
   * version's dataset, stores the report with its event, and raises or clears the endpoint's drift alert,
   * in one unit of work. `caller`: a person asked (`runDriftCheck`), so a missing reference is their
   * error; otherwise the hub's evaluator checks.
   */
  async checkDrift(endpoint: Endpoint, minutes: number, caller?: RequestContext): Promise<DriftReport> {
    const explain = caller !== undefined;
    const version = await versionById(this.db.manager, endpoint.stableVersionId);
    const dataset = version.datasetVersionId
      ? await datasetVersionById(this.db.manager, version.datasetVersionId)
      : null;
    if (!dataset) {
      if (explain)
        throw new BadInputError(
          'endpoint',
          `version ${version.version} names no training dataset version, so there is no reference to compare with`,
        );
      throw new Error(`endpoint ${endpoint.name}: no reference dataset`);
    }
    const spec = version.preprocessing
      ? compilePreprocessing(version.preprocessing).spec
      : numericSpec(version.featureNames);
    const { features: personal } = await this.dataPolicy.policy(endpoint.projectId);
    const { probes, skipped } = planDrift(spec, dataset.profile, version.labels, personal);
    const to = this.now();
    const from = new Date(to.getTime() - minutes * MINUTE_MS);
    const { text, params } = driftQuery(probes, { endpointId: endpoint.id, from, to });
    const [row] = (await this.db.query(text, params)) as Array<Record<string, number>>;
    const features = judge(probes, row);
    const sampleSize = Number(row.n);
    const drifted = features.filter((f) => f.drifted).map((f) => f.feature);
    return this.work.run(caller ?? this.alerts.evaluator, async (tx) => {
      const report = await tx.manager.getRepository(DriftReport).save({
        projectId: endpoint.projectId,
        endpointId: endpoint.id,
        modelVersionId: version.id,
        datasetVersionId: dataset.id,
        windowStart: from,
        windowEnd: to,
        sampleSize,
        insufficient: sampleSize < MIN_SAMPLE,
        drifted: drifted.length > 0,
        driftedFeatures: drifted,
        features,
        skipped,
      });
      tx.emit({
        type: 'drift.reported',
        stream: `endpoint:${endpoint.id}`,
        projectId: endpoint.projectId,
        payload: {
          projectId: endpoint.projectId,
          endpointName: endpoint.name,
          report: driftReportJson(report),
        },
      });
      const key = `drift:${endpoint.id}`;
      if (drifted.length) {
        const severe = drifted.includes(OUTPUT) || drifted.length * 2 >= Math.max(2, features.length);
        await this.alerts.raiseIn(tx, {
          projectId: endpoint.projectId,
          endpointId: endpoint.id,
          modelVersionId: version.id,
          kind: AlertKind.DRIFT,
          severity: severe ? AlertSeverity.CRITICAL : AlertSeverity.WARNING,
          dedupeKey: key,
          title: `Drift on ${endpoint.name}: ${drifted.join(', ')}`,
          evidence: {
            driftReportId: report.id,
            window: { from, to },
            sampleSize,
            modelVersion: version.version,
            features: features
              .filter((f) => f.drifted)
              .map((f) => ({
                feature: f.feature,
                test: f.test,
                pValue: f.pValue,
                psi: f.psi,
                psiThreshold: f.psiThreshold,
              })),
          },
        });
      } else if (sampleSize >= MIN_SAMPLE) {
        await this.alerts.clearIn(tx, key);
      }
      return report;
    });
  }

  async driftReports(ctx: RequestContext, args: DriftReportsArgs): Promise<ConnectionResult<DriftReport>> {
    const project = await this.projects.resolve(ctx, args.project, 'Endpoint');
    const qb = this.db
      .getRepository(DriftReport)
      .createQueryBuilder('d')
      .where('d.projectId = :projectId', { projectId: project.id });
    if (args.endpoint != null) {
      const endpoint = await this.endpoints.byName(ctx, args.endpoint, 'endpoint');
      qb.andWhere('d.endpointId = :endpointId', { endpointId: endpoint.id });
    }
    return paginate(qb, args);
  }

  /**
   * One evaluation tick: per endpoint, SLA latency, error rate and throughput over the last minutes and
   * live accuracy per version, raising or clearing alerts, and the stats published to subscribers.
   */
  async evaluate(lost?: AbortSignal): Promise<void> {
    const endpoints = await allEndpoints(this.db.manager);
    for (const endpoint of endpoints) {
      lost?.throwIfAborted();
      const stats = await this.stats(endpoint, SLA_WINDOW_MINUTES);
      if (stats.requests > 0) {
        const message: StatsMessage = { projectId: endpoint.projectId, stats };
        endpointStatsTopic.publish(this.events, endpoint.id, message);
      }
      await this.evaluateSla(endpoint, stats);
      await this.evaluateAccuracy(endpoint);
    }
  }

  /** Drift checks of every endpoint whose served version has a training dataset. */
  async checkAllDrift(minutes = DRIFT_WINDOW_MINUTES, lost?: AbortSignal): Promise<void> {
    const endpoints = await allEndpoints(this.db.manager);
    const versions = await versionsByIds(this.db.manager, [
      ...new Set(endpoints.map((e) => e.stableVersionId)),
    ]);
    const trained = new Set(versions.filter((v) => v.datasetVersionId !== null).map((v) => v.id));
    for (const endpoint of endpoints.filter((e) => trained.has(e.stableVersionId))) {
      lost?.throwIfAborted();
      await this.checkDrift(endpoint, minutes);
    }
  }

  private async evaluateSla(endpoint: Endpoint, stats: EndpointStats): Promise<void> {
    const window = { from: stats.from, to: stats.to, minutes: stats.windowMinutes };
    // Before the request floor: too little traffic is exactly what this target is about.
    await this.evaluateThroughput(endpoint, stats, window);
    if (stats.requests < SLA_MIN_REQUESTS) return;
    const target = endpoint.slaP95LatencyMs;
    if (target !== null && stats.p95Ms !== null) {
      const key = `sla_latency:${endpoint.id}`;
      if (stats.p95Ms > target) {
        await this.alerts.raise({
          projectId: endpoint.projectId,
          endpointId: endpoint.id,
          kind: AlertKind.SLA_LATENCY,
          severity: stats.p95Ms > 2 * target ? AlertSeverity.CRITICAL : AlertSeverity.WARNING,
          dedupeKey: key,
          title: `p95 latency of ${endpoint.name} is ${stats.p95Ms.toFixed(1)} ms (target ${target} ms)`,
          evidence: {
            p95Ms: stats.p95Ms,
            targetMs: target,
            requests: stats.requests,
            window,
            byVersion: stats.byVersion,
          },
        });
      } else if (stats.p95Ms <= target * LATENCY_CLEAR_RATIO) {
        await this.alerts.clear(key);
      }
    }
    const maxRate = endpoint.slaMaxErrorRate;
    if (maxRate !== null) {
      const key = `sla_error_rate:${endpoint.id}`;
      if (stats.errorRate > maxRate) {
        await this.alerts.raise({
          projectId: endpoint.projectId,
          endpointId: endpoint.id,
          kind: AlertKind.SLA_ERROR_RATE,
          severity:
            stats.errorRate > Math.max(2 * maxRate, 0.05) ? AlertSeverity.CRITICAL : AlertSeverity.WARNING,
          dedupeKey: key,
          title: `error rate of ${endpoint.name} is ${(stats.errorRate * 100).toFixed(2)}% (at most ${(maxRate * 100).toFixed(2)}%)`,
          evidence: {
            errorRate: stats.errorRate,
            maxErrorRate: maxRate,
            errors: stats.errors,
            requests: stats.requests,
            window,
          },
        });
      } else if (stats.errorRate <= maxRate * ERROR_RATE_CLEAR_RATIO) {
        await this.alerts.clear(key);
      }
    }
  }

  /**
   * Traffic below `minThroughputPerMinute` over the SLA window: an upstream bot or integration that
   * stopped calling is an outage nothing else reports. Raised as a KPI alert (like live accuracy) so
   * the alert kinds stay as they are. An endpoint younger than the window is not judged yet.
   */
  private async evaluateThroughput(
    endpoint: Endpoint,
    stats: EndpointStats,
    window: { from: Date; to: Date; minutes: number },
  ): Promise<void> {
    const min = endpoint.slaMinThroughputPerMinute;
    if (min === null || min <= 0 || endpoint.createdAt.getTime() > stats.from.getTime()) return;
    const key = `kpi:throughput:${endpoint.id}`;
    const perMinute = stats.throughputPerMinute;
    if (perMinute < min) {
      await this.alerts.raise({
        projectId: endpoint.projectId,
        endpointId: endpoint.id,
        kind: AlertKind.KPI,
        severity: perMinute < min / 2 ? AlertSeverity.CRITICAL : AlertSeverity.WARNING,
        dedupeKey: key,
        title: `throughput of ${endpoint.name} is ${perMinute.toFixed(1)} predictions/min (at least ${min})`,
        evidence: {
          kpi: 'throughput_per_minute',
          throughputPerMinute: perMinute,
          minThroughputPerMinute: min,
          requests: stats.requests,
          window,
        },
      });
    } else if (perMinute >= min * THROUGHPUT_CLEAR_RATIO) {
      await this.alerts.clear(key);
    }
  }

  private async evaluateAccuracy(endpoint: Endpoint): Promise<void> {
    const min = endpoint.slaMinLiveAccuracy;
    if (min === null) return;
    const since = new Date(this.now().getTime() - ACCURACY_WINDOW_MS);
    for (const v of await this.predictions.liveAccuracy(endpoint.id, since)) {
      if (v.shadow || v.accuracy === null || v.predictions < ACCURACY_MIN_OUTCOMES) continue;
      const key = `kpi:live_accuracy:${endpoint.id}:${v.modelVersionId}`;
      if (v.accuracy < min) {
        await this.alerts.raise({
          projectId: endpoint.projectId,
          endpointId: endpoint.id,
          modelVersionId: v.modelVersionId,
          kind: AlertKind.KPI,
          severity: v.accuracy < min - 0.1 ? AlertSeverity.CRITICAL : AlertSeverity.WARNING,
          dedupeKey: key,
          title: `live accuracy of ${endpoint.name} v${v.modelVersion} is ${(v.accuracy * 100).toFixed(1)}% (at least ${(min * 100).toFixed(1)}%)`,
          evidence: {
            kpi: 'live_accuracy',
            accuracy: v.accuracy,
            min,
            outcomes: v.predictions,
            since,
            modelVersion: v.modelVersion,
          },
        });
      } else if (v.accuracy >= min + ACCURACY_CLEAR_MARGIN) {
        await this.alerts.clear(key);
      }
    }
  }
}

function driftReportJson(r: DriftReport): DriftReportJson {
  return {
    id: r.id,
    projectId: r.projectId,
    endpointId: r.endpointId,
    modelVersionId: r.modelVersionId,
    datasetVersionId: r.datasetVersionId,
    windowStart: r.windowStart.toISOString(),
    windowEnd: r.windowEnd.toISOString(),
    sampleSize: r.sampleSize,
    insufficient: r.insufficient,
    drifted: r.drifted,
    driftedFeatures: r.driftedFeatures,
    features: r.features.map((f) => ({ ...f })),
    skipped: r.skipped,
    createdAt: r.createdAt.toISOString(),
  };
}
