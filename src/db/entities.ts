import { ApiKey } from '../modules/api-keys/api-key.entity';
import { Artifact, ArtifactGrant } from '../modules/artifacts/artifact.entity';
import { Dataset, DatasetVersion } from '../modules/datasets/dataset.entity';
import { IdempotencyRecord } from '../platform/idempotency/idempotency-record.entity';
import { Model, ModelAlias, ModelVersion } from '../modules/models/model.entity';
import { Project } from '../modules/projects/project.entity';
import { Run, RunInput, RunMetric } from '../modules/runs/run.entity';
import { Endpoint, EndpointTraffic } from '../modules/endpoints/endpoint.entity';
import { PredictionLog } from '../modules/predictions/prediction-log.entity';
import { PredictionOutcome } from '../modules/predictions/prediction-outcome.entity';
import { Alert } from '../modules/alerts/alert.entity';
import { DriftReport } from '../modules/monitoring/drift-report.entity';
import { EndpointStatsMinute } from '../modules/monitoring/endpoint-stats.entity';
import { ApprovalRequest, Rollout, RolloutEvent } from '../modules/rollouts/rollout.entity';
import {
  Connector,
  ConnectorStream,
  ConnectorWebhookDelivery,
  SyncRun,
} from '../modules/connectors/connector.entity';
import {
  CrmContact,
  CrmDeal,
  RpaJob,
  RpaQueueItem,
  Ticket,
} from '../modules/connectors/synced-record.entity';
import { Kpi, KpiPoint } from '../modules/kpis/kpi.entity';
import { AuditEvent } from '../platform/audit/audit-event.entity';
import { OutboxConsumer, OutboxEvent } from '../platform/outbox/outbox-event.entity';
import { ImpactAssessment } from '../modules/governance/impact-assessment.entity';
import { HubState } from '../modules/hub-state/hub-state.entity';
import { Automation, AutomationRun } from '../modules/automations/automation.entity';

/** Every entity, listed once: the data source and the migration generator both read this. */
export const entities = [
  Project,
  ApiKey,
  Artifact,
  ArtifactGrant,
  IdempotencyRecord,
  Dataset,
  DatasetVersion,
  Model,
  ModelVersion,
  ModelAlias,
  Run,
  RunInput,
  RunMetric,
  Endpoint,
  EndpointTraffic,
  PredictionLog,
  PredictionOutcome,
  Alert,
  DriftReport,
  EndpointStatsMinute,
  Rollout,
  RolloutEvent,
  ApprovalRequest,
  Connector,
  ConnectorStream,
  SyncRun,
  Ticket,
  RpaJob,
  RpaQueueItem,
  CrmContact,
  CrmDeal,
  Kpi,
  KpiPoint,
  AuditEvent,
  OutboxEvent,
  OutboxConsumer,
  ImpactAssessment,
  HubState,
  Automation,
  AutomationRun,
  ConnectorWebhookDelivery,
];
