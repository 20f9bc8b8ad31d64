import { Arg, Args, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import { PageArgs, type ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { DataPolicy, DataPolicyInput } from '../data-policy/data-policy.types';
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

  @Can('update', 'Project')
  @Mutation(() => Project, {
    description:
      'Replaces the project’s data policy (admins; audited): personal fields are masked in prediction logs and, for callers without the right to read personal data, in synced records; retention periods are applied hourly',
  })
  setDataPolicy(
    @Ctx() ctx: RequestContext,
    @Arg('project', { description: 'The project, by slug or id' }) project: string,
    @Arg('policy') policy: DataPolicyInput,
  ): Promise<Project> {
    return this.services.dataPolicy.set(ctx, project, policy);
  }

  @Authorized()
  @FieldResolver(() => DataPolicy, {
    description: 'Which fields hold personal data, how they are masked, and how long data is kept',
  })
  dataPolicy(@Root() project: Project): DataPolicy {
    return this.services.dataPolicy.view(project);
  }
}
