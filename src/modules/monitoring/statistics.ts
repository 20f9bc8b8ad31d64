/**
 * Distribution-comparison statistics on binned data, for data-drift detection.
 *
 * Every function takes arrays over the same bins, in the same order. The reference may be given as
 * proportions or as counts: it is always normalised to sum to 1. The current window is given as counts;
 * only {@link chiSquareTest} depends on their magnitude (the others normalise them too). Negative, NaN
 * or infinite entries, arrays of different lengths and arrays with no mass are rejected with a
 * RangeError.
 */

/** The result of {@link chiSquareTest}. */
export interface ChiSquareTestResult {
  /** Pearson's statistic Σ (O − E)² / E over the bins left after merging small ones. */
  statistic: number;
  /** Degrees of freedom: bins after merging, minus one. */
  df: number;
  /** P(χ²(df) ≥ statistic); 1 when df is 0. */
  pValue: number;
}

/**
 * Population Stability Index: Σ (cᵢ − rᵢ)·ln(cᵢ/rᵢ) over the bin proportions of the current window (c)
 * and the reference (r). Both inputs are normalised; proportions below `epsilon` are raised to it and
 * the result renormalised, so an empty bin costs a large but finite amount rather than infinity.
 *
 * PSI is the symmetrised Kullback–Leibler divergence on the bins; it is ≥ 0 and 0 for identical
 * proportions. Its size under no drift depends on the sample sizes: compare it with
 * {@link psiThreshold}, not with a fixed 0.1 / 0.25.
 */
export function psi(reference: number[], current: number[], epsilon = 1e-4): number {
  checkPair(reference, current, 'reference', 'current');
  if (!(epsilon > 0 && epsilon < 1)) throw new RangeError(`epsilon must be in (0, 1), got ${epsilon}`);
  const r = floorProportions(normalise(reference), epsilon);
  const c = floorProportions(normalise(current), epsilon);
  let total = 0;
  for (let i = 0; i < r.length; i++) total += (c[i] - r[i]) * Math.log(c[i] / r[i]);
  // Each term is ≥ 0 in exact arithmetic; rounding must not report a negative index.
  return Math.max(0, total);
}

/**
 * Jensen–Shannon divergence in bits: ½·KL(p‖m) + ½·KL(q‖m) with m = (p + q)/2, log base 2, and
 * 0·log 0 = 0. Both inputs are normalised. It lies in [0, 1]: 0 for identical distributions, 1 for
 * distributions with disjoint support. Unlike PSI it stays finite when bins are empty.
 */
export function jensenShannon(p: number[], q: number[]): number {
  checkPair(p, q, 'p', 'q');
  const a = normalise(p);
  const b = normalise(q);
  let total = 0;
  for (let i = 0; i < a.length; i++) {
    const m = (a[i] + b[i]) / 2;
    if (a[i] > 0) total += a[i] * Math.log2(a[i] / m);
    if (b[i] > 0) total += b[i] * Math.log2(b[i] / m);
  }
  return clamp01(total / 2);
}

/**
 * The two-sample Kolmogorov–Smirnov statistic D evaluated at the bin edges:
 * maxₖ |Σᵢ≤ₖ rᵢ − Σᵢ≤ₖ cᵢ| over the normalised reference and current bins.
 *
 * The bins must be ordered (a numeric feature's ranges, low to high); on categorical bins the result
 * depends on an arbitrary order and means nothing. The exact D is a supremum over every point, and the
 * edges are only some of them, so with coarse (e.g. decile) bins this is a lower bound of the exact D,
 * and a p-value from {@link kolmogorovPValue} is correspondingly conservative.
 */
export function ksBinned(referenceProportions: number[], currentCounts: number[]): number {
  checkPair(referenceProportions, currentCounts, 'referenceProportions', 'currentCounts');
  const r = normalise(referenceProportions);
  const c = normalise(currentCounts);
  let cumulativeR = 0;
  let cumulativeC = 0;
  let d = 0;
  for (let i = 0; i < r.length; i++) {
    cumulativeR += r[i];
    cumulativeC += c[i];
    d = Math.max(d, Math.abs(cumulativeR - cumulativeC));
  }
  return clamp01(d);
}

/**
 * Asymptotic p-value of the two-sample Kolmogorov–Smirnov statistic `d` for samples of sizes n and m:
 * Q_KS(λ) with the effective size nₑ = n·m/(n + m) and Stephens' correction
 * λ = (√nₑ + 0.12 + 0.11/√nₑ)·D, where Q_KS(λ) = 2 Σₖ≥₁ (−1)^(k−1) e^(−2k²λ²) (Numerical Recipes,
 * `probks`). Below λ = 1.18 that alternating series converges slowly, so the equivalent form
 * 1 − (√(2π)/λ) Σₖ≥₁ e^(−(2k−1)²π²/(8λ²)) is summed instead. Clamped to [0, 1]; λ = 0 gives 1.
 */
export function kolmogorovPValue(d: number, n: number, m: number): number {
  if (!(d >= 0 && d <= 1)) throw new RangeError(`d must be in [0, 1], got ${d}`);
  checkPositive(n, 'n');
  checkPositive(m, 'm');
  const ne = (n * m) / (n + m);
  const sqrtNe = Math.sqrt(ne);
  const lambda = (sqrtNe + 0.12 + 0.11 / sqrtNe) * d;
  return kolmogorovQ(lambda);
}

function kolmogorovQ(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    const factor = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let k = 1; k < 100; k++) {
      const term = Math.exp(-(2 * k - 1) * (2 * k - 1) * factor);
      sum += term;
      if (term <= 1e-17 * sum) break;
    }
    return clamp01(1 - (Math.sqrt(2 * Math.PI) / lambda) * sum);
  }
  const a = -2 * lambda * lambda;
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(a * k * k);
    sum += k % 2 === 1 ? term : -term;
    if (term <= 1e-17 * Math.abs(sum)) break;
  }
  return clamp01(2 * sum);
}

/**
 * Pearson's chi-square goodness-of-fit test of the current counts against the reference proportions:
 * expected Eᵢ = N·rᵢ with N the total current count, statistic Σ (Oᵢ − Eᵢ)²/Eᵢ, df = bins − 1.
 *
 * The χ² approximation needs every expected count to be at least 5, so bins below that are pooled into
 * one bin; if the pool itself is still below 5 it joins the smallest remaining bin. Pooling (rather than
 * merging with an adjacent bin) works for categorical bins too, and since it depends only on the
 * expected counts the test stays valid. With nothing left to compare (df 0, including an empty current
 * window) the p-value is 1.
 *
 * The reference proportions are taken as exact. When they are themselves estimated from a sample that is
 * not much larger than the window, their own sampling noise is reported as drift: with a 10,000-row
 * reference and 50,000-row windows drawn from the same distribution, the test rejects at the 1% level in
 * most trials. Use it when the reference is much larger than the window; {@link psiThreshold} accounts
 * for both sample sizes.
 */
export function chiSquareTest(referenceProportions: number[], currentCounts: number[]): ChiSquareTestResult {
  checkLengths(referenceProportions, currentCounts, 'referenceProportions', 'currentCounts');
  checkWeights(referenceProportions, 'referenceProportions', true);
  checkWeights(currentCounts, 'currentCounts', false);
  const r = normalise(referenceProportions);
  const n = sum(currentCounts);
  if (n === 0) return { statistic: 0, df: 0, pValue: 1 };

  const groups: Array<{ expected: number; observed: number }> = [];
  const pool = { expected: 0, observed: 0 };
  let pooled = false;
  for (let i = 0; i < r.length; i++) {
    const expected = n * r[i];
    if (expected < 5) {
      pool.expected += expected;
      pool.observed += currentCounts[i];
      pooled = true;
    } else {
      groups.push({ expected, observed: currentCounts[i] });
    }
  }
  if (pooled) {
    if (pool.expected >= 5 || groups.length === 0) {
      groups.push(pool);
    } else {
      let smallest = groups[0];
      for (const group of groups) if (group.expected < smallest.expected) smallest = group;
      smallest.expected += pool.expected;
      smallest.observed += pool.observed;
    }
  }

  let statistic = 0;
  for (const { expected, observed } of groups)
    statistic += ((observed - expected) * (observed - expected)) / expected;
  const df = groups.length - 1;
  return { statistic, df, pValue: df > 0 ? chiSquareSurvival(statistic, df) : 1 };
}

/**
 * Pearson's chi-square test of homogeneity for two samples (a 2 × k contingency table): the reference,
 * given as proportions of `nReference` rows, and the current window's counts. Unlike
 * {@link chiSquareTest} it counts the reference's own sampling noise, so a window drawn from the same
 * distribution as a reference of similar size is not reported as different. Bins with no rows on
 * either side are dropped; expected cells below 5 are pooled as in {@link chiSquareTest}.
 */
export function chiSquareTwoSample(
  referenceProportions: number[],
  nReference: number,
  currentCounts: number[],
): ChiSquareTestResult {
  checkLengths(referenceProportions, currentCounts, 'referenceProportions', 'currentCounts');
  checkWeights(referenceProportions, 'referenceProportions', true);
  checkWeights(currentCounts, 'currentCounts', false);
  if (!(Number.isFinite(nReference) && nReference > 0)) throw new RangeError('nReference must be positive');
  const r = normalise(referenceProportions).map((p) => p * nReference);
  const n = sum(currentCounts);
  if (n === 0) return { statistic: 0, df: 0, pValue: 1 };
  const total = nReference + n;
  // Pool bins whose smaller expected cell is under 5, so the χ² approximation holds.
  const groups: Array<{ ref: number; cur: number }> = [];
  const pool = { ref: 0, cur: 0 };
  for (let i = 0; i < r.length; i++) {
    const column = r[i] + currentCounts[i];
    if (column === 0) continue;
    if ((column * Math.min(nReference, n)) / total < 5) {
      pool.ref += r[i];
      pool.cur += currentCounts[i];
    } else groups.push({ ref: r[i], cur: currentCounts[i] });
  }
  if (pool.ref + pool.cur > 0) groups.push(pool);
  let statistic = 0;
  for (const { ref, cur } of groups) {
    const column = ref + cur;
    const eRef = (column * nReference) / total;
    const eCur = (column * n) / total;
    statistic += ((ref - eRef) * (ref - eRef)) / eRef + ((cur - eCur) * (cur - eCur)) / eCur;
  }
  const df = groups.length - 1;
  return { statistic, df, pValue: df > 0 ? chiSquareSurvival(statistic, df) : 1 };
}

/**
 * P(X ≥ x) for X ~ χ²(df): the regularized upper incomplete gamma function Q(df/2, x/2), computed as in
 * Numerical Recipes (`gammq`): by the series for x/2 < df/2 + 1 and by the continued fraction (modified
 * Lentz) otherwise, with ln Γ from the Lanczos approximation (g = 7, 9 terms, ~15 digits). `df` may be
 * fractional; x ≤ 0 gives 1.
 */
export function chiSquareSurvival(x: number, df: number): number {
  checkPositive(df, 'df');
  if (Number.isNaN(x)) throw new RangeError('x must be a number, got NaN');
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  return regularizedGamma(df / 2, x / 2).upper;
}

/**
 * The χ²(df) quantile: the x with P(X ≤ x) = p. Solved by bisection on the regularized gamma function
 * (on the lower tail P when p < 0.5 and on the upper tail Q otherwise, so that small tail probabilities
 * keep their precision), to full double precision. p = 0 gives 0 and p = 1 gives Infinity.
 */
export function chiSquareQuantile(p: number, df: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1], got ${p}`);
  checkPositive(df, 'df');
  if (p === 0) return 0;
  if (p === 1) return Infinity;
  const a = df / 2;
  const upperTarget = 1 - p;
  // True while x is below the quantile.
  const below =
    p < 0.5
      ? (x: number) => regularizedGamma(a, x / 2).lower < p
      : (x: number) => regularizedGamma(a, x / 2).upper > upperTarget;
  let lo = 0;
  let hi = Math.max(1, df);
  while (below(hi)) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  for (let i = 0; i < 2000; i++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (below(mid)) lo = mid;
    else hi = mid;
  }
  return lo + (hi - lo) / 2;
}

/**
 * The sample-size-aware PSI alarm threshold. With no drift and reasonably filled bins,
 * PSI ≈ (1/n_ref + 1/n_cur)·χ²(bins − 1) (Yurdakul, "Statistical Properties of Population Stability
 * Index", 2018), so the critical value at level `alpha` is (1/n_ref + 1/n_cur)·χ²_{1−alpha}(bins − 1).
 * The threshold is the larger of that and `floor`: small windows need a larger PSI before it counts as
 * drift, while huge windows, where sampling noise vanishes, still need a shift of at least `floor` (an
 * effect size) so that a statistically real but practically meaningless shift never fires.
 *
 * The approximation assumes every bin expects several rows in both samples (as for a χ² test, roughly 5
 * or more). Below that, empty bins meet {@link psi}'s epsilon floor and PSI jumps well above the
 * approximation: size the bins to the window, or use {@link chiSquareTest} for tiny windows.
 */
export function psiThreshold(
  nReference: number,
  nCurrent: number,
  bins: number,
  alpha = 0.01,
  floor = 0.1,
): number {
  checkPositive(nReference, 'nReference');
  checkPositive(nCurrent, 'nCurrent');
  if (!Number.isSafeInteger(bins) || bins < 2)
    throw new RangeError(`bins must be an integer >= 2, got ${bins}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!(floor >= 0 && Number.isFinite(floor)))
    throw new RangeError(`floor must be finite and >= 0, got ${floor}`);
  const critical = (1 / nReference + 1 / nCurrent) * chiSquareQuantile(1 - alpha, bins - 1);
  return Math.max(floor, critical);
}

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 by the Lanczos approximation, with the reflection formula below 0.5. */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let series = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) series += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(series);
}

const GAMMA_EPS = 1e-16;
const GAMMA_TINY = 1e-300;
const GAMMA_MAX_ITERATIONS = 100_000;

/**
 * The regularized incomplete gamma functions P(a, x) (lower) and Q(a, x) = 1 − P (upper). One of the two
 * is computed directly (the one the chosen expansion yields), so whichever is small keeps its relative
 * precision.
 */
function regularizedGamma(a: number, x: number): { lower: number; upper: number } {
  if (x <= 0) return { lower: 0, upper: 1 };
  const logPrefix = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    // Series: P(a, x) = e^−x x^a / Γ(a) · Σₙ xⁿ / (a (a+1) … (a+n)).
    let term = 1 / a;
    let total = term;
    let ap = a;
    for (let n = 0; n < GAMMA_MAX_ITERATIONS; n++) {
      ap += 1;
      term *= x / ap;
      total += term;
      if (Math.abs(term) < Math.abs(total) * GAMMA_EPS) break;
    }
    const lower = Math.min(1, total * Math.exp(logPrefix));
    return { lower, upper: 1 - lower };
  }
  // Continued fraction for Q(a, x), evaluated by the modified Lentz method.
  let b = x + 1 - a;
  let c = 1 / GAMMA_TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < GAMMA_MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < GAMMA_TINY) d = GAMMA_TINY;
    c = b + an / c;
    if (Math.abs(c) < GAMMA_TINY) c = GAMMA_TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < GAMMA_EPS) break;
  }
  const upper = Math.min(1, Math.exp(logPrefix) * h);
  return { lower: 1 - upper, upper };
}

function checkLengths(a: number[], b: number[], nameA: string, nameB: string): void {
  if (a.length === 0) throw new RangeError(`${nameA} must not be empty`);
  if (a.length !== b.length) {
    throw new RangeError(`${nameA} and ${nameB} must have the same bins (${a.length} vs ${b.length})`);
  }
}

function checkWeights(values: number[], name: string, needMass: boolean): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`${name}[${i}] must be finite and non-negative, got ${value}`);
    }
  }
  if (needMass && !(sum(values) > 0)) throw new RangeError(`${name} must have a positive total`);
}

function checkPair(a: number[], b: number[], nameA: string, nameB: string): void {
  checkLengths(a, b, nameA, nameB);
  checkWeights(a, nameA, true);
  checkWeights(b, nameB, true);
}

function checkPositive(value: number, name: string): void {
  if (!(value > 0 && Number.isFinite(value)))
    throw new RangeError(`${name} must be finite and > 0, got ${value}`);
}

function sum(values: number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function normalise(values: number[]): number[] {
  const total = sum(values);
  return values.map((value) => value / total);
}

function floorProportions(proportions: number[], epsilon: number): number[] {
  return normalise(proportions.map((value) => Math.max(value, epsilon)));
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}
