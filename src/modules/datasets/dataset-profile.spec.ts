import type { CategoricalProfile, NumericProfile } from './dataset-profile';
import {
  DatasetProfiler,
  NonNumericValueError,
  OTHER_CATEGORY,
  binOf,
  numericValue,
  profileRows,
  quantile,
} from './dataset-profiler';

const column = (values: unknown[], overrides?: Map<string, 'NUMERIC' | 'CATEGORICAL'>, options = {}) =>
  profileRows(
    ['x'],
    values.map((v) => [v]),
    overrides,
    options,
  );
const numeric = (values: unknown[], options = {}) => {
  const result = column(values, undefined, options);
  expect(result.columns[0].type).toBe('NUMERIC');
  return result.profile.x as NumericProfile;
};
const categorical = (values: unknown[]) => {
  const result = column(values);
  expect(result.columns[0].type).toBe('CATEGORICAL');
  return result.profile.x as CategoricalProfile;
};
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

/** A seeded LCG, so the large inputs are the same on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

describe('numericValue', () => {
  it('reads plain decimal notation only', () => {
    expect(numericValue(3)).toBe(3);
    expect(numericValue(' -1.5 ')).toBe(-1.5);
    expect(numericValue('1e3')).toBe(1000);
    expect(numericValue('.5')).toBe(0.5);
    expect(numericValue('0x10')).toBeUndefined();
    expect(numericValue('NaN')).toBeUndefined();
    expect(numericValue('Infinity')).toBeUndefined();
    expect(numericValue('1e999')).toBeUndefined();
    expect(numericValue(true)).toBeUndefined();
    expect(numericValue(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('quantile and binOf', () => {
  it('interpolates linearly between neighbours', () => {
    const sorted = [1, 2, 3, 4];
    expect(quantile(sorted, 0)).toBe(1);
    expect(quantile(sorted, 1)).toBe(4);
    expect(quantile(sorted, 0.5)).toBe(2.5);
    expect(quantile([-1e308, 1e308], 0.5)).toBe(0);
  });

  it('puts a value in the last bin whose lower edge it reaches, the maximum in the last bin', () => {
    const edges = [0, 1, 2, 3];
    expect(binOf(edges, 0)).toBe(0);
    expect(binOf(edges, 0.99)).toBe(0);
    expect(binOf(edges, 1)).toBe(1);
    expect(binOf(edges, 2.5)).toBe(2);
    expect(binOf(edges, 3)).toBe(2);
    expect(binOf([5, 5], 5)).toBe(0);
  });
});

describe('numeric profile', () => {
  it('bins 1..100 into ten deciles of ten values each', () => {
    const p = numeric(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(p).toMatchObject({ type: 'NUMERIC', count: 100, nullCount: 0, min: 1, max: 100, mean: 50.5 });
    expect(p.std).toBeCloseTo(Math.sqrt((100 * 100 - 1) / 12), 10);
    expect(p.edges).toHaveLength(11);
    [1, 10.9, 20.8, 30.7, 40.6, 50.5, 60.4, 70.3, 80.2, 90.1, 100].forEach((e, i) =>
      expect(p.edges[i]).toBeCloseTo(e, 10),
    );
    expect(p.frequencies).toEqual(new Array(10).fill(0.1));
  });

  it('gives the same result whatever the row order', () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    const a = numeric(values);
    const b = numeric([...values].reverse());
    expect(b.edges).toEqual(a.edges);
    expect(b.frequencies).toEqual(a.frequencies);
    expect(b.mean).toBeCloseTo(a.mean!, 10);
  });

  it('deduplicates edges when many values tie', () => {
    const p = numeric([...new Array(90).fill(0), ...Array.from({ length: 10 }, (_, i) => i + 1)]);
    expect(p.edges).toHaveLength(3);
    expect(p.edges[0]).toBe(0);
    expect(p.edges[1]).toBeCloseTo(0.1, 12);
    expect(p.edges[2]).toBe(10);
    expect(p.frequencies).toEqual([0.9, 0.1]);
  });

  it('counts nulls, blanks and missing values apart from the values', () => {
    const result = column([1, null, '', '  ', undefined, 3]);
    expect(result.columns[0]).toEqual({ name: 'x', type: 'NUMERIC', nullable: true });
    const p = result.profile.x as NumericProfile;
    expect(p).toMatchObject({ count: 2, nullCount: 4, min: 1, max: 3, mean: 2, std: 1 });
    expect(sum(p.frequencies)).toBeCloseTo(1, 12);
    expect(column([1, 2]).columns[0].nullable).toBe(false);
  });

  it('gives a constant column one bin', () => {
    const p = numeric([5, 5, '5', 5.0]);
    expect(p).toMatchObject({ count: 4, min: 5, max: 5, mean: 5, std: 0, edges: [5, 5], frequencies: [1] });
  });

  it('profiles a column with no values as NUMERIC with no statistics and no bins', () => {
    const p = numeric([null, null, '']);
    expect(p).toEqual({
      type: 'NUMERIC',
      count: 0,
      nullCount: 3,
      min: null,
      max: null,
      mean: null,
      std: null,
      edges: [],
      frequencies: [],
    });
  });

  it('stays finite with huge values of both signs', () => {
    const p = numeric([1e308, -1e308, 1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE]);
    expect(p.min).toBe(-Number.MAX_VALUE);
    expect(p.max).toBe(Number.MAX_VALUE);
    expect(p.mean).toBe(0);
    expect(Number.isFinite(p.std)).toBe(true);
    const m = Number.MAX_VALUE / 1e308;
    expect(p.std! / 1e308).toBeCloseTo(Math.sqrt((4 + 2 * m * m) / 6), 12);
    expect(p.edges.every(Number.isFinite)).toBe(true);
    expect(p.edges[0]).toBe(p.min);
    expect(p.edges.at(-1)).toBe(p.max);
    for (let i = 1; i < p.edges.length; i++) expect(p.edges[i]).toBeGreaterThan(p.edges[i - 1]);
    expect(sum(p.frequencies)).toBeCloseTo(1, 12);
  });

  it('keeps precision for huge values with a small spread', () => {
    const p = numeric([1e300, 1e300, 1e300]);
    expect(p).toMatchObject({ mean: 1e300, std: 0, edges: [1e300, 1e300], frequencies: [1] });
    const q = numeric([1e200, 3e200]);
    expect(q.mean! / 2e200).toBeCloseTo(1, 12);
    expect(q.std! / 1e200).toBeCloseTo(1, 12);
  });

  it('samples for the edges but counts every value into the bins, deterministically', () => {
    const random = lcg(42);
    const values = Array.from({ length: 250_000 }, () => random());
    const a = numeric(values, { reservoirSize: 5_000 });
    const b = numeric(values, { reservoirSize: 5_000 });
    expect(b).toEqual(a);
    expect(a.count).toBe(250_000);
    expect(a.mean).toBeCloseTo(0.5, 2);
    expect(a.std).toBeCloseTo(Math.sqrt(1 / 12), 2);
    a.edges.forEach((e, i) => expect(Math.abs(e - i / 10)).toBeLessThan(0.02));
    a.frequencies.forEach((f) => expect(Math.abs(f - 0.1)).toBeLessThan(0.02));
    expect(sum(a.frequencies)).toBeCloseTo(1, 12);
    expect(sum(a.frequencies.map((f) => f * 250_000))).toBeCloseTo(250_000, 6);
  });
});

describe('categorical profile', () => {
  it('turns CATEGORICAL at the first non-number, counting numbers by their text', () => {
    const p = categorical([1, 'a', 'b', 'a', null, true]);
    expect(p).toEqual({
      type: 'CATEGORICAL',
      count: 5,
      nullCount: 1,
      frequencies: { a: 0.4, '1': 0.2, b: 0.2, true: 0.2 },
    });
  });

  it('keeps the top 50 categories and folds the rest into __other__', () => {
    const values: string[] = [];
    for (let i = 0; i < 60; i++) for (let n = 0; n < 60 - i; n++) values.push(`c${i}`);
    const p = categorical(values);
    const keys = Object.keys(p.frequencies);
    expect(keys).toHaveLength(51);
    expect(keys.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
    const total = values.length;
    expect(p.frequencies.c0).toBeCloseTo(60 / total, 12);
    expect(p.frequencies[OTHER_CATEGORY]).toBeCloseTo(55 / total, 12); // c50..c59 hold 10+9+...+1
    expect(sum(Object.values(p.frequencies))).toBeCloseTo(1, 12);
  });

  it('breaks count ties by name, so the result does not depend on arrival order', () => {
    const values = Array.from({ length: 60 }, (_, i) => `k${String(59 - i).padStart(2, '0')}`);
    const p = categorical(values);
    expect(Object.keys(p.frequencies).slice(0, 3)).toEqual(['k00', 'k01', 'k02']);
  });

  it('stays bounded with many distinct values and still finds the frequent ones', () => {
    const values: string[] = [];
    for (let i = 0; i < 20_000; i++) values.push(`id-${i}`, 'hot');
    const result = profileRows(
      ['x'],
      values.map((v) => [v]),
      undefined,
      { maxTrackedCategories: 200 },
    );
    const p = result.profile.x as CategoricalProfile;
    expect(p.count).toBe(40_000);
    expect(p.frequencies.hot).toBeGreaterThan(0.45);
    expect(p.frequencies.hot).toBeLessThanOrEqual(0.5);
    expect(sum(Object.values(p.frequencies))).toBeCloseTo(1, 12);
  });

  it('treats a real category called __other__ as part of the folded share', () => {
    const p = categorical(['a', '__other__', 'a']);
    expect(p.frequencies).toEqual({ a: 2 / 3, [OTHER_CATEGORY]: 1 / 3 });
  });

  it('has empty frequencies when declared CATEGORICAL with no values', () => {
    const p = column([null], new Map([['x', 'CATEGORICAL']])).profile.x;
    expect(p).toEqual({ type: 'CATEGORICAL', count: 0, nullCount: 1, frequencies: {} });
  });
});

describe('declared column types', () => {
  it('profiles numbers as categories when declared CATEGORICAL', () => {
    const result = column([1, 2, 2], new Map([['x', 'CATEGORICAL']]));
    expect(result.columns[0].type).toBe('CATEGORICAL');
    expect((result.profile.x as CategoricalProfile).frequencies).toEqual({ '2': 2 / 3, '1': 1 / 3 });
  });

  it('rejects a non-number in a column declared NUMERIC, naming row and column', () => {
    const profiler = new DatasetProfiler(['a', 'b'], new Map([['b', 'NUMERIC']]));
    profiler.scan([1, 2], 0);
    profiler.scan(['x', null], 1);
    let caught: unknown;
    try {
      profiler.scan([3, 'oops'], 2);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NonNumericValueError);
    expect(caught).toMatchObject({ column: 'b', row: 2, value: 'oops' });
  });

  it('profiles several columns side by side', () => {
    const result = profileRows(
      ['age', 'city'],
      [
        [30, 'Oslo'],
        [40, 'Rome'],
        [null, 'Oslo'],
      ],
    );
    expect(result.rowCount).toBe(3);
    expect(result.columns).toEqual([
      { name: 'age', type: 'NUMERIC', nullable: true },
      { name: 'city', type: 'CATEGORICAL', nullable: false },
    ]);
    expect(result.profile.age).toMatchObject({
      count: 2,
      mean: 35,
      edges: [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40],
    });
    expect((result.profile.city as CategoricalProfile).frequencies).toEqual({ Oslo: 2 / 3, Rome: 1 / 3 });
  });
});
