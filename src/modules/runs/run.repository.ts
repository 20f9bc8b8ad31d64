import type { EntityManager } from 'typeorm';
import { Run, RunMetric } from './run.entity';

// The reads of the run tables that other modules make. They may not import the run entities (see
// .dependency-cruiser.cjs), so every query on these tables is in this module.

/** Whether a run of this id exists in the project. */
export function runInProject(manager: EntityManager, id: string, projectId: string): Promise<boolean> {
  return manager.existsBy(Run, { id, projectId });
}

/** The latest value (highest step, then newest) of each metric a run logged, by key, at most `limit`. */
export async function latestRunMetrics(
  manager: EntityManager,
  runId: string,
  limit: number,
): Promise<Array<{ key: string; value: number }>> {
  const rows = await manager
    .createQueryBuilder(RunMetric, 'm')
    .select('m.key', 'key')
    .addSelect('m.value', 'value')
    .distinctOn(['m.key'])
    .where('m.runId = :runId', { runId })
    .orderBy('m.key', 'ASC')
    .addOrderBy('m.step', 'DESC')
    .addOrderBy('m.timestamp', 'DESC')
    .addOrderBy('m.id', 'DESC')
    .limit(limit)
    .getRawMany<{ key: string; value: number }>();
  return rows.map((r) => ({ key: r.key, value: Number(r.value) }));
}

/** A run with the dataset versions it consumed (ids, sorted), or null. */
export async function runWithInputs(
  manager: EntityManager,
  id: string,
): Promise<{ id: string; projectId: string; name: string; inputIds: string[] } | null> {
  const [row]: Array<{ id: string; project_id: string; name: string; inputs: string[] }> =
    await manager.query(
      `SELECT r.id, r.project_id, r.name,
            COALESCE(array_agg(ri.dataset_version_id::text ORDER BY ri.dataset_version_id)
                     FILTER (WHERE ri.dataset_version_id IS NOT NULL), '{}') AS inputs
       FROM run r LEFT JOIN run_input ri ON ri.run_id = r.id
      WHERE r.id = $1
      GROUP BY r.id`,
      [id],
    );
  return row ? { id: row.id, projectId: row.project_id, name: row.name, inputIds: row.inputs } : null;
}
