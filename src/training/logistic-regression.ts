import { mulberry32 } from '../common/random';

/** A row-major float32 matrix [rows × width] with one class index per row. */
export interface LabelledMatrix {
  x: Float32Array;
  rows: number;
  width: number;
  /** Class index of each row, 0 to classes - 1. */
  y: ArrayLike<number>;
}

export interface LogisticRegressionOptions {
  classes: number;
  /** Passes over the training rows. Default 20. */
  epochs?: number;
  /** Rows per gradient step. Default 64. */
  batchSize?: number;
  /** Adam step size. Default 0.02. */
  learningRate?: number;
  /** Each epoch's step size is learningRate / (1 + decay × epoch). Default 0.1. */
  decay?: number;
  /** L2 penalty on the weights (not the bias): the loss adds l2 / 2 × ‖W‖². Default 1e-4. */
  l2?: number;
  /** Seed of the row shuffling; the same data, options and seed give the same model. Default 1. */
  seed?: number;
  /** Rows scored after every epoch for `valLoss` and `valAccuracy`. */
  validation?: LabelledMatrix;
}

/** Where training stood after one epoch. Losses are mean cross-entropy, without the penalty. */
export interface EpochStats {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
}

/**
 * A multinomial logistic regression: probabilities = softmax(x · W + b), with W [width × classes]
 * row-major, the layout of an ONNX `MatMul(features, W)`.
 */
export class LogisticRegression {
  constructor(
    readonly width: number,
    readonly classes: number,
    /** [width × classes], row-major. */
    readonly weights: Float32Array,
    readonly bias: Float32Array,
  ) {
    if (weights.length !== width * classes) throw new Error(`weights must hold ${width} x ${classes} values`);
    if (bias.length !== classes) throw new Error(`bias must hold ${classes} values`);
  }

  /** Class probabilities of the rows of `x` [rows × width], row-major [rows × classes]. */
  predictProba(x: Float32Array): Float64Array {
    const { width, classes } = this;
    if (x.length % width !== 0) throw new Error(`input length ${x.length} is not a multiple of ${width}`);
    const rows = x.length / width;
    const out = new Float64Array(rows * classes);
    const logits = new Float64Array(classes);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < classes; c++) logits[c] = this.bias[c];
      const base = r * width;
      for (let j = 0; j < width; j++) {
        const v = x[base + j];
        if (v === 0) continue;
        const w = j * classes;
        for (let c = 0; c < classes; c++) logits[c] += v * this.weights[w + c];
      }
      softmaxInto(logits, out, r * classes);
    }
    return out;
  }

  /** The most probable class of each row. */
  predict(x: Float32Array): Int32Array {
    const p = this.predictProba(x);
    const rows = p.length / this.classes;
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < this.classes; c++)
        if (p[r * this.classes + c] > p[r * this.classes + best]) best = c;
      out[r] = best;
    }
    return out;
  }
}

/** Writes softmax(logits) at `out[at..]`, shifting by the max so exp never overflows. */
function softmaxInto(logits: Float64Array, out: Float64Array, at: number): void {
  let max = -Infinity;
  for (let c = 0; c < logits.length; c++) if (logits[c] > max) max = logits[c];
  let total = 0;
  for (let c = 0; c < logits.length; c++) {
    const e = Math.exp(logits[c] - max);
    out[at + c] = e;
    total += e;
  }
  for (let c = 0; c < logits.length; c++) out[at + c] /= total;
}

/** The non-zero entries of a dense matrix, row by row (CSR). Hashed text rows are mostly zeros. */
interface SparseRows {
  start: Int32Array;
  index: Int32Array;
  value: Float64Array;
}

function sparse(m: LabelledMatrix): SparseRows {
  const { x, rows, width } = m;
  let nnz = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) nnz++;
  const start = new Int32Array(rows + 1);
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    start[r] = k;
    const base = r * width;
    for (let j = 0; j < width; j++) {
      const v = x[base + j];
      if (v !== 0) {
        index[k] = j;
        value[k++] = v;
      }
    }
  }
  start[rows] = k;
  return { start, index, value };
}

function checkMatrix(m: LabelledMatrix, classes: number, name: string): void {
  if (m.x.length !== m.rows * m.width) throw new Error(`${name}: x must hold ${m.rows} x ${m.width} values`);
  if (m.y.length !== m.rows) throw new Error(`${name}: y must hold ${m.rows} labels`);
  for (let i = 0; i < m.rows; i++) {
    const c = m.y[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes)
      throw new Error(`${name}: y[${i}] = ${c} is not a class from 0 to ${classes - 1}`);
  }
}

/** Mean cross-entropy and accuracy of parameters (W, b) on sparse rows. */
function evaluate(
  rows: SparseRows,
  y: ArrayLike<number>,
  w: Float64Array,
  b: Float64Array,
  classes: number,
): { loss: number; accuracy: number } {
  const n = y.length;
  const logits = new Float64Array(classes);
  const p = new Float64Array(classes);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    forward(rows, r, w, b, classes, logits, p);
    loss -= Math.log(Math.max(p[y[r]], 1e-15));
    let best = 0;
    for (let c = 1; c < classes; c++) if (p[c] > p[best]) best = c;
    if (best === y[r]) correct++;
  }
  return { loss: n ? loss / n : 0, accuracy: n ? correct / n : 0 };
}

function forward(
  rows: SparseRows,
  r: number,
  w: Float64Array,
  b: Float64Array,
  classes: number,
  logits: Float64Array,
  p: Float64Array,
): void {
  for (let c = 0; c < classes; c++) logits[c] = b[c];
  for (let k = rows.start[r]; k < rows.start[r + 1]; k++) {
    const v = rows.value[k];
    const at = rows.index[k] * classes;
    for (let c = 0; c < classes; c++) logits[c] += v * w[at + c];
  }
  softmaxInto(logits, p, 0);
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * Fits a softmax regression by mini-batch Adam on the mean cross-entropy plus an L2 penalty. Gradients
 * of the data term touch only the non-zero inputs of each row; the penalty and Adam's update are dense.
 * Deterministic: rows are shuffled by a seeded PRNG and weights start at zero.
 */
export function trainLogisticRegression(
  train: LabelledMatrix,
  options: LogisticRegressionOptions,
): { model: LogisticRegression; history: EpochStats[] } {
  const { classes } = options;
  const epochs = options.epochs ?? 20;
  const batchSize = options.batchSize ?? 64;
  const learningRate = options.learningRate ?? 0.02;
  const decay = options.decay ?? 0.1;
  const l2 = options.l2 ?? 1e-4;
  if (!Number.isInteger(classes) || classes < 2) throw new Error('classes must be an integer of at least 2');
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error('epochs must be a positive integer');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  if (!(learningRate > 0) || !(decay >= 0) || !(l2 >= 0))
    throw new Error('learningRate must be positive, decay and l2 zero or more');
  checkMatrix(train, classes, 'train');
  const validation = options.validation;
  if (validation) {
    checkMatrix(validation, classes, 'validation');
    if (validation.width !== train.width) throw new Error('validation rows must be as wide as training rows');
  }

  const { width, rows: n, y } = train;
  const rows = sparse(train);
  const validationRows = validation ? sparse(validation) : undefined;
  const size = width * classes;
  const w = new Float64Array(size);
  const b = new Float64Array(classes);
  const gw = new Float64Array(size);
  const gb = new Float64Array(classes);
  const mw = new Float64Array(size);
  const vw = new Float64Array(size);
  const mb = new Float64Array(classes);
  const vb = new Float64Array(classes);
  const logits = new Float64Array(classes);
  const p = new Float64Array(classes);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(options.seed ?? 1);
  const history: EpochStats[] = [];
  let t = 0;

  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    const rate = learningRate / (1 + decay * (epoch - 1));
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(from + batchSize, n);
      const scale = 1 / (to - from);
      gw.fill(0);
      gb.fill(0);
      for (let s = from; s < to; s++) {
        const r = order[s];
        forward(rows, r, w, b, classes, logits, p);
        p[y[r]] -= 1;
        for (let c = 0; c < classes; c++) gb[c] += p[c];
        for (let k = rows.start[r]; k < rows.start[r + 1]; k++) {
          const v = rows.value[k];
          const at = rows.index[k] * classes;
          for (let c = 0; c < classes; c++) gw[at + c] += v * p[c];
        }
      }
      t++;
      const correction1 = 1 - BETA1 ** t;
      const correction2 = 1 - BETA2 ** t;
      const step = (rate * Math.sqrt(correction2)) / correction1;
      for (let i = 0; i < size; i++) {
        const g = gw[i] * scale + l2 * w[i];
        mw[i] = BETA1 * mw[i] + (1 - BETA1) * g;
        vw[i] = BETA2 * vw[i] + (1 - BETA2) * g * g;
        w[i] -= (step * mw[i]) / (Math.sqrt(vw[i]) + EPSILON);
      }
      for (let c = 0; c < classes; c++) {
        const g = gb[c] * scale;
        mb[c] = BETA1 * mb[c] + (1 - BETA1) * g;
        vb[c] = BETA2 * vb[c] + (1 - BETA2) * g * g;
        b[c] -= (step * mb[c]) / (Math.sqrt(vb[c]) + EPSILON);
      }
    }
    const stats: EpochStats = { epoch, ...evaluate(rows, y, w, b, classes) };
    if (validation && validationRows) {
      const v = evaluate(validationRows, validation.y, w, b, classes);
      stats.valLoss = v.loss;
      stats.valAccuracy = v.accuracy;
    }
    history.push(stats);
  }
  return {
    model: new LogisticRegression(width, classes, Float32Array.from(w), Float32Array.from(b)),
    history,
  };
}
