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
import { isUuid, requireId, requireJsonObject, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { ArtifactService } from '../artifacts/artifact.service';
import { Dataset, DatasetVersion } from '../datasets/dataset.entity';
import type { Project } from '../projects/project.entity';
import type { AuditService } from '../audit/audit.service';
import type { ProjectService } from '../projects/project.service';
import { Run, RunMetric } from '../runs/run.entity';
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
import {
  carriedExtra,
  MAX_MODEL_CARD_BYTES,
  missingSections,
  ModelCardMetricSource,
  readModelCard,
  renderModelCardMarkdown,
  requireModelCard,
  storedModelCard,
  type CardDatasetLink,
  type CardMetric,
} from './model-card';
import type { ModelCardInput, ModelCardView } from './model-card.types';
import { ModelLoaders } from './model.loaders';
import type {
  AliasHistoryArgs,
  CreateModelInput,
  GoldenSampleInput,
  RegisterModelVersionInput,
  RemoteModelInput,
} from './model.types';
import { OnnxLoadError, readOnnxSignature, type ModelSignature } from '../inference/onnx-signature';

/** Most metrics a card takes from a run. */
const MAX_CARD_METRICS = 1_000;

const notFound = (what: string, id: string, field: string): DomainError => new NotFoundError(what, id, field);

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
    const model = this.db.getRepository(Model).create({
      projectId: project.id,
      name: requireText('name', input.name),
      task: input.task,
      description: input.description?.trim() ? requireText('description', input.description, 10_000) : null,
    });
    const creating = { operation: 'createModel', key: input.idempotencyKey, args: input };
    try {
      return await this.audit.createOnce(ctx, { ...creating, entity: Model }, async (manager) => {
        await manager.insert(Model, model);
        return {
          result: model,
          audit: {
            action: 'createModel',
            subjectType: 'Model',
            subjectId: model.id,
            projectId: model.projectId,
            after: { name: model.name, task: model.task, description: model.description },
          },
        };
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

    const { source, artifact, remote, signature } = await this.openModel(input, model.projectId);
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

    const creating = { operation: 'registerModelVersion', key: input.idempotencyKey, args: input };
    return this.audit.createOnce(ctx, { ...creating, entity: ModelVersion }, async (manager) => {
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
      return {
        result: version,
        audit: {
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
        },
      };
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
    return this.readableVersion(ctx, requireId('id', id), 'id');
  }

  /** A version's model card as structured data, its completeness and its Markdown export. */
  async modelCard(ctx: RequestContext, versionId: string): Promise<ModelCardView> {
    const version = await this.readableVersion(ctx, requireId('versionId', versionId), 'versionId');
    const model = await this.modelOf(ctx, version);
    return this.cardView(this.db.manager, model, version);
  }

  /**
   * Replaces a version's model card with a structured one. Omitted lineage is filled from the version:
   * its dataset version for the training data, its run's latest metric values (else the metrics it
   * was registered with) for the evaluation. The card it replaces is the audit event's `before`.
   */
  async updateModelCard(
    ctx: RequestContext,
    versionId: string,
    input: ModelCardInput,
  ): Promise<ModelCardView> {
    const id = requireId('versionId', versionId);
    const found = await this.readableVersion(ctx, id, 'versionId');
    ctx.authorize('update', 'Model', found.projectId);
    const model = await this.modelOf(ctx, found);
    const { card, fillDatasets, fillMetrics, keepExtra } = requireModelCard(input, 'card');

    return this.audit.transaction(ctx, async (manager) => {
      const version = await manager
        .createQueryBuilder(ModelVersion, 'v')
        .setLock('pessimistic_write')
        .where('v.id = :id', { id })
        .getOne();
      if (!version) throw notFound('ModelVersion', id, 'versionId');
      const before = version.modelCard;
      if (fillDatasets) {
        card.trainingData.datasetVersionIds = version.datasetVersionId ? [version.datasetVersionId] : [];
      } else {
        const links = await this.datasetLinks(
          manager,
          version.projectId,
          card.trainingData.datasetVersionIds,
        );
        const unknown = card.trainingData.datasetVersionIds.findIndex((dv) => !links.has(dv));
        if (unknown >= 0)
          throw new BadInputError(
            `card.trainingData.datasetVersionIds.${unknown}`,
            "names no dataset version in the model's project",
          );
      }
      if (fillMetrics) Object.assign(card.evaluation, await this.lineageMetrics(manager, version));
      if (keepExtra) card.extra = carriedExtra(readModelCard(before));
      const after = storedModelCard(card);
      if (JSON.stringify(after).length > MAX_MODEL_CARD_BYTES)
        throw new BadInputError('card', `must be at most ${MAX_MODEL_CARD_BYTES} bytes`);
      const unchanged = before !== null && canonicalJson(before) === canonicalJson(after);
      if (!unchanged) {
        version.modelCard = after;
        await manager.save(version);
      }
      const view = await this.cardView(manager, model, version);
      return {
        result: view,
        audit: unchanged
          ? null
          : {
              action: 'updateModelCard',
              subjectType: 'ModelVersion',
              subjectId: version.id,
              projectId: version.projectId,
              before: { version: version.version, modelCard: before },
              after: { version: version.version, modelCard: after, missing: view.missing },
            },
      };
    });
  }

  private async cardView(
    manager: EntityManager,
    model: Model,
    version: ModelVersion,
  ): Promise<ModelCardView> {
    const card = readModelCard(version.modelCard);
    const datasets = await this.datasetLinks(manager, version.projectId, card.trainingData.datasetVersionIds);
    const missing = missingSections(card);
    const markdown = renderModelCardMarkdown({
      modelName: model.name,
      version: version.version,
      versionId: version.id,
      registeredAt: version.createdAt,
      artifactSha256: version.artifactSha256,
      runId: version.runId,
      card,
      datasets,
      missing,
    });
    return {
      versionId: version.id,
      card: {
        ...card,
        trainingData: {
          ...card.trainingData,
          datasets: card.trainingData.datasetVersionIds.flatMap((dv) => datasets.get(dv) ?? []),
        },
      },
      complete: missing.length === 0,
      missing,
      markdown,
    };
  }

  /** The dataset versions among `ids` that exist in the project, with their dataset's name. */
  private async datasetLinks(
    manager: EntityManager,
    projectId: string,
    ids: readonly string[],
  ): Promise<Map<string, CardDatasetLink>> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return new Map();
    const rows = await manager
      .createQueryBuilder(DatasetVersion, 'dv')
      .innerJoin(Dataset, 'd', 'd.id = dv.datasetId')
      .select(['dv.id AS id', 'dv.datasetId AS "datasetId"', 'd.name AS name', 'dv.version AS version'])
      .addSelect('dv.sha256', 'sha256')
      .where('dv.id IN (:...ids) AND dv.projectId = :projectId', { ids: valid, projectId })
      .getRawMany<{ id: string; datasetId: string; name: string; version: number; sha256: string }>();
    return new Map(
      rows.map((r) => [
        r.id,
        {
          datasetVersionId: r.id,
          datasetId: r.datasetId,
          name: r.name,
          version: r.version,
          sha256: r.sha256,
        },
      ]),
    );
  }

  /**
   * Evaluation metrics from a version's lineage: the latest value (highest step, then newest) of each
   * metric its run logged; without any, the metrics it was registered with.
   */
  private async lineageMetrics(
    manager: EntityManager,
    version: ModelVersion,
  ): Promise<{ metrics: CardMetric[]; source: ModelCardMetricSource | null; runId: string | null }> {
    if (version.runId) {
      const rows = await manager
        .createQueryBuilder(RunMetric, 'm')
        .select('m.key', 'key')
        .addSelect('m.value', 'value')
        .distinctOn(['m.key'])
        .where('m.runId = :runId', { runId: version.runId })
        .orderBy('m.key', 'ASC')
        .addOrderBy('m.step', 'DESC')
        .addOrderBy('m.timestamp', 'DESC')
        .addOrderBy('m.id', 'DESC')
        .limit(MAX_CARD_METRICS)
        .getRawMany<{ key: string; value: number }>();
      if (rows.length)
        return {
          metrics: rows.map((r) => ({ name: r.key, value: Number(r.value), dataset: null })),
          source: ModelCardMetricSource.RUN,
          runId: version.runId,
        };
    }
    const registered = Object.entries(version.metrics ?? {});
    if (registered.length)
      return {
        metrics: registered.map(([name, value]) => ({ name, value, dataset: null })),
        source: ModelCardMetricSource.VERSION,
        runId: null,
      };
    return { metrics: [], source: null, runId: null };
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

  /** A version the caller may read, or NOT_FOUND naming `field`. */
  private async readableVersion(ctx: RequestContext, id: string, field: string): Promise<ModelVersion> {
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

  /** The artifact (or remote model) a registration names, and its signature. */
  private async openModel(
    input: RegisterModelVersionInput,
    projectId: string,
  ): Promise<{
    source: ModelSource;
    artifact: { sha256: string; size: number } | null;
    remote: RemoteModel | null;
    signature: ModelSignature;
  }> {
    if ((input.artifactSha256 == null) === (input.remote == null))
      throw new BadInputError('artifactSha256', 'give either artifactSha256 (an ONNX artifact) or remote');
    if (input.artifactSha256 != null) {
      const { artifact, path } = await this.locateArtifact(projectId, input.artifactSha256);
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
    projectId: string,
    sha256: string,
  ): Promise<{ artifact: { sha256: string; size: number }; path: string }> {
    try {
      return await this.artifacts.locate(projectId, sha256, 'artifactSha256');
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
