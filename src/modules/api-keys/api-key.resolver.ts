import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import { requireId } from '../../common/validate';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { ApiKey } from './api-key.entity';
import { CreateApiKeyInput, CreatedApiKey, Me } from './api-key.types';

@Resolver()
export class ApiKeyResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => Me)
  me(@Ctx() ctx: RequestContext): Me {
    return ctx.caller;
  }

  @Can('create', 'ApiKey')
  @Mutation(() => CreatedApiKey)
  createApiKey(@Ctx() ctx: RequestContext, @Arg('input') input: CreateApiKeyInput): Promise<CreatedApiKey> {
    return this.services.apiKeys.create(ctx, input);
  }

  @Can('delete', 'ApiKey')
  @Mutation(() => ApiKey)
  revokeApiKey(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<ApiKey> {
    return this.services.apiKeys.revoke(ctx, requireId('id', id));
  }
}
