import type { EntityManager } from 'typeorm';
import type { Change } from '../../platform/unit-of-work';
import type { StreamDescriptor, SyncedRecord } from '../../../connectors/_shared';
import { DERIVED_KPIS, derivePoints } from '../kpis/kpi-derivations';
import { RECORD_TABLES } from './record-tables';
import type { Connector } from './connector.entity';

/** A page written: how many records it held, and which of them it inserted or changed (vendor ids). */
export interface WrittenPage {
  records: number;
  created: string[];
  updated: string[];
}

/**
 * Writes one page of a stream (or a webhook's records, `merge`d into what is stored): the records
 * upserted on (connector, external id) in one statement,
 * then the derived KPI points of those records replaced. Runs inside the page's transaction, with the
 * stream's new state, so a page and its cursor land together or not at all.
 */
export async function writePage(
  manager: EntityManager,
  connector: Connector,
  stream: StreamDescriptor,
  records: SyncedRecord[],
  kpiIds: ReadonlyMap<string, string>,
  syncedAt: Date,
  options: { merge?: boolean } = {},
): Promise<WrittenPage> {
  // A vendor may return one record twice in a page (ties at a cursor boundary); the later is newer,
  // and one INSERT … ON CONFLICT may not touch a row twice.
  const latest = new Map<string, SyncedRecord>();
  for (const record of records) {
    if (record.kind !== stream.recordKind) {
      throw new Error(
        `stream ${stream.name} yielded a ${record.kind} record; it declares ${stream.recordKind}`,
      );
    }
    latest.set(record.externalId, record);
  }
  if (latest.size === 0) return { records: 0, created: [], updated: [] };
  const { table, columns } = RECORD_TABLES[stream.recordKind];
  const rows = [...latest.values()].map((r) => {
    const row: Record<string, unknown> = {
      external_id: r.externalId,
      updated_at: r.updatedAt.toISOString(),
      request_key: r.requestKey,
      raw: r.raw,
    };
    for (const c of columns) {
      const value = c.value(r as never);
      row[c.name] = value instanceof Date ? value.toISOString() : value;
    }
    return row;
  });
  const typed = ['external_id', 'updated_at', 'request_key', 'raw', ...columns.map((c) => c.name)];
  const types: Record<string, string> = {
    external_id: 'text',
    updated_at: 'timestamptz',
    request_key: 'text',
    raw: 'jsonb',
    ...Object.fromEntries(columns.map((c) => [c.name, c.type])),
  };
  // A webhook's record may be partial (a vendor's event carries fewer fields than its export): merged,
  // a field it lacks keeps the value a sync stored, and its raw object is laid over the stored one.
  const merged = (c: string): string =>
    c === 'raw' ? `raw = ${table}.raw || EXCLUDED.raw` : `${c} = COALESCE(EXCLUDED.${c}, ${table}.${c})`;
  const updates = [...typed.filter((c) => c !== 'external_id' && c !== 'request_key'), 'synced_at']
    .map((c) =>
      options.merge && c !== 'updated_at' && c !== 'synced_at' ? merged(c) : `${c} = EXCLUDED.${c}`,
    )
    .join(', ');
  const written = (await manager.query(
    `INSERT INTO ${table} (connector_id, project_id, synced_at, ${typed.join(', ')})
     SELECT $1, $2, $3, ${typed.map((c) => `r.${c}`).join(', ')}
       FROM jsonb_to_recordset($4::jsonb) AS r(${typed.map((c) => `${c} ${types[c]}`).join(', ')})
     ON CONFLICT (connector_id, external_id) DO UPDATE
        -- A request key, once known, stays: a later edit in the vendor may drop the field.
        SET ${updates}, request_key = COALESCE(EXCLUDED.request_key, ${table}.request_key)
      WHERE ${table}.updated_at <= EXCLUDED.updated_at
     RETURNING external_id, (xmax = 0) AS inserted`,
    [connector.id, connector.projectId, syncedAt, JSON.stringify(rows)],
  )) as Array<{ external_id: string; inserted: boolean }>;
  const ids = [...latest.keys()];
  for (const kpi of DERIVED_KPIS.filter((k) => k.recordKind === stream.recordKind)) {
    const kpiId = kpiIds.get(kpi.key);
    if (!kpiId) continue;
    await derivePoints(manager, kpi, kpiId, { table, connectorId: connector.id, externalIds: ids });
  }
  return {
    records: latest.size,
    created: written.filter((r) => r.inserted).map((r) => r.external_id),
    updated: written.filter((r) => !r.inserted).map((r) => r.external_id),
  };
}

/** Tells automations (and any consumer) which records a page wrote: `records.synced`, when it wrote any. */
export function emitWritten(
  tx: Change,
  connector: Connector,
  stream: StreamDescriptor,
  written: WrittenPage,
  syncRunId: string | null,
): void {
  if (written.created.length === 0 && written.updated.length === 0) return;
  tx.emit({
    type: 'records.synced',
    stream: `connector:${connector.id}`,
    projectId: connector.projectId,
    payload: {
      projectId: connector.projectId,
      connectorId: connector.id,
      syncRunId,
      stream: stream.name,
      kind: stream.recordKind,
      created: written.created,
      updated: written.updated,
    },
  });
}
