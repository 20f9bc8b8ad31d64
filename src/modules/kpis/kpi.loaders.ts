import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';

/**
 * The per-request batch loaders behind the nested KPI fields: one SQL statement per field per level of
 * a query, whatever the number of KPIs. Callers have checked the KPI is readable.
 */
export class KpiLoaders {
  constructor(private readonly db: DataSource) {}

  /** Points recorded for each KPI, all time: one GROUP BY over `idx_kpi_point__kpi_time`. */
  pointCount(ctx: RequestContext): DataLoader<string, number> {
    return ctx.loader(
      'kpi.pointCount',
      () =>
        new DataLoader(async (kpiIds: readonly string[]) => {
          const rows: Array<{ kpi_id: string; n: number }> = await this.db.query(
            'SELECT kpi_id, count(*)::int AS n FROM kpi_point WHERE kpi_id = ANY($1::uuid[]) GROUP BY kpi_id',
            [[...kpiIds]],
          );
          const byKpi = new Map(rows.map((r) => [r.kpi_id, r.n]));
          return kpiIds.map((id) => byKpi.get(id) ?? 0);
        }),
    );
  }
}
