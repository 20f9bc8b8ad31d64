/**
 * The catalogue of domain events: every fact about a change of state that the hub publishes, each with
 * its payload. Events are written to the outbox in the transaction of the change they describe (see
 * src/platform/unit-of-work.ts), so an event exists exactly when its change does, and are read back by
 * position (`position` grows in commit order).
 *
 * Payloads are plain JSON, written here on purpose rather than borrowed from entities: they are a
 * contract with consumers (subscriptions, automations, the console, other systems reading the outbox),
 * and an entity gaining a column must not change it silently. Instants are ISO-8601 strings.
 *
 * A type's name is also the bus topic its events are published on, so renaming one is a wire change.
 */

/** An ISO-8601 instant, as `Date.toISOString()` writes it. */
export type Instant = string;

/** An optional date as a payload holds it. */
export const instantOrNull = (date: Date | null): Instant | null =>
  date === null ? null : date.toISOString();

/** JSON, as jsonb stores it. */
export type JsonObject = Record<string, unknown>;

export interface AlertJson {
  id: string;
  projectId: string;
  endpointId: string | null;
  modelVersionId: string | null;
  kind: 'DRIFT' | 'SLA_LATENCY' | 'SLA_ERROR_RATE' | 'KPI' | 'CONNECTOR' | 'ROLLOUT' | 'AUTOMATION';
  severity: 'INFO' | 'WARNING' | 'CRITICAL';
  status: 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';
  dedupeKey: string;
  title: string;
  evidence: JsonObject;
  occurrences: number;
  clearStreak: number;
  openedAt: Instant;
  lastSeenAt: Instant;
  acknowledgedAt: Instant | null;
  acknowledgedByKeyId: string | null;
  resolvedAt: Instant | null;
  resolvedByKeyId: string | null;
  resolution: string | null;
}

/** What happened to an alert; the same names as the GraphQL enum `AlertChange`. */
export type AlertChangeKind = 'RAISED' | 'UPDATED' | 'ACKNOWLEDGED' | 'RESOLVED';

export interface AlertChanged {
  change: AlertChangeKind;
  alert: AlertJson;
}

export interface FeatureDriftJson {
  feature: string;
  kind: string;
  test: string;
  statistic: number;
  pValue: number;
  psi: number;
  jensenShannon: number;
  psiThreshold: number;
  sampleSize: number;
  drifted: boolean;
  bins: string[];
  reference: number[];
  current: number[];
}

export interface DriftReportJson {
  id: string;
  projectId: string;
  endpointId: string;
  modelVersionId: string;
  datasetVersionId: string;
  windowStart: Instant;
  windowEnd: Instant;
  sampleSize: number;
  insufficient: boolean;
  drifted: boolean;
  driftedFeatures: string[];
  features: FeatureDriftJson[];
  skipped: string[];
  createdAt: Instant;
}

export interface DriftReported {
  projectId: string;
  endpointName: string;
  report: DriftReportJson;
}

export interface RolloutJson {
  id: string;
  projectId: string;
  endpointId: string;
  fromVersionId: string;
  toVersionId: string;
  strategy: 'IMMEDIATE' | 'CANARY' | 'SHADOW' | 'BLUE_GREEN';
  steps: Array<{ weight: number; pauseMinutes: number; manualGate: boolean }>;
  analysis: JsonObject;
  status: 'PENDING_APPROVAL' | 'PROGRESSING' | 'PAUSED' | 'SUCCEEDED' | 'ROLLED_BACK';
  currentStep: number;
  stepStartedAt: Instant | null;
  lastAnalysisAt: Instant | null;
  failures: number;
  idempotencyKey: string | null;
  requestedByKeyId: string;
  reason: string | null;
  createdAt: Instant;
  updatedAt: Instant;
  finishedAt: Instant | null;
}

export interface RolloutEventJson {
  id: string;
  rolloutId: string;
  type: string;
  step: number | null;
  at: Instant;
  actorKeyId: string | null;
  reason: string | null;
  evidence: JsonObject | null;
}

export interface RolloutChanged {
  projectId: string;
  endpointId: string;
  rollout: RolloutJson;
  event: RolloutEventJson;
}

export interface SyncRunJson {
  id: string;
  connectorId: string;
  projectId: string;
  trigger: 'SCHEDULE' | 'MANUAL';
  status: 'RUNNING' | 'SUCCEEDED' | 'PARTIAL' | 'FAILED';
  streams: Array<{
    stream: string;
    status: 'RUNNING' | 'SUCCEEDED' | 'PARTIAL' | 'FAILED';
    pages: number;
    records: number;
    error: string | null;
    errorKind: 'TEMPORARY' | 'PERMANENT' | null;
  }>;
  error: string | null;
  errorKind: 'TEMPORARY' | 'PERMANENT' | null;
  requestedByKeyId: string | null;
  idempotencyKey: string | null;
  startedAt: Instant;
  finishedAt: Instant | null;
}

export interface SyncRunChanged {
  projectId: string;
  connectorId: string;
  run: SyncRunJson;
}

/** One page of a connector stream (or one vendor webhook) written: the records it created or changed, by the vendor's ids. */
export interface RecordsSynced {
  projectId: string;
  connectorId: string;
  /** The sync that wrote them; null when a vendor webhook did. */
  syncRunId: string | null;
  stream: string;
  /** The typed table's record kind, e.g. ticket, rpa_job, queue_item, crm_contact, crm_deal. */
  kind: string;
  /** Vendor ids of the records this page inserted. */
  created: string[];
  /** Vendor ids of the records this page changed (a newer version of a known record). */
  updated: string[];
}

export interface ModelVersionRegistered {
  projectId: string;
  modelId: string;
  modelName: string;
  versionId: string;
  version: number;
  status: string;
  runId: string | null;
}

export interface ModelAliasMoved {
  projectId: string;
  modelId: string;
  modelName: string;
  alias: string;
  fromVersionId: string | null;
  toVersionId: string | null;
}

export interface EndpointTrafficChanged {
  projectId: string;
  endpointId: string;
  endpointName: string;
  stableVersionId: string;
  canaryVersionId: string | null;
  canaryWeight: number;
  shadowVersionId: string | null;
  reason: string | null;
  /** The rollout that changed it, or null when a person did by hand. */
  rolloutId: string | null;
}

export interface KpiPointsRecorded {
  projectId: string;
  kpiId: string;
  /** The KPI's key, e.g. ticket_handling_time. */
  kpi: string;
  points: number;
  from: Instant;
  to: Instant;
}

export interface DatasetVersionRegistered {
  projectId: string;
  datasetId: string;
  datasetName: string;
  versionId: string;
  version: number;
  rows: number | null;
}

export interface ProjectCreated {
  projectId: string;
  slug: string;
  name: string;
}

export interface ApiKeyRevoked {
  keyId: string;
  projectIds: string[] | null;
}

/** An automation run as events carry it (its trigger document is not: it may hold personal data). */
export interface AutomationRunJson {
  id: string;
  automationId: string;
  projectId: string;
  triggerKey: string;
  automationVersion: number;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  steps: Array<{
    name: string;
    kind: string;
    status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
    error: string | null;
    errorKind: string | null;
    attempts: number;
    startedAt: Instant | null;
    finishedAt: Instant | null;
  }>;
  attempts: number;
  nextAttemptAt: Instant;
  error: string | null;
  errorKind: string | null;
  createdAt: Instant;
  finishedAt: Instant | null;
}

export interface AutomationRunChanged {
  projectId: string;
  automationId: string;
  run: AutomationRunJson;
}

/** Every event type and its payload. */
export interface DomainEvents {
  'project.created': ProjectCreated;
  'api-key.revoked': ApiKeyRevoked;
  'dataset-version.registered': DatasetVersionRegistered;
  'model-version.registered': ModelVersionRegistered;
  'model-alias.moved': ModelAliasMoved;
  'endpoint.traffic-changed': EndpointTrafficChanged;
  'rollout.changed': RolloutChanged;
  'alert.changed': AlertChanged;
  'drift.reported': DriftReported;
  'sync-run.changed': SyncRunChanged;
  'records.synced': RecordsSynced;
  'kpi-points.recorded': KpiPointsRecorded;
  'automation-run.changed': AutomationRunChanged;
}

export type EventType = keyof DomainEvents;

/** An event as a change emits it, before the outbox gives it a position. */
export interface NewEvent<T extends EventType = EventType> {
  type: T;
  /**
   * What the event is about, e.g. `rollout:<id>`: events of one stream are delivered in the order
   * their changes committed.
   */
  stream: string;
  /** The project it belongs to; null for hub-wide events. Consumers filter by it. */
  projectId: string | null;
  payload: DomainEvents[T];
}

/** An event as the outbox holds it. */
export interface DomainEvent<T extends EventType = EventType> extends NewEvent<T> {
  /** Position in the outbox: grows in commit order across all streams (a string: a bigint). */
  position: string;
  /** Who made the change (the API key, or the hub's system actor's all-zero id). */
  actorKeyId: string;
  /** The request (or system actor run) that made it. */
  requestId: string;
  at: Instant;
}

/** The union of every event, discriminated by `type`. */
export type AnyDomainEvent = { [T in EventType]: DomainEvent<T> }[EventType];
