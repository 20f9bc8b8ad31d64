import { Not, type EntityManager } from 'typeorm';
import { Alert } from './alert.entity';
import { AlertStatus, type AlertKind } from './alert.enums';

// The reads of the alert table that other modules make. They may not import the alert entity (see
// .dependency-cruiser.cjs), so every query on this table is in this module.

/** Whether an endpoint has an alert of this kind that is not resolved. */
export function hasOpenAlert(manager: EntityManager, endpointId: string, kind: AlertKind): Promise<boolean> {
  return manager.getRepository(Alert).existsBy({ endpointId, kind, status: Not(AlertStatus.RESOLVED) });
}
