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
import type { AuditService } from '../audit/audit.service';
import type { ProjectService } from '../projects/project.service';
import { Run } from '../runs/run.entity';
import {
  ModelFormat,
  Model,
  ModelAlias,
  ModelVersion,
  ModelVersionStatus,
  type RemoteModel,
  type ModelTask,
} from './model.entity';
import { runGoldenSamples, type GoldenReport } from '../inference/golden-samples';
import type { InferenceRuntime, ModelSource, RuntimeVersion } from '../inference/inference-runtime';
import { ServingPlan } from '../inference/serving-plan';
import {
  canonicalJson,
  preprocessingHash,
  requireAliasName,
  requireMetrics,
  requireNames,
} from './model-input';
import { ModelLoaders } from './model.loaders';
import type {
  AliasHistoryArgs,
  CreateModelInput,
  GoldenSampleInput,
  RegisterModelVersionInput,
  RemoteModelInput,
} from './model.types';
import { OnnxLoadError, readOnnxSignature, type ModelSignature } from './onnx-signature';

const notFound = (what: string, id: string, field: string): DomainError => new NotFoundError(what, id, field);

const MAX_MODEL_CARD_BYTES = 256 * 1024;

/** Models, their numbered versions (ONNX artifact, signature, lineage) and aliases with full history. */
export class ModelService {
  private readonly loaders: ModelLoaders;

  constructor(
    private readonly db: DataSource,
    private readonly projects: ProjectService,
    private readonly artifacts: ArtifactService,
    private readonly runtime: InferenceRuntime,
    private readonly now: () => Date,
    private readonly audit: AuditService,
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

    const { source, artifact, remote, signature } = await this.openModel(input);
    const servable = { task: model.task, signature, featureNames, labels, preprocessing };
    const plan =
      preprocessing || featureNames.length || goldenSamples.length ? ServingPlan.build(servable) : null;
    if (plan && preprocessing && !featureNames.length) featureNames = plan.preprocessor.featureNames;
    let status = ModelVersionStatus.REGISTERED;
    let validation: GoldenReport | null = null;
    if (plan && goldenSamples.length) {
      validation = await this.runGolden(source, plan, goldenSamples);
      status = validation.failed === 0 ? ModelVersionStatus.VALIDATED : ModelVersionStatus.REJECTED;
    }

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

    return this.db.transaction((manager) =>
      this.moveAlias(manager, model, name, target, ctx.caller.keyId, ctx.requestId),
    );
  }

  /**
   * Points `alias` at `versionId` (or removes it) inside the caller's transaction, closing the row it
   * held: alias history stays whole whether a person or a rollout moves it.
   */
  async moveAlias(
    manager: EntityManager,
    model: Pick<Model, 'id' | 'projectId' | 'name'>,
    alias: string,
    versionId: string | null,
    keyId: string | null,
    requestId: string,
  ): Promise<ModelAlias | null> {
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
    await this.audit.recordAs(manager, keyId, requestId, {
      action: 'setModelAlias',
      subjectType: 'Model',
      subjectId: model.id,
      projectId: model.projectId,
      before: { alias, versionId: current?.versionId ?? null },
      after: { alias, versionId },
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

  /** The artifact (or remote model) a registration names, and its signature. */
  private async openModel(input: RegisterModelVersionInput): Promise<{
    source: ModelSource;
    artifact: { sha256: string; size: number } | null;
    remote: RemoteModel | null;
    signature: ModelSignature;
  }> {
    if ((input.artifactSha256 == null) === (input.remote == null))
      throw new BadInputError('artifactSha256', 'give either artifactSha256 (an ONNX artifact) or remote');
    if (input.artifactSha256 != null) {
      const { artifact, path } = await this.locateArtifact(input.artifactSha256);
      const signature = await this.readSignature(path);
      return { source: { kind: 'onnx', sha256: artifact.sha256, path }, artifact, remote: null, signature };
    }
    const remote = requireRemote(input.remote!);
    const source: ModelSource = { kind: 'oip', ...remote };
    const signature = await this.runtime.remoteSignature(source);
    return { source, artifact: null, remote, signature };
  }

  private async runGolden(
    source: ModelSource,
    plan: ServingPlan,
    samples: GoldenSampleInput[],
  ): Promise<GoldenReport> {
    try {
      return await runGoldenSamples(this.runtime, source, plan, samples);
    } catch (error) {
      if (error instanceof OnnxLoadError)
        throw new BadInputError('artifactSha256', `is not a loadable ONNX model: ${error.reason}`);
      throw error;
    }
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

/** Where the runtime finds a version's model. */
export function sourceOf(version: ModelVersion, artifacts: ArtifactService): ModelSource {
  if (version.remote) return { kind: 'oip', ...version.remote };
  return {
    kind: 'onnx',
    sha256: version.artifactSha256!,
    path: artifacts.store.pathOf(version.artifactSha256!),
  };
}

const MAX_REMOTE_TIMEOUT_MS = 60_000;
const DEFAULT_REMOTE_TIMEOUT_MS = 2_000;

function requireRemote(input: RemoteModelInput): RemoteModel {
  const url = requireText('remote.url', input.url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadInputError('remote.url', 'must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new BadInputError('remote.url', 'must be an absolute http(s) URL');
  if (parsed.username || parsed.password) throw new BadInputError('remote.url', 'must not carry credentials');
  const timeoutMs = input.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_REMOTE_TIMEOUT_MS)
    throw new BadInputError('remote.timeoutMs', `must be 1 to ${MAX_REMOTE_TIMEOUT_MS}`);
  return {
    url: parsed.origin + parsed.pathname.replace(/\/+$/, ''),
    model: requireText('remote.model', input.model),
    version: input.version == null ? null : requireText('remote.version', input.version),
    timeoutMs,
  };
}
