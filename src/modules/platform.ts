import type { DataSource } from 'typeorm';
import type { AuditService } from './audit/audit.service';

/**
 * What domain services lean on, built once by `createServices`: the database, the clock and the
 * audit trail. A service's constructor takes one object: (part of) this bundle plus the services it
 * names, e.g. `new RolloutDriver({ db, now, audit, transitions, signals, alerts })`.
 */
export interface Platform {
  db: DataSource;
  now: () => Date;
  audit: AuditService;
}
