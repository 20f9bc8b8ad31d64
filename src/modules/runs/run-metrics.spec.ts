import { BadInputError } from '../../common/errors';
import { MAX_POINTS_PER_CALL, fillTimestamps, toMetricColumns, type MetricPointLike } from './run-metrics';

const fieldOf = (points: MetricPointLike[]): string | undefined => {
  try {
    toMetricColumns(points);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    return (error as BadInputError).extensions.field as string;
  }
};

describe('toMetricColumns', () => {
  it('lays points out by column, defaulting step and leaving absent timestamps null', () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const columns = toMetricColumns([
      { key: 'loss', step: 3, value: 0.5, timestamp: at },
      { key: 'val/acc:top-1', value: -1e-9 },
      { key: 'loss', step: null, value: 0, timestamp: null },
    ]);
    expect(columns).toEqual({
      keys: ['loss', 'val/acc:top-1', 'loss'],
      steps: [3, 0, 0],
      values: [0.5, -1e-9, 0],
      timestamps: [at, null, null],
    });
    const now = new Date('2026-02-01T00:00:00.000Z');
    expect(fillTimestamps(columns, now)).toEqual([at, now, now]);
  });

  it('accepts the largest batch and rejects an empty or larger one', () => {
    const points = Array.from({ length: MAX_POINTS_PER_CALL }, (_, i) => ({ key: 'k', step: i, value: i }));
    expect(toMetricColumns(points).keys).toHaveLength(MAX_POINTS_PER_CALL);
    expect(fieldOf([...points, { key: 'k', value: 1 }])).toBe('points');
    expect(fieldOf([])).toBe('points');
  });

  it.each<[string, MetricPointLike, string]>([
    ['an empty key', { key: '', value: 1 }, 'points.1.key'],
    ['a key with a space', { key: 'a b', value: 1 }, 'points.1.key'],
    ['a key too long', { key: 'k'.repeat(201), value: 1 }, 'points.1.key'],
    ['a negative step', { key: 'k', step: -1, value: 1 }, 'points.1.step'],
    ['a fractional step', { key: 'k', step: 1.5, value: 1 }, 'points.1.step'],
    ['NaN', { key: 'k', value: Number.NaN }, 'points.1.value'],
    ['Infinity', { key: 'k', value: Number.POSITIVE_INFINITY }, 'points.1.value'],
    ['an invalid date', { key: 'k', value: 1, timestamp: new Date('nope') }, 'points.1.timestamp'],
  ])('names the field of %s', (_name, bad, field) => {
    expect(fieldOf([{ key: 'ok', value: 1 }, bad, { key: 'ok', value: 2 }])).toBe(field);
  });

  it('accepts a 200-character key', () => {
    expect(fieldOf([{ key: 'k'.repeat(200), value: 1 }])).toBeUndefined();
  });
});
