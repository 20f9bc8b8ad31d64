import type { ScoredOutputs, ScoringBackend } from './backend';

/** How requests for one model version are merged, after Triton's dynamic batcher. */
export interface BatchingOptions {
  /** Rows per `run`; a single request larger than this runs alone, whole. */
  maxBatchSize: number;
  /**
   * How long the oldest queued request may wait for others to join while the backend has room. 0: run
   * as soon as the backend has room; requests that queue while it is busy form the next batch.
   */
  maxQueueDelayMs: number;
  /** Batches in flight at once (the pool's workers, or a remote server's concurrency). */
  maxInFlight: number;
}

/** Batch sizes are counted in these buckets (upper bounds, rows), for `inferenceRuntime`. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, Infinity] as const;

/** Counters shared by every batcher of a runtime. */
export class BatchStats {
  readonly histogram = BATCH_SIZE_BUCKETS.map(() => 0);
  batches = 0;
  rows = 0;
  /** Runs that failed (a merged batch retried request by request counts once, plus each retry that failed). */
  failures = 0;

  record(rows: number): void {
    this.batches++;
    this.rows += rows;
    this.histogram[BATCH_SIZE_BUCKETS.findIndex((b) => rows <= b)]++;
  }
}

interface Job {
  features: Float32Array;
  rows: number;
  enqueuedAt: number;
  resolve(outputs: ScoredOutputs): void;
  reject(error: unknown): void;
}

/**
 * Merges concurrent requests for one model version into one backend `run`, then hands each request
 * exactly its own rows of every output. A failed batch of several requests is retried request by
 * request, so one poisonous input fails alone.
 */
export class DynamicBatcher {
  private readonly queue: Job[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: ScoringBackend,
    private readonly inputName: string,
    private readonly width: number,
    readonly options: BatchingOptions,
    private readonly stats: BatchStats,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Rows waiting for a batch. */
  get depth(): number {
    return this.queuedRows;
  }

  /** Scores `rows` rows (row-major `features`, `width` columns each). */
  submit(features: Float32Array, rows: number): Promise<ScoredOutputs> {
    return new Promise<ScoredOutputs>((resolve, reject) => {
      this.queue.push({ features, rows, enqueuedAt: this.clock(), resolve, reject });
      this.queuedRows += rows;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const waited = this.clock() - this.queue[0].enqueuedAt;
      const ready =
        this.queuedRows >= this.options.maxBatchSize ||
        this.options.maxQueueDelayMs <= 0 ||
        waited >= this.options.maxQueueDelayMs;
      if (!ready) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, this.options.maxQueueDelayMs - waited);
        }
        return;
      }
      void this.dispatch(this.take());
    }
  }

  /** The oldest requests that fit in one batch; the first is taken even when it alone exceeds it. */
  private take(): Job[] {
    const batch = [this.queue.shift()!];
    let rows = batch[0].rows;
    while (this.queue.length > 0 && rows + this.queue[0].rows <= this.options.maxBatchSize) {
      const job = this.queue.shift()!;
      rows += job.rows;
      batch.push(job);
    }
    this.queuedRows -= rows;
    if (this.queue.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return batch;
  }

  private async dispatch(batch: Job[]): Promise<void> {
    this.inFlight++;
    try {
      const rows = batch.reduce((sum, job) => sum + job.rows, 0);
      let outputs: ScoredOutputs;
      try {
        outputs = await this.run(batch, rows);
      } catch (error) {
        this.stats.failures++;
        if (batch.length === 1) {
          batch[0].reject(error);
          return;
        }
        for (const job of batch) {
          await this.run([job], job.rows).then(
            (own) => job.resolve(own),
            (own: unknown) => {
              this.stats.failures++;
              job.reject(own);
            },
          );
        }
        return;
      }
      let start = 0;
      for (const job of batch) {
        job.resolve(sliceRows(outputs, rows, start, job.rows));
        start += job.rows;
      }
    } finally {
      this.inFlight--;
      this.pump();
    }
  }

  private run(batch: Job[], rows: number): Promise<ScoredOutputs> {
    let features: Float32Array;
    if (batch.length === 1) features = batch[0].features;
    else {
      features = new Float32Array(rows * this.width);
      let at = 0;
      for (const job of batch) {
        features.set(job.features, at);
        at += job.features.length;
      }
    }
    this.stats.record(rows);
    return this.backend.run(this.inputName, features, rows, this.width);
  }
}

/** Rows [start, start + count) of every output whose first dimension is the batch. */
export function sliceRows(
  outputs: ScoredOutputs,
  batchRows: number,
  start: number,
  count: number,
): ScoredOutputs {
  const own: ScoredOutputs = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    if (tensor.dims[0] !== batchRows) {
      own[name] = tensor;
      continue;
    }
    const perRow = batchRows === 0 ? 0 : tensor.data.length / batchRows;
    own[name] = {
      data: tensor.data.subarray(start * perRow, (start + count) * perRow),
      dims: [count, ...tensor.dims.slice(1)],
    };
  }
  return own;
}
