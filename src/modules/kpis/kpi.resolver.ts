import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { Kpi } from './kpi.entity';
import { KpiLoaders } from './kpi.loaders';
import {
  DefineKpiInput,
  KpiConnection,
  KpiSeries,
  KpiSeriesArgs,
  KpisArgs,
  RecordKpiPointsInput,
  RecordKpiPointsResult,
} from './kpi.types';

@Resolver(() => Kpi)
export class KpiResolver {
  private readonly loaders: KpiLoaders;

  constructor(private readonly services: Services) {
    this.loaders = new KpiLoaders(services.db);
  }

  @Can('read', 'Kpi')
  @Query(() => KpiConnection, { description: "A project's KPIs, by key" })
  kpis(@Ctx() ctx: RequestContext, @Args() args: KpisArgs): Promise<ConnectionResult<Kpi>> {
    return this.services.kpis.list(ctx, args);
  }

  @Can('read', 'Kpi')
  @Query(() => KpiSeries, {
    description:
      'A KPI per hour/day/week/month with confidence intervals; byModelVersion splits it by the version whose prediction touched each record and compares each version with the one before',
  })
  kpiSeries(@Ctx() ctx: RequestContext, @Args() args: KpiSeriesArgs): Promise<KpiSeries> {
    return this.services.kpis.series(ctx, args);
  }

  @Can('update', 'Kpi')
  @Mutation(() => Kpi, { description: 'Defines (or redefines) a KPI that systems push points to' })
  defineKpi(@Ctx() ctx: RequestContext, @Arg('input') input: DefineKpiInput): Promise<Kpi> {
    return this.services.kpis.define(ctx, input);
  }

  @Can('create', 'Kpi')
  @Mutation(() => RecordKpiPointsResult, {
    description: 'Appends KPI points (up to 10,000); the same idempotency key records them once',
  })
  recordKpiPoints(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: RecordKpiPointsInput,
  ): Promise<RecordKpiPointsResult> {
    return this.services.kpis.record(ctx, input);
  }

  @Authorized()
  @FieldResolver(() => Int, { description: 'Points recorded, all time' })
  points(@Ctx() ctx: RequestContext, @Root() kpi: Kpi): Promise<number> {
    return this.loaders.pointCount(ctx).load(kpi.id);
  }
}
