import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from '../../common/logger';
import { writeIsolating } from '../../db/batch';
import { DDSketch } from './ddsketch';
import type { Platform } from '../../platform/platform';

interface Bucket {
  endpointId: string;
  modelVersionId: string;
  minute: number;
  requests: number;
  errors: number;
  sketch: DDSketch;
  dirty: boolean;
}

const MINUTE_MS = 60_000;
/** Buckets stay in memory this long after their minute, so late predictions still land in them. */
const KEEP_MS = 2 * MINUTE_MS;

export type SlaTrackerDeps = Pick<Platform, 'db' | 'now' | 'logger'>;

/**
 * Per-minute request, error and latency aggregates of this replica's predictions, flushed to
 * `endpoint_stats_minute` so every replica's figures can be merged for a window. Recording costs a
 * map lookup and a sketch insert; nothing touches the database on the request path.
 */
export class SlaTracker {
  /** This process's name in the stats table. */
  readonly replica = randomUUID();
  private readonly buckets = new Map<string, Bucket>();
  /** Minutes the database refused on their own, dropped. */
  dropped = 0;

  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly logger: Logger;

  constructor(deps: SlaTrackerDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.logger = deps.logger;
  }

  /** `rows` predictions of one request that took `latencyMs` (a batch counts each row). */
  record(
    endpointId: string,
    modelVersionId: string,
    latencyMs: number,
    failed: boolean,
    rows = 1,
    at = this.now(),
  ): void {
    const minute = Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS;
    const key = `${endpointId}|${modelVersionId}|${minute}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = {
        endpointId,
        modelVersionId,
        minute,
        requests: 0,
        errors: 0,
        sketch: new DDSketch(),
        dirty: true,
      };
      this.buckets.set(key, bucket);
    }
    bucket.requests += rows;
    if (failed) bucket.errors += rows;
    else bucket.sketch.add(Math.max(0, latencyMs), rows);
    bucket.dirty = true;
  }

  /** Writes the minutes that changed since the last flush (each replica overwrites its own rows). */
  async flush(): Promise<void> {
    const dirty = [...this.buckets.values()].filter((b) => b.dirty);
    if (dirty.length) {
      for (const b of dirty) b.dirty = false;
      const unsettled = new Set(dirty);
      try {
        await writeIsolating(
          dirty,
          (rows) => this.upsert(rows),
          (rows, error) => {
            for (const b of rows) unsettled.delete(b);
            if (error === undefined) return;
            this.dropped += rows.length;
            this.logger?.error('endpoint stats minute refused by the database; dropped', {
              endpointId: rows[0].endpointId,
              minute: new Date(rows[0].minute).toISOString(),
              error: error instanceof Error ? error.message : String(error),
            });
          },
        );
      } catch (error) {
        for (const b of unsettled) b.dirty = true;
        throw error;
      }
    }
    const horizon = this.now().getTime() - KEEP_MS;
    for (const [key, b] of this.buckets)
      if (!b.dirty && b.minute + MINUTE_MS < horizon) this.buckets.delete(key);
  }

  private async upsert(rows: readonly Bucket[]): Promise<void> {
    await this.db.query(
      `INSERT INTO endpoint_stats_minute (endpoint_id, model_version_id, minute, replica, requests, errors, sketch)
       SELECT e, v, m, $4, r, x, s::jsonb
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $5::int[], $6::int[], $7::text[])
              AS t(e, v, m, r, x, s)
       ON CONFLICT ON CONSTRAINT pk_endpoint_stats_minute
       DO UPDATE SET requests = EXCLUDED.requests, errors = EXCLUDED.errors, sketch = EXCLUDED.sketch`,
      [
        rows.map((b) => b.endpointId),
        rows.map((b) => b.modelVersionId),
        rows.map((b) => new Date(b.minute).toISOString()),
        this.replica,
        rows.map((b) => b.requests),
        rows.map((b) => b.errors),
        rows.map((b) => JSON.stringify(b.sketch.toJSON())),
      ],
    );
  }
}
