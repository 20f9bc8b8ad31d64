import type { DataSource, SelectQueryBuilder } from 'typeorm';
import { paginate, type ConnectionResult } from '../../common/pagination';
import type { RequestContext } from '../../context/context';
import type { Platform } from '../../platform/platform';
import type { ProjectService } from '../projects/project.service';
import type { ConnectorService } from './connector.service';
import type {
  CrmContactsArgs,
  CrmDealsArgs,
  QueueItemsArgs,
  RpaJobsArgs,
  SyncedRecordsArgs,
  TicketsArgs,
} from './connector.types';
import { CrmContact, CrmDeal, RpaJob, RpaQueueItem, Ticket } from './synced-record.entity';

export interface SyncedRecordDeps extends Pick<Platform, 'db'> {
  projects: ProjectService;
  connectors: ConnectorService;
}

/**
 * What connectors synced, read back: tickets, RPA jobs and queue items, CRM contacts and deals of a
 * project, each with the filters every synced table shares plus its own. Masking of personal data is
 * the data policy's, around these reads.
 */
export class SyncedRecordService {
  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly connectors: ConnectorService;

  constructor(deps: SyncedRecordDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.connectors = deps.connectors;
  }

  tickets(ctx: RequestContext, args: TicketsArgs): Promise<ConnectionResult<Ticket>> {
    return this.records(ctx, Ticket, args, (qb) => {
      if (args.statuses?.length) qb.andWhere('r.status IN (:...statuses)', { statuses: args.statuses });
      if (args.routing != null) qb.andWhere('r.routing = :routing', { routing: args.routing });
      if (args.tag != null) qb.andWhere(':tag = ANY(r.tags)', { tag: args.tag });
    });
  }

  rpaJobs(ctx: RequestContext, args: RpaJobsArgs): Promise<ConnectionResult<RpaJob>> {
    return this.records(ctx, RpaJob, args, (qb) => {
      if (args.states?.length) qb.andWhere('r.state IN (:...states)', { states: args.states });
      if (args.releaseName != null) qb.andWhere('r.releaseName = :release', { release: args.releaseName });
    });
  }

  queueItems(ctx: RequestContext, args: QueueItemsArgs): Promise<ConnectionResult<RpaQueueItem>> {
    return this.records(ctx, RpaQueueItem, args, (qb) => {
      if (args.statuses?.length) qb.andWhere('r.status IN (:...statuses)', { statuses: args.statuses });
      if (args.queueName != null) qb.andWhere('r.queueName = :queue', { queue: args.queueName });
    });
  }

  crmContacts(ctx: RequestContext, args: CrmContactsArgs): Promise<ConnectionResult<CrmContact>> {
    return this.records(ctx, CrmContact, args, (qb) => {
      if (args.lifecycleStage != null)
        qb.andWhere('r.lifecycleStage = :stage', { stage: args.lifecycleStage });
      if (args.email != null) qb.andWhere('lower(r.email) = lower(:email)', { email: args.email });
    });
  }

  crmDeals(ctx: RequestContext, args: CrmDealsArgs): Promise<ConnectionResult<CrmDeal>> {
    return this.records(ctx, CrmDeal, args, (qb) => {
      if (args.stages?.length) qb.andWhere('r.stage IN (:...stages)', { stages: args.stages });
      if (args.won != null) qb.andWhere('r.won = :won', { won: args.won });
    });
  }

  /** A synced table of a project, newest vendor change first, with the filters every table shares. */
  private async records<T extends { id: string; updatedAt: Date }>(
    ctx: RequestContext,
    entity: new () => T,
    args: SyncedRecordsArgs,
    filter: (qb: SelectQueryBuilder<T>) => void,
  ): Promise<ConnectionResult<T>> {
    const project = await this.projects.resolve(ctx, args.project, 'Connector');
    const qb = this.db
      .getRepository(entity)
      .createQueryBuilder('r')
      .where('r.projectId = :projectId', { projectId: project.id });
    if (args.connector != null) {
      const connector = await this.connectors.byId(ctx, args.connector, 'connector');
      qb.andWhere('r.connectorId = :connectorId', { connectorId: connector.id });
    }
    if (args.updatedFrom) qb.andWhere('r.updatedAt >= :from', { from: args.updatedFrom });
    if (args.updatedTo) qb.andWhere('r.updatedAt < :to', { to: args.updatedTo });
    if (args.requestKey != null) qb.andWhere('r.requestKey = :key', { key: args.requestKey });
    if (args.externalId != null) qb.andWhere('r.externalId = :externalId', { externalId: args.externalId });
    filter(qb);
    return paginate(qb, args, { keys: ['updatedAt', 'id'] });
  }
}
