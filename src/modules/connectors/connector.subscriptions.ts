import { filterIterator } from '../../common/filter-iterator';
import type { RequestContext } from '../../context/context';
import type { SyncRunJson } from '../../events/catalogue';
import { subscribeTo } from '../../events/domain';
import type { EventBus } from '../../events/event-bus';
import type { ProjectService } from '../projects/project.service';
import type { SyncRunChangedArgs } from './connector.types';

export interface SyncRunSubscriptionsDeps {
  events: EventBus;
  projects: ProjectService;
}

/** `syncRunChanged`: the `sync-run.changed` events of one project (or one connector in it). */
export class SyncRunSubscriptions {
  private readonly events: EventBus;
  private readonly projects: ProjectService;

  constructor(deps: SyncRunSubscriptionsDeps) {
    this.events = deps.events;
    this.projects = deps.projects;
  }

  async changes(ctx: RequestContext, args: SyncRunChangedArgs): Promise<AsyncIterableIterator<SyncRunJson>> {
    const project = await this.projects.resolve(ctx, args.project, 'Connector');
    return filterIterator(
      subscribeTo(this.events, 'sync-run.changed'),
      ({ payload }) =>
        payload.projectId === project.id &&
        (args.connector == null || payload.connectorId === args.connector) &&
        ctx.can('read', 'Connector', payload.projectId),
      (event) => event.payload.run,
    );
  }
}
