import type { InputSlot, ScoredOutputs, ScoringBackend } from './backend';

/** How requests for one model version are merged, after Triton's dynamic batcher. */
export interface BatchingOptions {
  /** Rows per `run`; a single request larger than this runs alone, whole. */
  maxBatchSize: number;
  /**
   * How long the oldest queued request may wait for others to join while the backend has room. 0: no
   * timer, but a batch that is not full waits for the end of the current event-loop turn (one
   * `setImmediate`), so requests arriving together run together; requests that queue while the backend
   * is busy form the next batch, which runs as soon as it has room. A full batch never waits.
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
  /** The batcher's generation when it arrived (delay 0): it is due once the generation moves on. */
  generation: number;
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
  /** With delay 0, the one `setImmediate` that ends the current turn; at most one per batcher. */
  private immediate: NodeJS.Immediate | undefined;
  /**
   * Moves on when an event-loop turn ends and when a run finishes (delay 0): requests that arrived
   * before are due, having either seen their turn out or queued behind a busy backend.
   */
  private generation = 0;

  constructor(
    private readonly backend: ScoringBackend,
    private readonly inputs: readonly InputSlot[],
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
      this.queue.push({
        features,
        rows,
        enqueuedAt: this.clock(),
        generation: this.generation,
        resolve,
        reject,
      });
      this.queuedRows += rows;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      if (this.queuedRows < this.options.maxBatchSize && !this.due()) return;
      void this.dispatch(this.take());
    }
  }

  /**
   * Whether the oldest request has waited long enough for a batch that is not full; if not, arranges
   * to pump again when it has. With delay 0 that is the end of the event-loop turn it arrived in:
   * dispatching at once would send a lone request to an idle worker while the rest of the turn's
   * requests (parsed from the same socket reads) queue behind it.
   */
  private due(): boolean {
    const delay = this.options.maxQueueDelayMs;
    if (delay <= 0) {
      if (this.queue[0].generation < this.generation) return true;
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.generation++;
        this.pump();
      });
      return false;
    }
    const waited = this.clock() - this.queue[0].enqueuedAt;
    if (waited >= delay) return true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, delay - waited);
    return false;
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
    if (this.queue.length === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      clearImmediate(this.immediate);
      this.immediate = undefined;
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
      // Requests that queued while every run was busy have waited enough: they go now, not next turn.
      this.generation++;
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
    return this.backend.run(this.inputs, features, rows, this.width);
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
