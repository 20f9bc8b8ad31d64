import { BadInputError } from '../../common/errors';

/** Most points one `logRunMetrics` call may carry. */
export const MAX_POINTS_PER_CALL = 10_000;
export const MAX_METRIC_KEY_LENGTH = 200;
const MAX_STEP = 2_147_483_647;
const METRIC_KEY = /^[A-Za-z0-9_./:-]+$/;

/** A metric point as it arrives from GraphQL. */
export interface MetricPointLike {
  key: string;
  step?: number | null;
  value: number;
  timestamp?: Date | null;
}

/**
 * Points laid out as the column arrays the multi-row insert binds (one array per column). A timestamp
 * stays null where the caller gave none, so the columns also describe the request for idempotency
 * hashing; `fillTimestamps` supplies the clock just before the insert.
 */
export interface MetricColumns {
  keys: string[];
  steps: number[];
  values: number[];
  timestamps: Array<Date | null>;
}

/**
 * Validates a batch of points and lays it out by column, in one pass. Throws BAD_USER_INPUT naming the
 * first offending field (`points`, `points.<i>.key`, ...).
 */
export function toMetricColumns(points: readonly MetricPointLike[]): MetricColumns {
  const n = points.length;
  if (n < 1 || n > MAX_POINTS_PER_CALL) {
    throw new BadInputError('points', `must hold 1 to ${MAX_POINTS_PER_CALL} points, got ${n}`);
  }
  const keys = new Array<string>(n);
  const steps = new Array<number>(n);
  const values = new Array<number>(n);
  const timestamps = new Array<Date | null>(n);
  // Batches repeat a handful of keys: a key equal to the previous one is already known to be valid.
  let lastKey: string | undefined;
  for (let i = 0; i < n; i++) {
    const point = points[i];
    const key = point.key;
    if (key !== lastKey) {
      if (
        typeof key !== 'string' ||
        key.length < 1 ||
        key.length > MAX_METRIC_KEY_LENGTH ||
        !METRIC_KEY.test(key)
      ) {
        throw new BadInputError(
          `points.${i}.key`,
          `must be 1 to ${MAX_METRIC_KEY_LENGTH} letters, digits or _ . / : - characters`,
        );
      }
      lastKey = key;
    }
    const step = point.step ?? 0;
    if (!Number.isInteger(step) || step < 0 || step > MAX_STEP) {
      throw new BadInputError(`points.${i}.step`, `must be an integer from 0 to ${MAX_STEP}`);
    }
    const value = point.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new BadInputError(`points.${i}.value`, 'must be a finite number');
    }
    const timestamp = point.timestamp ?? null;
    if (timestamp !== null && (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime()))) {
      throw new BadInputError(`points.${i}.timestamp`, 'must be a valid date-time');
    }
    keys[i] = key;
    steps[i] = step;
    values[i] = value;
    timestamps[i] = timestamp;
  }
  return { keys, steps, values, timestamps };
}

/** Gives every point without a timestamp `now`, in place. */
export function fillTimestamps(columns: MetricColumns, now: Date): Date[] {
  const timestamps = columns.timestamps;
  for (let i = 0; i < timestamps.length; i++) if (timestamps[i] === null) timestamps[i] = now;
  return timestamps as Date[];
}
