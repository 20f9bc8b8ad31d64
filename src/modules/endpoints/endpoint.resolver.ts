import { Arg, Args, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { VersionAccuracy } from '../predictions/prediction.types';
import { Model, ModelVersion } from '../models/model.entity';
import { Endpoint, EndpointTraffic } from './endpoint.entity';
import {
  CreateEndpointInput,
  EndpointConnection,
  EndpointsArgs,
  EndpointTrafficConnection,
  SetEndpointTrafficInput,
  TrafficHistoryArgs,
  UpdateEndpointInput,
} from './endpoint.types';

@Resolver(() => Endpoint)
export class EndpointResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => Endpoint, { description: 'An endpoint, by name (or id)' })
  endpoint(@Ctx() ctx: RequestContext, @Arg('name') name: string): Promise<Endpoint> {
    return this.services.endpoints.byName(ctx, name);
  }

  @Authorized()
  @Query(() => EndpointConnection, { description: 'Endpoints of a project (slug or id), newest first' })
  endpoints(@Ctx() ctx: RequestContext, @Args() args: EndpointsArgs): Promise<ConnectionResult<Endpoint>> {
    return this.services.endpoints.list(ctx, args);
  }

  @Can('create', 'Endpoint')
  @Mutation(() => Endpoint, {
    description:
      'Creates an endpoint serving one version of a model; the version is loaded before it answers',
  })
  createEndpoint(@Ctx() ctx: RequestContext, @Arg('input') input: CreateEndpointInput): Promise<Endpoint> {
    return this.services.endpoints.create(ctx, input);
  }

  @Can('update', 'Endpoint')
  @Mutation(() => Endpoint, { description: "Changes an endpoint's SLA, batching or log sampling" })
  updateEndpoint(@Ctx() ctx: RequestContext, @Arg('input') input: UpdateEndpointInput): Promise<Endpoint> {
    return this.services.endpoints.update(ctx, input);
  }

  @Can('deploy', 'Endpoint')
  @Mutation(() => Endpoint, {
    description:
      'Sets the whole traffic split: stable version, optional canary with its weight (sticky per request key), optional shadow',
  })
  setEndpointTraffic(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: SetEndpointTrafficInput,
  ): Promise<Endpoint> {
    return this.services.endpoints.setTraffic(ctx, input);
  }

  @Authorized()
  @FieldResolver(() => Model)
  model(@Ctx() ctx: RequestContext, @Root() endpoint: Endpoint): Promise<Model> {
    return this.services.models.byId(ctx, endpoint.modelId);
  }

  @Authorized()
  @FieldResolver(() => ModelVersion)
  stableVersion(@Ctx() ctx: RequestContext, @Root() endpoint: Endpoint): Promise<ModelVersion> {
    return this.services.models.versionById(ctx, endpoint.stableVersionId);
  }

  @Authorized()
  @FieldResolver(() => ModelVersion, { nullable: true })
  canaryVersion(@Ctx() ctx: RequestContext, @Root() endpoint: Endpoint): Promise<ModelVersion> | null {
    return endpoint.canaryVersionId ? this.services.models.versionById(ctx, endpoint.canaryVersionId) : null;
  }

  @Authorized()
  @FieldResolver(() => ModelVersion, { nullable: true })
  shadowVersion(@Ctx() ctx: RequestContext, @Root() endpoint: Endpoint): Promise<ModelVersion> | null {
    return endpoint.shadowVersionId ? this.services.models.versionById(ctx, endpoint.shadowVersionId) : null;
  }

  @Authorized()
  @FieldResolver(() => EndpointTrafficConnection, {
    description: 'Traffic splits over time, newest first; with `at`, the one in force then',
  })
  trafficHistory(
    @Root() endpoint: Endpoint,
    @Args() args: TrafficHistoryArgs,
  ): Promise<ConnectionResult<EndpointTraffic>> {
    return this.services.endpoints.trafficHistory(endpoint, args);
  }

  @Authorized()
  @FieldResolver(() => [VersionAccuracy], {
    description: 'Per version (and shadow): predictions with a recorded outcome, and how many were right',
  })
  liveAccuracy(
    @Root() endpoint: Endpoint,
    @Arg('since', () => Date, { nullable: true }) since: Date | null,
  ): Promise<VersionAccuracy[]> {
    return this.services.predictions.liveAccuracy(endpoint.id, since);
  }
}
