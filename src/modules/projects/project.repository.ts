import { In, type EntityManager } from 'typeorm';
import { type DataPolicyValue, Project } from './project.entity';
import type { RiskLevel } from './project.enums';

// The reads and writes of the project table that other modules make. They may not import the project
// entity (see .dependency-cruiser.cjs), so every query on this table is in this module.

/** How many of these project ids name a project. */
export function countProjects(manager: EntityManager, ids: readonly string[]): Promise<number> {
  return ids.length === 0 ? Promise.resolve(0) : manager.getRepository(Project).countBy({ id: In([...ids]) });
}

/** The project of an id that must exist (a foreign key points at it). */
export function projectById(manager: EntityManager, id: string): Promise<Project> {
  return manager.getRepository(Project).findOneByOrFail({ id });
}

/** Locks a project's row until the transaction ends (changes that must not interleave per project). */
export async function lockProject(manager: EntityManager, id: string): Promise<void> {
  await manager.query('SELECT id FROM project WHERE id = $1 FOR UPDATE', [id]);
}

/** Sets what governance decides about a project: its risk level, its data policy. */
export async function updateProjectGovernance(
  manager: EntityManager,
  id: string,
  patch: { riskLevel?: RiskLevel; dataPolicy?: DataPolicyValue },
): Promise<void> {
  await manager.getRepository(Project).update({ id }, patch);
}

/** A project's stored data policy (null: none); `forUpdate` locks the row until the transaction ends. */
export async function storedDataPolicy(
  manager: EntityManager,
  id: string,
  forUpdate = false,
): Promise<DataPolicyValue | null> {
  const [row] = (await manager.query(
    `SELECT data_policy FROM project WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  )) as Array<{ data_policy: DataPolicyValue | null }>;
  return row?.data_policy ?? null;
}

/** The projects whose data policy sets a retention period, with that policy. */
export function projectsWithRetention(
  manager: EntityManager,
): Promise<Array<{ id: string; dataPolicy: DataPolicyValue }>> {
  return manager.query(
    `SELECT id, data_policy AS "dataPolicy" FROM project
      WHERE jsonb_typeof(data_policy->'predictionRetentionDays') = 'number'
         OR jsonb_typeof(data_policy->'syncedRecordRetentionDays') = 'number'`,
  ) as Promise<Array<{ id: string; dataPolicy: DataPolicyValue }>>;
}
