import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import {
  BadInputError,
  ConflictError,
  DomainError,
  ErrorCode,
  NotFoundError,
  fromDatabaseError,
} from '../../common/errors';
import { paginate, type ConnectionResult, type PageArgs, MAX_PAGE_SIZE } from '../../common/pagination';
import { requireId, requireJsonObject, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { ArtifactService } from '../artifacts/artifact.service';
import { DatasetVersion } from '../datasets/dataset.entity';
import type { Project } from '../projects/project.entity';
import type { ProjectService } from '../projects/project.service';
import { Run } from '../runs/run.entity';
import { ModelFormat, Model, ModelAlias, ModelVersion, ModelVersionStatus } from './model.entity';
import {
  canonicalJson,
  preprocessingHash,
  requireAliasName,
  requireMetrics,
  requireNames,
} from './model-input';
import { ModelLoaders } from './model.loaders';
import type { AliasHistoryArgs, CreateModelInput, RegisterModelVersionInput } from './model.types';
import { OnnxLoadError, readOnnxSignature, type ModelSignature } from './onnx-signature';

/** NOT_FOUND that also names the input field which pointed at nothing. */
function notFound(what: string, id: string, field: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, `${what} ${id} not found (${field})`, { field });
}

const MAX_MODEL_CARD_BYTES = 256 * 1024;

/** Models, their numbered versions (ONNX artifact, signature, lineage) and aliases with full history. */
export class ModelService {
  private readonly loaders: ModelLoaders;

  constructor(
    private readonly db: DataSource,
    private readonly projects: ProjectService,
    private readonly artifacts: ArtifactService,
    private readonly now: () => Date,
  ) {
    this.loaders = new ModelLoaders(db);
  }

  async create(ctx: RequestContext, input: CreateModelInput): Promise<Model> {
    const project = await this.projects.resolve(ctx, input.project);
    ctx.authorize('create', 'Model', project.id);
    const repo = this.db.getRepository(Model);
    const model = repo.create({
      projectId: project.id,
      name: requireText('name', input.name),
      task: input.task,
      description: input.description?.trim() || null,
    });
    try {
      await repo.insert(model);
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
    return model;
  }

  /**
   * Registers the next version of a model. The artifact is opened with onnxruntime to read its
   * signature before the transaction; the version number is taken under a lock on the model row.
   */
  async registerVersion(ctx: RequestContext, input: RegisterModelVersionInput): Promise<ModelVersion> {
    const model = await this.readableModel(ctx, requireId('modelId', input.modelId), 'modelId');
    ctx.authorize('create', 'Model', model.projectId);
    const featureNames = requireNames('featureNames', input.featureNames);
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

    const { artifact, path } = await this.locateArtifact(input.artifactSha256);
    const signature = await this.readSignature(path);
    checkFeatureCount(signature, featureNames);

    return this.db.transaction(async (manager) => {
      await this.lockModel(manager, model.id);
      if (runId && !(await manager.existsBy(Run, { id: runId, projectId: model.projectId }))) {
        throw new BadInputError('runId', "names no run in the model's project");
      }
      if (
        datasetVersionId &&
        !(await manager.existsBy(DatasetVersion, { id: datasetVersionId, projectId: model.projectId }))
      ) {
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
        artifactSha256: artifact.sha256,
        artifactSize: artifact.size,
        format: ModelFormat.ONNX,
        signature,
        featureNames,
        labels,
        preprocessing,
        preprocessingHash: hash,
        runId,
        datasetVersionId,
        metrics,
        status: ModelVersionStatus.REGISTERED,
        modelCard,
      });
      await manager.save(version);
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

    return this.db.transaction(async (manager) => {
      await this.lockModel(manager, model.id);
      if (target) {
        const version = await manager.findOneBy(ModelVersion, { id: target });
        if (!version || version.modelId !== model.id) {
          throw new BadInputError('versionId', `is not a version of model ${model.name}`);
        }
      }
      const current = await manager.findOneBy(ModelAlias, {
        modelId: model.id,
        alias: name,
        validTo: IsNull(),
      });
      if (current && current.versionId === target) return current;
      const now = this.now();
      if (current) {
        await manager.update(ModelAlias, { id: current.id }, { validTo: now });
        current.validTo = now;
      }
      if (!target) return current;
      const row = manager.create(ModelAlias, {
        modelId: model.id,
        projectId: model.projectId,
        alias: name,
        versionId: target,
        validFrom: now,
        validTo: null,
        assignedByKeyId: ctx.caller.keyId,
      });
      await manager.save(row);
      return row;
    });
  }

  async byId(ctx: RequestContext, id: string): Promise<Model> {
    return this.readableModel(ctx, requireId('id', id), 'id');
  }

  async versionById(ctx: RequestContext, id: string): Promise<ModelVersion> {
    const versionId = requireId('id', id);
    const version = await this.loaders.versionById(ctx).load(versionId);
    if (!version || !ctx.can('read', 'Model', version.projectId))
      throw notFound('ModelVersion', versionId, 'id');
    return version;
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

  /** Serializes version numbering and alias moves per model. */
  private async lockModel(manager: EntityManager, id: string): Promise<void> {
    const locked = await manager
      .createQueryBuilder(Model, 'm')
      .setLock('pessimistic_write')
      .where('m.id = :id', { id })
      .getOne();
    if (!locked) throw notFound('Model', id, 'modelId');
  }

  private async locateArtifact(
    sha256: string,
  ): Promise<{ artifact: { sha256: string; size: number }; path: string }> {
    try {
      return await this.artifacts.locate(sha256, 'artifactSha256');
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.NOT_FOUND) {
        throw new DomainError(ErrorCode.NOT_FOUND, error.message, { field: 'artifactSha256' });
      }
      throw error;
    }
  }

  private async readSignature(path: string): Promise<ModelSignature> {
    try {
      return await readOnnxSignature(path);
    } catch (error) {
      if (error instanceof OnnxLoadError) {
        throw new BadInputError('artifactSha256', `is not a loadable ONNX model: ${error.reason}`);
      }
      throw error;
    }
  }
}

/** Feature names, when given, must match a single 2-D input with a fixed width. */
function checkFeatureCount(signature: ModelSignature, featureNames: string[]): void {
  if (!featureNames.length || signature.inputs.length !== 1) return;
  const shape = signature.inputs[0].shape;
  const width = shape.length === 2 ? shape[1] : null;
  if (width !== null && width !== featureNames.length) {
    throw new BadInputError(
      'featureNames',
      `names ${featureNames.length} features but input "${signature.inputs[0].name}" has ${width}`,
    );
  }
}
