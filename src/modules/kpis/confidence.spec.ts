import { mulberry32 } from '../../common/random';
import { meanInterval, normalQuantile, tQuantile, welchInterval } from './confidence';

const summarize = (values: number[]) => {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { n, mean, variance };
};

describe('confidence intervals', () => {
  it('matches normal and t tables', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    // Two-sided 95% critical values from standard t tables.
    expect(tQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(tQuantile(0.975, 2)).toBeCloseTo(4.3027, 3);
    expect(tQuantile(0.975, 3)).toBeCloseTo(3.1824, 2);
    expect(tQuantile(0.975, 5)).toBeCloseTo(2.5706, 3);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.2281, 3);
    expect(tQuantile(0.975, 30)).toBeCloseTo(2.0423, 3);
    expect(tQuantile(0.995, 20)).toBeCloseTo(2.8453, 3);
  });

  it('is exact at small and fractional degrees of freedom (99% two-sided)', () => {
    // Published two-sided 99% critical values.
    expect(tQuantile(0.995, 1)).toBeCloseTo(63.657, 3);
    expect(tQuantile(0.995, 2)).toBeCloseTo(9.925, 3);
    expect(tQuantile(0.995, 5)).toBeCloseTo(4.032, 3);
    expect(tQuantile(0.995, 30)).toBeCloseTo(2.75, 3);
    // Welch–Satterthwaite gives fractional df; reference values from scipy.stats.t.ppf (computed
    // independently of stdlib).
    expect(tQuantile(0.995, 1.2)).toBeCloseTo(33.239028, 4);
    expect(tQuantile(0.995, 1.5)).toBeCloseTo(17.820311, 4);
    expect(tQuantile(0.995, 2.5)).toBeCloseTo(7.163728, 4);
    expect(tQuantile(0.975, 1.2)).toBeCloseTo(8.648827, 4);
    expect(tQuantile(0.975, 1.5)).toBeCloseTo(6.016663, 4);
    expect(tQuantile(0.005, 1.5)).toBeCloseTo(-17.820311, 4);
  });

  it('widens a Welch interval to the exact quantile at fractional df', () => {
    // Equal variances and sizes of 2: df = (v + v)^2 / (v^2 + v^2) = 2 exactly; the half-width at 99%
    // is t(0.995, 2) * sqrt(2v/2).
    const a = { n: 2, mean: 0, variance: 1 };
    const b = { n: 2, mean: 3, variance: 1 };
    const interval = welchInterval(a, b, 0.99)!;
    expect(interval.high - 3).toBeCloseTo(9.924843, 4);
    // Unequal variances: df = (0.5 + 4.5)^2 / (0.25 + 20.25) = 1.2195…, where the Hill series used before
    // gave a half-width 22% too narrow. t(0.995, 25/20.5) = 31.587403 (scipy).
    const c = welchInterval({ n: 2, mean: 0, variance: 1 }, { n: 2, mean: 0, variance: 9 }, 0.99)!;
    expect(c.high).toBeCloseTo(31.587403 * Math.sqrt(5), 3);
  });

  it('covers the true mean difference about 95% of the time (Monte Carlo, seeded)', () => {
    const random = mulberry32(7);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    let covered = 0;
    let meanCovered = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      const a = Array.from({ length: 12 }, () => 10 + 2 * gaussian());
      const b = Array.from({ length: 30 }, () => 9 + 5 * gaussian());
      const interval = welchInterval(summarize(a), summarize(b))!;
      if (interval.low <= -1 && -1 <= interval.high) covered++;
      const m = meanInterval(summarize(a))!;
      if (m.low <= 10 && 10 <= m.high) meanCovered++;
    }
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.97);
    expect(meanCovered / trials).toBeGreaterThan(0.93);
    expect(meanCovered / trials).toBeLessThan(0.97);
  });

  it('has no interval below two values', () => {
    expect(meanInterval({ n: 1, mean: 3, variance: 0 })).toBeNull();
    expect(welchInterval({ n: 1, mean: 3, variance: 0 }, { n: 5, mean: 1, variance: 1 })).toBeNull();
  });
});
