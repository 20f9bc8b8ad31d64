import { In, type EntityManager } from 'typeorm';
import { isUuid } from '../../common/validate';
import { Model, ModelVersion } from './model.entity';

// The reads of the model tables that other modules make. They may not import the model entities (see
// .dependency-cruiser.cjs), so every query on these tables is in this module.

/** The model of an id that must exist (a foreign key points at it). */
export function modelById(manager: EntityManager, id: string): Promise<Model> {
  return manager.getRepository(Model).findOneByOrFail({ id });
}

/** A project's model by name, or by id when `ref` is one; null when there is none. */
export function modelInProject(
  manager: EntityManager,
  projectId: string,
  ref: string,
): Promise<Model | null> {
  return manager
    .getRepository(Model)
    .createQueryBuilder('m')
    .where('m.projectId = :projectId', { projectId })
    .andWhere(isUuid(ref) ? '(m.name = :ref OR m.id = :id)' : 'm.name = :ref', { ref, id: ref })
    .getOne();
}

/** The version of an id that must exist (a foreign key points at it). */
export function versionById(manager: EntityManager, id: string): Promise<ModelVersion> {
  return manager.getRepository(ModelVersion).findOneByOrFail({ id });
}

/** The versions of these ids that exist, in no particular order. */
export function versionsByIds(manager: EntityManager, ids: readonly string[]): Promise<ModelVersion[]> {
  return ids.length === 0
    ? Promise.resolve([])
    : manager.getRepository(ModelVersion).findBy({ id: In([...ids]) });
}

/** Version `number` of a model, or null. */
export function versionByNumber(
  manager: EntityManager,
  modelId: string,
  number: number,
): Promise<ModelVersion | null> {
  return manager.getRepository(ModelVersion).findOneBy({ modelId, version: number });
}

/** The version numbers of these version ids, in one query. */
export async function versionNumbers(
  manager: EntityManager,
  ids: readonly string[],
): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const versions = await manager.getRepository(ModelVersion).find({
    select: { id: true, version: true },
    where: { id: In([...ids]) },
  });
  return new Map(versions.map((v) => [v.id, v.version]));
}

/** Those of these version ids that name a version of a model in the project. */
export async function versionIdsInProject(
  manager: EntityManager,
  ids: readonly string[],
  projectId: string,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = (await manager.query(
    `SELECT v.id FROM model_version v JOIN model m ON m.id = v.model_id WHERE v.id = ANY($1::uuid[]) AND m.project_id = $2`,
    [[...ids], projectId],
  )) as Array<{ id: string }>;
  return new Set(rows.map((r) => r.id));
}

/** The version an alias of a model points at now, or null. */
export async function aliasedVersionId(
  manager: EntityManager,
  modelId: string,
  alias: string,
): Promise<string | null> {
  const [row] = (await manager.query(
    'SELECT version_id FROM model_alias WHERE model_id = $1 AND alias = $2 AND valid_to IS NULL',
    [modelId, alias],
  )) as Array<{ version_id: string }>;
  return row?.version_id ?? null;
}
