import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { BadInputError, ConflictError, NotFoundError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { RequestContext } from '../../context/context';
import type { Endpoint } from '../endpoints/endpoint.entity';
import type { EndpointService, Route, TrafficRole } from '../endpoints/endpoint.service';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { ModelTask } from '../models/model.enums';
import { versionNumbers } from '../models/model.repository';
import type { InferenceRuntime, RuntimeVersion } from '../inference/inference-runtime';
import type { PredictionLogWriter, PredictionRecord } from './prediction-log-writer';
import { accuracyByVersion } from './prediction-log.repository';
import { PredictionOutcome } from './prediction-outcome.entity';
import type {
  InferenceRuntimeInfo,
  Prediction,
  PredictArgs,
  PredictBatchArgs,
  PredictionBatch,
  RecordOutcomeArgs,
  VersionAccuracy,
} from './prediction.types';
import type { Answer } from '../inference/serving-plan';
import type { Platform } from '../../platform/platform';
import {
  asServingError,
  batchKeys,
  ENCODE_CHUNK_ROWS,
  encodeInChunks,
  failureMessage,
  nextTurn,
  requireKey,
  round,
  sampled,
  toPrediction,
} from './prediction-request';

/** Told of every served group of rows (never shadow scorings): SLA windows and /metrics listen. */
export interface PredictionObserver {
  observe(endpoint: Endpoint, modelVersionId: string, latencyMs: number, rows: number, failed: boolean): void;
}

export interface PredictionServiceDeps extends Platform {
  endpoints: EndpointService;
  runtime: InferenceRuntime;
  log: PredictionLogWriter;
  maxBatch: number;
}

/**
 * `predict` and `predictBatch`: route each request key to a version of the endpoint, validate and
 * preprocess the input with that version's spec, score through the runtime's batcher, answer, and
 * log (sampled, never on the response path). A shadow version scores a copy afterwards.
 */
export class PredictionService {
  readonly observers: PredictionObserver[] = [];

  private readonly db: DataSource;
  private readonly endpoints: EndpointService;
  private readonly runtime: InferenceRuntime;
  private readonly log: PredictionLogWriter;
  private readonly work: UnitOfWork;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly maxBatch: number;

  constructor(deps: PredictionServiceDeps) {
    this.db = deps.db;
    this.endpoints = deps.endpoints;
    this.runtime = deps.runtime;
    this.log = deps.log;
    this.work = deps.work;
    this.logger = deps.logger;
    this.now = deps.now;
    this.maxBatch = deps.maxBatch;
  }

  async predict(ctx: RequestContext, args: PredictArgs): Promise<Prediction> {
    const route = await this.authorizedRoute(ctx, args.endpoint);
    const requestKey = args.requestKey == null ? randomUUID() : requireKey('requestKey', args.requestKey);
    const [prediction] = await this.score(route, [args.input], [requestKey], () => 'input');
    return prediction;
  }

  /**
   * `predict` with no effect: the answer is not logged, observed or mirrored to a shadow (an
   * automation's dry run shows what a step would get).
   */
  async predictDry(ctx: RequestContext, args: PredictArgs): Promise<Prediction> {
    const route = await this.authorizedRoute(ctx, args.endpoint);
    const requestKey = args.requestKey == null ? randomUUID() : requireKey('requestKey', args.requestKey);
    const [prediction] = await this.score(route, [args.input], [requestKey], () => 'input', true);
    return prediction;
  }

  async predictBatch(ctx: RequestContext, args: PredictBatchArgs): Promise<PredictionBatch> {
    const route = await this.authorizedRoute(ctx, args.endpoint);
    const rows = args.inputs;
    if (rows.length === 0) throw new BadInputError('inputs', 'must hold at least one row');
    if (rows.length > this.maxBatch)
      throw new BadInputError('inputs', `must hold at most ${this.maxBatch} rows, got ${rows.length}`);
    const scoreAll = async (): Promise<PredictionBatch> => {
      const started = performance.now();
      const keys = batchKeys(args.requestKeys, rows.length, args.idempotencyKey);
      const predictions = await this.score(route, rows, keys, (i) => `inputs.${i}`);
      return { predictions, latencyMs: round(performance.now() - started) };
    };
    if (args.idempotencyKey == null) return scoreAll();
    // Scored inside the key's claim: a concurrent retry waits for this answer instead of scoring again.
    return this.work.run(ctx, scoreAll, { operation: 'predictBatch', key: args.idempotencyKey, args });
  }

  /** Stores (or corrects) the true answer for a request key of an endpoint. */
  async recordOutcome(ctx: RequestContext, args: RecordOutcomeArgs): Promise<PredictionOutcome> {
    const route = await this.authorizedRoute(ctx, args.endpoint);
    const requestKey = requireKey('requestKey', args.requestKey);
    const { endpoint } = route;
    if ((args.label == null) === (args.value == null))
      throw new BadInputError('label', 'give either label (classifiers) or value (regressors)');
    if (args.label != null) {
      if (route.task !== ModelTask.CLASSIFICATION)
        throw new BadInputError('label', 'this endpoint serves a model that is not a classifier; give value');
      const labels = route.versions.get(endpoint.stableVersionId)?.runtime.labels ?? [];
      if (labels.length && !labels.includes(args.label))
        throw new BadInputError('label', `is not one of the model's labels (${labels.join(', ')})`);
    } else if (!Number.isFinite(args.value)) {
      throw new BadInputError('value', 'must be a finite number');
    }
    const rows = (await this.db.query(
      `INSERT INTO prediction_outcome (project_id, endpoint_id, request_key, label, value, recorded_at, recorded_by_key_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ON CONSTRAINT uq_prediction_outcome__request_key
       DO UPDATE SET label = EXCLUDED.label, value = EXCLUDED.value, recorded_at = EXCLUDED.recorded_at,
                     recorded_by_key_id = EXCLUDED.recorded_by_key_id
       RETURNING id`,
      [
        endpoint.projectId,
        endpoint.id,
        requestKey,
        args.label ?? null,
        args.value ?? null,
        this.now(),
        ctx.caller.keyId,
      ],
    )) as Array<{ id: string }>;
    return this.db.getRepository(PredictionOutcome).findOneByOrFail({ id: rows[0].id });
  }

  /**
   * Live accuracy per version: predictions since `since` joined with their recorded outcomes, in SQL.
   */
  async liveAccuracy(endpointId: string, since: Date | null): Promise<VersionAccuracy[]> {
    const rows = await accuracyByVersion(this.db.manager, endpointId, since);
    const numbers = await versionNumbers(
      this.db.manager,
      rows.map((r) => r.modelVersionId),
    );
    return rows
      .map((r) => ({
        modelVersionId: r.modelVersionId,
        modelVersion: numbers.get(r.modelVersionId) ?? 0,
        shadow: r.shadow,
        predictions: r.predictions,
        correct: r.classified ? r.correct : 0,
        accuracy: r.classified ? r.correct / r.predictions : null,
        meanAbsoluteError: r.mae === null ? null : Number(r.mae),
      }))
      .sort((a, b) => a.modelVersion - b.modelVersion || Number(a.shadow) - Number(b.shadow));
  }

  runtimeInfo(ctx: RequestContext): InferenceRuntimeInfo {
    const snapshot = this.runtime.snapshot();
    return {
      ...snapshot,
      loadedVersions: snapshot.loadedVersions.filter((v) => ctx.can('read', 'Model', v.projectId)),
      predictionLogBuffered: this.log.buffered,
    };
  }

  private async authorizedRoute(ctx: RequestContext, name: string): Promise<Route> {
    const route = await this.endpoints.route(name);
    if (!route || !ctx.can('read', 'Endpoint', route.endpoint.projectId))
      throw new NotFoundError('Endpoint', name, 'endpoint');
    ctx.authorize('predict', 'Endpoint', route.endpoint.projectId);
    if (route.servingBlock) throw new ConflictError(route.servingBlock, 'endpoint');
    return route;
  }

  /**
   * Routes every row by its key, scores each version's rows as one request, and answers in input order.
   * Input errors reject the whole call before anything runs.
   */
  private async score(
    route: Route,
    rows: ReadonlyArray<Record<string, unknown>>,
    keys: string[],
    fieldOf: (row: number) => string,
    dryRun = false,
  ): Promise<Prediction[]> {
    const groups = new Map<string, { role: TrafficRole; indexes: number[] }>();
    keys.forEach((key, i) => {
      const { versionId, role } = this.endpoints.choose(route, key);
      const group = groups.get(versionId) ?? { role, indexes: [] };
      group.indexes.push(i);
      groups.set(versionId, group);
    });
    const loaded = await Promise.all(
      [...groups].map(async ([versionId, group]) => {
        const version = this.versionOf(route, versionId);
        return { version, plan: await this.load(version), ...group };
      }),
    );
    // Every row is encoded (and so checked) before anything is scored or logged. A large batch is
    // encoded a chunk per event-loop turn so that other requests are served in between; up to a
    // chunk, as every single predict, it is encoded at once without yielding.
    const chunked = rows.length > ENCODE_CHUNK_ROWS;
    const prepared: Array<(typeof loaded)[number] & { features: Float32Array }> = [];
    for (const group of loaded) {
      const own = group.indexes.map((i) => rows[i]);
      const field = (j: number): string => fieldOf(group.indexes[j]);
      if (chunked && prepared.length > 0) await nextTurn();
      const features = chunked
        ? await encodeInChunks(group.plan.preprocessor, own, field)
        : group.plan.preprocessor.encode(own, field);
      prepared.push({ ...group, features });
    }
    const { endpoint } = route;
    const batching = { maxBatchSize: endpoint.maxBatchSize, maxQueueDelayMs: endpoint.maxQueueDelayMs };
    const predictions = new Array<Prediction>(rows.length);
    await Promise.all(
      prepared.map(async ({ version, plan, features, role, indexes }) => {
        const started = performance.now();
        let answers: Answer[];
        try {
          const outputs = await this.runtime.score(version, endpoint.id, batching, features, indexes.length);
          answers = plan.decode(outputs, indexes.length);
        } catch (error) {
          if (dryRun) throw asServingError(error);
          const latencyMs = performance.now() - started;
          this.record(
            route,
            version.id,
            rows,
            keys,
            indexes,
            null,
            latencyMs,
            failureMessage(error),
            false,
            true,
          );
          this.observe(endpoint, version.id, latencyMs, indexes.length, true);
          throw asServingError(error);
        }
        const latencyMs = round(performance.now() - started);
        const number = route.versions.get(version.id)!.number;
        indexes.forEach((rowIndex, j) => {
          predictions[rowIndex] = toPrediction(
            endpoint.name,
            version.id,
            number,
            role,
            keys[rowIndex],
            answers[j],
            latencyMs,
          );
        });
        if (dryRun) return;
        this.record(route, version.id, rows, keys, indexes, answers, latencyMs, null, false, false);
        this.observe(endpoint, version.id, latencyMs, indexes.length, false);
      }),
    );
    if (endpoint.shadowVersionId && !dryRun) void this.shadow(route, endpoint.shadowVersionId, rows, keys);
    return predictions;
  }

  /** Scores a copy on the shadow version and logs it; its answers and failures never reach the caller. */
  private async shadow(
    route: Route,
    shadowId: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    keys: string[],
  ): Promise<void> {
    const indexes = keys.map((_, i) => i);
    const started = performance.now();
    try {
      const version = this.versionOf(route, shadowId);
      const plan = await this.load(version);
      const field = (i: number): string => `inputs.${i}`;
      const features =
        rows.length > ENCODE_CHUNK_ROWS
          ? await encodeInChunks(plan.preprocessor, rows, field)
          : plan.preprocessor.encode(rows, field);
      const { endpoint } = route;
      const outputs = await this.runtime.score(
        version,
        `${endpoint.id}:shadow`,
        { maxBatchSize: endpoint.maxBatchSize, maxQueueDelayMs: endpoint.maxQueueDelayMs },
        features,
        rows.length,
      );
      const answers = plan.decode(outputs, rows.length);
      this.record(
        route,
        shadowId,
        rows,
        keys,
        indexes,
        answers,
        round(performance.now() - started),
        null,
        true,
        false,
      );
    } catch (error) {
      const latencyMs = performance.now() - started;
      this.record(route, shadowId, rows, keys, indexes, null, latencyMs, failureMessage(error), true, true);
    }
  }

  private record(
    route: Route,
    versionId: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    keys: string[],
    indexes: number[],
    answers: Answer[] | null,
    latencyMs: number,
    error: string | null,
    shadow: boolean,
    always: boolean,
  ): void {
    const { endpoint } = route;
    const at = this.now();
    const records: PredictionRecord[] = [];
    indexes.forEach((rowIndex, j) => {
      const key = keys[rowIndex];
      if (!always && !sampled(endpoint.logSampleRate, key)) return;
      records.push({
        projectId: endpoint.projectId,
        endpointId: endpoint.id,
        modelVersionId: versionId,
        requestKey: key,
        features: rows[rowIndex],
        outputs: answers ? answers[j] : null,
        latencyMs,
        error,
        shadow,
        createdAt: at,
      });
    });
    if (records.length === 0) return;
    try {
      const backpressure = this.log.append(...records);
      if (backpressure) void backpressure;
    } catch (failure) {
      this.logger.error('prediction not logged', { endpoint: endpoint.name, error: failureMessage(failure) });
    }
  }

  private observe(
    endpoint: Endpoint,
    versionId: string,
    latencyMs: number,
    rows: number,
    failed: boolean,
  ): void {
    for (const observer of this.observers) {
      try {
        observer.observe(endpoint, versionId, latencyMs, rows, failed);
      } catch (error) {
        this.logger.error('prediction observer failed', { error: failureMessage(error) });
      }
    }
  }

  private versionOf(route: Route, versionId: string): RuntimeVersion {
    const version = route.versions.get(versionId);
    if (!version) throw new Error(`endpoint ${route.endpoint.name} routes to unknown version ${versionId}`);
    return version.runtime;
  }

  private async load(version: RuntimeVersion): ReturnType<InferenceRuntime['load']> {
    try {
      return await this.runtime.load(version);
    } catch (error) {
      throw asServingError(error);
    }
  }
}
