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
