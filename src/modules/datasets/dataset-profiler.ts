import { mulberry32 } from '../../common/random';
import type {
  CategoricalProfile,
  ColumnSpec,
  ColumnType,
  FeatureProfile,
  NumericProfile,
} from './dataset-profile';

/** The most columns a dataset version may have. */
export const MAX_COLUMNS = 500;
/** Bins per numeric column (deciles of the reference). */
export const NUMERIC_BINS = 10;
/** Categories kept by name per categorical column; the rest fold into {@link OTHER_CATEGORY}. */
export const TOP_CATEGORIES = 50;
export const OTHER_CATEGORY = '__other__';

export interface ProfilerOptions {
  /** Values sampled per numeric column for the quantiles; default 100,000, shrunk for wide tables. */
  reservoirSize?: number;
  /** Distinct categories counted exactly per column before the counter starts pruning. */
  maxTrackedCategories?: number;
  /** Seed of the sampling RNG: the same input and seed give the same profile. */
  seed?: number;
}

/** Memory budgets across all columns, so a 500-column table costs what a 50-column one does. */
const RESERVOIR_BUDGET = 5_000_000;
const CATEGORY_BUDGET = 1_000_000;

/** A value of a column declared NUMERIC that is not a number. */
export class NonNumericValueError extends Error {
  constructor(
    readonly column: string,
    /** 0-based index of the row as given to the profiler. */
    readonly row: number,
    readonly value: string,
  ) {
    super(`column "${column}": ${JSON.stringify(value)} is not a finite number`);
    this.name = 'NonNumericValueError';
  }
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A cell with no value: null, undefined, or a blank string (an empty CSV field). */
export function isNullCell(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '');
}

/**
 * The finite number a non-null cell holds, or undefined. Strings count when they are plain decimal
 * notation (no hex, no `Infinity`, no `NaN`), since CSV cells are always strings.
 */
export function numericValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The category a non-null cell counts as. */
export function categoryOf(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/** Keeps |x / scale| below this, so squared deviations summed over billions of rows stay finite. */
const SCALE_LIMIT = 2 ** 480;

/**
 * Mean and variance by Welford's method, in units of a power-of-two scale that grows when huge values
 * arrive; rescaling by a power of two is exact, so 1e300 and -1e300 do not overflow to Infinity.
 */
class Moments {
  n = 0;
  private mean = 0;
  private m2 = 0;
  private scale = 1;

  add(x: number): void {
    const magnitude = Math.abs(x) / this.scale;
    if (magnitude > SCALE_LIMIT) {
      const factor = 2 ** Math.ceil(Math.log2(magnitude / SCALE_LIMIT));
      this.mean /= factor;
      this.m2 = this.m2 / factor / factor;
      this.scale *= factor;
    }
    const y = x / this.scale;
    this.n++;
    const delta = y - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (y - this.mean);
  }

  get average(): number {
    return this.mean * this.scale;
  }

  get std(): number {
    return this.n ? Math.sqrt(this.m2 / this.n) * this.scale : 0;
  }
}

/**
 * Counts categories in bounded memory. Exact while at most `capacity` distinct values are seen; past
 * that it prunes like Misra-Gries (subtract the median count, drop what reaches zero), so every kept
 * count is low by at most total / (capacity / 2) and frequent categories survive. Lost counts end up in
 * `__other__`, so frequencies still sum to 1.
 */
class CategoryCounter {
  readonly counts = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  add(category: string): void {
    const current = this.counts.get(category);
    if (current !== undefined) {
      this.counts.set(category, current + 1);
      return;
    }
    if (this.counts.size >= this.capacity) this.prune();
    this.counts.set(category, 1);
  }

  private prune(): void {
    const sorted = [...this.counts.values()].sort((a, b) => a - b);
    const cut = Math.max(1, sorted[Math.floor(sorted.length / 2)]);
    for (const [key, count] of this.counts) {
      if (count <= cut) this.counts.delete(key);
      else this.counts.set(key, count - cut);
    }
  }
}

interface ScanState {
  name: string;
  override: ColumnType | undefined;
  nulls: number;
  values: number;
  /** Every non-null value so far parsed as a number. */
  numeric: boolean;
  moments: Moments;
  min: number;
  max: number;
  sample: number[];
  random: () => number;
}

interface CountState {
  spec: ColumnSpec;
  scan: ScanState;
  edges: number[];
  bins: number[];
  categories: CategoryCounter | undefined;
}

/**
 * Profiles a table in two streaming passes over the same rows, in the same order:
 *
 * 1. `scan` every row: infers the types, checks declared NUMERIC columns, and gathers min, max, mean,
 *    std (Welford) and a seeded reservoir sample for the decile edges.
 * 2. `columns()` fixes the types and edges; then `count` every row again: exact bin counts over all
 *    values, and category counts.
 *
 * Then `profile()`. Memory is bounded by the reservoir and category budgets, not by the row count, so a
 * CSV of any length can be streamed through it twice. The same rows and seed give the same profile.
 */
export class DatasetProfiler {
  private readonly scans: ScanState[];
  private counts: CountState[] | undefined;
  private readonly reservoirSize: number;
  private readonly maxCategories: number;
  private scanned = 0;

  constructor(
    readonly names: string[],
    overrides: ReadonlyMap<string, ColumnType> = new Map(),
    options: ProfilerOptions = {},
  ) {
    const width = Math.max(1, names.length);
    this.reservoirSize = Math.max(
      1,
      Math.min(options.reservoirSize ?? 100_000, Math.floor(RESERVOIR_BUDGET / width)),
    );
    this.maxCategories = Math.max(
      2 * TOP_CATEGORIES,
      Math.min(options.maxTrackedCategories ?? 20_000, Math.floor(CATEGORY_BUDGET / width)),
    );
    const seed = options.seed ?? 0x5eed;
    this.scans = names.map((name, i) => {
      const override = overrides.get(name);
      return {
        name,
        override,
        nulls: 0,
        values: 0,
        numeric: override !== 'CATEGORICAL',
        moments: new Moments(),
        min: Infinity,
        max: -Infinity,
        sample: [],
        random: mulberry32(seed + Math.imul(i + 1, 0x9e3779b1)),
      };
    });
  }

  /** Pass one. `cells[i]` is the value of column `names[i]`; `row` is reported in errors. */
  scan(cells: readonly unknown[], row: number): void {
    if (this.counts) throw new Error('scan() after columns()');
    this.scanned++;
    for (let i = 0; i < this.scans.length; i++) {
      const state = this.scans[i];
      const cell = cells[i];
      if (isNullCell(cell)) {
        state.nulls++;
        continue;
      }
      state.values++;
      if (!state.numeric) continue;
      const x = numericValue(cell);
      if (x === undefined) {
        if (state.override === 'NUMERIC') throw new NonNumericValueError(state.name, row, categoryOf(cell));
        state.numeric = false;
        state.sample = [];
        continue;
      }
      state.moments.add(x);
      if (x < state.min) state.min = x;
      if (x > state.max) state.max = x;
      // Reservoir sampling (Algorithm R) over the numeric values seen so far.
      const seen = state.moments.n;
      if (seen <= this.reservoirSize) {
        state.sample.push(x);
      } else {
        const j = Math.floor(state.random() * seen);
        if (j < this.reservoirSize) state.sample[j] = x;
      }
    }
  }

  /** Ends pass one: the column specs, types inferred unless declared. */
  columns(): ColumnSpec[] {
    if (!this.counts) {
      this.counts = this.scans.map((scan) => {
        const type: ColumnType = scan.override ?? (scan.numeric ? 'NUMERIC' : 'CATEGORICAL');
        const edges = type === 'NUMERIC' ? this.edgesOf(scan) : [];
        return {
          spec: { name: scan.name, type, nullable: scan.nulls > 0 },
          scan,
          edges,
          bins: new Array<number>(Math.max(0, edges.length - 1)).fill(0),
          categories: type === 'CATEGORICAL' ? new CategoryCounter(this.maxCategories) : undefined,
        };
      });
      for (const scan of this.scans) scan.sample = [];
    }
    return this.counts.map((c) => ({ ...c.spec }));
  }

  /** Rows seen by pass one. */
  get rowCount(): number {
    return this.scanned;
  }

  /** Pass two, over the same rows. */
  count(cells: readonly unknown[]): void {
    const counts = this.counts;
    if (!counts) throw new Error('count() before columns()');
    for (let i = 0; i < counts.length; i++) {
      const cell = cells[i];
      if (isNullCell(cell)) continue;
      const state = counts[i];
      if (state.categories) {
        state.categories.add(categoryOf(cell));
      } else {
        const x = numericValue(cell);
        if (x !== undefined) state.bins[binOf(state.edges, x)]++;
      }
    }
  }

  profile(): FeatureProfile {
    const counts = this.counts;
    if (!counts) throw new Error('profile() before columns()');
    const profile: FeatureProfile = {};
    for (const state of counts) {
      profile[state.spec.name] = state.categories ? categorical(state) : numeric(state);
    }
    return profile;
  }

  /** Decile edges from the sample, pinned to the exact min and max, deduplicated. */
  private edgesOf(scan: ScanState): number[] {
    if (scan.moments.n === 0) return [];
    const sorted = Float64Array.from(scan.sample).sort();
    const edges = [scan.min];
    for (let b = 1; b < NUMERIC_BINS; b++) edges.push(quantile(sorted, b / NUMERIC_BINS));
    edges.push(scan.max);
    const unique: number[] = [];
    for (const e of edges) if (!unique.length || e > unique[unique.length - 1]) unique.push(e);
    return unique.length === 1 ? [unique[0], unique[0]] : unique;
  }
}

/** The quantile `q` of sorted values, linearly interpolated (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo];
  const b = sorted[hi];
  const t = at - lo;
  if (t === 0 || a === b) return a;
  // b - a overflows for huge neighbours of opposite sign; then interpolate without the difference.
  const value = Number.isFinite(b - a) ? a + (b - a) * t : a * (1 - t) + b * t;
  return Math.min(b, Math.max(a, value));
}

/** The bin of `x`: the last i with edges[i] <= x, the maximum in the last bin. */
export function binOf(edges: readonly number[], x: number): number {
  const last = edges.length - 2;
  if (x >= edges[last + 1]) return last;
  let lo = 0;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (edges[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function numeric(state: CountState): NumericProfile {
  const { scan } = state;
  const n = scan.moments.n;
  const total = state.bins.reduce((s, c) => s + c, 0);
  return {
    type: 'NUMERIC',
    count: scan.values,
    nullCount: scan.nulls,
    min: n ? scan.min : null,
    max: n ? scan.max : null,
    mean: n ? scan.moments.average : null,
    std: n ? scan.moments.std : null,
    edges: state.edges,
    frequencies: total ? state.bins.map((c) => c / total) : [],
  };
}

function categorical(state: CountState): CategoricalProfile {
  const { scan } = state;
  const total = scan.values;
  const entries = [...state.categories!.counts.entries()]
    .filter(([key]) => key !== OTHER_CATEGORY)
    .sort(([ka, a], [kb, b]) => b - a || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .slice(0, TOP_CATEGORIES);
  const frequencies: Record<string, number> = {};
  let kept = 0;
  for (const [key, count] of entries) {
    frequencies[key] = count / total;
    kept += count;
  }
  if (total > kept) frequencies[OTHER_CATEGORY] = (total - kept) / total;
  return { type: 'CATEGORICAL', count: total, nullCount: scan.nulls, frequencies };
}

/** Both passes over rows held in memory. */
export function profileRows(
  names: string[],
  rows: ReadonlyArray<readonly unknown[]>,
  overrides?: ReadonlyMap<string, ColumnType>,
  options?: ProfilerOptions,
): { columns: ColumnSpec[]; profile: FeatureProfile; rowCount: number } {
  const profiler = new DatasetProfiler(names, overrides, options);
  rows.forEach((cells, i) => profiler.scan(cells, i));
  const columns = profiler.columns();
  for (const cells of rows) profiler.count(cells);
  return { columns, profile: profiler.profile(), rowCount: profiler.rowCount };
}
