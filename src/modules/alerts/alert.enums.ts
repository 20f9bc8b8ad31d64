// The alert module's enums, apart from the entity so that other modules may import them.
import { registerEnumType } from 'type-graphql';

export enum AlertKind {
  DRIFT = 'DRIFT',
  SLA_LATENCY = 'SLA_LATENCY',
  SLA_ERROR_RATE = 'SLA_ERROR_RATE',
  KPI = 'KPI',
  CONNECTOR = 'CONNECTOR',
  ROLLOUT = 'ROLLOUT',
  /** An automation's runs keep failing (its last runs all FAILED). */
  AUTOMATION = 'AUTOMATION',
}
registerEnumType(AlertKind, { name: 'AlertKind' });

/** Ordered: a subscriber asking for WARNING also gets CRITICAL. */
export enum AlertSeverity {
  INFO = 'INFO',
  WARNING = 'WARNING',
  CRITICAL = 'CRITICAL',
}
registerEnumType(AlertSeverity, { name: 'AlertSeverity' });

export const SEVERITY_RANK: Record<AlertSeverity, number> = { INFO: 0, WARNING: 1, CRITICAL: 2 };

export enum AlertStatus {
  OPEN = 'OPEN',
  ACKNOWLEDGED = 'ACKNOWLEDGED',
  RESOLVED = 'RESOLVED',
}
registerEnumType(AlertStatus, { name: 'AlertStatus' });
