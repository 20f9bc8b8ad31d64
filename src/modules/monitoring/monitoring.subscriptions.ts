import { BadInputError } from '../../common/errors';
import { filterIterator } from '../../common/filter-iterator';
import type { RequestContext } from '../../context/context';
import type { EventBus } from '../../events/event-bus';
import { Topics } from '../../events/topics';
import { SEVERITY_RANK } from '../alerts/alert.entity';
import type { AlertMessage } from '../alerts/alert.service';
import type { AlertEvent, AlertRaisedArgs } from '../alerts/alert.types';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { ProjectService } from '../projects/project.service';
import type { DriftReport } from './drift-report.entity';
import type { RolloutMessage } from '../rollouts/rollout.service';
import type { RolloutChange, RolloutChangedArgs } from '../rollouts/rollout.types';
import type { DriftMessage, StatsMessage } from './monitoring.service';
import type { SyncRun } from '../connectors/connector.entity';
import type { SyncRunChangedArgs } from '../connectors/connector.types';
import type { SyncRunMessage } from '../connectors/sync-runner';
import type { DriftReportedArgs, EndpointStats, EndpointStatsArgs } from './monitoring.types';

/**
 * The event streams behind the subscriptions. The project (or endpoint) is resolved and authorized
 * when the subscription starts, as a query would be; events are then filtered here, on the server,
 * so a subscriber never receives another project's events or ones it did not ask for.
 */
export class MonitoringSubscriptions {
  constructor(
    private readonly events: EventBus,
    private readonly projects: ProjectService,
    private readonly endpoints: EndpointService,
  ) {}

  async alerts(ctx: RequestContext, args: AlertRaisedArgs): Promise<AsyncIterableIterator<AlertEvent>> {
    const project = await this.projects.resolve(ctx, args.project, 'Alert');
    const kinds = args.kinds?.length ? new Set(args.kinds) : null;
    const min = args.minSeverity ? SEVERITY_RANK[args.minSeverity] : 0;
    return filterIterator(
      this.events.subscribe(Topics.alert) as AsyncIterator<AlertMessage>,
      ({ alert }) =>
        alert.projectId === project.id &&
        (!kinds || kinds.has(alert.kind)) &&
        SEVERITY_RANK[alert.severity] >= min &&
        ctx.can('read', 'Alert', alert.projectId),
    );
  }

  async drift(ctx: RequestContext, args: DriftReportedArgs): Promise<AsyncIterableIterator<DriftReport>> {
    const { project, endpointId } = await this.scope(ctx, args);
    return filterIterator(
      this.events.subscribe(Topics.drift) as AsyncIterator<DriftMessage>,
      ({ projectId, report }) =>
        projectId === project.id &&
        (!endpointId || report.endpointId === endpointId) &&
        (!args.driftedOnly || report.drifted) &&
        ctx.can('read', 'Endpoint', projectId),
      ({ report }) => report,
    );
  }

  async rollouts(
    ctx: RequestContext,
    args: RolloutChangedArgs,
  ): Promise<AsyncIterableIterator<RolloutChange>> {
    const { project, endpointId } = await this.scope(ctx, args);
    return filterIterator(
      this.events.subscribe(Topics.rollout) as AsyncIterator<RolloutMessage>,
      (m) =>
        m.projectId === project.id &&
        (!endpointId || m.endpointId === endpointId) &&
        ctx.can('read', 'Endpoint', m.projectId),
      (m) => m.change,
    );
  }

  async syncRuns(ctx: RequestContext, args: SyncRunChangedArgs): Promise<AsyncIterableIterator<SyncRun>> {
    const project = await this.projects.resolve(ctx, args.project, 'Connector');
    return filterIterator(
      this.events.subscribe(Topics.syncRun) as AsyncIterator<SyncRunMessage>,
      (m) =>
        m.projectId === project.id &&
        (args.connector == null || m.connectorId === args.connector) &&
        ctx.can('read', 'Connector', m.projectId),
      (m) => m.run,
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
      // One topic per endpoint: a subscriber's queue holds its endpoint's stats only.
      this.events.subscribe(`${Topics.endpointStats}:${endpoint.id}`) as AsyncIterator<StatsMessage>,
      ({ projectId, stats }) => stats.endpointId === endpoint.id && ctx.can('read', 'Endpoint', projectId),
      ({ stats }) => stats,
    );
  }
}
