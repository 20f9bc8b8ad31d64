import { Args, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { PredictionOutcome } from './prediction-outcome.entity';
import {
  InferenceRuntimeInfo,
  PredictArgs,
  PredictBatchArgs,
  Prediction,
  PredictionBatch,
  RecordOutcomeArgs,
} from './prediction.types';

@Resolver()
export class PredictionResolver {
  constructor(private readonly services: Services) {}

  @Can('predict', 'Endpoint')
  @Mutation(() => Prediction, {
    description: "Scores one input with the endpoint's version for this request key",
  })
  predict(@Ctx() ctx: RequestContext, @Args() args: PredictArgs): Promise<Prediction> {
    return this.services.predictions.predict(ctx, args);
  }

  @Can('predict', 'Endpoint')
  @Mutation(() => PredictionBatch, { description: 'Scores many inputs at once, each routed by its key' })
  predictBatch(@Ctx() ctx: RequestContext, @Args() args: PredictBatchArgs): Promise<PredictionBatch> {
    return this.services.predictions.predictBatch(ctx, args);
  }

  @Can('predict', 'Endpoint')
  @Mutation(() => PredictionOutcome, {
    description: 'Records the true answer for a request key once known (again: corrects it)',
  })
  recordPredictionOutcome(
    @Ctx() ctx: RequestContext,
    @Args() args: RecordOutcomeArgs,
  ): Promise<PredictionOutcome> {
    return this.services.predictions.recordOutcome(ctx, args);
  }

  @Authorized()
  @Query(() => InferenceRuntimeInfo, { description: "This replica's inference runtime" })
  inferenceRuntime(@Ctx() ctx: RequestContext): InferenceRuntimeInfo {
    return this.services.predictions.runtimeInfo(ctx);
  }
}
