import type { DataSource } from 'typeorm';
import type { Logger } from '../../common/logger';
import { writeIsolating } from '../../db/batch';

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
 * Masks a project's personal input features before they are written (the data policy): the log never
 * holds them in clear. Answers from memory in the steady state; a failure fails the batch, which is
 * retried like a failed INSERT, so rows are never written unmasked.
 */
export interface FeatureRedactor {
  /** How `projectId`'s logged features are masked; null: written as given. */
  featureMask(projectId: string): Promise<((features: unknown) => unknown) | null>;
}

/**
 * Buffers prediction rows and writes them with one multi-row INSERT per batch, off the response path.
 * A write the database could not take (the connection, see `isTransientWriteError`) keeps its rows and
 * retries with backoff; `close()` writes everything acknowledged before it returns. A row the database
 * refuses for what it holds is isolated (see `writeIsolating`), logged and dropped, so it never holds
 * back the rows behind it. Rows repeating (endpoint, request key, shadow) are skipped, so a retried request
 * is logged once. Personal features are masked here, a batch at a time (see {@link FeatureRedactor}).
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
  /** Rows the database refused on their own, dropped. */
  dropped = 0;

  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly options: WriterOptions = DEFAULT_WRITER_OPTIONS,
    private readonly redactor?: FeatureRedactor,
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
        await writeIsolating(
          batch,
          (rows) => this.insert(rows),
          (rows, error) => this.settle(rows, error),
        );
      } catch (error) {
        this.failures++;
        this.logger.error('prediction log write failed; rows kept for retry', {
          rows: Math.min(batch.length, this.buffer.length),
          attempt: this.failures,
          error: error instanceof Error ? error.message : String(error),
        });
        if (this.closed && this.failures > 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.retryDelay()));
        continue;
      }
      this.failures = 0;
    }
  }

  /** Takes written or refused rows off the head of the buffer, where their batch came from. */
  private settle(rows: readonly PredictionRecord[], error?: unknown): void {
    this.buffer.splice(0, rows.length);
    if (error === undefined) {
      this.written += rows.length;
    } else {
      this.dropped += rows.length;
      // Ids and the database's reason only: the row's features and outputs may be personal.
      type Failure = { code?: unknown; message?: unknown; driverError?: Failure };
      const { code, message } = (error as Failure).driverError ?? (error as Failure);
      this.logger.error('prediction log row refused by the database; dropped', {
        endpointId: rows[0].endpointId,
        modelVersionId: rows[0].modelVersionId,
        code,
        error: typeof message === 'string' ? message : String(error),
      });
    }
    if (this.buffer.length <= this.options.maxBufferedRows) {
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  private retryDelay(): number {
    return Math.min(MAX_RETRY_DELAY_MS, 50 * 2 ** Math.min(this.failures, 10));
  }

  /**
   * One multi-row INSERT whose rows travel as a single jsonb array: one JSON.stringify on this thread
   * (features and outputs nest as they are), where ten array parameters cost a stringify per row plus
   * the driver's escaping of every element.
   */
  private async insert(rows: readonly PredictionRecord[]): Promise<void> {
    const n = rows.length;
    const masks = await this.masks(rows);
    const records = new Array<LogRow>(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      const mask = masks?.get(r.projectId);
      records[i] = {
        project_id: r.projectId,
        endpoint_id: r.endpointId,
        model_version_id: r.modelVersionId,
        request_key: r.requestKey,
        features: mask ? mask(r.features) : r.features,
        outputs: r.outputs ?? null,
        latency_ms: r.latencyMs,
        error: r.error,
        shadow: r.shadow,
        created_at: r.createdAt,
      };
    }
    await this.db.query(
      `INSERT INTO prediction_log
         (project_id, endpoint_id, model_version_id, request_key, features, outputs, latency_ms, error, shadow, created_at)
       SELECT project_id, endpoint_id, model_version_id, request_key, features, outputs, latency_ms, error, shadow, created_at
         FROM jsonb_to_recordset($1::jsonb) AS x(project_id uuid, endpoint_id uuid, model_version_id uuid,
              request_key text, features jsonb, outputs jsonb, latency_ms real, error text, shadow boolean,
              created_at timestamptz)
       ON CONFLICT ON CONSTRAINT uq_prediction_log__request_key DO NOTHING`,
      [JSON.stringify(records)],
    );
  }

  /** The feature masks of the batch's projects; undefined when none masks anything. */
  private async masks(
    rows: readonly PredictionRecord[],
  ): Promise<Map<string, (features: unknown) => unknown> | undefined> {
    if (!this.redactor) return undefined;
    const projects = new Set<string>();
    for (const row of rows) projects.add(row.projectId);
    let masks: Map<string, (features: unknown) => unknown> | undefined;
    for (const projectId of projects) {
      const mask = await this.redactor.featureMask(projectId);
      if (mask) (masks ??= new Map()).set(projectId, mask);
    }
    return masks;
  }
}

/** A row as `jsonb_to_recordset` reads it: keys are the column names; a Date serializes to ISO 8601. */
interface LogRow {
  project_id: string;
  endpoint_id: string;
  model_version_id: string;
  request_key: string;
  features: unknown;
  outputs: unknown;
  latency_ms: number;
  error: string | null;
  shadow: boolean;
  created_at: Date;
}
