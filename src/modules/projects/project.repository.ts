import { In, type EntityManager } from 'typeorm';
import { Project } from './project.entity';

// The reads of the project table that other modules make. They may not import the project entity (see
// .dependency-cruiser.cjs), so every query on this table is in this module.

/** How many of these project ids name a project. */
export function countProjects(manager: EntityManager, ids: readonly string[]): Promise<number> {
  return ids.length === 0 ? Promise.resolve(0) : manager.getRepository(Project).countBy({ id: In([...ids]) });
}
