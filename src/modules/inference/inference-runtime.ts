import type { Logger } from '../../common/logger';
import type { ScoredOutputs, ScoringBackend } from './backend';
import { BATCH_SIZE_BUCKETS, BatchStats, DynamicBatcher, type BatchingOptions } from './dynamic-batcher';
import { OnnxWorkerPool } from './onnx-worker-pool';
import { RemoteBackend } from './remote-backend';
import { ServingPlan, type ServableVersion } from './serving-plan';

/** Where a version's model lives: an ONNX artifact run here, or a model on an Open Inference Protocol server. */
export type ModelSource =
  | { kind: 'onnx'; sha256: string; path: string }
  | { kind: 'oip'; url: string; model: string; version?: string | null; timeoutMs?: number | null };

export interface RuntimeVersion extends ServableVersion {
  id: string;
  projectId: string;
  source: ModelSource;
}

export interface RuntimeOptions {
  providers: string[];
  workers: number;
  threads: number;
  logger: Logger;
}

interface LoadedModel {
  key: string;
  backend: ScoringBackend;
  provider: string;
  fallback: string | null;
  loadMs: number;
  loadedAt: Date;
}

/** One entry of `inferenceRuntime.loadedVersions`. */
export interface LoadedVersionInfo {
  modelVersionId: string;
  projectId: string;
  provider: string;
  fallbackReason: string | null;
  loadMs: number;
  loadedAt: Date;
  queueDepth: number;
  requests: number;
}

export interface RuntimeSnapshot {
  providers: string[];
  workers: number;
  inFlight: number;
  queueDepth: number;
  batches: number;
  rows: number;
  failures: number;
  batchSizeHistogram: Array<{ le: number | null; count: number }>;
  loadedVersions: LoadedVersionInfo[];
}

interface VersionState {
  version: RuntimeVersion;
  plan: ServingPlan;
  model: LoadedModel;
  requests: number;
  batchers: Map<string, DynamicBatcher>;
}

const sourceKey = (source: ModelSource): string =>
  source.kind === 'onnx'
    ? `onnx:${source.sha256}`
    : `oip:${source.url}|${source.model}|${source.version ?? ''}`;

/**
 * Loads model versions once and keeps them warm, and scores through a dynamic batcher per endpoint and
 * version. ONNX models run in a pool of worker threads (sessions shared by every version of the same
 * artifact); remote models go to their Open Inference Protocol server.
 */
export class InferenceRuntime {
  private readonly pool: OnnxWorkerPool;
  private readonly models = new Map<string, Promise<LoadedModel>>();
  private readonly versions = new Map<string, Promise<VersionState>>();
  readonly stats = new BatchStats();

  constructor(private readonly options: RuntimeOptions) {
    this.pool = new OnnxWorkerPool({
      workers: options.workers,
      providers: options.providers,
      threads: options.threads,
    });
  }

  /** Whether the version is loaded (a request for it will not pay a cold start). */
  isWarm(versionId: string): boolean {
    return this.versions.has(versionId);
  }

  /**
   * Loads a version (once; concurrent callers share the load) and returns its plan. Throws
   * BadInputError when its preprocessing does not fit its signature, OnnxLoadError or UnavailableError
   * when the model cannot be loaded; a failed load is not cached.
   */
  async load(version: RuntimeVersion): Promise<ServingPlan> {
    return (await this.state(version)).plan;
  }

  /**
   * Scores rows for one endpoint's traffic to a version: merged with concurrent requests by that
   * endpoint's batcher, answered with this request's rows only.
   */
  async score(
    version: RuntimeVersion,
    endpointId: string,
    batching: Omit<BatchingOptions, 'maxInFlight'>,
    features: Float32Array,
    rows: number,
  ): Promise<ScoredOutputs> {
    const state = await this.state(version);
    state.requests++;
    return this.batcher(state, endpointId, batching).submit(features, rows);
  }

  /** Scores once without batching, for golden samples of a version not yet registered. */
  async scoreDirect(
    source: ModelSource,
    plan: ServingPlan,
    features: Float32Array,
    rows: number,
  ): Promise<ScoredOutputs> {
    const model = await this.model(source);
    this.stats.record(rows);
    return model.backend.run(plan.inputs, features, rows, plan.width);
  }

  /** Reads a remote model's signature from its server's metadata. */
  async remoteSignature(
    source: Extract<ModelSource, { kind: 'oip' }>,
  ): ReturnType<RemoteBackend['metadata']> {
    return new RemoteBackend(remoteOptions(source)).metadata();
  }

  snapshot(): RuntimeSnapshot {
    const loadedVersions: LoadedVersionInfo[] = [];
    let queueDepth = 0;
    for (const pending of this.settled.values()) {
      const depth = [...pending.batchers.values()].reduce((sum, b) => sum + b.depth, 0);
      queueDepth += depth;
      loadedVersions.push({
        modelVersionId: pending.version.id,
        projectId: pending.version.projectId,
        provider: pending.model.provider,
        fallbackReason: pending.model.fallback,
        loadMs: pending.model.loadMs,
        loadedAt: pending.model.loadedAt,
        queueDepth: depth,
        requests: pending.requests,
      });
    }
    return {
      providers: this.options.providers,
      workers: this.pool.size,
      inFlight: this.pool.busy,
      queueDepth,
      batches: this.stats.batches,
      rows: this.stats.rows,
      failures: this.stats.failures,
      batchSizeHistogram: BATCH_SIZE_BUCKETS.map((le, i) => ({
        le: Number.isFinite(le) ? le : null,
        count: this.stats.histogram[i],
      })),
      loadedVersions,
    };
  }

  async close(): Promise<void> {
    for (const model of this.models.values())
      await model.then((m) => m.backend.close()).catch(() => undefined);
    await this.pool.close();
  }

  /** Versions whose load finished, for the snapshot (a load in progress is not reported yet). */
  private readonly settled = new Map<string, VersionState>();

  private state(version: RuntimeVersion): Promise<VersionState> {
    let state = this.versions.get(version.id);
    if (!state) {
      state = (async () => {
        const plan = ServingPlan.build(version);
        const model = await this.model(version.source);
        const loaded: VersionState = { version, plan, model, requests: 0, batchers: new Map() };
        this.settled.set(version.id, loaded);
        return loaded;
      })();
      this.versions.set(version.id, state);
      state.catch(() => this.versions.delete(version.id));
    }
    return state;
  }

  private model(source: ModelSource): Promise<LoadedModel> {
    const key = sourceKey(source);
    let model = this.models.get(key);
    if (!model) {
      model = this.open(key, source);
      this.models.set(key, model);
      model.catch(() => this.models.delete(key));
    }
    return model;
  }

  private async open(key: string, source: ModelSource): Promise<LoadedModel> {
    const started = performance.now();
    if (source.kind === 'onnx') {
      const info = await this.pool.load(key, source.path);
      if (info.fallback)
        this.options.logger.warn('inference provider fallback', {
          model: key,
          provider: info.provider,
          reason: info.fallback,
        });
      return {
        key,
        backend: this.pool.backend(key, source.path, info.provider),
        provider: info.provider,
        fallback: info.fallback,
        loadMs: info.loadMs,
        loadedAt: new Date(),
      };
    }
    const backend = new RemoteBackend(remoteOptions(source));
    // Reading the metadata proves the server has the model before traffic is sent its way.
    await backend.metadata();
    return {
      key,
      backend,
      provider: backend.provider,
      fallback: null,
      loadMs: performance.now() - started,
      loadedAt: new Date(),
    };
  }

  private batcher(
    state: VersionState,
    endpointId: string,
    batching: Omit<BatchingOptions, 'maxInFlight'>,
  ): DynamicBatcher {
    const maxBatchSize = Math.max(1, Math.min(batching.maxBatchSize, state.plan.batchLimit));
    const existing = state.batchers.get(endpointId);
    if (
      existing &&
      existing.options.maxBatchSize === maxBatchSize &&
      existing.options.maxQueueDelayMs === batching.maxQueueDelayMs
    )
      return existing;
    const maxInFlight = state.version.source.kind === 'onnx' ? this.pool.size : REMOTE_IN_FLIGHT;
    const batcher = new DynamicBatcher(
      state.model.backend,
      state.plan.inputs,
      state.plan.width,
      { maxBatchSize, maxQueueDelayMs: batching.maxQueueDelayMs, maxInFlight },
      this.stats,
    );
    state.batchers.set(endpointId, batcher);
    return batcher;
  }
}

/** Concurrent batches sent to one remote model server. */
const REMOTE_IN_FLIGHT = 4;

function remoteOptions(
  source: Extract<ModelSource, { kind: 'oip' }>,
): ConstructorParameters<typeof RemoteBackend>[0] {
  return {
    url: source.url,
    model: source.model,
    version: source.version ?? undefined,
    timeoutMs: source.timeoutMs ?? undefined,
  };
}
