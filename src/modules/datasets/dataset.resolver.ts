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
} from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import { DEFAULT_PAGE_SIZE, type ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { Project } from '../projects/project.entity';
import { Dataset, DatasetVersion } from './dataset.entity';
import {
  CreateDatasetInput,
  DatasetConnection,
  DatasetsArgs,
  RegisterDatasetVersionInput,
} from './dataset.types';

@Resolver(() => Dataset)
export class DatasetResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => DatasetConnection, { description: "A project's datasets, newest first" })
  datasets(@Ctx() ctx: RequestContext, @Args() args: DatasetsArgs): Promise<ConnectionResult<Dataset>> {
    return this.services.datasets.list(ctx, args);
  }

  @Authorized()
  @Query(() => Dataset)
  dataset(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Dataset> {
    return this.services.datasets.byId(ctx, id);
  }

  @Authorized()
  @Query(() => DatasetVersion)
  datasetVersion(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<DatasetVersion> {
    return this.services.datasets.versionById(ctx, id);
  }

  @Can('create', 'Dataset')
  @Mutation(() => Dataset)
  createDataset(@Ctx() ctx: RequestContext, @Arg('input') input: CreateDatasetInput): Promise<Dataset> {
    return this.services.datasets.create(ctx, input);
  }

  @Can('create', 'Dataset')
  @Mutation(() => DatasetVersion, {
    description:
      'Profiles rows given inline or a CSV artifact and records them as the next version of the dataset',
  })
  registerDatasetVersion(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: RegisterDatasetVersionInput,
  ): Promise<DatasetVersion> {
    return this.services.datasets.registerVersion(ctx, input);
  }

  @Authorized()
  @FieldResolver(() => [DatasetVersion], { description: 'The newest versions first' })
  versions(
    @Root() dataset: Dataset,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: DEFAULT_PAGE_SIZE }) first: number | null,
  ): Promise<DatasetVersion[]> {
    return this.services.datasets.versionsOf(ctx, dataset, first);
  }

  @Authorized()
  @FieldResolver(() => Project)
  project(@Root() dataset: Dataset, @Ctx() ctx: RequestContext): Promise<Project> {
    return this.services.projects.byId(ctx, dataset.projectId);
  }
}

@Resolver(() => DatasetVersion)
export class DatasetVersionResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @FieldResolver(() => Dataset, { description: 'The dataset this is a version of' })
  dataset(@Ctx() ctx: RequestContext, @Root() version: DatasetVersion): Promise<Dataset> {
    return this.services.datasets.datasetOf(ctx, version);
  }
}
