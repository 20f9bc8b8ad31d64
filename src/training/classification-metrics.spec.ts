import { argmaxRows, classificationReport, logLoss } from './classification-metrics';

describe('classificationReport', () => {
  const labels = ['a', 'b', 'c'];

  it('counts the confusion matrix and derives accuracy, precision, recall and F1 from it', () => {
    // actual:    a a a a b b b c c c
    // predicted: a a b c b b a c c b
    const actual = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    const predicted = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
    const report = classificationReport(actual, predicted, labels);
    expect(report.confusion).toEqual([
      [2, 1, 1],
      [1, 2, 0],
      [0, 1, 2],
    ]);
    expect(report.accuracy).toBeCloseTo(6 / 10);
    expect(report.perClass.a).toEqual({
      precision: 2 / 3,
      recall: 2 / 4,
      f1: expect.any(Number),
      support: 4,
    });
    expect(report.perClass.a.f1).toBeCloseTo((2 * (2 / 3) * 0.5) / (2 / 3 + 0.5));
    expect(report.perClass.b.precision).toBeCloseTo(2 / 4);
    expect(report.perClass.b.recall).toBeCloseTo(2 / 3);
    expect(report.perClass.c.precision).toBeCloseTo(2 / 3);
    expect(report.perClass.c.recall).toBeCloseTo(2 / 3);
    const f1s = labels.map((l) => report.perClass[l].f1);
    expect(report.macroF1).toBeCloseTo(f1s.reduce((x, y) => x + y, 0) / 3);
  });

  it('scores a class never predicted, or never present, as zero instead of dividing by zero', () => {
    const report = classificationReport([0, 0, 1, 1], [0, 0, 0, 0], labels);
    expect(report.perClass.b).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(report.perClass.c).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(report.perClass.a).toMatchObject({ precision: 0.5, recall: 1, support: 2 });
    expect(report.accuracy).toBe(0.5);
  });

  it('gives 1 everywhere for perfect predictions and 0 accuracy for no rows', () => {
    const perfect = classificationReport([2, 1, 0], [2, 1, 0], labels);
    expect(perfect.accuracy).toBe(1);
    expect(perfect.macroF1).toBe(1);
    expect(classificationReport([], [], labels).accuracy).toBe(0);
  });

  it('rejects mismatched lengths and out-of-range class indices', () => {
    expect(() => classificationReport([0, 1], [0], labels)).toThrow('2 true labels but 1 predictions');
    expect(() => classificationReport([0, 3], [0, 1], labels)).toThrow('row 1');
    expect(() => classificationReport([0.5], [0], labels)).toThrow('row 0');
  });
});

describe('logLoss and argmaxRows', () => {
  it('averages the negative log probability of the true class, clamping zeros', () => {
    const p = [0.5, 0.5, 0.9, 0.1];
    expect(logLoss(p, [0, 0], 2)).toBeCloseTo(-(Math.log(0.5) + Math.log(0.9)) / 2);
    expect(logLoss([1, 0], [1], 2)).toBeCloseTo(-Math.log(1e-15));
    expect(() => logLoss([1, 0, 0], [0], 2)).toThrow('expected 2 probabilities');
  });

  it('picks the largest value of each row, the first on ties', () => {
    expect(Array.from(argmaxRows([0.1, 0.7, 0.2, 0.4, 0.4, 0.2], 3))).toEqual([1, 0]);
  });
});
