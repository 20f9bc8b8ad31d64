import type { DataSource } from 'typeorm';
import { BadInputError } from '../../common/errors';
import type { RequestContext } from '../../context/context';
import type { EndpointService } from '../endpoints/endpoint.service';
import type { Model, ModelVersion } from '../models/model.entity';
import { modelById, versionNumbers } from '../models/model.repository';
import type { ModelService } from '../models/model.service';
import type { InferenceRuntime, RuntimeVersion } from '../inference/inference-runtime';
import { asServingError } from './prediction-request';
import {
  DEFAULT_REPLAY_LIMIT,
  MAX_REPLAY_LIMIT,
  MAX_REPLAY_WINDOW_DAYS,
  type ReplayArgs,
  type ReplayReport,
} from './replay.types';
import type { Answer, ServingPlan } from '../inference/serving-plan';
import type { Platform } from '../../platform/platform';

/** Logged predictions read (and re-scored) at a time: bounded memory whatever the window holds. */
const PAGE_ROWS = 1_000;
const DAY_MS = 86_400_000;

/** One logged prediction of the window with its outcome, if one was recorded. */
interface LoggedRow {
  id: string;
  /** `created_at` as PostgreSQL prints it: the keyset cursor, exact to the microsecond. */
  at: string;
  modelVersionId: string;
  requestKey: string;
  features: unknown;
  outputs: Answer | null;
  outcomeLabel: string | null;
  outcomeValue: number | null;
}

/** A recorded outcome: the true label (classifiers) or value (regressors). */
export interface ReplayOutcome {
  label: string | null;
  value: number | null;
}

/** What {@link ReplayTally} sums up; the report without the names and timing. */
export type ReplaySummary = Pick<
  ReplayReport,
  | 'rows'
  | 'skipped'
  | 'firstSkipReason'
  | 'agreement'
  | 'meanAbsoluteDifference'
  | 'outcomes'
  | 'originalAccuracy'
  | 'replayAccuracy'
  | 'accuracyDelta'
  | 'originalMeanAbsoluteError'
  | 'replayMeanAbsoluteError'
> & { byOriginalVersion: Array<{ modelVersionId: string; rows: number; agreement: number | null }> };

/**
 * Accumulates a replay in one pass, row by row, so no page has to be kept: label agreement and accuracy
 * for classifiers, differences and absolute errors of the first value for everything else. Accuracies are
 * taken over the re-scored rows with an outcome, so both sides are judged on the same rows.
 */
export class ReplayTally {
  private rows = 0;
  private skipped = 0;
  private firstSkipReason: string | null = null;
  private agreed = 0;
  private differenceSum = 0;
  private differences = 0;
  private outcomes = 0;
  private labelled = 0;
  private originalCorrect = 0;
  private replayCorrect = 0;
  private valued = 0;
  private originalErrorSum = 0;
  private replayErrorSum = 0;
  private readonly versions = new Map<string, { rows: number; agreed: number }>();

  constructor(private readonly classifier: boolean) {}

  /** A logged prediction the replayed version cannot take. */
  skip(reason: string): void {
    this.skipped++;
    this.firstSkipReason ??= reason;
  }

  /** A re-scored prediction: what `originalVersionId` answered then, and what the replay answers now. */
  add(originalVersionId: string, original: Answer | null, replayed: Answer, outcome: ReplayOutcome): void {
    this.rows++;
    const version = this.versions.get(originalVersionId) ?? { rows: 0, agreed: 0 };
    this.versions.set(originalVersionId, version);
    version.rows++;
    if (outcome.label !== null || outcome.value !== null) this.outcomes++;
    if (this.classifier) {
      const originalLabel = original?.label ?? null;
      if (originalLabel !== null && originalLabel === replayed.label) {
        this.agreed++;
        version.agreed++;
      }
      if (outcome.label !== null) {
        this.labelled++;
        if (originalLabel === outcome.label) this.originalCorrect++;
        if (replayed.label === outcome.label) this.replayCorrect++;
      }
      return;
    }
    const before = firstValue(original);
    const now = firstValue(replayed);
    if (before === null || now === null) return;
    this.differenceSum += Math.abs(now - before);
    this.differences++;
    if (outcome.value !== null && Number.isFinite(outcome.value)) {
      this.valued++;
      this.originalErrorSum += Math.abs(before - outcome.value);
      this.replayErrorSum += Math.abs(now - outcome.value);
    }
  }

  summary(): ReplaySummary {
    const ratio = (n: number, d: number): number | null => (d === 0 ? null : n / d);
    const originalAccuracy = this.classifier ? ratio(this.originalCorrect, this.labelled) : null;
    const replayAccuracy = this.classifier ? ratio(this.replayCorrect, this.labelled) : null;
    return {
      rows: this.rows,
      skipped: this.skipped,
      firstSkipReason: this.firstSkipReason,
      agreement: this.classifier ? ratio(this.agreed, this.rows) : null,
      meanAbsoluteDifference: this.classifier ? null : ratio(this.differenceSum, this.differences),
      outcomes: this.outcomes,
      originalAccuracy,
      replayAccuracy,
      accuracyDelta:
        originalAccuracy === null || replayAccuracy === null ? null : replayAccuracy - originalAccuracy,
      originalMeanAbsoluteError: this.classifier ? null : ratio(this.originalErrorSum, this.valued),
      replayMeanAbsoluteError: this.classifier ? null : ratio(this.replayErrorSum, this.valued),
      byOriginalVersion: [...this.versions].map(([modelVersionId, v]) => ({
        modelVersionId,
        rows: v.rows,
        agreement: this.classifier ? ratio(v.agreed, v.rows) : null,
      })),
    };
  }
}

function firstValue(answer: Answer | null): number | null {
  const value = answer?.values?.[0];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export interface ReplayServiceDeps extends Pick<Platform, 'db'> {
  endpoints: EndpointService;
  models: ModelService;
  runtime: InferenceRuntime;
  maxRows?: number;
}

/**
 * `replayPredictions`: re-scores the logged inputs of a window of an endpoint's served traffic with
 * another version of its model, and compares. A deployment tool (re-scoring after a fix, comparing
 * before a rollout): the replay runs the model directly, beside the endpoint's batchers, and nothing
 * it answers is logged or served.
 */
export class ReplayService {
  private readonly db: DataSource;
  private readonly endpoints: EndpointService;
  private readonly models: ModelService;
  private readonly runtime: InferenceRuntime;
  private readonly maxRows: number;

  constructor(deps: ReplayServiceDeps) {
    this.db = deps.db;
    this.endpoints = deps.endpoints;
    this.models = deps.models;
    this.runtime = deps.runtime;
    this.maxRows = deps.maxRows ?? MAX_REPLAY_LIMIT;
  }

  async replay(ctx: RequestContext, args: ReplayArgs): Promise<ReplayReport> {
    const endpoint = await this.endpoints.byName(ctx, args.endpoint, 'endpoint');
    ctx.authorize('deploy', 'Endpoint', endpoint.projectId);
    checkWindow(args.from, args.to);
    const limit = this.checkLimit(args.limit);
    const model = await modelById(this.db.manager, endpoint.modelId);
    const { version, runtime, plan } = await this.replayVersion(model, args.version);

    // A remote server gets the endpoint's batch size per call; a local ONNX model takes a page at once.
    const perRun = Math.min(
      plan.batchLimit,
      runtime.source.kind === 'onnx' ? PAGE_ROWS : Math.max(1, endpoint.maxBatchSize),
    );
    const tally = new ReplayTally(plan.task === 'CLASSIFICATION');
    let scoringMs = 0;
    let remaining = limit;
    const read = (after: LoggedRow | null): { requested: number; rows: Promise<LoggedRow[]> } => {
      const requested = Math.min(PAGE_ROWS, remaining);
      return { requested, rows: this.page(endpoint.id, args, after, requested) };
    };
    let pending: ReturnType<typeof read> | null = read(null);
    try {
      while (pending) {
        const { requested } = pending;
        const rows = await pending.rows;
        pending = null;
        remaining -= rows.length;
        // The next page is read while this one is scored.
        if (rows.length === requested && remaining > 0) pending = read(rows[rows.length - 1]);
        const started = performance.now();
        await this.rescore(runtime, plan, perRun, rows, tally);
        scoringMs += performance.now() - started;
      }
    } finally {
      // When scoring failed, the read in flight no longer matters, nor does its failure.
      pending?.rows.catch(() => undefined);
    }

    const summary = tally.summary();
    const numbers = await versionNumbers(
      this.db.manager,
      summary.byOriginalVersion.map((v) => v.modelVersionId),
    );
    return {
      ...summary,
      endpoint: endpoint.name,
      modelVersionId: version.id,
      modelVersion: version.version,
      from: args.from,
      to: args.to,
      byOriginalVersion: summary.byOriginalVersion
        .filter((v) => numbers.has(v.modelVersionId))
        .map((v) => ({ ...v, modelVersion: numbers.get(v.modelVersionId)! }))
        .sort((a, b) => a.modelVersion - b.modelVersion),
      latencyMs: Math.round(scoringMs * 1000) / 1000,
    };
  }

  private checkLimit(limit: number | null | undefined): number {
    if (limit == null) return Math.min(DEFAULT_REPLAY_LIMIT, this.maxRows);
    if (!Number.isInteger(limit) || limit < 1 || limit > this.maxRows)
      throw new BadInputError('limit', `must be a whole number from 1 to ${this.maxRows}, got ${limit}`);
    return limit;
  }

  /** Version `number` of the endpoint's model, checked servable as an endpoint would check it, and loaded. */
  private async replayVersion(
    model: Model,
    number: number,
  ): Promise<{ version: ModelVersion; runtime: RuntimeVersion; plan: ServingPlan }> {
    const version = await this.endpoints.servableVersion(model, number, 'version');
    const runtime = this.models.runtimeVersion(version, model.task);
    return { version, runtime, plan: await this.runtime.load(runtime) };
  }

  /**
   * The window's served predictions (not shadow scorings, not failures), newest first, after `cursor`,
   * each with its outcome.
   */
  private async page(
    endpointId: string,
    window: Pick<ReplayArgs, 'from' | 'to'>,
    cursor: LoggedRow | null,
    limit: number,
  ): Promise<LoggedRow[]> {
    const params: unknown[] = [endpointId, window.from, window.to, limit];
    if (cursor) params.push(cursor.at, cursor.id);
    return (await this.db.query(
      `SELECT p.id::text AS id, p.created_at::text AS at, p.model_version_id AS "modelVersionId",
              p.request_key AS "requestKey", p.features, p.outputs,
              o.label AS "outcomeLabel", o.value AS "outcomeValue"
         FROM prediction_log p
         LEFT JOIN prediction_outcome o ON o.endpoint_id = p.endpoint_id AND o.request_key = p.request_key
        WHERE p.endpoint_id = $1 AND NOT p.shadow AND p.error IS NULL
          AND p.created_at >= $2 AND p.created_at < $3
          ${cursor ? 'AND (p.created_at, p.id) < ($5::timestamptz, $6::bigint)' : ''}
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT $4`,
      params,
    )) as LoggedRow[];
  }

  /** Preprocesses a page with the version's spec (skipping rows it refuses), scores it and tallies it. */
  private async rescore(
    version: RuntimeVersion,
    plan: ServingPlan,
    perRun: number,
    rows: LoggedRow[],
    tally: ReplayTally,
  ): Promise<void> {
    const { usable, features } = encode(plan, rows, tally);
    const width = plan.width;
    for (let start = 0; start < usable.length; start += perRun) {
      const end = Math.min(start + perRun, usable.length);
      const n = end - start;
      let answers: Answer[];
      try {
        const outputs = await this.runtime.scoreDirect(
          version.source,
          plan,
          features.subarray(start * width, end * width),
          n,
        );
        answers = plan.decode(outputs, n);
      } catch (error) {
        throw asServingError(error);
      }
      for (let j = 0; j < n; j++) {
        const row = usable[start + j];
        tally.add(row.modelVersionId, row.outputs, answers[j], {
          label: row.outcomeLabel,
          value: row.outcomeValue === null ? null : Number(row.outcomeValue),
        });
      }
    }
  }
}

/**
 * The page as one matrix. When the spec refuses a row, the rows are encoded one by one to find which:
 * those are tallied as skipped and left out.
 */
function encode(
  plan: ServingPlan,
  rows: LoggedRow[],
  tally: ReplayTally,
): { usable: LoggedRow[]; features: Float32Array } {
  try {
    return {
      usable: rows,
      features: plan.preprocessor.encode(
        rows.map((r) => r.features),
        () => 'input',
      ),
    };
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
  }
  const usable: LoggedRow[] = [];
  const encoded: Float32Array[] = [];
  for (const row of rows) {
    try {
      encoded.push(plan.preprocessor.encode([row.features], () => 'input'));
      usable.push(row);
    } catch (error) {
      if (!(error instanceof BadInputError)) throw error;
      tally.skip(`request ${row.requestKey}: ${error.message}`);
    }
  }
  const features = new Float32Array(usable.length * plan.width);
  encoded.forEach((row, i) => features.set(row, i * plan.width));
  return { usable, features };
}

function checkWindow(from: Date, to: Date): void {
  if (Number.isNaN(from.getTime())) throw new BadInputError('from', 'is not a valid instant');
  if (Number.isNaN(to.getTime())) throw new BadInputError('to', 'is not a valid instant');
  if (to.getTime() <= from.getTime()) throw new BadInputError('to', 'must be after from');
  if (to.getTime() - from.getTime() > MAX_REPLAY_WINDOW_DAYS * DAY_MS)
    throw new BadInputError('to', `must be at most ${MAX_REPLAY_WINDOW_DAYS} days after from`);
}
