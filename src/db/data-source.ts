import { Client, type ClientConfig } from 'pg';
import { DataSource, MigrationExecutor, type Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from '../common/logger';
import { migrations } from '../../migrations';
import { hubLock, hubUnlock } from './advisory-lock';
import { entities } from './entities';
import { SnakeNamingStrategy } from './naming';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  /** Called with every SQL statement sent; tests count statements with it. */
  onQuery?: (sql: string) => void;
  /** Where lost connections are reported. */
  logger?: Logger;
}

/**
 * pg's Client with an `error` listener from birth to end: pg emits `error` when the server ends a
 * connection while no query is on it (a failover, `pg_terminate_backend`), and an `error` event nobody
 * listens to ends the process. pg-pool and TypeORM listen only while a client is idle or held by a query
 * runner, and drop their listeners on release; this one stays. The holder still learns of the loss: the
 * client is no longer queryable, its next query fails and the pool discards it.
 */
function guardedClient(onError: (error: Error) => void): typeof Client {
  return class GuardedClient extends Client {
    constructor(config?: string | ClientConfig) {
      super(config);
      this.on('error', onError);
    }
  };
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
  const lost = (error: unknown): void => {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    options.logger?.warn('database connection lost', { code, error: message });
  };
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
    // The pool re-emits an idle client's error, which the client's own listener has logged already.
    poolErrorHandler: () => undefined,
    extra: { connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, Client: guardedClient(lost) },
  });
}

/** Applies pending migrations, one replica at a time. Returns the names applied. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await hubLock(runner, 'migrations');
    // On the lock's own connection: a second one could wait forever on a pool of one.
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    const applied = await executor.executePendingMigrations();
    return applied.map((m) => m.name);
  } finally {
    await hubUnlock(runner, 'migrations');
    await runner.release();
  }
}
