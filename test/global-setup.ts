import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createDataSource, migrate } from '../src/db/data-source';
import { EmbeddedPostgres } from '../src/db/embedded-postgres';
import { RUN_DIR_ENV, recordSecret } from './support/run-record';

declare global {
  var __NERVE_EMBEDDED__: EmbeddedPostgres | undefined;
}

/**
 * Runs in jest's parent process. Without DATABASE_URL it starts PGlite here (it cannot start inside a
 * test VM) and serves it over the wire protocol; workers inherit DATABASE_URL. Migrations run once.
 *
 * It also makes the run's record directory (what the suite produced, scanned for secrets by
 * global-teardown) and chooses the run's NERVE_SECRET_KEY: one for every worker and hub process,
 * so the scan knows it.
 */
export default async function globalSetup(): Promise<void> {
  process.env[RUN_DIR_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-test-run-'));
  const secretKey = randomBytes(32);
  process.env.NERVE_SECRET_KEY = secretKey.toString('base64');
  for (const spelling of ['base64', 'base64url', 'hex'] as const) {
    recordSecret('NERVE_SECRET_KEY', secretKey.toString(spelling));
  }

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
