import type { RolloutChanged } from '../../events/catalogue';
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
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
import { ModelVersion } from '../models/model.entity';
import { ApprovalRequest, Rollout, RolloutEvent } from './rollout.entity';
import { RolloutLoaders } from './rollout.loaders';
import {
  ApprovalRequestConnection,
  ApprovalRequestsArgs,
  DeployInput,
  RolloutChange,
  RolloutChangedArgs,
  RolloutConnection,
  RolloutsArgs,
  ServedVersion,
} from './rollout.types';

@Resolver(() => Rollout)
export class RolloutResolver {
  private readonly loaders: RolloutLoaders;

  constructor(private readonly services: Services) {
    this.loaders = new RolloutLoaders(services.db);
  }

  @Can('deploy', 'Endpoint')
  @Mutation(() => Rollout, {
    description:
      'Starts a rollout of a version to an endpoint. The same idempotency key returns the same rollout; a second rollout on a busy endpoint is a CONFLICT.',
  })
  deploy(@Ctx() ctx: RequestContext, @Arg('input') input: DeployInput): Promise<Rollout> {
    return this.services.rollouts.deploy(ctx, input);
  }

  @Can('deploy', 'Endpoint')
  @Mutation(() => Rollout, {
    description: 'Promotes now: the candidate takes all traffic and the champion alias',
  })
  promoteRollout(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
  ): Promise<Rollout> {
    return this.services.rolloutApprovals.promote(ctx, id, reason);
  }

  @Can('deploy', 'Endpoint')
  @Mutation(() => Rollout, { description: 'All traffic back to the stable version' })
  rollback(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
  ): Promise<Rollout> {
    return this.services.rolloutApprovals.rollback(ctx, id, reason);
  }

  @Can('deploy', 'Endpoint')
  @Mutation(() => Rollout, { description: 'Holds the rollout at its current step (traffic stays as it is)' })
  pauseRollout(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
  ): Promise<Rollout> {
    return this.services.rolloutApprovals.pause(ctx, id, reason);
  }

  @Can('deploy', 'Endpoint')
  @Mutation(() => Rollout)
  resumeRollout(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
  ): Promise<Rollout> {
    return this.services.rolloutApprovals.resume(ctx, id, reason);
  }

  @Can('approve', 'Endpoint')
  @Mutation(() => ApprovalRequest, {
    description: 'An approver (never the requester) approves or rejects; a rejection rolls the rollout back',
  })
  decideApproval(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('approve') approve: boolean,
    @Arg('comment', () => String, { nullable: true }) comment: string | null,
  ): Promise<ApprovalRequest> {
    return this.services.rolloutApprovals.decideApproval(ctx, id, approve, comment);
  }

  @Authorized()
  @Query(() => Rollout)
  rollout(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Rollout> {
    return this.services.rollouts.byId(ctx, id);
  }

  @Authorized()
  @Query(() => RolloutConnection, { description: "A project's rollouts, newest first" })
  rollouts(@Ctx() ctx: RequestContext, @Args() args: RolloutsArgs): Promise<ConnectionResult<Rollout>> {
    return this.services.rollouts.list(ctx, args);
  }

  @Authorized()
  @Query(() => ApprovalRequestConnection, { description: "A project's approval requests, newest first" })
  approvalRequests(
    @Ctx() ctx: RequestContext,
    @Args() args: ApprovalRequestsArgs,
  ): Promise<ConnectionResult<ApprovalRequest>> {
    return this.services.rollouts.approvals(ctx, args);
  }

  @Authorized()
  @Query(() => ServedVersion, {
    description: 'Which version, and what split, served an endpoint at an instant',
  })
  servedVersion(
    @Ctx() ctx: RequestContext,
    @Arg('endpoint') endpoint: string,
    @Arg('at', () => Date) at: Date,
  ): Promise<ServedVersion> {
    return this.services.rollouts.servedVersion(ctx, endpoint, at);
  }

  @Authorized()
  @FieldResolver(() => [RolloutEvent], { description: 'Everything that happened to it, oldest first' })
  events(@Ctx() ctx: RequestContext, @Root() rollout: Rollout): Promise<RolloutEvent[]> {
    return this.loaders.events(ctx).load(rollout.id);
  }

  @Authorized()
  @FieldResolver(() => [ApprovalRequest])
  approvals(@Ctx() ctx: RequestContext, @Root() rollout: Rollout): Promise<ApprovalRequest[]> {
    return this.loaders.approvals(ctx).load(rollout.id);
  }

  @Authorized()
  @FieldResolver(() => ModelVersion)
  fromVersion(@Ctx() ctx: RequestContext, @Root() rollout: Rollout): Promise<ModelVersion> {
    return this.services.models.versionById(ctx, rollout.fromVersionId);
  }

  @Authorized()
  @FieldResolver(() => ModelVersion)
  toVersion(@Ctx() ctx: RequestContext, @Root() rollout: Rollout): Promise<ModelVersion> {
    return this.services.models.versionById(ctx, rollout.toVersionId);
  }

  @Authorized()
  @Subscription(() => RolloutChange, {
    description: 'Rollouts of a project as they move: steps, analyses, approvals, promotion, rollback',
    subscribe: ({
      args,
      context,
      info,
    }: SubscribeResolverData<unknown, RolloutChangedArgs, RequestContext>) =>
      servicesOf(info.schema).rolloutSubscriptions.changes(context, args),
  })
  rolloutChanged(@Root() change: RolloutChanged, @Args() _args: RolloutChangedArgs): RolloutChanged {
    return change;
  }
}
