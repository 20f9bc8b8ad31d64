import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';
import { Project } from './project.entity';

/**
 * The per-request batch loaders of projects: one SQL statement per batch, whatever the number of
 * parents asking. No authorization: callers check the caller may read what they load.
 */
export class ProjectLoaders {
  constructor(private readonly db: DataSource) {}

  byId(ctx: RequestContext): DataLoader<string, Project | undefined> {
    return ctx.loader(
      'project.byId',
      () =>
        new DataLoader(async (ids: readonly string[]) => {
          const rows = await this.db.getRepository(Project).findBy({ id: In([...ids]) });
          const byId = new Map(rows.map((p) => [p.id, p]));
          return ids.map((id) => byId.get(id));
        }),
    );
  }
}
