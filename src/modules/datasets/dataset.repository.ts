import type { EntityManager } from 'typeorm';
import { DatasetVersion } from './dataset.entity';

// The reads of the dataset tables that other modules make. They may not import the dataset entities
// (see .dependency-cruiser.cjs), so every query on these tables is in this module.

/** The dataset version of an id, or null. */
export function datasetVersionById(manager: EntityManager, id: string): Promise<DatasetVersion | null> {
  return manager.getRepository(DatasetVersion).findOneBy({ id });
}
