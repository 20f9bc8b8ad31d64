import { DataSource, MigrationExecutor, type Logger as TypeOrmLogger } from 'typeorm';
import { migrations } from '../../migrations';
import { entities } from './entities';
import { SnakeNamingStrategy } from './naming';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  /** Called with every SQL statement sent; tests count statements with it. */
  onQuery?: (sql: string) => void;
}

class QueryListener implements TypeOrmLogger {
  constructor(private readonly onQuery: (sql: string) => void) {}
  logQuery(query: string): void {
    this.onQuery(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/** The one way Nerve builds a TypeORM data source, for the app, the CLI and the tests. */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    uuidExtension: 'pgcrypto',
    // gen_random_uuid() is core since PostgreSQL 13; no extension to install.
    installExtensions: false,
    logging: options.onQuery ? ['query'] : false,
    logger: options.onQuery ? new QueryListener(options.onQuery) : undefined,
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'nerve',
    extra: { connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 },
  });
}

/** An arbitrary constant: the advisory lock that lets one replica at a time run migrations. */
const MIGRATION_LOCK = 7_146_500_101;

/** Applies pending migrations, one replica at a time. Returns the names applied. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    // On the lock's own connection: a second one could wait forever on a pool of one.
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    const applied = await executor.executePendingMigrations();
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
