import { Args, Ctx, Mutation, Resolver } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { ReplayArgs, ReplayReport } from './replay.types';

@Resolver()
export class ReplayResolver {
  constructor(private readonly services: Services) {}

  // A mutation, not a query: it runs a model over up to 100,000 rows, is costly and never cacheable.
  @Can('deploy', 'Endpoint')
  @Mutation(() => ReplayReport, {
    description:
      "Re-scores the logged inputs of a window of an endpoint's traffic with another version of its model " +
      'and reports agreement and accuracy against recorded outcomes; nothing is logged or served',
  })
  replayPredictions(@Ctx() ctx: RequestContext, @Args() args: ReplayArgs): Promise<ReplayReport> {
    return this.services.replay.replay(ctx, args);
  }
}
