import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { DatasetVersion } from '../datasets/dataset.entity';
import { ModelVersion } from '../models/model.entity';
import { Run, RunMetric } from './run.entity';
import {
  FinishRunArgs,
  Lineage,
  LogRunMetricsArgs,
  LogRunMetricsResult,
  RunConnection,
  RunMetricConnection,
  RunMetricsArgs,
  RunsArgs,
  StartRunInput,
} from './run.types';

@Resolver(() => Run)
export class RunResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => Run)
  run(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Run> {
    return this.services.runs.byId(ctx, id);
  }

  @Can('read', 'Run')
  @Query(() => RunConnection, { description: "A project's runs, newest first" })
  runs(@Ctx() ctx: RequestContext, @Args() args: RunsArgs): Promise<ConnectionResult<Run>> {
    return this.services.runs.list(ctx, args);
  }

  @Can('read', 'Model')
  @Query(() => Lineage, {
    description: 'Where a model version came from: its run and the dataset versions upstream',
  })
  lineage(
    @Ctx() ctx: RequestContext,
    @Arg('modelVersionId', () => ID) modelVersionId: string,
  ): Promise<Lineage> {
    return this.services.models.lineage(ctx, modelVersionId);
  }

  @Can('create', 'Run')
  @Mutation(() => Run, { description: 'Registers a run; a known externalRef returns the existing run' })
  startRun(@Ctx() ctx: RequestContext, @Arg('input') input: StartRunInput): Promise<Run> {
    return this.services.runs.start(ctx, input);
  }

  @Can('update', 'Run')
  @Mutation(() => Run, {
    description: 'Moves a run on: QUEUED to RUNNING or CANCELLED, RUNNING to SUCCEEDED, FAILED or CANCELLED',
  })
  finishRun(@Ctx() ctx: RequestContext, @Args() args: FinishRunArgs): Promise<Run> {
    return this.services.runs.finish(ctx, args);
  }

  @Can('update', 'Run')
  @Mutation(() => LogRunMetricsResult, {
    description: 'Appends metric points to a QUEUED or RUNNING run, all or none',
  })
  logRunMetrics(@Ctx() ctx: RequestContext, @Args() args: LogRunMetricsArgs): Promise<LogRunMetricsResult> {
    return this.services.runs.logMetrics(ctx, args);
  }

  @Authorized()
  @FieldResolver(() => RunMetricConnection, { description: 'Metric points ordered by key, then step' })
  metrics(
    @Ctx() ctx: RequestContext,
    @Root() run: Run,
    @Args() args: RunMetricsArgs,
  ): Promise<ConnectionResult<RunMetric>> {
    return this.services.runs.metrics(ctx, run, args);
  }

  @Authorized()
  @FieldResolver(() => [String], { description: 'The distinct metric keys, sorted' })
  metricKeys(@Ctx() ctx: RequestContext, @Root() run: Run): Promise<string[]> {
    return this.services.runs.metricKeys(ctx, run);
  }

  @Authorized()
  @FieldResolver(() => [DatasetVersion], { description: 'Dataset versions the run read' })
  inputs(@Ctx() ctx: RequestContext, @Root() run: Run): Promise<DatasetVersion[]> {
    return this.services.runs.inputs(ctx, run);
  }

  @Authorized()
  @FieldResolver(() => [ModelVersion], { description: 'Model versions the run produced' })
  outputs(@Ctx() ctx: RequestContext, @Root() run: Run): Promise<ModelVersion[]> {
    return this.services.models.outputsOfRun(ctx, run.id);
  }
}
