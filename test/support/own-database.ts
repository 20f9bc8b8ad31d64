import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createDataSource, migrate } from '../../src/db/data-source';

/** A migrated database of a suite's own on the test server, and how to drop it. */
export interface OwnDatabase {
  name: string;
  url: string;
  /** Drops it, connections and all; never throws (an afterAll must go on). */
  drop(): Promise<void>;
}

/**
 * Creates and migrates a database of its own for a suite whose tables must not meet other suites'
 * rows or work (compared whole, or served by worker processes that would take others' runs). On the
 * embedded database every name is the one shared database: suites that need their own run on
 * PostgreSQL only, or say why they need not.
 */
export async function ownDatabase(prefix: string): Promise<OwnDatabase> {
  const shared = new URL(process.env.DATABASE_URL!);
  const name = `nerve_${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: shared.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  shared.pathname = `/${name}`;
  const url = shared.toString();
  const db = createDataSource({ url, poolSize: 1 });
  await db.initialize();
  await migrate(db);
  await db.destroy();
  return {
    name,
    url,
    async drop() {
      const client = new Client({ connectionString: process.env.DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await client.end();
    },
  };
}
