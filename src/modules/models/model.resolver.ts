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
import { ModelCardInput, ModelCardView } from './model-card.types';
import { Model, ModelAlias, ModelVersion } from './model.entity';
import {
  AliasHistoryArgs,
  CreateModelInput,
  ModelAliasConnection,
  ModelConnection,
  ModelsArgs,
  RegisterModelVersionInput,
} from './model.types';

/** `Project.models`. */
@Resolver(() => Project)
export class ProjectModelsResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @FieldResolver(() => [Model], {
    name: 'models',
    description: 'Models of this project the caller can read, newest first',
  })
  projectModels(@Ctx() ctx: RequestContext, @Root() project: Project): Promise<Model[]> {
    return this.services.models.modelsOf(ctx, project);
  }
}

/** `ModelVersion.model` and `ModelVersion.aliases`. */
@Resolver(() => ModelVersion)
export class ModelVersionResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @FieldResolver(() => Model, { name: 'model' })
  versionModel(@Ctx() ctx: RequestContext, @Root() version: ModelVersion): Promise<Model> {
    return this.services.models.modelOf(ctx, version);
  }

  @Authorized()
  @FieldResolver(() => [ModelAlias], {
    name: 'aliases',
    description: 'Aliases that point at this version now',
  })
  versionAliases(@Ctx() ctx: RequestContext, @Root() version: ModelVersion): Promise<ModelAlias[]> {
    return this.services.models.aliasesOfVersion(ctx, version);
  }
}

@Resolver(() => Model)
export class ModelResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => Model)
  model(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Model> {
    return this.services.models.byId(ctx, id);
  }

  @Authorized()
  @Query(() => ModelVersion)
  modelVersion(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<ModelVersion> {
    return this.services.models.versionById(ctx, id);
  }

  @Authorized()
  @Query(() => ModelConnection, { description: 'Models of a project (slug or id), newest first' })
  models(@Ctx() ctx: RequestContext, @Args() args: ModelsArgs): Promise<ConnectionResult<Model>> {
    return this.services.models.list(ctx, args.project, args);
  }

  @Authorized()
  @Query(() => ModelAliasConnection, {
    description: 'Alias assignments of a model, newest first; with `at`, those in force at that instant',
  })
  aliasHistory(
    @Ctx() ctx: RequestContext,
    @Args() args: AliasHistoryArgs,
  ): Promise<ConnectionResult<ModelAlias>> {
    return this.services.models.aliasHistory(ctx, args);
  }

  @Authorized()
  @Query(() => ModelCardView, {
    description: "A version's model card: structured sections, completeness and a Markdown export",
  })
  modelCard(
    @Ctx() ctx: RequestContext,
    @Arg('versionId', () => ID) versionId: string,
  ): Promise<ModelCardView> {
    return this.services.modelCards.modelCard(ctx, versionId);
  }

  @Can('create', 'Model')
  @Mutation(() => Model)
  createModel(@Ctx() ctx: RequestContext, @Arg('input') input: CreateModelInput): Promise<Model> {
    return this.services.models.create(ctx, input);
  }

  @Can('create', 'Model')
  @Mutation(() => ModelVersion, {
    description: 'Registers the next version of a model from an uploaded ONNX artifact',
  })
  registerModelVersion(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: RegisterModelVersionInput,
  ): Promise<ModelVersion> {
    return this.services.models.registerVersion(ctx, input);
  }

  @Can('update', 'Model')
  @Mutation(() => ModelAlias, {
    nullable: true,
    description:
      'Points an alias at a version (closing its previous assignment), or removes it when versionId is null. ' +
      'Returns the assignment now in force, or the one just closed when removing (null if there was none).',
  })
  setModelAlias(
    @Ctx() ctx: RequestContext,
    @Arg('modelId', () => ID) modelId: string,
    @Arg('alias') alias: string,
    @Arg('versionId', () => ID, { nullable: true }) versionId: string | null,
  ): Promise<ModelAlias | null> {
    return this.services.models.setAlias(ctx, modelId, alias, versionId);
  }

  @Can('update', 'Model')
  @Mutation(() => ModelCardView, {
    description:
      "Replaces a version's model card with a structured one; omitted training datasets and evaluation " +
      'metrics are filled from its lineage (dataset version, run)',
  })
  updateModelCard(
    @Ctx() ctx: RequestContext,
    @Arg('versionId', () => ID) versionId: string,
    @Arg('card', () => ModelCardInput) card: ModelCardInput,
  ): Promise<ModelCardView> {
    return this.services.modelCards.updateModelCard(ctx, versionId, card);
  }

  @Authorized()
  @FieldResolver(() => [ModelVersion], { name: 'versions', description: 'The latest versions, newest first' })
  modelVersions(
    @Ctx() ctx: RequestContext,
    @Root() model: Model,
    @Arg('first', () => Int, { nullable: true, defaultValue: DEFAULT_PAGE_SIZE }) first: number | null,
  ): Promise<ModelVersion[]> {
    return this.services.models.versionsOf(ctx, model, first ?? DEFAULT_PAGE_SIZE);
  }

  @Authorized()
  @FieldResolver(() => [ModelAlias], { name: 'aliases', description: 'The aliases in force now' })
  modelAliases(@Ctx() ctx: RequestContext, @Root() model: Model): Promise<ModelAlias[]> {
    return this.services.models.aliasesOfModel(ctx, model);
  }
}
