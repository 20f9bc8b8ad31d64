import type { DataSource } from 'typeorm';
import type { Logger } from '../common/logger';
import type { UnitOfWork } from './unit-of-work';

/**
 * What domain services lean on, built once by `createServices`: the database (for reads), the clock,
 * the log, and the unit of work (for every change). A service's constructor takes one object: (part
 * of) this bundle plus the services it names, e.g. `new RolloutDriver({ ...platform, transitions })`.
 */
export interface Platform {
  db: DataSource;
  now: () => Date;
  logger: Logger;
  work: UnitOfWork;
}
