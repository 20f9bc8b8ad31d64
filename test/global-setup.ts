import 'reflect-metadata';
import { createDataSource, migrate } from '../src/db/data-source';
import { EmbeddedPostgres } from '../src/db/embedded-postgres';

declare global {
  var __NERVE_EMBEDDED__: EmbeddedPostgres | undefined;
}

/**
 * Runs in jest's parent process. Without DATABASE_URL it starts PGlite here (it cannot start inside a
 * test VM) and serves it over the wire protocol; workers inherit DATABASE_URL. Migrations run once.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.DATABASE_URL) {
    const embedded = await EmbeddedPostgres.open('memory://');
    process.env.DATABASE_URL = await embedded.listen();
    process.env.NERVE_TEST_EMBEDDED = '1';
    globalThis.__NERVE_EMBEDDED__ = embedded;
  }
  const db = createDataSource({ url: process.env.DATABASE_URL, poolSize: 1 });
  await db.initialize();
  await migrate(db);
  await db.destroy();
}
