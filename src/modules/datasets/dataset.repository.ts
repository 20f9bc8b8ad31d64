import type { EntityManager } from 'typeorm';
import { Dataset, DatasetVersion } from './dataset.entity';

// The reads of the dataset tables that other modules make. They may not import the dataset entities
// (see .dependency-cruiser.cjs), so every query on these tables is in this module.

/** The dataset version of an id, or null. */
export function datasetVersionById(manager: EntityManager, id: string): Promise<DatasetVersion | null> {
  return manager.getRepository(DatasetVersion).findOneBy({ id });
}

/** Whether a dataset version of this id exists in the project. */
export function datasetVersionInProject(
  manager: EntityManager,
  id: string,
  projectId: string,
): Promise<boolean> {
  return manager.existsBy(DatasetVersion, { id, projectId });
}

/** The dataset versions among `ids` that exist in the project, with their dataset's name. */
export function datasetVersionLinks(
  manager: EntityManager,
  projectId: string,
  ids: readonly string[],
): Promise<Array<{ id: string; datasetId: string; name: string; version: number; sha256: string }>> {
  if (!ids.length) return Promise.resolve([]);
  return manager
    .createQueryBuilder(DatasetVersion, 'dv')
    .innerJoin(Dataset, 'd', 'd.id = dv.datasetId')
    .select(['dv.id AS id', 'dv.datasetId AS "datasetId"', 'd.name AS name', 'dv.version AS version'])
    .addSelect('dv.sha256', 'sha256')
    .where('dv.id IN (:...ids) AND dv.projectId = :projectId', { ids: [...ids], projectId })
    .getRawMany();
}

/** These dataset versions, each with its project and a label ("<dataset> v<n>"), in one query. */
export function datasetVersionLabels(
  manager: EntityManager,
  ids: readonly string[],
): Promise<Array<{ id: string; projectId: string; label: string }>> {
  if (!ids.length) return Promise.resolve([]);
  return manager.query(
    `SELECT dv.id, dv.project_id AS "projectId", d.name || ' v' || dv.version AS label
       FROM dataset_version dv JOIN dataset d ON d.id = dv.dataset_id
      WHERE dv.id = ANY($1::uuid[])`,
    [[...ids]],
  ) as Promise<Array<{ id: string; projectId: string; label: string }>>;
}
