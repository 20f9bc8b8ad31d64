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
