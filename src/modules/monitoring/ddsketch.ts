/** The serialized form of a {@link DDSketch}: plain JSON, safe to store in a `jsonb` column. */
export interface SketchJson {
  /** Relative accuracy α the sketch was built with. */
  alpha: number;
  /** Total weight of the values below {@link DDSKETCH_ZERO_THRESHOLD} (the zero bucket). */
  zero: number;
  /** Bucket index (an integer, as a string key) → weight; only non-empty buckets are listed. */
  bins: Record<string, number>;
  /** Total weight: `zero` plus the sum of `bins`. */
  count: number;
  /** Exact weighted sum of the values added. */
  sum: number;
  /** Exact smallest value added; null when empty. */
  min: number | null;
  /** Exact largest value added; null when empty. */
  max: number | null;
}

/**
 * Values below this go to the zero bucket and are answered as 0. The relative-error guarantee does not
 * cover them (it cannot: log buckets never reach 0), but the absolute error is at most this.
 */
export const DDSKETCH_ZERO_THRESHOLD = 1e-9;

/** Default bound on the number of log buckets; past it the lowest buckets are collapsed. */
export const DDSKETCH_DEFAULT_MAX_BINS = 2048;

const SKETCH_KEYS = new Set(['alpha', 'zero', 'bins', 'count', 'sum', 'min', 'max']);
const INTEGER_KEY = /^-?(?:0|[1-9]\d*)$/;

/**
 * DDSketch (Masson, Rim, Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with Relative-Error
 * Guarantees", VLDB 2019) for non-negative values such as latencies in milliseconds.
 *
 * With γ = (1+α)/(1−α), a value x ≥ {@link DDSKETCH_ZERO_THRESHOLD} is counted in bucket
 * i = ⌈log_γ x⌉, which covers (γ^(i−1), γ^i]; the bucket answers 2γ^i/(γ+1), within relative error α of
 * every value in it. Smaller values go to a zero bucket answered as 0.
 *
 * Quantiles use the lower rank: `quantile(q)` estimates the value at zero-based rank ⌊q·(n−1)⌋ of the
 * sorted values (for weighted adds, the first value whose cumulative weight exceeds q·(n−1)), and the
 * estimate x̂ satisfies |x̂ − x| ≤ α·x. The exact min and max are kept: q = 0 and q = 1 answer them, and
 * every other answer is clamped to [min, max].
 *
 * Memory is bounded by the paper's collapsing variant: when more than `maxBins` log buckets are in use,
 * the lowest ones are merged into the lowest bucket kept. High quantiles (the SLA's p95/p99) keep the α
 * guarantee; only quantiles whose rank falls in the collapsed buckets are overestimated. At α = 0.01,
 * 2048 buckets span a ratio of about 10^17 between the smallest and largest value, so latencies never
 * collapse in practice; the bound is there for adversarial or corrupt input.
 *
 * Fully mergeable: merging the sketches of two streams gives exactly the sketch of their union (up to
 * floating-point rounding of `sum`), which is what lets per-minute windows roll up into SLA windows.
 */
export class DDSketch {
  readonly relativeAccuracy: number;
  readonly maxBins: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly bins = new Map<number, number>();
  private zeroCount = 0;
  private total = 0;
  private weightedSum = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;
  /** Once buckets have been collapsed, no bucket below this index exists; new low values land here. */
  private collapseFloor = -Infinity;

  /**
   * @param relativeAccuracy α in (0, 1): every quantile is answered within relative error α.
   * @param maxBins bound on the number of log buckets (at least 1); see the class notes on collapsing.
   */
  constructor(relativeAccuracy = 0.01, maxBins = DDSKETCH_DEFAULT_MAX_BINS) {
    if (!Number.isFinite(relativeAccuracy) || relativeAccuracy <= 0 || relativeAccuracy >= 1) {
      throw new RangeError(`relativeAccuracy must be in (0, 1), got ${relativeAccuracy}`);
    }
    if (!Number.isSafeInteger(maxBins) || maxBins < 1) {
      throw new RangeError(`maxBins must be a positive integer, got ${maxBins}`);
    }
    this.relativeAccuracy = relativeAccuracy;
    this.maxBins = maxBins;
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
  }

  /** Total weight added (the number of values, when every count is 1). */
  get count(): number {
    return this.total;
  }

  /** Exact weighted sum of the values added. */
  get sum(): number {
    return this.weightedSum;
  }

  /** Exact smallest value added; null when empty. */
  get min(): number | null {
    return this.total > 0 ? this.minValue : null;
  }

  /** Exact largest value added; null when empty. */
  get max(): number | null {
    return this.total > 0 ? this.maxValue : null;
  }

  /** Exact weighted mean; null when empty. */
  get mean(): number | null {
    return this.total > 0 ? this.weightedSum / this.total : null;
  }

  /**
   * Adds `value` with weight `count` (as if added `count` times; fractional weights are allowed). A zero
   * count adds nothing, so an empty batch needs no special case at the caller.
   * @throws RangeError when `value` is negative, NaN or infinite, or `count` is negative, NaN or infinite.
   */
  add(value: number, count = 1): void {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`DDSketch values must be finite and non-negative, got ${value}`);
    }
    if (!Number.isFinite(count) || count < 0) {
      throw new RangeError(`DDSketch counts must be finite and non-negative, got ${count}`);
    }
    if (count === 0) return;
    if (value < DDSKETCH_ZERO_THRESHOLD) {
      this.zeroCount += count;
    } else {
      this.addToBin(this.indexOf(value), count);
    }
    this.total += count;
    this.weightedSum += value * count;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
  }

  /**
   * Adds every value of `other` to this sketch; `other` is left unchanged.
   * @throws RangeError when the sketches were built with different relative accuracies (their buckets
   * do not line up).
   */
  merge(other: DDSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      const accuracies = `${this.relativeAccuracy} and ${other.relativeAccuracy}`;
      throw new RangeError(`cannot merge DDSketches with different relative accuracies (${accuracies})`);
    }
    if (other.total === 0) return;
    // Snapshot first: merging a sketch into itself must not see its own additions.
    for (const [index, count] of [...other.bins]) this.addToBin(index, count);
    this.zeroCount += other.zeroCount;
    this.total += other.total;
    this.weightedSum += other.weightedSum;
    if (other.minValue < this.minValue) this.minValue = other.minValue;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
  }

  /**
   * Estimates the q-quantile (lower-rank definition, see the class notes); null when the sketch is empty.
   * @throws RangeError when q is not in [0, 1].
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
    if (this.total === 0) return null;
    // The extremes are known exactly, so they are answered exactly (even from collapsed buckets).
    if (q === 0) return this.minValue;
    if (q === 1) return this.maxValue;
    const rank = q * (this.total - 1);
    let cumulative = this.zeroCount;
    let estimate = this.maxValue;
    if (cumulative > rank) {
      estimate = 0;
    } else {
      const indices = [...this.bins.keys()].sort((a, b) => a - b);
      for (const index of indices) {
        cumulative += this.bins.get(index) ?? 0;
        if (cumulative > rank) {
          estimate = this.valueOf(index);
          break;
        }
      }
      // Falling through means rounding in fractional weights left `cumulative` a hair short of the
      // total; the answer is then the top of the distribution, and `estimate` already holds max.
    }
    return Math.min(this.maxValue, Math.max(this.minValue, estimate));
  }

  /** The sketch as plain JSON (see {@link SketchJson}); {@link DDSketch.fromJSON} reads it back. */
  toJSON(): SketchJson {
    const bins: Record<string, number> = {};
    for (const index of [...this.bins.keys()].sort((a, b) => a - b)) {
      bins[String(index)] = this.bins.get(index) ?? 0;
    }
    return {
      alpha: this.relativeAccuracy,
      zero: this.zeroCount,
      bins,
      count: this.total,
      sum: this.weightedSum,
      min: this.min,
      max: this.max,
    };
  }

  /**
   * Reads a sketch written by {@link DDSketch.toJSON}. Validation is strict because the input usually
   * comes from storage or another process: unknown keys, non-integer bucket indices, non-positive or
   * non-finite weights, a `count` that disagrees with the buckets, or min/max inconsistent with the
   * count are all rejected. More than `maxBins` buckets are collapsed as on insertion.
   * @throws TypeError on a wrong shape, RangeError on out-of-range numbers.
   */
  static fromJSON(json: unknown, maxBins = DDSKETCH_DEFAULT_MAX_BINS): DDSketch {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new TypeError('DDSketch JSON must be an object');
    }
    const record = json as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!SKETCH_KEYS.has(key)) throw new TypeError(`DDSketch JSON has an unknown key "${key}"`);
    }
    const alpha = requireNumber(record, 'alpha');
    const zero = requireNumber(record, 'zero');
    const count = requireNumber(record, 'count');
    const sum = requireNumber(record, 'sum');
    const sketch = new DDSketch(alpha, maxBins);
    if (zero < 0) throw new RangeError('DDSketch JSON "zero" must be non-negative');
    if (count < 0) throw new RangeError('DDSketch JSON "count" must be non-negative');
    if (sum < 0) throw new RangeError('DDSketch JSON "sum" must be non-negative');

    const bins = record.bins;
    if (typeof bins !== 'object' || bins === null || Array.isArray(bins)) {
      throw new TypeError('DDSketch JSON "bins" must be an object');
    }
    let binTotal = 0;
    for (const [key, weight] of Object.entries(bins as Record<string, unknown>)) {
      const index = Number(key);
      if (!INTEGER_KEY.test(key) || !Number.isSafeInteger(index)) {
        throw new TypeError(`DDSketch JSON bin key "${key}" is not an integer`);
      }
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
        throw new RangeError(`DDSketch JSON bin "${key}" must have a positive finite weight`);
      }
      binTotal += weight;
      sketch.addToBin(index, weight);
    }
    const expected = zero + binTotal;
    if (Math.abs(expected - count) > 1e-9 * Math.max(1, count)) {
      throw new RangeError(`DDSketch JSON "count" (${count}) disagrees with its buckets (${expected})`);
    }

    const { min, max } = record;
    if (count === 0) {
      if (min !== null || max !== null || sum !== 0) {
        throw new RangeError('an empty DDSketch JSON must have min and max null and sum 0');
      }
    } else {
      if (
        typeof min !== 'number' ||
        typeof max !== 'number' ||
        !Number.isFinite(min) ||
        !Number.isFinite(max)
      ) {
        throw new TypeError('DDSketch JSON "min" and "max" must be finite numbers when count > 0');
      }
      if (min < 0 || min > max) throw new RangeError('DDSketch JSON must have 0 <= min <= max');
      sketch.minValue = min;
      sketch.maxValue = max;
    }
    sketch.zeroCount = zero;
    sketch.total = count;
    sketch.weightedSum = sum;
    return sketch;
  }

  private indexOf(value: number): number {
    return Math.ceil(Math.log(value) / this.logGamma);
  }

  /** The bucket's answer: 2γ^i/(γ+1), the point equidistant in relative terms from both bounds. */
  private valueOf(index: number): number {
    return (2 * Math.exp(index * this.logGamma)) / (this.gamma + 1);
  }

  private addToBin(index: number, count: number): void {
    const target = Math.max(index, this.collapseFloor);
    this.bins.set(target, (this.bins.get(target) ?? 0) + count);
    if (this.bins.size > this.maxBins) this.collapse();
  }

  /** Merges the lowest buckets into the lowest one kept, so that `maxBins` remain. */
  private collapse(): void {
    const indices = [...this.bins.keys()].sort((a, b) => a - b);
    const excess = indices.length - this.maxBins;
    const target = indices[excess];
    let moved = 0;
    for (let i = 0; i < excess; i++) {
      moved += this.bins.get(indices[i]) ?? 0;
      this.bins.delete(indices[i]);
    }
    this.bins.set(target, (this.bins.get(target) ?? 0) + moved);
    this.collapseFloor = target;
  }
}

function requireNumber(record: Record<string, unknown>, key: string): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`DDSketch JSON "${key}" must be a finite number`);
  }
  return value;
}
