import { filterIterator } from '../../common/filter-iterator';
import type { RequestContext } from '../../context/context';
import type { AlertChanged } from '../../events/catalogue';
import { subscribeTo } from '../../events/domain';
import type { EventBus } from '../../events/event-bus';
import type { ProjectService } from '../projects/project.service';
import { SEVERITY_RANK } from './alert.entity';
import type { AlertRaisedArgs } from './alert.types';

export interface AlertSubscriptionsDeps {
  events: EventBus;
  projects: ProjectService;
}

/**
 * `alertRaised`: the `alert.changed` events of one project. The project is resolved and authorized when
 * the subscription starts, as a query would be; events are then filtered here, on the server, so a
 * subscriber never receives another project's alerts or kinds it did not ask for.
 */
export class AlertSubscriptions {
  private readonly events: EventBus;
  private readonly projects: ProjectService;

  constructor(deps: AlertSubscriptionsDeps) {
    this.events = deps.events;
    this.projects = deps.projects;
  }

  async changes(ctx: RequestContext, args: AlertRaisedArgs): Promise<AsyncIterableIterator<AlertChanged>> {
    const project = await this.projects.resolve(ctx, args.project, 'Alert');
    const kinds = args.kinds?.length ? new Set<string>(args.kinds) : null;
    const min = args.minSeverity ? SEVERITY_RANK[args.minSeverity] : 0;
    return filterIterator(
      subscribeTo(this.events, 'alert.changed'),
      ({ payload: { alert } }) =>
        alert.projectId === project.id &&
        (!kinds || kinds.has(alert.kind)) &&
        SEVERITY_RANK[alert.severity as keyof typeof SEVERITY_RANK] >= min &&
        ctx.can('read', 'Alert', alert.projectId),
      (event) => event.payload,
    );
  }
}
