import studentTQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Summary statistics of a sample: enough to compare two samples without their values. */
export interface SampleSummary {
  n: number;
  mean: number;
  /** Unbiased sample variance; 0 for n < 2. */
  variance: number;
}

export interface Interval {
  low: number;
  high: number;
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9 after one Newton step). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  return x;
}

/**
 * Student's t quantile for `df` degrees of freedom, exact for any positive real `df` (stdlib inverts the
 * regularized incomplete beta). Welch–Satterthwaite degrees of freedom are fractional and often small,
 * where series approximations run too narrow and would declare a difference too early.
 */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`df must be positive, got ${df}`);
  return studentTQuantile(p, df);
}

/** Two-sided confidence interval of a sample's mean (t distribution); null below two values. */
export function meanInterval(s: SampleSummary, confidence = 0.95): Interval | null {
  if (s.n < 2) return null;
  const half = tQuantile(1 - (1 - confidence) / 2, s.n - 1) * Math.sqrt(s.variance / s.n);
  return { low: s.mean - half, high: s.mean + half };
}

/**
 * Confidence interval of `b.mean − a.mean` by Welch's t (unequal variances, Welch–Satterthwaite
 * degrees of freedom); null when either sample has fewer than two values.
 */
export function welchInterval(a: SampleSummary, b: SampleSummary, confidence = 0.95): Interval | null {
  if (a.n < 2 || b.n < 2) return null;
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se = Math.sqrt(va + vb);
  const diff = b.mean - a.mean;
  if (se === 0) return { low: diff, high: diff };
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const half = tQuantile(1 - (1 - confidence) / 2, df) * se;
  return { low: diff - half, high: diff + half };
}
