import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import {
  BadInputError,
  ConflictError,
  type DomainError,
  NotFoundError,
  fromDatabaseError,
} from '../../common/errors';
import { paginate, type ConnectionResult, type PageArgs, MAX_PAGE_SIZE } from '../../common/pagination';
import { requireId, requireJsonObject, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { ArtifactService } from '../artifacts/artifact.service';
import { datasetVersionInProject } from '../datasets/dataset.repository';
import type { GoldenReport } from '../inference/golden-samples';
import type { InferenceRuntime, RuntimeVersion } from '../inference/inference-runtime';
import { ServingPlan } from '../inference/serving-plan';
import type { Platform } from '../../platform/platform';
import type { Project } from '../projects/project.entity';
import type { ProjectService } from '../projects/project.service';
import { runInProject } from '../runs/run.repository';
import type { Lineage } from '../runs/run.types';
import { modelVersionLineage } from './model-lineage';
import { MAX_MODEL_CARD_BYTES } from './model-card';
import {
  canonicalJson,
  preprocessingHash,
  requireAliasName,
  requireMetrics,
  requireNames,
} from './model-input';
import { openModel, runGolden, sourceOf } from './model-source';
import {
  ModelFormat,
  Model,
  ModelAlias,
  ModelVersion,
  ModelVersionStatus,
  type ModelTask,
} from './model.entity';
import { ModelLoaders, versionsOfRuns } from './model.loaders';
import type { AliasHistoryArgs, CreateModelInput, RegisterModelVersionInput } from './model.types';

const notFound = (what: string, id: string, field: string): DomainError => new NotFoundError(what, id, field);

export interface ModelServiceDeps extends Platform {
  projects: ProjectService;
  artifacts: ArtifactService;
  runtime: InferenceRuntime;
}

/**
 * Models, their numbered versions (ONNX artifact, signature, lineage) and aliases with full history.
 * Model cards are `ModelCardService`'s.
 */
export class ModelService {
  private readonly loaders: ModelLoaders;
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;
  private readonly projects: ProjectService;
  private readonly artifacts: ArtifactService;
  private readonly runtime: InferenceRuntime;

  constructor(deps: ModelServiceDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.work = deps.work;
    this.projects = deps.projects;
    this.artifacts = deps.artifacts;
    this.runtime = deps.runtime;
    this.loaders = new ModelLoaders(deps.db);
  }

  /** Model versions a run produced, those the caller may read (the run itself is the caller's to read). */
  async outputsOfRun(ctx: RequestContext, runId: string): Promise<ModelVersion[]> {
    const versions = await versionsOfRuns(ctx, this.db).load(runId);
    return versions.filter((v) => ctx.can('read', 'Model', v.projectId));
  }

  async create(ctx: RequestContext, input: CreateModelInput): Promise<Model> {
    const project = await this.projects.resolve(ctx, input.project);
    ctx.authorize('create', 'Model', project.id);
    const model = this.db.getRepository(Model).create({
      projectId: project.id,
      name: requireText('name', input.name),
      task: input.task,
      description: input.description?.trim() ? requireText('description', input.description, 10_000) : null,
    });
    const creating = { operation: 'createModel', key: input.idempotencyKey, args: input };
    try {
      return await this.work.create(ctx, { ...creating, entity: Model }, async (tx) => {
        const { manager } = tx;
        await manager.insert(Model, model);
        tx.audit({
          action: 'createModel',
          subjectType: 'Model',
          subjectId: model.id,
          projectId: model.projectId,
          after: { name: model.name, task: model.task, description: model.description },
        });
        return model;
      });
    } catch (error) {
      const mapped = fromDatabaseError(error);
      if (mapped instanceof ConflictError) {
        throw new ConflictError(
          `a model named "${model.name}" already exists in project ${project.slug}`,
          'name',
        );
      }
      throw error;
    }
  }

  /**
   * Registers the next version of a model. The artifact is opened with onnxruntime to read its
   * signature before the transaction; the version number is taken under a lock on the model row.
   */
  async registerVersion(ctx: RequestContext, input: RegisterModelVersionInput): Promise<ModelVersion> {
    const model = await this.readableModel(ctx, requireId('modelId', input.modelId), 'modelId');
    ctx.authorize('create', 'Model', model.projectId);
    let featureNames = requireNames('featureNames', input.featureNames);
    const labels = requireNames('labels', input.labels);
    const metrics = requireMetrics('metrics', input.metrics);
    const preprocessing =
      input.preprocessing == null ? null : requireJsonObject('preprocessing', input.preprocessing);
    const hash = preprocessing ? preprocessingHash(preprocessing) : null;
    const modelCard =
      input.modelCard == null ? null : requireJsonObject('modelCard', input.modelCard, MAX_MODEL_CARD_BYTES);
    if (modelCard) canonicalJson(modelCard, 'modelCard');
    const runId = input.runId == null ? null : requireId('runId', input.runId);
    const datasetVersionId =
      input.datasetVersionId == null ? null : requireId('datasetVersionId', input.datasetVersionId);
    const goldenSamples = input.goldenSamples ?? [];

    const { source, artifact, remote, signature } = await openModel(input, model.projectId, {
      artifacts: this.artifacts,
      runtime: this.runtime,
    });
    const servable = { task: model.task, signature, featureNames, labels, preprocessing };
    const plan =
      preprocessing || featureNames.length || goldenSamples.length ? ServingPlan.build(servable) : null;
    if (plan && preprocessing && !featureNames.length) featureNames = plan.preprocessor.featureNames;
    let status = ModelVersionStatus.REGISTERED;
    let validation: GoldenReport | null = null;
    if (plan && goldenSamples.length) {
      validation = await runGolden(this.runtime, source, plan, goldenSamples);
      status = validation.failed === 0 ? ModelVersionStatus.VALIDATED : ModelVersionStatus.REJECTED;
    }

    const creating = { operation: 'registerModelVersion', key: input.idempotencyKey, args: input };
    return this.work.create(ctx, { ...creating, entity: ModelVersion }, async (tx) => {
      const { manager } = tx;
      await this.lockModel(manager, model.id);
      if (runId && !(await runInProject(manager, runId, model.projectId))) {
        throw new BadInputError('runId', "names no run in the model's project");
      }
      if (datasetVersionId && !(await datasetVersionInProject(manager, datasetVersionId, model.projectId))) {
        throw new BadInputError('datasetVersionId', "names no dataset version in the model's project");
      }
      const latest = await manager
        .createQueryBuilder(ModelVersion, 'v')
        .select('MAX(v.version)', 'max')
        .where('v.modelId = :modelId', { modelId: model.id })
        .getRawOne<{ max: number | null }>();
      const version = manager.create(ModelVersion, {
        modelId: model.id,
        projectId: model.projectId,
        version: (latest?.max ?? 0) + 1,
        artifactSha256: artifact?.sha256 ?? null,
        artifactSize: artifact?.size ?? null,
        remote,
        format: remote ? ModelFormat.REMOTE_OIP : ModelFormat.ONNX,
        signature,
        featureNames,
        labels,
        preprocessing,
        preprocessingHash: hash,
        runId,
        datasetVersionId,
        metrics,
        status,
        validation: validation as Record<string, unknown> | null,
        modelCard,
      });
      await manager.save(version);
      tx.emit({
        type: 'model-version.registered',
        stream: `model:${model.id}`,
        projectId: model.projectId,
        payload: {
          projectId: model.projectId,
          modelId: model.id,
          modelName: model.name,
          versionId: version.id,
          version: version.version,
          status: version.status,
          runId,
        },
      });
      tx.audit({
        action: 'registerModelVersion',
        subjectType: 'ModelVersion',
        subjectId: version.id,
        projectId: version.projectId,
        after: {
          modelId: model.id,
          version: version.version,
          artifactSha256: version.artifactSha256,
          remote: version.remote,
          status: version.status,
          runId,
          datasetVersionId,
        },
      });
      return version;
    });
  }

  /**
   * Points `alias` at a version of the model, closing the row it held until now; with a null
   * `versionId`, removes it. Returns the alias row now in force, the row just closed when removing,
   * or null when there was nothing to remove.
   */
  async setAlias(
    ctx: RequestContext,
    modelId: string,
    alias: string,
    versionId: string | null | undefined,
  ): Promise<ModelAlias | null> {
    const model = await this.readableModel(ctx, requireId('modelId', modelId), 'modelId');
    ctx.authorize('update', 'Model', model.projectId);
    const name = requireAliasName('alias', alias);
    const target = versionId == null ? null : requireId('versionId', versionId);

    return this.work.run(ctx, (tx) => this.moveAlias(tx, model, name, target));
  }

  /**
   * Points `alias` at `versionId` (or removes it) inside a change under way, closing the row it held:
   * alias history stays whole whether a person or a rollout moves it.
   */
  async moveAlias(
    tx: Change,
    model: Pick<Model, 'id' | 'projectId' | 'name'>,
    alias: string,
    versionId: string | null,
  ): Promise<ModelAlias | null> {
    const { manager } = tx;
    const keyId = tx.ctx.actingKeyId;
    await this.lockModel(manager, model.id);
    if (versionId) {
      const version = await manager.findOneBy(ModelVersion, { id: versionId });
      if (!version || version.modelId !== model.id) {
        throw new BadInputError('versionId', `is not a version of model ${model.name}`);
      }
    }
    const current = await manager.findOneBy(ModelAlias, { modelId: model.id, alias, validTo: IsNull() });
    if (current && current.versionId === versionId) return current;
    if (!current && !versionId) return null;
    tx.audit({
      action: 'setModelAlias',
      subjectType: 'Model',
      subjectId: model.id,
      projectId: model.projectId,
      before: { alias, versionId: current?.versionId ?? null },
      after: { alias, versionId },
    });
    tx.emit({
      type: 'model-alias.moved',
      stream: `model:${model.id}`,
      projectId: model.projectId,
      payload: {
        projectId: model.projectId,
        modelId: model.id,
        modelName: model.name,
        alias,
        fromVersionId: current?.versionId ?? null,
        toVersionId: versionId,
      },
    });
    const now = this.now();
    if (current) {
      await manager.update(ModelAlias, { id: current.id }, { validTo: now });
      current.validTo = now;
    }
    if (!versionId) return current;
    const row = manager.create(ModelAlias, {
      modelId: model.id,
      projectId: model.projectId,
      alias,
      versionId,
      validFrom: now,
      validTo: null,
      assignedByKeyId: keyId,
    });
    await manager.save(row);
    return row;
  }

  async byId(ctx: RequestContext, id: string): Promise<Model> {
    return this.readableModel(ctx, requireId('id', id), 'id');
  }

  async versionById(ctx: RequestContext, id: string): Promise<ModelVersion> {
    return this.readableVersion(ctx, requireId('id', id), 'id');
  }

  /** Models of a project (slug or id), newest first. */
  async list(ctx: RequestContext, projectRef: string, page: PageArgs): Promise<ConnectionResult<Model>> {
    const project = await this.projects.resolve(ctx, projectRef, 'Model');
    const qb = this.db
      .getRepository(Model)
      .createQueryBuilder('m')
      .where('m.projectId = :projectId', { projectId: project.id });
    return paginate(qb, page);
  }

  /**
   * Alias assignments of a model, newest first; with `at`, only those whose [validFrom, validTo)
   * contains that instant, i.e. which version held each alias then.
   */
  async aliasHistory(ctx: RequestContext, args: AliasHistoryArgs): Promise<ConnectionResult<ModelAlias>> {
    const model = await this.readableModel(ctx, requireId('modelId', args.modelId), 'modelId');
    const qb = this.db
      .getRepository(ModelAlias)
      .createQueryBuilder('a')
      .where('a.modelId = :modelId', { modelId: model.id });
    if (args.alias != null) qb.andWhere('a.alias = :alias', { alias: requireAliasName('alias', args.alias) });
    if (args.at != null) {
      if (Number.isNaN(args.at.getTime())) throw new BadInputError('at', 'is not a valid instant');
      qb.andWhere('a.validFrom <= :at AND (a.validTo IS NULL OR a.validTo > :at)', { at: args.at });
    }
    return paginate(qb, { first: args.first, after: args.after }, { keys: ['validFrom', 'id'] });
  }

  /** `Project.models`: batched across the projects of one request. */
  modelsOf(ctx: RequestContext, project: Project): Promise<Model[]> {
    return this.loaders.modelsByProject(ctx).load(project.id);
  }

  /** `Model.versions(first)`: the latest `first` versions, batched across models. */
  versionsOf(ctx: RequestContext, model: Model, first: number): Promise<ModelVersion[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
      throw new BadInputError('first', `must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`);
    }
    return this.loaders.latestVersions(ctx, first).load(model.id);
  }

  /** `Model.aliases`: the aliases in force now. */
  aliasesOfModel(ctx: RequestContext, model: Model): Promise<ModelAlias[]> {
    return this.loaders.currentAliasesByModel(ctx).load(model.id);
  }

  /** `ModelVersion.aliases`: the aliases in force now that point at this version. */
  aliasesOfVersion(ctx: RequestContext, version: ModelVersion): Promise<ModelAlias[]> {
    return this.loaders.currentAliasesByVersion(ctx).load(version.id);
  }

  /** `ModelVersion.model`. */
  /** Where a model version came from: its run and the dataset versions upstream (see model-lineage.ts). */
  lineage(ctx: RequestContext, modelVersionId: string): Promise<Lineage> {
    return modelVersionLineage(this.db.manager, ctx, modelVersionId);
  }

  async modelOf(ctx: RequestContext, version: ModelVersion): Promise<Model> {
    const model = await this.loaders.modelById(ctx).load(version.modelId);
    if (!model || !ctx.can('read', 'Model', model.projectId))
      throw new NotFoundError('Model', version.modelId);
    return model;
  }

  /** A model the caller may read, or NOT_FOUND naming `field` (no existence leak across projects). */
  private async readableModel(ctx: RequestContext, id: string, field: string): Promise<Model> {
    const model = await this.loaders.modelById(ctx).load(id);
    if (!model || !ctx.can('read', 'Model', model.projectId)) throw notFound('Model', id, field);
    return model;
  }

  /** A version the caller may read, or NOT_FOUND naming `field`. */
  async readableVersion(ctx: RequestContext, id: string, field: string): Promise<ModelVersion> {
    const version = await this.loaders.versionById(ctx).load(id);
    if (!version || !ctx.can('read', 'Model', version.projectId)) throw notFound('ModelVersion', id, field);
    return version;
  }

  /** Serializes version numbering and alias moves per model. */
  private async lockModel(manager: EntityManager, id: string): Promise<void> {
    const locked = await manager
      .createQueryBuilder(Model, 'm')
      .setLock('pessimistic_write')
      .where('m.id = :id', { id })
      .getOne();
    if (!locked) throw notFound('Model', id, 'modelId');
  }

  /** What the runtime needs to serve a version of this model. */
  runtimeVersion(version: ModelVersion, task: ModelTask): RuntimeVersion {
    return {
      id: version.id,
      projectId: version.projectId,
      task,
      signature: version.signature,
      featureNames: version.featureNames,
      labels: version.labels,
      preprocessing: version.preprocessing,
      source: sourceOf(version, this.artifacts),
    };
  }
}
