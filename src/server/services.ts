import type { DataSource } from 'typeorm';
import { ApiKeyService } from '../modules/api-keys/api-key.service';
import type { Config } from '../config/config';
import type { Logger } from '../common/logger';
import { ArtifactStore } from '../modules/artifacts/artifact-store';
import { ArtifactService } from '../modules/artifacts/artifact.service';
import { DatasetService } from '../modules/datasets/dataset.service';
import { type ClaimOptions, IdempotencyService } from '../platform/idempotency/idempotency.service';
import { ModelService } from '../modules/models/model.service';
import { ModelCardService } from '../modules/models/model-card.service';
import { ProjectService } from '../modules/projects/project.service';
import { RunService } from '../modules/runs/run.service';
import { EndpointService } from '../modules/endpoints/endpoint.service';
import { InferenceRuntime } from '../modules/inference/inference-runtime';
import { DEFAULT_WRITER_OPTIONS, PredictionLogWriter } from '../modules/predictions/prediction-log-writer';
import { PredictionService } from '../modules/predictions/prediction.service';
import { ReplayService } from '../modules/predictions/replay.service';
import { createEventBus, type EventBus } from '../events';
import { scheduledJobs } from '../jobs/jobs';
import { RolloutService } from '../modules/rollouts/rollout.service';
import { AutomationDispatcher } from '../modules/automations/automation-dispatcher';
import { AutomationRunner, type AutomationRunnerOptions } from '../modules/automations/automation-runner';
import { AutomationSteps } from '../modules/automations/automation-steps';
import { AutomationTriggers } from '../modules/automations/automation-triggers';
import { AutomationRunSubscriptions } from '../modules/automations/automation.subscriptions';
import { ConnectorWebhooks } from '../modules/connectors/connector-webhooks';
import { AutomationService } from '../modules/automations/automation.service';
import { WebhookSender, type WebhookSenderDeps } from '../modules/automations/webhook-sender';
import { RolloutApprovalService } from '../modules/rollouts/rollout-approval.service';
import { RolloutDriver } from '../modules/rollouts/rollout-driver';
import { RolloutTransitions } from '../modules/rollouts/rollout-transitions';
import { RolloutSignals } from '../modules/rollouts/rollout-signals';
import { Scheduler } from '../jobs/scheduler';
import { AlertService } from '../modules/alerts/alert.service';
import { MonitoringService } from '../modules/monitoring/monitoring.service';
import { MonitoringSubscriptions } from '../modules/monitoring/monitoring.subscriptions';
import { AlertSubscriptions } from '../modules/alerts/alert.subscriptions';
import { RolloutSubscriptions } from '../modules/rollouts/rollout.subscriptions';
import { SyncRunSubscriptions } from '../modules/connectors/connector.subscriptions';
import { AuditTrail } from '../platform/audit/audit-trail';
import { Outbox } from '../platform/outbox/outbox';
import { OutboxRelay } from '../platform/outbox/outbox-relay';
import type { Platform } from '../platform/platform';
import { UnitOfWork } from '../platform/unit-of-work';
import { SlaTracker } from '../modules/monitoring/sla-tracker';
import path from 'node:path';
import type { ConnectorDefinition, ConnectorEnv } from '../../connectors/_shared';
import { connectorRegistry } from '../../connectors/registry';
import { ConnectorService } from '../modules/connectors/connector.service';
import { SyncedRecordService } from '../modules/connectors/synced-record.service';
import { embeddedSecretKey, SecretBox } from '../modules/connectors/secret-box';
import { SyncRunner } from '../modules/connectors/sync-runner';
import { KpiService } from '../modules/kpis/kpi.service';
import { CronSchedules } from '../jobs/cron-schedules';
import { AuditService } from '../modules/audit/audit.service';
import { DataPolicyService } from '../modules/data-policy/data-policy.service';
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
  /** The one way state changes: transaction, idempotency key, audit trail and domain events. */
  work: UnitOfWork;
  /** Domain events as committed, readable from a position. */
  outbox: Outbox;
  /** Publishes committed domain events to this process's subscribers. */
  relay: OutboxRelay;
  datasets: DatasetService;
  models: ModelService;
  modelCards: ModelCardService;
  runs: RunService;
  runtime: InferenceRuntime;
  predictionLog: PredictionLogWriter;
  endpoints: EndpointService;
  predictions: PredictionService;
  events: EventBus;
  alerts: AlertService;
  slaTracker: SlaTracker;
  monitoring: MonitoringService;
  alertSubscriptions: AlertSubscriptions;
  monitoringSubscriptions: MonitoringSubscriptions;
  rolloutSubscriptions: RolloutSubscriptions;
  syncRunSubscriptions: SyncRunSubscriptions;
  /** Deploys and rollout queries. */
  rollouts: RolloutService;
  /** Moves rollouts on live analysis (the worker's job). */
  rolloutDriver: RolloutDriver;
  /** Approvals and what people do to a rollout: pause, resume, promote, roll back. */
  rolloutApprovals: RolloutApprovalService;
  replay: ReplayService;
  scheduler: Scheduler;
  audit: AuditService;
  /** Personal data: policies, masking (prediction logs, synced records) and retention. */
  dataPolicy: DataPolicyService;
  impactAssessments: ImpactAssessmentService;
  kpis: KpiService;
  syncRunner: SyncRunner;
  connectors: ConnectorService;
  /** What connectors synced: tickets, RPA jobs and queue items, CRM contacts and deals. */
  syncedRecords: SyncedRecordService;
  /** Each connector's cron schedule; started on the worker role. */
  connectorSchedules: CronSchedules;
  /** Automations: definitions, runs, dry runs. */
  automations: AutomationService;
  /** Turns domain events into automation runs; started on the worker role. */
  automationDispatcher: AutomationDispatcher;
  /** Carries out automation runs; started on the worker role. */
  automationRunner: AutomationRunner;
  automationRunSubscriptions: AutomationRunSubscriptions;
  /** Cron ticks and signed requests that start automation runs. */
  automationTriggers: AutomationTriggers;
  /** Each scheduled automation's cron; started on the worker role. */
  automationSchedules: CronSchedules;
  /** Vendor webhooks into connectors: verified, de-duplicated, their records upserted. */
  connectorWebhooks: ConnectorWebhooks;
  /** Stops what holds threads and buffers: writes every acknowledged prediction row, ends the workers. */
  close(): Promise<void>;
}

/** What tests (and embedders) may swap: the connector adapters and their HTTP tuning. */
export interface ServiceOptions {
  connectorRegistry?: ReadonlyMap<string, ConnectorDefinition>;
  connectorHttp?: ConnectorEnv['http'];
  /** How idempotency claims around vendor calls wait and expire. */
  idempotencyClaims?: ClaimOptions;
  /** How automation runners poll, lease and back off (tests shorten them). */
  automationRunner?: AutomationRunnerOptions;
  /** Outbound webhooks' HTTP tuning. */
  webhookHttp?: WebhookSenderDeps['http'];
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
  if (!secretKey)
    logger.warn('NERVE_SECRET_KEY is not set: audit events are hashed without a key (forgeable)');
  const events = createEventBus({ redisUrl: config.redisUrl, logger });
  const outbox = new Outbox(db);
  const relay = new OutboxRelay(outbox, events, logger.child({ component: 'outbox-relay' }), {
    pollMs: config.outboxPollMs,
  });
  let commits = 0;
  /** Woken after every commit that wrote events, once the services that listen exist. */
  const afterEvents: Array<() => void> = [];
  const work = new UnitOfWork({
    db,
    now,
    audit: new AuditTrail(secretKey),
    idempotency: new IdempotencyService(db, { leaseMs: config.claimLeaseMs, ...options.idempotencyClaims }),
    outbox,
    onEvents: () => {
      relay.nudge();
      for (const wake of afterEvents) wake();
    },
    onCommitted:
      config.killAfterCommits > 0
        ? () => {
            if (++commits === config.killAfterCommits) process.kill(process.pid, 'SIGKILL');
          }
        : undefined,
  });
  const platform: Platform = { db, now, logger, work };

  const projects = new ProjectService(platform);
  const audit = new AuditService({ db, projects, secretKey });
  const dataPolicy = new DataPolicyService({ ...platform, projects, secretKey });
  const impactAssessments = new ImpactAssessmentService({ ...platform, projects });
  const artifacts = new ArtifactService({
    ...platform,
    store: new ArtifactStore(path.join(config.dataDir, 'artifacts')),
    maxBytes: config.maxArtifactBytes,
    projects,
  });
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
  const models = new ModelService({ ...platform, projects, artifacts, runtime });
  const modelCards = new ModelCardService({ ...platform, models });
  const endpoints = new EndpointService({
    ...platform,
    projects,
    models,
    runtime,
    governance: impactAssessments,
  });
  const predictions = new PredictionService({
    ...platform,
    endpoints,
    runtime,
    log: predictionLog,
    maxBatch: config.maxPredictBatch,
  });
  const alerts = new AlertService({ ...platform, projects });
  const slaTracker = new SlaTracker(platform);
  const monitoring = new MonitoringService({
    ...platform,
    projects,
    endpoints,
    predictions,
    alerts,
    events,
    tracker: slaTracker,
    dataPolicy,
  });
  const transitions = new RolloutTransitions({ now, endpoints, models });
  const rollouts = new RolloutService({
    ...platform,
    projects,
    endpoints,
    governance: impactAssessments,
    transitions,
  });
  const rolloutDriver = new RolloutDriver({
    ...platform,
    transitions,
    signals: new RolloutSignals({ ...platform, monitoring, predictions }),
    alerts,
  });
  const rolloutApprovals = new RolloutApprovalService({ ...platform, rollouts, transitions });
  const kpis = new KpiService({ ...platform, projects });
  const scheduler = new Scheduler(
    db,
    logger,
    scheduledJobs(monitoring, slaTracker, rolloutDriver, dataPolicy, kpis, {
      outbox,
      retentionDays: config.outboxRetentionDays,
      now,
    }),
  );
  const registry = options.connectorRegistry ?? connectorRegistry();
  const box = new SecretBox(secretKey);
  const connectorEnv: ConnectorEnv = { now, http: options.connectorHttp };
  const syncRunner = new SyncRunner({ ...platform, registry, box, kpis, alerts, env: connectorEnv });
  const connectors = new ConnectorService({
    ...platform,
    projects,
    registry,
    box,
    runner: syncRunner,
    env: connectorEnv,
  });
  const syncedRecords = new SyncedRecordService({ db, projects, connectors });
  const connectorSchedules = new CronSchedules({
    name: 'connector',
    logger,
    list: async () => (await connectors.scheduled()).map((c) => ({ id: c.id, schedule: c.schedule! })),
    tick: (id, at) => connectors.syncScheduled(id, at),
  });
  const runs = new RunService({ ...platform, projects });
  const webhooks = new WebhookSender({ secretKey, now, http: options.webhookHttp });
  const automationSteps = new AutomationSteps({ logger, predictions, connectors, runs, webhooks });
  const automations = new AutomationService({
    ...platform,
    projects,
    outbox,
    steps: automationSteps,
    webhooks,
  });

  const automationRunner = new AutomationRunner(
    { ...platform, steps: automationSteps, alerts },
    { leaseMs: config.automationLeaseMs, ...options.automationRunner },
  );
  const automationDispatcher = new AutomationDispatcher(
    { ...platform, outbox, steps: automationSteps },
    { onRuns: () => automationRunner.nudge() },
  );
  // Automations on this process's own changes start without waiting for the next poll.
  afterEvents.push(() => automationDispatcher.nudge());
  const automationTriggers = new AutomationTriggers({ ...platform, steps: automationSteps, webhooks });
  const automationSchedules = new CronSchedules({
    name: 'automation',
    logger,
    list: () => automationTriggers.scheduled(),
    tick: (id, at) => automationTriggers.tick(id, at),
  });
  const connectorWebhooks = new ConnectorWebhooks({ ...platform, registry, box, kpis, env: connectorEnv });
  relay.start();
  return {
    db,
    config,
    logger,
    now,
    apiKeys: new ApiKeyService({ db, work, now: () => now().getTime(), events }),
    projects,
    artifacts,
    work,
    outbox,
    relay,
    datasets: new DatasetService({ ...platform, projects, artifacts }),
    models,
    modelCards,
    runs,
    runtime,
    predictionLog,
    endpoints,
    predictions,
    events,
    alerts,
    slaTracker,
    monitoring,
    alertSubscriptions: new AlertSubscriptions({ events, projects }),
    monitoringSubscriptions: new MonitoringSubscriptions({ events, projects, endpoints }),
    rolloutSubscriptions: new RolloutSubscriptions({ events, projects, endpoints }),
    syncRunSubscriptions: new SyncRunSubscriptions({ events, projects }),
    rollouts,
    rolloutDriver,
    rolloutApprovals,
    replay: new ReplayService({ db, endpoints, models, runtime }),
    scheduler,
    audit,
    dataPolicy,
    impactAssessments,
    kpis,
    syncRunner,
    connectors,
    syncedRecords,
    connectorSchedules,
    automations,
    automationDispatcher,
    automationRunner,
    automationTriggers,
    automationSchedules,
    automationRunSubscriptions: new AutomationRunSubscriptions({ events, projects }),
    connectorWebhooks,
    async close() {
      await automationSchedules.stop();
      await automationDispatcher.close();
      await automationRunner.close();
      await scheduler.stop();
      await connectorSchedules.stop();
      await syncRunner.close();
      await predictionLog.close();
      await slaTracker.flush().catch((error: unknown) => logger.error('SLA minutes not flushed', { error }));
      await runtime.close();
      await relay.close();
      await events.close();
    },
  };
}
