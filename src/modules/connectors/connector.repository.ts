import type { EntityManager } from 'typeorm';
import { Connector } from './connector.entity';
import { RECORD_TABLES } from './record-tables';

const TABLES = new Set(Object.values(RECORD_TABLES).map((t) => t.table));

// The reads and deletes of the connector and synced-record tables that other modules make. They may not
// import these entities (see .dependency-cruiser.cjs), so every query on these tables is in this module.

/** The project of a connector; null when there is no such connector. */
export async function connectorProjectId(manager: EntityManager, id: string): Promise<string | null> {
  const connector = await manager
    .getRepository(Connector)
    .findOne({ select: { projectId: true }, where: { id } });
  return connector?.projectId ?? null;
}

/** Deletes up to `limit` of a project's records (of a synced-record table) last modified in the vendor before `before`; how many. */
export async function deleteRecordsBefore(
  manager: EntityManager,
  table: string,
  projectId: string,
  before: Date,
  limit: number,
): Promise<number> {
  if (!TABLES.has(table)) throw new Error(`${table} is not a synced-record table`);
  const [{ n }] = (await manager.query(
    `WITH deleted AS (
       DELETE FROM ${table} WHERE id IN (
         SELECT id FROM ${table} WHERE project_id = $1 AND updated_at < $2 LIMIT $3)
       RETURNING 1)
     SELECT count(*)::int AS n FROM deleted`,
    [projectId, before, limit],
  )) as Array<{ n: number }>;
  return n;
}
