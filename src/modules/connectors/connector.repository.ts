import { In, type EntityManager } from 'typeorm';
import { isUuid } from '../../common/validate';
import { Connector } from './connector.entity';
import { CrmContact, CrmDeal, RpaJob, RpaQueueItem, Ticket } from './synced-record.entity';
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

const ENTITY_OF_KIND = {
  ticket: Ticket,
  rpa_job: RpaJob,
  queue_item: RpaQueueItem,
  crm_contact: CrmContact,
  crm_deal: CrmDeal,
} as const;

/** A synced record as other modules see it: its typed columns, as the GraphQL type shows them. */
export type SyncedRecordRow = Ticket | RpaJob | RpaQueueItem | CrmContact | CrmDeal;

/** The records of one connector with these vendor ids, of a record kind (ticket, rpa_job, ...). */
export function syncedRecords(
  manager: EntityManager,
  kind: string,
  connectorId: string,
  externalIds: readonly string[],
): Promise<SyncedRecordRow[]> {
  const entity = ENTITY_OF_KIND[kind as keyof typeof ENTITY_OF_KIND];
  if (!entity) throw new Error(`${kind} is not a record kind`);
  if (externalIds.length === 0) return Promise.resolve([]);
  return manager.getRepository<SyncedRecordRow>(entity).find({
    where: { connectorId, externalId: In([...externalIds]) },
  });
}

/** A connector of the project by id or name, or null. */
export function connectorInProject(
  manager: EntityManager,
  projectId: string,
  ref: string,
): Promise<{ id: string; kind: string; name: string } | null> {
  const where = isUuid(ref)
    ? [
        { projectId, id: ref },
        { projectId, name: ref },
      ]
    : [{ projectId, name: ref }];
  return manager.getRepository(Connector).findOne({ select: { id: true, kind: true, name: true }, where });
}
