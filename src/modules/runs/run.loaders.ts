import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';
import { groupBy } from '../../db/batch';
import type { DatasetVersion } from '../datasets/dataset.entity';
import { Run, RunInput } from './run.entity';

/** Runs by id, one statement per batch; no authorization (callers check the run's project). */
export function runById(ctx: RequestContext, db: DataSource): DataLoader<string, Run | undefined> {
  return ctx.loader(
    'run.byId',
    () =>
      new DataLoader(async (ids: readonly string[]) => {
        const rows = await db.getRepository(Run).findBy({ id: In([...ids]) });
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id));
      }),
  );
}

/** Dataset versions each run read, oldest first, for many runs in one statement. */
export function runInputs(ctx: RequestContext, db: DataSource): DataLoader<string, DatasetVersion[]> {
  return ctx.loader(
    'run.inputs',
    () =>
      new DataLoader(async (runIds: readonly string[]) => {
        const rows = await db
          .getRepository(RunInput)
          .createQueryBuilder('ri')
          .innerJoinAndSelect('ri.datasetVersion', 'dv')
          .where('ri.runId = ANY(:runIds)', { runIds: [...runIds] })
          .orderBy('dv.createdAt', 'ASC')
          .addOrderBy('dv.id', 'ASC')
          .getMany();
        return groupBy(runIds, rows, (r) => r.runId).map((inputs) =>
          inputs.map((r) => r.datasetVersion as DatasetVersion),
        );
      }),
  );
}

/**
 * The distinct metric keys of each run, sorted, for many runs in one statement. A skip scan over
 * `idx_run_metric__run_key_step` visits one index entry per key, not one per point.
 */
export function runMetricKeys(ctx: RequestContext, db: DataSource): DataLoader<string, string[]> {
  return ctx.loader(
    'run.metricKeys',
    () =>
      new DataLoader(async (runIds: readonly string[]) => {
        const rows: Array<{ run_id: string; key: string }> = await db.query(
          `WITH RECURSIVE k(run_id, key) AS (
         SELECT r.run_id, (SELECT m.key FROM run_metric m WHERE m.run_id = r.run_id ORDER BY m.key LIMIT 1)
           FROM unnest($1::uuid[]) AS r(run_id)
         UNION ALL
         SELECT k.run_id, (SELECT m.key FROM run_metric m WHERE m.run_id = k.run_id AND m.key > k.key ORDER BY m.key LIMIT 1)
           FROM k WHERE k.key IS NOT NULL
       )
       SELECT run_id, key FROM k WHERE key IS NOT NULL ORDER BY run_id, key`,
          [[...runIds]],
        );
        return groupBy(runIds, rows, (r) => r.run_id).map((keys) => keys.map((r) => r.key));
      }),
  );
}
