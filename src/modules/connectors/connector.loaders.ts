import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';
import { groupBy } from '../../db/batch';
import { ConnectorStream, SyncRun } from './connector.entity';

/**
 * The per-request batch loaders behind the nested connector fields: one SQL statement per field per
 * level of a query, whatever the number of connectors. Callers have checked the connector is readable.
 */
export class ConnectorLoaders {
  constructor(private readonly db: DataSource) {}

  /** Where each stream of each connector stands, by stream name. */
  streams(ctx: RequestContext): DataLoader<string, ConnectorStream[]> {
    return ctx.loader(
      'connector.streams',
      () =>
        new DataLoader(async (connectorIds: readonly string[]) => {
          const rows = await this.db
            .getRepository(ConnectorStream)
            .createQueryBuilder('s')
            .where('s.connectorId = ANY(:ids)', { ids: [...connectorIds] })
            .orderBy('s.stream', 'ASC')
            .getMany();
          return groupBy(connectorIds, rows, (s) => s.connectorId);
        }),
    );
  }

  /** The latest sync run of each connector (by start), or null: DISTINCT ON walks the (connector, start) index. */
  lastRun(ctx: RequestContext): DataLoader<string, SyncRun | null> {
    return ctx.loader(
      'connector.lastRun',
      () =>
        new DataLoader(async (connectorIds: readonly string[]) => {
          const rows = await this.db
            .getRepository(SyncRun)
            .createQueryBuilder('r')
            .distinctOn(['r.connector_id'])
            .where('r.connectorId = ANY(:ids)', { ids: [...connectorIds] })
            .orderBy('r.connectorId', 'ASC')
            .addOrderBy('r.startedAt', 'DESC')
            .addOrderBy('r.id', 'DESC')
            .getMany();
          const byConnector = new Map(rows.map((r) => [r.connectorId, r]));
          return connectorIds.map((id) => byConnector.get(id) ?? null);
        }),
    );
  }
}
