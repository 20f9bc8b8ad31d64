import { mulberry32 } from '../../common/random';
import {
  chiSquareTwoSample,
  chiSquareQuantile,
  chiSquareSurvival,
  chiSquareTest,
  jensenShannon,
  kolmogorovPValue,
  ksBinned,
  psi,
  psiThreshold,
} from './statistics';

function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function expectRelative(actual: number, expected: number, tolerance: number): void {
  expect(Math.abs(actual - expected) / expected).toBeLessThanOrEqual(tolerance);
}

/** Closed form for even df: Q = e^(−x/2) Σ_{k<df/2} (x/2)^k / k!, summed in logs to survive large x. */
function evenSurvival(x: number, df: number): number {
  let total = 0;
  let logTerm = -x / 2;
  for (let k = 0; k < df / 2; k++) {
    if (k > 0) logTerm += Math.log(x / 2) - Math.log(k);
    total += Math.exp(logTerm);
  }
  return total;
}

describe('psi', () => {
  it('is 0 for identical distributions, whether given as proportions or counts', () => {
    expect(psi([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])).toBe(0);
    expect(psi([0.1, 0.2, 0.3, 0.4], [10, 20, 30, 40])).toBeCloseTo(0, 15);
  });

  it('matches a hand-computed value', () => {
    const r = [0.25, 0.25, 0.25, 0.25];
    const c = [0.4, 0.3, 0.2, 0.1];
    const expected = c.reduce((total, ci, i) => total + (ci - r[i]) * Math.log(ci / r[i]), 0);
    expect(psi(r, [40, 30, 20, 10])).toBeCloseTo(expected, 12);
    expect(psi(r, c)).toBeCloseTo(0.2282, 4);
  });

  it('floors empty bins at epsilon instead of returning infinity', () => {
    const value = psi([0.5, 0.5], [1, 0]);
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(3);
    expect(psi([0.5, 0.5], [1, 0], 1e-2)).toBeLessThan(value);
  });

  it('is symmetric', () => {
    expect(psi([0.2, 0.3, 0.5], [0.5, 0.3, 0.2])).toBeCloseTo(psi([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]), 15);
  });

  it('rejects bad input', () => {
    expect(() => psi([0.5, 0.5], [1, 2, 3])).toThrow(RangeError);
    expect(() => psi([], [])).toThrow(RangeError);
    expect(() => psi([0.5, -0.5], [1, 1])).toThrow(RangeError);
    expect(() => psi([0.5, NaN], [1, 1])).toThrow(RangeError);
    expect(() => psi([0.5, 0.5], [0, 0])).toThrow(RangeError);
    expect(() => psi([0.5, 0.5], [1, 1], 0)).toThrow(RangeError);
  });
});

describe('jensenShannon', () => {
  it('is 0 for identical and 1 for disjoint distributions', () => {
    expect(jensenShannon([0.2, 0.3, 0.5], [2, 3, 5])).toBeCloseTo(0, 15);
    expect(jensenShannon([1, 0, 0], [0, 0.5, 0.5])).toBe(1);
    expect(jensenShannon([0, 3], [7, 0])).toBe(1);
  });

  it('matches a hand-computed value and is symmetric', () => {
    // p = (1, 0), q = (½, ½): m = (¾, ¼); JS = ½·log2(4/3) + ½·(½·log2(2/3) + ½·log2(2)).
    const expected = 0.5 * Math.log2(4 / 3) + 0.5 * (0.5 * Math.log2(2 / 3) + 0.5);
    expect(jensenShannon([1, 0], [0.5, 0.5])).toBeCloseTo(expected, 14);
    expect(jensenShannon([0.5, 0.5], [1, 0])).toBeCloseTo(expected, 14);
  });

  it('rejects bad input', () => {
    expect(() => jensenShannon([1], [1, 0])).toThrow(RangeError);
    expect(() => jensenShannon([0, 0], [1, 0])).toThrow(RangeError);
  });
});

describe('ksBinned', () => {
  it('is the largest gap between the cumulative proportions at the bin edges', () => {
    expect(ksBinned([0.25, 0.25, 0.25, 0.25], [25, 25, 25, 25])).toBeCloseTo(0, 15);
    // Cumulative: reference .25 .5 .75 1, current .1 .3 .6 1 → gaps .15 .2 .15 0.
    expect(ksBinned([0.25, 0.25, 0.25, 0.25], [10, 20, 30, 40])).toBeCloseTo(0.2, 15);
    expect(ksBinned([1, 0], [0, 5])).toBe(1);
  });

  it('never exceeds the exact D of the raw samples (a lower bound)', () => {
    const random = mulberry32(3);
    const reference = Array.from({ length: 2000 }, () => normal(random)).sort((a, b) => a - b);
    const current = Array.from({ length: 500 }, () => normal(random) + 0.2).sort((a, b) => a - b);
    const edges = Array.from({ length: 9 }, (_, k) => reference[((k + 1) * reference.length) / 10]);
    const binOf = (x: number) => edges.filter((edge) => x >= edge).length;
    const refCounts = new Array<number>(10).fill(0);
    const curCounts = new Array<number>(10).fill(0);
    for (const x of reference) refCounts[binOf(x)]++;
    for (const x of current) curCounts[binOf(x)]++;
    let exact = 0;
    for (const x of [...reference, ...current]) {
      const fr = reference.filter((v) => v <= x).length / reference.length;
      const fc = current.filter((v) => v <= x).length / current.length;
      exact = Math.max(exact, Math.abs(fr - fc));
    }
    const binned = ksBinned(refCounts, curCounts);
    expect(binned).toBeGreaterThan(0);
    expect(binned).toBeLessThanOrEqual(exact + 1e-12);
  });
});

describe('kolmogorovPValue', () => {
  const lambdaFactor = (n: number, m: number) => {
    const ne = (n * m) / (n + m);
    return Math.sqrt(ne) + 0.12 + 0.11 / Math.sqrt(ne);
  };

  it('gives ≈ 0.05 at λ = 1.36', () => {
    const d = 1.36 / lambdaFactor(1000, 1000);
    expect(kolmogorovPValue(d, 1000, 1000)).toBeCloseTo(0.0494858768, 8);
  });

  it('matches the Kolmogorov distribution on both sides of the series switch at λ = 1.18', () => {
    // Reference survival of the Kolmogorov distribution (scipy.stats.kstwobign.sf).
    const reference: Array<[number, number]> = [
      [0.5, 0.963945244],
      [1.0, 0.269999672],
      [1.18, 0.123453809],
      [2.0, 0.000670925256],
    ];
    for (const [lambda, expected] of reference) {
      const d = lambda / lambdaFactor(400, 600);
      expectRelative(kolmogorovPValue(d, 400, 600), expected, 1e-8);
    }
    const below = kolmogorovPValue((1.18 * (1 - 1e-12)) / lambdaFactor(50, 50), 50, 50);
    const above = kolmogorovPValue(1.18 / lambdaFactor(50, 50), 50, 50);
    expect(Math.abs(below - above)).toBeLessThan(1e-12);
  });

  it('is 1 for no difference and tiny λ, and shrinks as the samples grow', () => {
    expect(kolmogorovPValue(0, 100, 100)).toBe(1);
    expect(kolmogorovPValue(1e-6, 10, 10)).toBe(1);
    expect(kolmogorovPValue(0.05, 100, 100)).toBeGreaterThan(kolmogorovPValue(0.05, 10_000, 10_000));
    expect(kolmogorovPValue(1, 1e6, 1e6)).toBe(0);
  });

  it('rejects bad input', () => {
    expect(() => kolmogorovPValue(1.5, 10, 10)).toThrow(RangeError);
    expect(() => kolmogorovPValue(-0.1, 10, 10)).toThrow(RangeError);
    expect(() => kolmogorovPValue(0.1, 0, 10)).toThrow(RangeError);
    expect(() => kolmogorovPValue(NaN, 10, 10)).toThrow(RangeError);
  });
});

describe('chiSquareSurvival', () => {
  it('gives 0.05 and 0.01 at the tabulated critical values', () => {
    // Critical values from scipy.stats.chi2.ppf (df, 95th percentile, 99th percentile).
    const table: Array<[number, number, number]> = [
      [1, 3.841458820694124, 6.6348966010212145],
      [2, 5.991464547107979, 9.21034037197618],
      [3, 7.814727903251179, 11.344866730144373],
      [5, 11.070497693516351, 15.08627246938899],
      [10, 18.307038053275146, 23.209251158954356],
      [20, 31.410432844230918, 37.56623478662507],
      [50, 67.5048065495412, 76.1538912490127],
      [99, 123.2252214533618, 134.64161685578915],
      [100, 124.34211340400407, 135.80672317102676],
    ];
    for (const [df, x95, x99] of table) {
      expectRelative(chiSquareSurvival(x95, df), 0.05, 1e-11);
      expectRelative(chiSquareSurvival(x99, df), 0.01, 1e-11);
    }
    expect(chiSquareSurvival(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(18.307, 10)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(5.991, 2)).toBeCloseTo(0.05, 4);
  });

  it('matches the closed form for every even df from 2 to 100, far into the tail', () => {
    for (let df = 2; df <= 100; df += 2) {
      for (const x of [0.01, 0.5, df / 2, df - 1, df, df + 3, 2 * df, 5 * df + 50, 1000]) {
        expectRelative(chiSquareSurvival(x, df), evenSurvival(x, df), 1e-11);
      }
    }
  });

  it('matches reference values for odd and fractional df and extreme x', () => {
    // Q(df/2, x/2) from mpmath.gammainc(..., regularized=True) at 30 digits, rounded to doubles.
    const reference: Array<[number, number, number]> = [
      [1, 100, 1.523970604832105e-23],
      [1, 500, 9.505397766554091e-111],
      [3, 200, 4.2185411071920426e-43],
      [7, 1000, 1.2044267735190188e-211],
      [51, 400, 1.2112843634089995e-55],
      [100, 1000, 2.306076738035398e-148],
      [100, 60, 0.999481108537452],
      [100, 150, 0.0009039320423540091],
      [33, 20, 0.9634658994412613],
      [1, 1e-6, 0.9992021155721779],
      [0.5, 2, 0.06792113201010881],
      [2.5, 3, 0.3058496294458179],
    ];
    for (const [df, x, expected] of reference) expectRelative(chiSquareSurvival(x, df), expected, 1e-10);
  });

  it('handles the ends of the range and rejects bad input', () => {
    expect(chiSquareSurvival(0, 3)).toBe(1);
    expect(chiSquareSurvival(-1, 3)).toBe(1);
    expect(chiSquareSurvival(Infinity, 3)).toBe(0);
    expect(chiSquareSurvival(1e6, 3)).toBe(0);
    expect(() => chiSquareSurvival(NaN, 3)).toThrow(RangeError);
    expect(() => chiSquareSurvival(1, 0)).toThrow(RangeError);
    expect(() => chiSquareSurvival(1, -2)).toThrow(RangeError);
  });
});

describe('chiSquareQuantile', () => {
  it('inverts the survival function for df 1..100 across the range of p', () => {
    for (let df = 1; df <= 100; df++) {
      for (const p of [0.001, 0.05, 0.3, 0.5, 0.7, 0.95, 0.99, 0.999, 1 - 1e-9]) {
        const x = chiSquareQuantile(p, df);
        // Below the median 1 − survival is only accurate to ~1e-16 absolute, hence p ≥ 0.001 there.
        if (p < 0.5) expectRelative(1 - chiSquareSurvival(x, df), p, 1e-9);
        else expectRelative(chiSquareSurvival(x, df), 1 - p, 1e-9);
      }
    }
  });

  it('keeps its precision far into both tails', () => {
    // scipy.stats.chi2.ppf(1e-9, df) and chi2.isf(1e-9, df).
    const reference: Array<[number, number, number]> = [
      [1, 1.5707963267948974e-18, 37.324893051362324],
      [2, 2.0000000009999994e-9, 41.44653167389282],
      [5, 0.0008122895656656541, 50.69219370154303],
      [50, 10.959195093249177, 134.8685631924932],
      [100, 36.909297937181954, 209.317598706542],
    ];
    for (const [df, lower, upper] of reference) {
      expectRelative(chiSquareQuantile(1e-9, df), lower, 1e-9);
      // 1 − 1e-9 is not exact in binary; the residual moves the answer by a few parts in 1e9.
      expectRelative(chiSquareQuantile(1 - 1e-9, df), upper, 1e-8);
    }
  });

  it('gives the tabulated critical values', () => {
    expectRelative(chiSquareQuantile(0.95, 1), 3.841458820694124, 1e-12);
    expectRelative(chiSquareQuantile(0.95, 10), 18.307038053275146, 1e-12);
    expectRelative(chiSquareQuantile(0.99, 9), 21.665994333461924, 1e-12);
    expectRelative(chiSquareQuantile(0.5, 2), 2 * Math.LN2, 1e-12);
  });

  it('handles p = 0 and p = 1 and rejects bad input', () => {
    expect(chiSquareQuantile(0, 4)).toBe(0);
    expect(chiSquareQuantile(1, 4)).toBe(Infinity);
    expect(() => chiSquareQuantile(1.2, 4)).toThrow(RangeError);
    expect(() => chiSquareQuantile(0.5, 0)).toThrow(RangeError);
  });
});

describe('chiSquareTest', () => {
  const fair = [1, 1, 1, 1, 1, 1].map((v) => v / 6);

  function rollDice(n: number, faces: number[], random: () => number): number[] {
    const counts = new Array<number>(faces.length).fill(0);
    for (let i = 0; i < n; i++) {
      let u = random();
      let face = 0;
      while (face < faces.length - 1 && u >= faces[face]) u -= faces[face++];
      counts[face]++;
    }
    return counts;
  }

  it('matches a textbook example', () => {
    // 60 rolls, expected 10 per face: Σ (O − E)²/E = (25 + 4 + 1 + 4 + 0 + 100)/10 = 13.4 on 5 df.
    const result = chiSquareTest(fair, [5, 8, 9, 8, 10, 20]);
    expect(result.statistic).toBeCloseTo(13.4, 12);
    expect(result.df).toBe(5);
    expectRelative(result.pValue, 0.01990522033477438, 1e-10);
  });

  it('holds its 5% level on fair dice and rejects a loaded one', () => {
    const random = mulberry32(11);
    let rejections = 0;
    for (let trial = 0; trial < 1000; trial++) {
      const result = chiSquareTest(fair, rollDice(600, fair, random));
      expect(result.df).toBe(5);
      if (result.pValue < 0.05) rejections++;
    }
    expect(rejections / 1000).toBeGreaterThanOrEqual(0.03);
    expect(rejections / 1000).toBeLessThanOrEqual(0.07);
    const loaded = chiSquareTest(fair, rollDice(600, [0.1, 0.1, 0.1, 0.1, 0.1, 0.5], random));
    expect(loaded.pValue).toBeLessThan(1e-10);
  });

  it('pools bins expecting fewer than 5 before testing', () => {
    const reference = [0.5, 0.45, 0.03, 0.02];
    // N = 100: expected 50, 45, 3, 2; the last two pool into one bin of 5.
    const pooled = chiSquareTest(reference, [50, 45, 3, 2]);
    expect(pooled).toEqual({ statistic: 0, df: 2, pValue: 1 });
    const skewed = chiSquareTest(reference, [50, 45, 0, 5]);
    expect(skewed.df).toBe(2);
    expect(skewed.statistic).toBeCloseTo(0, 12);
    // N = 60: expected 30, 27, 1.8, 1.2; the pool (3) is still small and joins the 27.
    const joined = chiSquareTest(reference, [30, 24, 3, 3]);
    expect(joined.df).toBe(1);
    expect(joined.statistic).toBeCloseTo(0, 12);
    // A bin the reference never saw is pooled rather than dividing by zero.
    const unseen = chiSquareTest([0.5, 0.5, 0], [40, 40, 20]);
    expect(unseen.df).toBe(1);
    expect(Number.isFinite(unseen.statistic)).toBe(true);
  });

  it('has nothing to test when every bin is small or the window is empty', () => {
    expect(chiSquareTest(fair, [1, 0, 0, 1, 0, 1])).toEqual({ statistic: 0, df: 0, pValue: 1 });
    expect(chiSquareTest(fair, [0, 0, 0, 0, 0, 0])).toEqual({ statistic: 0, df: 0, pValue: 1 });
  });

  it('rejects bad input', () => {
    expect(() => chiSquareTest(fair, [1, 2])).toThrow(RangeError);
    expect(() => chiSquareTest(fair, [1, 2, 3, 4, 5, -6])).toThrow(RangeError);
    expect(() => chiSquareTest([0, 0], [1, 2])).toThrow(RangeError);
  });
});

describe('psiThreshold', () => {
  it('is (1/nRef + 1/nCur)·χ²₀.₉₉(bins − 1) above the floor', () => {
    expect(psiThreshold(10_000, 200, 10)).toBeCloseTo((1 / 10_000 + 1 / 200) * 21.665994333461924, 12);
    expect(psiThreshold(10_000, 200, 10, 0.05, 0)).toBeCloseTo(
      (1 / 10_000 + 1 / 200) * 16.918977604620448,
      12,
    );
  });

  it('decreases with the window size down to the floor', () => {
    const sizes = [20, 50, 100, 200, 500, 1000, 5000, 50_000, 1e6];
    const thresholds = sizes.map((n) => psiThreshold(10_000, n, 10));
    for (let i = 1; i < thresholds.length; i++) expect(thresholds[i]).toBeLessThanOrEqual(thresholds[i - 1]);
    expect(thresholds[0]).toBeGreaterThan(1);
    expect(psiThreshold(1e6, 1e6, 10)).toBe(0.1);
    expect(psiThreshold(1e6, 1e6, 10, 0.01, 0.05)).toBe(0.05);
    expect(psiThreshold(1e6, 1e6, 10, 0.01, 0)).toBeCloseTo(2e-6 * 21.665994333461924, 15);
  });

  it('rejects bad input', () => {
    expect(() => psiThreshold(0, 10, 10)).toThrow(RangeError);
    expect(() => psiThreshold(10, 10, 1)).toThrow(RangeError);
    expect(() => psiThreshold(10, 10, 2.5)).toThrow(RangeError);
    expect(() => psiThreshold(10, 10, 10, 0)).toThrow(RangeError);
    expect(() => psiThreshold(10, 10, 10, 0.01, -1)).toThrow(RangeError);
  });
});

/**
 * The evidence that `psi > psiThreshold(...)` is sample-size aware: both windows are drawn from the same
 * distribution many times, binned at the reference's deciles as a monitor would, and the rule must stay
 * quiet (≤ 2% false alarms, for a 1% nominal level) on a small and on a huge window, while still catching
 * a real shift. Every window of a trial is compared with that trial's reference. Seeded, so deterministic.
 */
describe('PSI drift rule (Monte Carlo)', () => {
  const TRIALS = 500;
  /** The 0.1 sd shift on 50,000 rows is a sanity check of the floor, not a rate estimate. */
  const SMALL_SHIFT_TRIALS = 100;
  const REFERENCE_ROWS = 10_000;
  const BINS = 10;
  const rates = { null200: 0, null50k: 0, shift2k: 0, smallShift50k: 0 };

  // Math is looked up on jest's sandbox global, which is slow in hot loops: hoist what the loops use.
  const { cos, log, sin, sqrt, PI } = Math;

  /** Standard normals by Box–Muller, using both outputs of each pair. */
  function normals(random: () => number): () => number {
    let spare: number | null = null;
    return () => {
      if (spare !== null) {
        const value = spare;
        spare = null;
        return value;
      }
      const radius = sqrt(-2 * log(1 - random()));
      const angle = 2 * PI * random();
      spare = radius * sin(angle);
      return radius * cos(angle);
    };
  }

  function binCounts(edges: Float64Array, rows: number, mean: number, normal: () => number): number[] {
    const counts = new Array<number>(BINS).fill(0);
    for (let i = 0; i < rows; i++) {
      const value = mean + normal();
      let bin = 0;
      while (bin < edges.length && value >= edges[bin]) bin++;
      counts[bin]++;
    }
    return counts;
  }

  beforeAll(() => {
    const normal = normals(mulberry32(2024));
    const alarms = { null200: 0, null50k: 0, shift2k: 0, smallShift50k: 0 };
    const fires = (reference: number[], current: number[], rows: number) =>
      psi(reference, current) > psiThreshold(REFERENCE_ROWS, rows, BINS);
    for (let trial = 0; trial < TRIALS; trial++) {
      const reference = new Float64Array(REFERENCE_ROWS);
      for (let i = 0; i < REFERENCE_ROWS; i++) reference[i] = normal();
      reference.sort();
      const edges = new Float64Array(BINS - 1);
      for (let k = 1; k < BINS; k++) edges[k - 1] = reference[(k * REFERENCE_ROWS) / BINS];
      const referenceCounts = binCounts(edges, 0, 0, normal);
      for (const value of reference) {
        let bin = 0;
        while (bin < edges.length && value >= edges[bin]) bin++;
        referenceCounts[bin]++;
      }

      if (fires(referenceCounts, binCounts(edges, 200, 0, normal), 200)) alarms.null200++;
      if (fires(referenceCounts, binCounts(edges, 50_000, 0, normal), 50_000)) alarms.null50k++;
      if (fires(referenceCounts, binCounts(edges, 2_000, 0.5, normal), 2_000)) alarms.shift2k++;
      if (
        trial < SMALL_SHIFT_TRIALS &&
        fires(referenceCounts, binCounts(edges, 50_000, 0.1, normal), 50_000)
      ) {
        alarms.smallShift50k++;
      }
    }
    rates.null200 = alarms.null200 / TRIALS;
    rates.null50k = alarms.null50k / TRIALS;
    rates.shift2k = alarms.shift2k / TRIALS;
    rates.smallShift50k = alarms.smallShift50k / SMALL_SHIFT_TRIALS;
  }, 180_000);

  it('raises at most ~2% false alarms on a 200-row window', () => {
    expect(rates.null200).toBeLessThanOrEqual(0.02);
  });

  it('raises at most ~2% false alarms on a 50,000-row window', () => {
    expect(rates.null50k).toBeLessThanOrEqual(0.02);
  });

  it('detects a 0.5 sd shift of the mean on a 2,000-row window in at least 95% of trials', () => {
    expect(rates.shift2k).toBeGreaterThanOrEqual(0.95);
  });

  it('ignores a statistically real but practically small shift (0.1 sd) on a huge window', () => {
    expect(rates.smallShift50k).toBe(0);
  });
});

describe('chiSquareTwoSample', () => {
  it('accounts for the reference being a sample, unlike the one-sample test', () => {
    const random = mulberry32(7);
    const draw = (n: number): number[] => {
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) {
        const u = random();
        counts[u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? 2 : 3]++;
      }
      return counts;
    };
    let rejections = 0;
    for (let trial = 0; trial < 300; trial++) {
      const reference = draw(10_000).map((c) => c / 10_000);
      if (chiSquareTwoSample(reference, 10_000, draw(50_000)).pValue < 0.01) rejections++;
    }
    expect(rejections / 300).toBeLessThan(0.03);
    const shifted = chiSquareTwoSample([0.4, 0.3, 0.2, 0.1], 10_000, [1500, 1500, 1000, 1000]);
    expect(shifted.df).toBe(3);
    expect(shifted.pValue).toBeLessThan(1e-10);
    expect(chiSquareTwoSample([0.5, 0.5], 100, [0, 0])).toEqual({ statistic: 0, df: 0, pValue: 1 });
  });
});
