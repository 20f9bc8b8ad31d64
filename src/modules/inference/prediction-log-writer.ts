import type { DataSource } from 'typeorm';
import type { Logger } from '../../common/logger';

/** One row of `prediction_log`, as the writer takes it. */
export interface PredictionRecord {
  projectId: string;
  endpointId: string;
  modelVersionId: string;
  requestKey: string;
  features: unknown;
  outputs: unknown;
  latencyMs: number;
  error: string | null;
  shadow: boolean;
  createdAt: Date;
}

export interface WriterOptions {
  /** Rows per INSERT. */
  batchRows: number;
  /** Longest a row waits in the buffer before a flush starts. */
  flushIntervalMs: number;
  /** Buffered rows beyond which `append` makes callers wait for the database (backpressure, not loss). */
  maxBufferedRows: number;
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = {
  batchRows: 1_000,
  flushIntervalMs: 100,
  maxBufferedRows: 100_000,
};

const MAX_RETRY_DELAY_MS = 5_000;

/**
 * Buffers prediction rows and writes them with one multi-row INSERT per batch, off the response path.
 * A failed write keeps its rows and retries with backoff; `close()` writes everything acknowledged
 * before it returns. Rows repeating (endpoint, request key, shadow) are skipped, so a retried request
 * is logged once.
 */
export class PredictionLogWriter {
  private buffer: PredictionRecord[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private failures = 0;
  private closed = false;
  /** Rows written (or found already written), for tests and metrics. */
  written = 0;

  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly options: WriterOptions = DEFAULT_WRITER_OPTIONS,
  ) {}

  get buffered(): number {
    return this.buffer.length;
  }

  /**
   * Queues rows. Resolves at once unless the buffer is over its bound, when it resolves once the
   * database has caught up: callers slow down rather than rows being dropped.
   */
  append(...rows: PredictionRecord[]): Promise<void> | void {
    if (this.closed) throw new Error('the prediction log is closed');
    for (const row of rows) this.buffer.push(row);
    if (this.buffer.length >= this.options.batchRows) this.kick();
    else if (!this.timer && !this.flushing)
      this.timer = setTimeout(() => this.kick(), this.options.flushIntervalMs);
    if (this.buffer.length > this.options.maxBufferedRows) {
      return new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Writes everything buffered so far. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.flushing) {
      this.kick();
      await this.flushing;
    }
  }

  /** Stops taking rows and writes every row already taken. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.flushing || this.buffer.length === 0) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.buffer.length > 0 && !this.timer)
        this.timer = setTimeout(() => this.kick(), this.retryDelay());
    });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.options.batchRows);
      try {
        await this.insert(batch);
      } catch (error) {
        this.failures++;
        this.logger.error('prediction log write failed; rows kept for retry', {
          rows: batch.length,
          attempt: this.failures,
          error: error instanceof Error ? error.message : String(error),
        });
        if (this.closed && this.failures > 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.retryDelay()));
        continue;
      }
      this.failures = 0;
      this.buffer.splice(0, batch.length);
      this.written += batch.length;
      if (this.buffer.length <= this.options.maxBufferedRows) {
        for (const wake of this.waiters.splice(0)) wake();
      }
    }
  }

  private retryDelay(): number {
    return Math.min(MAX_RETRY_DELAY_MS, 50 * 2 ** Math.min(this.failures, 10));
  }

  private async insert(rows: PredictionRecord[]): Promise<void> {
    const n = rows.length;
    const cols = {
      project: new Array<string>(n),
      endpoint: new Array<string>(n),
      version: new Array<string>(n),
      key: new Array<string>(n),
      features: new Array<string>(n),
      outputs: new Array<string | null>(n),
      latency: new Array<number>(n),
      error: new Array<string | null>(n),
      shadow: new Array<boolean>(n),
      at: new Array<string>(n),
    };
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      cols.project[i] = r.projectId;
      cols.endpoint[i] = r.endpointId;
      cols.version[i] = r.modelVersionId;
      cols.key[i] = r.requestKey;
      cols.features[i] = JSON.stringify(r.features);
      cols.outputs[i] = r.outputs === null || r.outputs === undefined ? null : JSON.stringify(r.outputs);
      cols.latency[i] = r.latencyMs;
      cols.error[i] = r.error;
      cols.shadow[i] = r.shadow;
      cols.at[i] = r.createdAt.toISOString();
    }
    await this.db.query(
      `INSERT INTO prediction_log
         (project_id, endpoint_id, model_version_id, request_key, features, outputs, latency_ms, error, shadow, created_at)
       SELECT p, e, v, k, f::jsonb, o::jsonb, l, err, s, t
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::real[],
                     $8::text[], $9::bool[], $10::timestamptz[]) AS x(p, e, v, k, f, o, l, err, s, t)
       ON CONFLICT ON CONSTRAINT uq_prediction_log__request_key DO NOTHING`,
      [
        cols.project,
        cols.endpoint,
        cols.version,
        cols.key,
        cols.features,
        cols.outputs,
        cols.latency,
        cols.error,
        cols.shadow,
        cols.at,
      ],
    );
  }
}
