import { mulberry32 } from '../../common/random';
import { DDSketch, type SketchJson } from './ddsketch';

const QUANTILES = [0, 0.5, 0.95, 0.99, 1];

/** The lower-rank quantile the sketch promises to approximate: sorted[⌊q·(n−1)⌋]. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

function relativeError(estimate: number, exact: number): number {
  return exact === 0 ? Math.abs(estimate) : Math.abs(estimate - exact) / exact;
}

function sample(n: number, seed: number, draw: (random: () => number) => number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => draw(random));
}

function sketchOf(values: number[], alpha = 0.01): DDSketch {
  const sketch = new DDSketch(alpha);
  for (const value of values) sketch.add(value);
  return sketch;
}

const distributions: Array<[string, (random: () => number) => number]> = [
  ['uniform on [0, 1000) ms', (random) => random() * 1000],
  ['exponential, mean 120 ms', (random) => -Math.log(1 - random()) * 120],
  ['Pareto, shape 1.1 (heavy-tailed)', (random) => 5 / Math.pow(1 - random(), 1 / 1.1)],
  ['log-normal, sigma 2.5', (random) => Math.exp(2.5 * normal(random))],
];

function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

describe('DDSketch', () => {
  describe.each(distributions)('on %s', (_name, draw) => {
    const values = sample(20_000, 42, draw);
    const sorted = [...values].sort((a, b) => a - b);

    it.each([0.01, 0.02, 0.05])('answers quantiles within relative error alpha = %p', (alpha) => {
      const sketch = sketchOf(values, alpha);
      for (const q of QUANTILES) {
        const estimate = sketch.quantile(q);
        expect(estimate).not.toBeNull();
        // The 1e-12 slack absorbs floating-point rounding of log(x)/log(γ) at a bucket boundary.
        expect(relativeError(estimate as number, exactQuantile(sorted, q))).toBeLessThanOrEqual(
          alpha + 1e-12,
        );
      }
    });

    it('stays within alpha on a fine sweep of q', () => {
      const sketch = sketchOf(values);
      for (let i = 0; i <= 1000; i++) {
        const q = i / 1000;
        const error = relativeError(sketch.quantile(q) as number, exactQuantile(sorted, q));
        expect(error).toBeLessThanOrEqual(0.01 + 1e-12);
      }
    });

    it('keeps count, sum, min, max and mean exact', () => {
      const sketch = sketchOf(values);
      const total = values.reduce((a, b) => a + b, 0);
      expect(sketch.count).toBe(values.length);
      expect(sketch.sum).toBeCloseTo(total, 6);
      expect(sketch.min).toBe(sorted[0]);
      expect(sketch.max).toBe(sorted[sorted.length - 1]);
      expect(sketch.mean).toBeCloseTo(total / values.length, 9);
      expect(sketch.quantile(0)).toBe(sorted[0]);
      expect(sketch.quantile(1)).toBe(sorted[sorted.length - 1]);
    });
  });

  it('is exact on small samples at the documented rank', () => {
    const sketch = sketchOf([10, 20, 30, 40]);
    // ⌊0.5·3⌋ = 1 → 20; ⌊0.99·3⌋ = 2 → 30.
    expect(relativeError(sketch.quantile(0.5) as number, 20)).toBeLessThanOrEqual(0.01);
    expect(relativeError(sketch.quantile(0.99) as number, 30)).toBeLessThanOrEqual(0.01);
    expect(sketch.quantile(1)).toBe(40);
    const single = sketchOf([123.4]);
    for (const q of QUANTILES) expect(single.quantile(q)).toBe(123.4);
  });

  it('counts weights as repeated values', () => {
    const weighted = new DDSketch();
    weighted.add(5, 3);
    weighted.add(100, 1);
    const repeated = sketchOf([5, 5, 5, 100]);
    expect(weighted.toJSON()).toEqual(repeated.toJSON());
    expect(weighted.quantile(0.5)).toBe(repeated.quantile(0.5));
  });

  it('puts zero and sub-threshold values in the zero bucket', () => {
    const sketch = sketchOf([0, 0, 0, 1e-12, 50, 60]);
    expect(sketch.toJSON().zero).toBe(4);
    expect(sketch.quantile(0)).toBe(0);
    expect(sketch.quantile(0.5)).toBeLessThan(1e-9);
    expect(relativeError(sketch.quantile(0.8) as number, 50)).toBeLessThanOrEqual(0.01);
    const zeros = sketchOf([0, 0]);
    expect(zeros.quantile(0.99)).toBe(0);
    expect(zeros.mean).toBe(0);
  });

  it('returns null (and null min, max, mean) when empty', () => {
    const sketch = new DDSketch();
    expect(sketch.quantile(0.5)).toBeNull();
    expect(sketch.count).toBe(0);
    expect(sketch.sum).toBe(0);
    expect(sketch.min).toBeNull();
    expect(sketch.max).toBeNull();
    expect(sketch.mean).toBeNull();
    expect(sketch.toJSON()).toEqual({
      alpha: 0.01,
      zero: 0,
      bins: {},
      count: 0,
      sum: 0,
      min: null,
      max: null,
    });
  });

  it('rejects negative, NaN and infinite values, bad counts and bad q; a zero count adds nothing', () => {
    const sketch = new DDSketch();
    for (const bad of [-1, -1e-300, NaN, Infinity, -Infinity]) {
      expect(() => sketch.add(bad)).toThrow(RangeError);
    }
    for (const bad of [-1, NaN, Infinity]) expect(() => sketch.add(1, bad)).toThrow(RangeError);
    sketch.add(7, 0);
    expect(sketch.count).toBe(0);
    expect(sketch.max).toBeNull();
    for (const bad of [-0.01, 1.01, NaN]) expect(() => sketch.quantile(bad)).toThrow(RangeError);
    for (const bad of [0, 1, -0.1, NaN]) expect(() => new DDSketch(bad)).toThrow(RangeError);
    expect(() => new DDSketch(0.01, 0)).toThrow(RangeError);
  });

  describe('merge', () => {
    const a = sample(5_000, 1, (random) => random() * 200);
    const b = [...sample(7_000, 2, (random) => -Math.log(1 - random()) * 800), 0, 0, 0];

    it('gives the sketch of the union', () => {
      const merged = sketchOf(a);
      merged.merge(sketchOf(b));
      const union = sketchOf([...a, ...b]);
      const { sum: mergedSum, ...mergedRest } = merged.toJSON();
      const { sum: unionSum, ...unionRest } = union.toJSON();
      expect(mergedRest).toEqual(unionRest);
      expect(mergedSum).toBeCloseTo(unionSum, 6);
      for (let i = 0; i <= 100; i++) expect(merged.quantile(i / 100)).toBe(union.quantile(i / 100));
    });

    it('leaves the other sketch unchanged, handles empty sketches and self-merge', () => {
      const other = sketchOf(b);
      const before = other.toJSON();
      const target = new DDSketch();
      target.merge(other);
      expect(other.toJSON()).toEqual(before);
      expect(target.toJSON()).toEqual(before);
      target.merge(new DDSketch());
      expect(target.toJSON()).toEqual(before);

      const doubled = sketchOf(a);
      doubled.merge(doubled);
      const twice = sketchOf([...a, ...a]);
      expect(doubled.toJSON().bins).toEqual(twice.toJSON().bins);
      expect(doubled.count).toBe(2 * a.length);
    });

    it('refuses sketches of a different accuracy', () => {
      expect(() => new DDSketch(0.01).merge(new DDSketch(0.02))).toThrow(RangeError);
    });
  });

  describe('collapsing', () => {
    // One value per decade tenth from 1 to 1e20: 201 distinct buckets at α = 0.01.
    const values = Array.from({ length: 201 }, (_, k) => Math.pow(10, k / 10));

    it('keeps at most maxBins buckets, the count, and the high quantiles', () => {
      const sketch = new DDSketch(0.01, 32);
      for (const value of values) sketch.add(value);
      expect(Object.keys(sketch.toJSON().bins)).toHaveLength(32);
      expect(sketch.count).toBe(201);
      for (const q of [0.9, 0.95, 0.99, 1]) {
        expect(relativeError(sketch.quantile(q) as number, exactQuantile(values, q))).toBeLessThanOrEqual(
          0.01 + 1e-12,
        );
      }
      // The collapsed low end is overestimated, never underestimated.
      expect(sketch.quantile(0.5) as number).toBeGreaterThan(exactQuantile(values, 0.5));

      sketch.add(1e-3);
      expect(Object.keys(sketch.toJSON().bins)).toHaveLength(32);
      expect(sketch.quantile(0)).toBe(1e-3);
    });

    it('collapses merges and loaded JSON the same way', () => {
      const wide = new DDSketch(0.01);
      for (const value of values) wide.add(value);
      const bounded = new DDSketch(0.01, 32);
      bounded.merge(wide);
      expect(Object.keys(bounded.toJSON().bins)).toHaveLength(32);
      expect(DDSketch.fromJSON(wide.toJSON(), 32).toJSON()).toEqual(bounded.toJSON());
    });
  });

  describe('JSON', () => {
    const values = [...sample(3_000, 7, (random) => -Math.log(1 - random()) * 50), 0, 0.5];

    it('round-trips through JSON.stringify', () => {
      const sketch = sketchOf(values, 0.02);
      const restored = DDSketch.fromJSON(JSON.parse(JSON.stringify(sketch)));
      expect(restored.toJSON()).toEqual(sketch.toJSON());
      expect(restored.relativeAccuracy).toBe(0.02);
      for (const q of QUANTILES) expect(restored.quantile(q)).toBe(sketch.quantile(q));
      restored.add(10);
      sketch.add(10);
      expect(restored.toJSON()).toEqual(sketch.toJSON());
    });

    it('round-trips an empty sketch', () => {
      const restored = DDSketch.fromJSON(new DDSketch().toJSON());
      expect(restored.count).toBe(0);
      expect(restored.quantile(0.5)).toBeNull();
    });

    const valid = (): SketchJson => ({
      alpha: 0.01,
      zero: 1,
      bins: { '-3': 2, '10': 1 },
      count: 4,
      sum: 12,
      min: 0,
      max: 11,
    });

    it('accepts a well-formed object', () => {
      expect(DDSketch.fromJSON(valid()).count).toBe(4);
    });

    const garbage: Array<[string, unknown]> = [
      ['null', null],
      ['a string', 'sketch'],
      ['an array', []],
      ['a missing key', (({ sum: _sum, ...rest }) => rest)(valid())],
      ['an unknown key', { ...valid(), extra: 1 }],
      ['alpha out of range', { ...valid(), alpha: 1 }],
      ['alpha as a string', { ...valid(), alpha: '0.01' }],
      ['a non-integer bin key', { ...valid(), bins: { '1.5': 1, '10': 2 } }],
      ['a non-numeric bin key', { ...valid(), bins: { abc: 1, '10': 2 } }],
      ['a zero bin weight', { ...valid(), bins: { '-3': 0, '10': 3 } }],
      ['a negative bin weight', { ...valid(), bins: { '-3': -2, '10': 5 } }],
      ['bins as an array', { ...valid(), bins: [2, 1] }],
      ['a count that disagrees with the bins', { ...valid(), count: 5 }],
      ['a negative zero count', { ...valid(), zero: -1, count: 2 }],
      ['a negative sum', { ...valid(), sum: -1 }],
      ['an infinite sum', { ...valid(), sum: Infinity }],
      ['min above max', { ...valid(), min: 12, max: 11 }],
      ['min null with a count', { ...valid(), min: null }],
      ['an empty sketch with a min', { alpha: 0.01, zero: 0, bins: {}, count: 0, sum: 0, min: 0, max: null }],
    ];

    it.each(garbage)('rejects %s', (_name, json) => {
      expect(() => DDSketch.fromJSON(json)).toThrow(/DDSketch JSON|relativeAccuracy/);
    });
  });
});
