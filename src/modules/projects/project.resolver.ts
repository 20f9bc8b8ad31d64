import { Arg, Args, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import { PageArgs, type ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { Project } from './project.entity';
import { CreateProjectInput, ProjectConnection } from './project.types';

@Resolver(() => Project)
export class ProjectResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => ProjectConnection, { description: 'Projects the caller can read, newest first' })
  projects(@Ctx() ctx: RequestContext, @Args() page: PageArgs): Promise<ConnectionResult<Project>> {
    return this.services.projects.list(ctx, page);
  }

  @Authorized()
  @Query(() => Project)
  project(@Ctx() ctx: RequestContext, @Arg('slug') slug: string): Promise<Project> {
    return this.services.projects.bySlug(ctx, slug);
  }

  @Can('create', 'Project')
  @Mutation(() => Project)
  createProject(@Ctx() ctx: RequestContext, @Arg('input') input: CreateProjectInput): Promise<Project> {
    return this.services.projects.create(ctx, input);
  }
}
