import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../context/context';
import { groupBy } from '../../db/batch';
import { ApprovalRequest, RolloutEvent } from './rollout.entity';

/**
 * The per-request batch loaders behind the nested rollout fields: one SQL statement per field per
 * level of a query, whatever the number of rollouts. Callers have checked the rollout is readable.
 */
export class RolloutLoaders {
  constructor(private readonly db: DataSource) {}

  /** Each rollout's full history, oldest first (by sequence: events of one instant keep their order). */
  events(ctx: RequestContext): DataLoader<string, RolloutEvent[]> {
    return ctx.loader(
      'rollout.events',
      () =>
        new DataLoader(async (rolloutIds: readonly string[]) => {
          const rows = await this.db
            .getRepository(RolloutEvent)
            .createQueryBuilder('e')
            .where('e.rolloutId = ANY(:ids)', { ids: [...rolloutIds] })
            .orderBy('e.id', 'ASC')
            .getMany();
          return groupBy(rolloutIds, rows, (e) => e.rolloutId);
        }),
    );
  }

  /** Each rollout's approval requests, oldest first. */
  approvals(ctx: RequestContext): DataLoader<string, ApprovalRequest[]> {
    return ctx.loader(
      'rollout.approvals',
      () =>
        new DataLoader(async (rolloutIds: readonly string[]) => {
          const rows = await this.db
            .getRepository(ApprovalRequest)
            .createQueryBuilder('a')
            .where('a.rolloutId = ANY(:ids)', { ids: [...rolloutIds] })
            .orderBy('a.createdAt', 'ASC')
            .addOrderBy('a.id', 'ASC')
            .getMany();
          return groupBy(rolloutIds, rows, (a) => a.rolloutId);
        }),
    );
  }
}
