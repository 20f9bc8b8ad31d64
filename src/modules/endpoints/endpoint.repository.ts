import type { EntityManager } from 'typeorm';
import { Endpoint } from './endpoint.entity';

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
