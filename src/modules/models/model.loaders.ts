import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';
import { groupBy, latestPerParent } from '../../db/batch';
import { Model, ModelAlias, ModelVersion } from './model.entity';

/**
 * The per-request batch loaders behind the nested model fields: one SQL statement per field per
 * level of a query, whatever the number of parents. Callers have checked the parent is readable.
 */
export class ModelLoaders {
  constructor(private readonly db: DataSource) {}

  modelById(ctx: RequestContext): DataLoader<string, Model | undefined> {
    return ctx.loader(
      'model.byId',
      () =>
        new DataLoader(async (ids: readonly string[]) => {
          const rows = await this.db.getRepository(Model).findBy({ id: In([...ids]) });
          const byId = new Map(rows.map((m) => [m.id, m]));
          return ids.map((id) => byId.get(id));
        }),
    );
  }

  versionById(ctx: RequestContext): DataLoader<string, ModelVersion | undefined> {
    return ctx.loader(
      'modelVersion.byId',
      () =>
        new DataLoader(async (ids: readonly string[]) => {
          const rows = await this.db.getRepository(ModelVersion).findBy({ id: In([...ids]) });
          const byId = new Map(rows.map((v) => [v.id, v]));
          return ids.map((id) => byId.get(id));
        }),
    );
  }

  /** Models of each project, newest first; empty for projects whose models the caller may not read. */
  modelsByProject(ctx: RequestContext): DataLoader<string, Model[]> {
    return ctx.loader(
      'model.byProject',
      () =>
        new DataLoader(async (projectIds: readonly string[]) => {
          const readable = projectIds.filter((id) => ctx.can('read', 'Model', id));
          if (!readable.length) return projectIds.map(() => []);
          const rows = await this.db
            .getRepository(Model)
            .createQueryBuilder('m')
            .where('m.projectId = ANY(:ids)', { ids: readable })
            .orderBy('m.createdAt', 'DESC')
            .addOrderBy('m.id', 'DESC')
            .getMany();
          return groupBy(projectIds, rows, (m) => m.projectId);
        }),
    );
  }

  /** The latest `first` versions of each model, newest first, ranked in SQL by a window function. */
  latestVersions(ctx: RequestContext, first: number): DataLoader<string, ModelVersion[]> {
    return ctx.loader(
      `modelVersion.latest.${first}`,
      () =>
        new DataLoader((modelIds: readonly string[]) =>
          latestPerParent(this.db.getRepository(ModelVersion), {
            parent: 'modelId',
            order: 'version',
            parentIds: modelIds,
            limit: first,
          }),
        ),
    );
  }

  /** Current aliases (validTo IS NULL) of each model, by alias name. */
  currentAliasesByModel(ctx: RequestContext): DataLoader<string, ModelAlias[]> {
    return ctx.loader(
      'modelAlias.currentByModel',
      () =>
        new DataLoader(async (modelIds: readonly string[]) => {
          const rows = await this.currentAliases('a.modelId = ANY(:ids)', [...modelIds]);
          return groupBy(modelIds, rows, (a) => a.modelId);
        }),
    );
  }

  /** Current aliases pointing at each version. */
  currentAliasesByVersion(ctx: RequestContext): DataLoader<string, ModelAlias[]> {
    return ctx.loader(
      'modelAlias.currentByVersion',
      () =>
        new DataLoader(async (versionIds: readonly string[]) => {
          const rows = await this.currentAliases('a.versionId = ANY(:ids)', [...versionIds]);
          return groupBy(versionIds, rows, (a) => a.versionId);
        }),
    );
  }

  private currentAliases(where: string, ids: string[]): Promise<ModelAlias[]> {
    return this.db
      .getRepository(ModelAlias)
      .createQueryBuilder('a')
      .where(where, { ids })
      .andWhere('a.validTo IS NULL')
      .orderBy('a.alias', 'ASC')
      .getMany();
  }
}

/** Model versions each run produced, oldest first, for many runs in one statement. */
export function versionsOfRuns(ctx: RequestContext, db: DataSource): DataLoader<string, ModelVersion[]> {
  return ctx.loader(
    'run.outputs',
    () =>
      new DataLoader(async (runIds: readonly string[]) => {
        const rows = await db
          .getRepository(ModelVersion)
          .createQueryBuilder('mv')
          .where('mv.runId = ANY(:runIds)', { runIds: [...runIds] })
          .orderBy('mv.createdAt', 'ASC')
          .addOrderBy('mv.id', 'ASC')
          .getMany();
        return groupBy(runIds, rows, (v) => v.runId as string);
      }),
  );
}
