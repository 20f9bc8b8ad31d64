import type { DataSource, EntityManager } from 'typeorm';
import { BadInputError, NotFoundError } from '../../common/errors';
import { isUuid, requireId } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { datasetVersionLinks } from '../datasets/dataset.repository';
import type { Platform } from '../../platform/platform';
import { latestRunMetrics } from '../runs/run.repository';
import {
  carriedExtra,
  MAX_MODEL_CARD_BYTES,
  missingSections,
  ModelCardMetricSource,
  readModelCard,
  requireModelCard,
  storedModelCard,
  type CardMetric,
} from './model-card';
import { renderModelCardMarkdown, type CardDatasetLink } from './model-card-markdown';
import type { ModelCardInput, ModelCardView } from './model-card.types';
import { canonicalJson } from './model-input';
import { ModelVersion, type Model } from './model.entity';
import type { ModelService } from './model.service';

/** Most metrics a card takes from a run. */
const MAX_CARD_METRICS = 1_000;

export interface ModelCardDeps extends Pick<Platform, 'db' | 'work'> {
  models: ModelService;
}

/**
 * Model cards of versions: read as structured data with their completeness and Markdown export, and
 * replaced by structured ones whose omitted lineage (training data, evaluation) is filled from the
 * version's dataset version and run.
 */
export class ModelCardService {
  private readonly db: DataSource;
  private readonly work: UnitOfWork;
  private readonly models: ModelService;

  constructor(deps: ModelCardDeps) {
    this.db = deps.db;
    this.work = deps.work;
    this.models = deps.models;
  }

  /** A version's model card as structured data, its completeness and its Markdown export. */
  async modelCard(ctx: RequestContext, versionId: string): Promise<ModelCardView> {
    const version = await this.models.readableVersion(ctx, requireId('versionId', versionId), 'versionId');
    const model = await this.models.modelOf(ctx, version);
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
    const found = await this.models.readableVersion(ctx, id, 'versionId');
    ctx.authorize('update', 'Model', found.projectId);
    const model = await this.models.modelOf(ctx, found);
    const { card, fillDatasets, fillMetrics, keepExtra } = requireModelCard(input, 'card');

    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const version = await manager
        .createQueryBuilder(ModelVersion, 'v')
        .setLock('pessimistic_write')
        .where('v.id = :id', { id })
        .getOne();
      if (!version) throw new NotFoundError('ModelVersion', id, 'versionId');
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
      tx.audit(
        unchanged
          ? null
          : {
              action: 'updateModelCard',
              subjectType: 'ModelVersion',
              subjectId: version.id,
              projectId: version.projectId,
              before: { version: version.version, modelCard: before },
              after: { version: version.version, modelCard: after, missing: view.missing },
            },
      );
      return view;
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
    const rows = await datasetVersionLinks(manager, projectId, valid);
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
      const rows = await latestRunMetrics(manager, version.runId, MAX_CARD_METRICS);
      if (rows.length)
        return {
          metrics: rows.map((r) => ({ name: r.key, value: r.value, dataset: null })),
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
}
