import { BadInputError } from '../../common/errors';
import { filterIterator } from '../../common/filter-iterator';
import type { RequestContext } from '../../context/context';
import type { RolloutChanged } from '../../events/catalogue';
import { subscribeTo } from '../../events/domain';
import type { EventBus } from '../../events/event-bus';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { ProjectService } from '../projects/project.service';
import type { RolloutChangedArgs } from './rollout.types';

export interface RolloutSubscriptionsDeps {
  events: EventBus;
  projects: ProjectService;
  endpoints: EndpointService;
}

/** `rolloutChanged`: the `rollout.changed` events of one project (or one endpoint in it). */
export class RolloutSubscriptions {
  private readonly events: EventBus;
  private readonly projects: ProjectService;
  private readonly endpoints: EndpointService;

  constructor(deps: RolloutSubscriptionsDeps) {
    this.events = deps.events;
    this.projects = deps.projects;
    this.endpoints = deps.endpoints;
  }

  async changes(
    ctx: RequestContext,
    args: RolloutChangedArgs,
  ): Promise<AsyncIterableIterator<RolloutChanged>> {
    const project = await this.projects.resolve(ctx, args.project, 'Endpoint');
    let endpointId: string | null = null;
    if (args.endpoint != null) {
      const endpoint = await this.endpoints.byName(ctx, args.endpoint, 'endpoint');
      if (endpoint.projectId !== project.id) throw new BadInputError('endpoint', 'is not in that project');
      endpointId = endpoint.id;
    }
    return filterIterator(
      subscribeTo(this.events, 'rollout.changed'),
      ({ payload }) =>
        payload.projectId === project.id &&
        (!endpointId || payload.endpointId === endpointId) &&
        ctx.can('read', 'Endpoint', payload.projectId),
      (event) => event.payload,
    );
  }
}
