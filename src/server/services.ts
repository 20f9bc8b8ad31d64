import type { DataSource } from 'typeorm';
import { ApiKeyService } from '../modules/api-keys/api-key.service';
import type { Config } from '../config/config';
import type { Logger } from '../common/logger';
import { ArtifactStore } from '../modules/artifacts/artifact-store';
import { ArtifactService } from '../modules/artifacts/artifact.service';
import { DatasetService } from '../modules/datasets/dataset.service';
import { type ClaimOptions, IdempotencyService } from '../modules/idempotency/idempotency.service';
import { ModelService } from '../modules/models/model.service';
import { ProjectService } from '../modules/projects/project.service';
import { RunService } from '../modules/runs/run.service';
import { EndpointService } from '../modules/endpoints/endpoint.service';
import { InferenceRuntime } from '../modules/inference/inference-runtime';
import { DEFAULT_WRITER_OPTIONS, PredictionLogWriter } from '../modules/inference/prediction-log-writer';
import { PredictionService } from '../modules/predictions/prediction.service';
import { ReplayService } from '../modules/predictions/replay.service';
import { createEventBus, type EventBus } from '../events';
import { scheduledJobs } from '../jobs/jobs';
import { RolloutService } from '../modules/rollouts/rollout.service';
import { RolloutSignals } from '../modules/rollouts/rollout-signals';
import { Scheduler } from '../jobs/scheduler';
import { AlertService } from '../modules/alerts/alert.service';
import { MonitoringService } from '../modules/monitoring/monitoring.service';
import { MonitoringSubscriptions } from '../modules/monitoring/monitoring.subscriptions';
import { SlaTracker } from '../modules/monitoring/sla-tracker';
import path from 'node:path';
import type { ConnectorDefinition, ConnectorEnv } from '../../connectors/_shared';
import { connectorRegistry } from '../../connectors/registry';
import { ConnectorService } from '../modules/connectors/connector.service';
import { embeddedSecretKey, SecretBox } from '../modules/connectors/secret-box';
import { SyncRunner } from '../modules/connectors/sync-runner';
import { KpiService } from '../modules/kpis/kpi.service';
import { ConnectorSchedules } from '../jobs/connector-schedules';
import { AuditService } from '../modules/audit/audit.service';
import { DataPolicyService } from '../modules/governance/data-policy.service';
import { ImpactAssessmentService } from '../modules/governance/impact-assessment.service';

/** The process's service singletons. Resolvers receive this; services receive the request context per call. */
export interface Services {
  db: DataSource;
  config: Config;
  logger: Logger;
  now: () => Date;
  apiKeys: ApiKeyService;
  projects: ProjectService;
  artifacts: ArtifactService;
  idempotency: IdempotencyService;
  datasets: DatasetService;
  models: ModelService;
  runs: RunService;
  runtime: InferenceRuntime;
  predictionLog: PredictionLogWriter;
  endpoints: EndpointService;
  predictions: PredictionService;
  events: EventBus;
  alerts: AlertService;
  slaTracker: SlaTracker;
  monitoring: MonitoringService;
  subscriptions: MonitoringSubscriptions;
  rollouts: RolloutService;
  replay: ReplayService;
  scheduler: Scheduler;
  audit: AuditService;
  /** Personal data: policies, masking (prediction logs, synced records) and retention. */
  dataPolicy: DataPolicyService;
  impactAssessments: ImpactAssessmentService;
  kpis: KpiService;
  syncRunner: SyncRunner;
  connectors: ConnectorService;
  /** Each connector's cron schedule; started on the worker role. */
  connectorSchedules: ConnectorSchedules;
  /** Stops what holds threads and buffers: writes every acknowledged prediction row, ends the workers. */
  close(): Promise<void>;
}

/** What tests (and embedders) may swap: the connector adapters and their HTTP tuning. */
export interface ServiceOptions {
  connectorRegistry?: ReadonlyMap<string, ConnectorDefinition>;
  connectorHttp?: ConnectorEnv['http'];
  /** How idempotency claims around vendor calls wait and expire. */
  idempotencyClaims?: ClaimOptions;
}

export function createServices(
  db: DataSource,
  config: Config,
  logger: Logger,
  now: () => Date = () => new Date(),
  options: ServiceOptions = {},
): Services {
  // The embedded hub makes its key on first need; a hub on DATABASE_URL has one only when it is given.
  const secretKey = config.secretKey ?? (config.databaseUrl ? undefined : embeddedSecretKey(config.dataDir));
  const audit = new AuditService(db, now, secretKey);
  if (!secretKey)
    logger.warn('NERVE_SECRET_KEY is not set: audit events are hashed without a key (forgeable)');
  const projects = new ProjectService(db, audit);
  const dataPolicy = new DataPolicyService(db, projects, audit, logger, now, secretKey);
  const impactAssessments = new ImpactAssessmentService(db, projects, audit, now);
  const artifacts = new ArtifactService(
    db,
    new ArtifactStore(path.join(config.dataDir, 'artifacts')),
    config.maxArtifactBytes,
    projects,
  );
  const idempotency = new IdempotencyService(db, options.idempotencyClaims);
  audit.idempotency = idempotency;
  const runtime = new InferenceRuntime({
    providers: config.inferenceProviders,
    workers: config.inferenceWorkers,
    threads: config.inferenceThreads,
    logger,
  });
  const predictionLog = new PredictionLogWriter(
    db,
    logger,
    { ...DEFAULT_WRITER_OPTIONS, flushIntervalMs: config.predictionLogFlushMs },
    dataPolicy,
  );
  const models = new ModelService(db, projects, artifacts, runtime, now, audit);
  const endpoints = new EndpointService(db, projects, models, runtime, now, audit, impactAssessments);
  const predictions = new PredictionService(
    db,
    endpoints,
    runtime,
    predictionLog,
    idempotency,
    logger,
    now,
    config.maxPredictBatch,
  );
  const events = createEventBus({ redisUrl: config.redisUrl, logger });
  const alerts = new AlertService(db, projects, events, now, audit);
  const slaTracker = new SlaTracker(db, now, logger);
  if (config.monitoringEnabled) {
    predictions.observers.push({
      observe: (endpoint, versionId, latencyMs, rows, failed) =>
        slaTracker.record(endpoint.id, versionId, latencyMs, failed, rows),
    });
  }
  const monitoring = new MonitoringService(
    db,
    projects,
    endpoints,
    predictions,
    alerts,
    events,
    slaTracker,
    now,
    dataPolicy,
  );
  const rollouts = new RolloutService(
    db,
    projects,
    endpoints,
    models,
    new RolloutSignals(db, monitoring, predictions, now),
    alerts,
    idempotency,
    events,
    now,
    audit,
    impactAssessments,
  );
  const kpis = new KpiService(db, projects, idempotency, now, audit);
  const scheduler = new Scheduler(
    db,
    logger,
    scheduledJobs(monitoring, slaTracker, rollouts, dataPolicy, kpis),
  );
  const registry = options.connectorRegistry ?? connectorRegistry();
  const box = new SecretBox(secretKey);
  const connectorEnv: ConnectorEnv = { now, http: options.connectorHttp };
  const syncRunner = new SyncRunner(
    db,
    registry,
    box,
    kpis,
    alerts,
    events,
    logger,
    now,
    connectorEnv,
    audit,
  );
  const connectors = new ConnectorService(
    db,
    projects,
    registry,
    box,
    syncRunner,
    idempotency,
    connectorEnv,
    now,
    audit,
  );
  const connectorSchedules = new ConnectorSchedules(connectors, logger);
  return {
    db,
    config,
    logger,
    now,
    apiKeys: new ApiKeyService(db, () => now().getTime(), audit, events),
    projects,
    artifacts,
    idempotency,
    datasets: new DatasetService(db, projects, artifacts, audit),
    models,
    runs: new RunService(db, projects, idempotency, now, audit),
    runtime,
    predictionLog,
    endpoints,
    predictions,
    events,
    alerts,
    slaTracker,
    monitoring,
    subscriptions: new MonitoringSubscriptions(events, projects, endpoints),
    rollouts,
    replay: new ReplayService(db, endpoints, models, runtime),
    scheduler,
    audit,
    dataPolicy,
    impactAssessments,
    kpis,
    syncRunner,
    connectors,
    connectorSchedules,
    async close() {
      await scheduler.stop();
      await connectorSchedules.stop();
      await syncRunner.close();
      await predictionLog.close();
      await slaTracker.flush().catch((error: unknown) => logger.error('SLA minutes not flushed', { error }));
      await runtime.close();
      await events.close();
    },
  };
}
