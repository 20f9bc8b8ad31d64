import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';
import { latestPerParent } from '../../db/batch';
import { Dataset, DatasetVersion } from './dataset.entity';

/**
 * The per-request batch loaders behind the nested dataset fields: one SQL statement per field per
 * level of a query, whatever the number of parents. Callers check the caller may read the dataset.
 */
export class DatasetLoaders {
  constructor(private readonly db: DataSource) {}

  datasetById(ctx: RequestContext): DataLoader<string, Dataset | undefined> {
    return ctx.loader(
      'dataset.byId',
      () =>
        new DataLoader<string, Dataset | undefined>(async (ids) => {
          const rows = await this.db.getRepository(Dataset).findBy({ id: In([...ids]) });
          const byId = new Map(rows.map((d) => [d.id, d]));
          return ids.map((id) => byId.get(id));
        }),
    );
  }

  /** The latest `first` versions of each dataset, newest first, ranked in SQL by a window function. */
  latestVersions(ctx: RequestContext, first: number): DataLoader<string, DatasetVersion[]> {
    return ctx.loader(
      `dataset.versions.${first}`,
      () =>
        new DataLoader<string, DatasetVersion[]>((ids) =>
          latestPerParent(this.db.getRepository(DatasetVersion), {
            parent: 'datasetId',
            order: 'version',
            parentIds: ids,
            limit: first,
          }),
        ),
    );
  }
}
