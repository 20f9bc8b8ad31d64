import type { EntityManager } from 'typeorm';
import { Endpoint, EndpointTraffic } from './endpoint.entity';

// The reads of the endpoint tables that other modules make. They may not import the endpoint entities
// (see .dependency-cruiser.cjs), so every query on these tables is in this module.

/** Every endpoint of the hub. */
export function allEndpoints(manager: EntityManager): Promise<Endpoint[]> {
  return manager.getRepository(Endpoint).find();
}

/** One endpoint by id (it must exist). */
export function endpointById(manager: EntityManager, id: string): Promise<Endpoint> {
  return manager.getRepository(Endpoint).findOneByOrFail({ id });
}

/** The traffic split an endpoint had at an instant, from its history; null before the endpoint existed. */
export function trafficAt(
  manager: EntityManager,
  endpointId: string,
  at: Date,
): Promise<EndpointTraffic | null> {
  return manager
    .getRepository(EndpointTraffic)
    .createQueryBuilder('t')
    .where('t.endpointId = :id AND t.validFrom <= :at AND (t.validTo IS NULL OR t.validTo > :at)', {
      id: endpointId,
      at,
    })
    .getOne();
}

/**
 * SQL for the ids of a project's endpoints, as a subquery (`x IN ${endpointIdsOf('$1')}`): other modules'
 * queries reach rows per endpoint through it, so their per-endpoint indexes answer.
 */
export const endpointIdsOf = (projectIdSql: string): string =>
  `(SELECT id FROM endpoint WHERE project_id = ${projectIdSql})`;

/** Whether the project has an endpoint of this name. */
export function endpointInProject(manager: EntityManager, projectId: string, name: string): Promise<boolean> {
  return manager.existsBy(Endpoint, { projectId, name });
}
