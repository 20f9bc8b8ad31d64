import { BadInputError } from '../../common/errors';
import { filterIterator } from '../../common/filter-iterator';
import type { RequestContext } from '../../context/context';
import type { DriftReportJson } from '../../events/catalogue';
import { subscribeTo } from '../../events/domain';
import type { EventBus } from '../../events/event-bus';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { ProjectService } from '../projects/project.service';
import { endpointStatsTopic } from './monitoring.service';
import type { DriftReportedArgs, EndpointStats, EndpointStatsArgs } from './monitoring.types';

export interface MonitoringSubscriptionsDeps {
  events: EventBus;
  projects: ProjectService;
  endpoints: EndpointService;
}

/**
 * `driftReported` and `endpointStats`. The project (or endpoint) is resolved and authorized
 * when the subscription starts, as a query would be; events are then filtered here, on the server,
 * so a subscriber never receives another project's events or ones it did not ask for.
 */
export class MonitoringSubscriptions {
  private readonly events: EventBus;
  private readonly projects: ProjectService;
  private readonly endpoints: EndpointService;

  constructor(deps: MonitoringSubscriptionsDeps) {
    this.events = deps.events;
    this.projects = deps.projects;
    this.endpoints = deps.endpoints;
  }

  async drift(ctx: RequestContext, args: DriftReportedArgs): Promise<AsyncIterableIterator<DriftReportJson>> {
    const { project, endpointId } = await this.scope(ctx, args);
    return filterIterator(
      subscribeTo(this.events, 'drift.reported'),
      ({ payload: { projectId, report } }) =>
        projectId === project.id &&
        (!endpointId || report.endpointId === endpointId) &&
        (!args.driftedOnly || report.drifted) &&
        ctx.can('read', 'Endpoint', projectId),
      (event) => event.payload.report,
    );
  }

  /** The project (and optional endpoint, which must be in it) a subscription is about, readable by the caller. */
  private async scope(
    ctx: RequestContext,
    args: { project: string; endpoint?: string | null },
  ): Promise<{ project: { id: string }; endpointId: string | null }> {
    const project = await this.projects.resolve(ctx, args.project, 'Endpoint');
    if (args.endpoint == null) return { project, endpointId: null };
    const endpoint = await this.endpoints.byName(ctx, args.endpoint, 'endpoint');
    if (endpoint.projectId !== project.id) throw new BadInputError('endpoint', 'is not in that project');
    return { project, endpointId: endpoint.id };
  }

  async endpointStats(
    ctx: RequestContext,
    args: EndpointStatsArgs,
  ): Promise<AsyncIterableIterator<EndpointStats>> {
    const endpoint = await this.endpoints.byName(ctx, args.endpoint, 'endpoint');
    return filterIterator(
      endpointStatsTopic.subscribe(this.events, endpoint.id),
      ({ projectId, stats }) => stats.endpointId === endpoint.id && ctx.can('read', 'Endpoint', projectId),
      ({ stats }) => stats,
    );
  }
}
