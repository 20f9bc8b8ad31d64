import type { AlertChanged, DriftReportJson } from '../../events/catalogue';
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import { servicesOf } from '../../server/schema-services';
import type { Services } from '../../server/services';
import { Alert } from '../alerts/alert.entity';
import { AlertConnection, AlertEvent, AlertRaisedArgs, AlertsArgs } from '../alerts/alert.types';
import { Endpoint } from '../endpoints/endpoint.entity';
import { DriftReport } from './drift-report.entity';
import {
  DriftReportConnection,
  DriftReportedArgs,
  DriftReportsArgs,
  EndpointStats,
  EndpointStatsArgs,
} from './monitoring.types';

type SubscribeData<A> = SubscribeResolverData<unknown, A, RequestContext>;

@Resolver(() => Endpoint)
export class EndpointStatsResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @FieldResolver(() => EndpointStats, {
    description:
      'Requests, errors and latency quantiles over the last `window` minutes, current one included',
  })
  stats(
    @Root() endpoint: Endpoint,
    @Arg('window', () => Int, { defaultValue: 5, description: 'Minutes, 1 to 1440' }) window: number,
  ): Promise<EndpointStats> {
    return this.services.monitoring.stats(endpoint, window);
  }
}

@Resolver()
export class MonitoringResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => AlertConnection, { description: "A project's alerts, newest first" })
  alerts(@Ctx() ctx: RequestContext, @Args() args: AlertsArgs): Promise<ConnectionResult<Alert>> {
    return this.services.alerts.list(ctx, args);
  }

  @Authorized()
  @Query(() => Alert)
  alert(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Alert> {
    return this.services.alerts.byId(ctx, id);
  }

  @Authorized()
  @Query(() => DriftReportConnection, { description: "A project's drift reports, newest first" })
  driftReports(
    @Ctx() ctx: RequestContext,
    @Args() args: DriftReportsArgs,
  ): Promise<ConnectionResult<DriftReport>> {
    return this.services.monitoring.driftReports(ctx, args);
  }

  @Can('update', 'Endpoint')
  @Mutation(() => DriftReport, {
    description:
      "Checks an endpoint's traffic of the last `window` minutes against its served version's training data now",
  })
  runDriftCheck(
    @Ctx() ctx: RequestContext,
    @Arg('endpoint') endpoint: string,
    @Arg('window', () => Int, { defaultValue: 60, description: 'Minutes' }) window: number,
  ): Promise<DriftReport> {
    return this.services.monitoring.runDriftCheck(ctx, endpoint, window);
  }

  @Can('update', 'Alert')
  @Mutation(() => Alert, { description: 'Someone is on it: an OPEN alert becomes ACKNOWLEDGED' })
  acknowledgeAlert(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
  ): Promise<Alert> {
    return this.services.alerts.acknowledge(ctx, id, note);
  }

  @Can('update', 'Alert')
  @Mutation(() => Alert, {
    description: 'Closes an alert by hand; a condition that persists opens a new one',
  })
  resolveAlert(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
  ): Promise<Alert> {
    return this.services.alerts.resolve(ctx, id, note);
  }

  @Authorized()
  @Subscription(() => AlertEvent, {
    description: 'Alerts of a project as they are raised, updated, acknowledged or resolved',
    subscribe: ({ args, context, info }: SubscribeData<AlertRaisedArgs>) =>
      servicesOf(info.schema).alertSubscriptions.changes(context, args),
  })
  alertRaised(@Root() event: AlertChanged, @Args() _args: AlertRaisedArgs): AlertChanged {
    return event;
  }

  @Authorized()
  @Subscription(() => DriftReport, {
    description: "Drift reports of a project's endpoints as they are made",
    subscribe: ({ args, context, info }: SubscribeData<DriftReportedArgs>) =>
      servicesOf(info.schema).monitoringSubscriptions.drift(context, args),
  })
  driftReported(@Root() report: DriftReportJson, @Args() _args: DriftReportedArgs): DriftReportJson {
    return report;
  }

  @Authorized()
  @Subscription(() => EndpointStats, {
    description: "An endpoint's last five minutes, each time the monitor evaluates it",
    subscribe: ({ args, context, info }: SubscribeData<EndpointStatsArgs>) =>
      servicesOf(info.schema).monitoringSubscriptions.endpointStats(context, args),
  })
  endpointStats(@Root() stats: EndpointStats, @Args() _args: EndpointStatsArgs): EndpointStats {
    return stats;
  }
}
