/** Precision, recall and F1 of one class, with its support (how many rows truly belong to it). */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  /** Unweighted mean of the per-class F1 scores. */
  macroF1: number;
  /** Per class, in label order. */
  perClass: Record<string, ClassScores>;
  /** `confusion[actual][predicted]` counts rows, classes in label order. */
  confusion: number[][];
}

/**
 * Scores predicted class indices against true ones. A class never predicted has precision 0, and a
 * class absent from the truth recall 0 (scikit-learn's `zero_division=0`); F1 is 0 when both are 0.
 */
export function classificationReport(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labels: readonly string[],
): ClassificationReport {
  if (actual.length !== predicted.length)
    throw new Error(`${actual.length} true labels but ${predicted.length} predictions`);
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const p = predicted[i];
    if (!isClass(a, k) || !isClass(p, k))
      throw new Error(`row ${i}: class indices must be integers from 0 to ${k - 1}`);
    confusion[a][p]++;
    if (a === p) correct++;
  }
  const perClass: Record<string, ClassScores> = {};
  let f1Sum = 0;
  labels.forEach((label, c) => {
    const tp = confusion[c][c];
    let predictedAs = 0;
    let support = 0;
    for (let j = 0; j < k; j++) {
      predictedAs += confusion[j][c];
      support += confusion[c][j];
    }
    const precision = predictedAs ? tp / predictedAs : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { precision, recall, f1, support };
    f1Sum += f1;
  });
  return {
    accuracy: actual.length ? correct / actual.length : 0,
    macroF1: k ? f1Sum / k : 0,
    perClass,
    confusion,
  };
}

const isClass = (v: number, k: number): boolean => Number.isInteger(v) && v >= 0 && v < k;

/** Mean cross-entropy of row-major probabilities [rows × classes] against true class indices. */
export function logLoss(
  probabilities: ArrayLike<number>,
  actual: ArrayLike<number>,
  classes: number,
): number {
  if (probabilities.length !== actual.length * classes)
    throw new Error(`expected ${actual.length * classes} probabilities, got ${probabilities.length}`);
  if (actual.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < actual.length; i++)
    sum -= Math.log(Math.max(probabilities[i * classes + actual[i]], 1e-15));
  return sum / actual.length;
}

/** Index of the largest value in each row of a row-major matrix [rows × classes]; ties go to the first. */
export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  const rows = Math.floor(values.length / classes);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c] > values[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}
