import { LogisticRegression, trainLogisticRegression, type LabelledMatrix } from './logistic-regression';
import { mulberry32 } from '../common/random';

/** Three well-separated clusters in the plane, plus a constant column and an always-zero one. */
function blobs(rows: number, seed: number): LabelledMatrix {
  const random = mulberry32(seed);
  const centres = [
    [3, 0],
    [-3, 2],
    [0, -3],
  ];
  const width = 4;
  const x = new Float32Array(rows * width);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    y[r] = c;
    x[r * width] = centres[c][0] + (random() - 0.5);
    x[r * width + 1] = centres[c][1] + (random() - 0.5);
    x[r * width + 2] = 1;
  }
  return { x, rows, width, y };
}

const accuracy = (model: LogisticRegression, m: LabelledMatrix): number => {
  const predicted = model.predict(m.x);
  let correct = 0;
  for (let i = 0; i < m.rows; i++) if (predicted[i] === m.y[i]) correct++;
  return correct / m.rows;
};

describe('trainLogisticRegression', () => {
  const train = blobs(300, 1);
  const test = blobs(90, 2);

  it('learns a separable problem: perfect held-out accuracy, falling loss, probabilities summing to 1', () => {
    const { model, history } = trainLogisticRegression(train, { classes: 3, epochs: 15, validation: test });
    expect(accuracy(model, test)).toBe(1);
    expect(history).toHaveLength(15);
    expect(history[14].loss).toBeLessThan(history[0].loss);
    expect(history[14].loss).toBeLessThan(0.1);
    expect(history[14].valAccuracy).toBe(1);
    expect(history[14].valLoss).toBeLessThan(0.1);
    const p = model.predictProba(test.x);
    for (let r = 0; r < test.rows; r++) {
      expect(p[r * 3] + p[r * 3 + 1] + p[r * 3 + 2]).toBeCloseTo(1, 12);
    }
    // The column that is always zero never receives a gradient, only the (zero) penalty.
    expect(Array.from(model.weights.slice(3 * 3, 4 * 3))).toEqual([0, 0, 0]);
  });

  it('is deterministic for a seed, and the seed changes the path', () => {
    const a = trainLogisticRegression(train, { classes: 3, epochs: 3, seed: 5 });
    const b = trainLogisticRegression(train, { classes: 3, epochs: 3, seed: 5 });
    const c = trainLogisticRegression(train, { classes: 3, epochs: 3, seed: 6 });
    expect(a.model.weights).toEqual(b.model.weights);
    expect(a.history).toEqual(b.history);
    expect(a.model.weights).not.toEqual(c.model.weights);
  });

  it('shrinks the weights under a stronger L2 penalty', () => {
    const norm = (w: Float32Array) => Math.sqrt(w.reduce((s, v) => s + v * v, 0));
    const loose = trainLogisticRegression(train, { classes: 3, epochs: 10, l2: 0 });
    const tight = trainLogisticRegression(train, { classes: 3, epochs: 10, l2: 2 });
    expect(norm(tight.model.weights)).toBeLessThan(norm(loose.model.weights) * 0.6);
  });

  it('rejects inconsistent data and options', () => {
    expect(() => trainLogisticRegression({ ...train, rows: 10 }, { classes: 3 })).toThrow('x must hold');
    expect(() => trainLogisticRegression(train, { classes: 2 })).toThrow('is not a class from 0 to 1');
    expect(() => trainLogisticRegression(train, { classes: 3, epochs: 0 })).toThrow('epochs');
    expect(() => trainLogisticRegression(train, { classes: 3, learningRate: -1 })).toThrow('learningRate');
    expect(() =>
      trainLogisticRegression(train, {
        classes: 3,
        validation: { ...test, width: 3, x: new Float32Array(270) },
      }),
    ).toThrow('as wide');
  });
});

describe('LogisticRegression', () => {
  it('computes softmax(x · W + b) with W laid out [width × classes]', () => {
    // Two features, two classes: logits = [x0 + 0.5, -x1].
    const model = new LogisticRegression(2, 2, Float32Array.from([1, 0, 0, -1]), Float32Array.from([0.5, 0]));
    const p = model.predictProba(Float32Array.from([1, 2, 0, 0]));
    const expected = (a: number, b: number) => [Math.exp(a) / (Math.exp(a) + Math.exp(b))];
    expect(p[0]).toBeCloseTo(expected(1.5, -2)[0], 12);
    expect(p[2]).toBeCloseTo(expected(0.5, 0)[0], 12);
    expect(Array.from(model.predict(Float32Array.from([1, 2, -5, 0])))).toEqual([0, 1]);
    expect(() => model.predictProba(new Float32Array(3))).toThrow('not a multiple of 2');
    expect(() => new LogisticRegression(2, 2, new Float32Array(3), new Float32Array(2))).toThrow('weights');
  });

  it('stays finite on huge logits', () => {
    const model = new LogisticRegression(1, 2, Float32Array.from([1000, -1000]), new Float32Array(2));
    expect(Array.from(model.predictProba(Float32Array.from([5])))).toEqual([1, 0]);
  });
});
