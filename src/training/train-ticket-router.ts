import { performance } from 'node:perf_hooks';
import { compilePreprocessing, type PreprocessingSpec } from '../modules/inference/preprocessing';
import {
  argmaxRows,
  classificationReport,
  logLoss,
  type ClassificationReport,
} from './classification-metrics';
import { trainLogisticRegression, type EpochStats, type LogisticRegression } from './logistic-regression';
import { mulberry32 } from '../common/random';
import { exportLinearClassifier } from './onnx-export';
import {
  CHANNELS,
  CUSTOMER_TIERS,
  QUEUES,
  TICKET_COLUMNS,
  generateTickets,
  ticketFields,
  toCsv,
  type Ticket,
  type TicketFields,
} from './ticket-dataset';

export interface TrainTicketRouterOptions {
  /** Seeds the tickets, the split and the row shuffling. Default 1. */
  seed?: number;
  /** Tickets generated, training and held-out together. Default 6,000. */
  rows?: number;
  /** Hash buckets of the body text; the subject gets a quarter of them (at least 16). Default 1,024. */
  textBuckets?: number;
  /** Word n-gram lengths, smallest and largest. Default [1, 2]. */
  ngrams?: [number, number];
  /** Passes of gradient descent over the training rows. Default 20. */
  epochs?: number;
  /** L2 penalty on the weights. Default 1e-4. */
  l2?: number;
  /** Adam step size. Default 0.02. */
  learningRate?: number;
  /** Share of the tickets held out for evaluation, per queue. Default 0.2. */
  testFraction?: number;
}

/**
 * A deliberately weaker setup (few hash buckets, unigrams, two epochs): about ten points of accuracy
 * below the defaults, for showing one model version improve on another.
 */
export const BASELINE_TICKET_ROUTER: Readonly<TrainTicketRouterOptions> = {
  textBuckets: 64,
  ngrams: [1, 1],
  epochs: 2,
};

/** A golden sample: raw ticket fields and the queue the model must answer for them. */
export interface TicketGoldenSample {
  input: TicketFields;
  expectedLabel: string;
}

/** Everything a pipeline registers about a trained router. */
export interface TrainedTicketRouter {
  /** The options in force, defaults filled in: the run's params. */
  options: Required<TrainTicketRouterOptions>;
  /** The ONNX model: `features` float32 [N, width] → `probabilities` float32 [N, labels]. */
  onnx: Buffer;
  /** The spec turning ticket fields into `features`; the hub runs the same code when serving. */
  preprocessing: PreprocessingSpec;
  /** Queues, in the order of the model's probabilities. */
  labels: string[];
  /** The raw fields the model takes, in spec order. */
  featureNames: string[];
  /** Held-out `accuracy`, `macro_f1` and `log_loss`, `train_accuracy`, and `f1_<queue>` per queue. */
  metrics: Record<string, number>;
  /** Held-out precision, recall, F1 and confusion matrix. */
  report: ClassificationReport;
  /** Loss and accuracy on the training and held-out rows after each epoch. */
  history: EpochStats[];
  /** Held-out tickets the model routes right, confidently, covering the queues. */
  goldenSamples: TicketGoldenSample[];
  /** All generated tickets (label column `queue`) as RFC 4180 CSV. */
  dataset: { csv: string; rows: number; trainRows: number; testRows: number };
  /** The fitted model, for checks against the exported graph. */
  model: LogisticRegression;
  /** Wall time of featurizing, fitting, evaluating and exporting, in milliseconds. */
  trainingMs: number;
}

const GOLDEN_SAMPLES = 8;
/** Golden samples are picked with a clear winner so float32 serving cannot flip them. */
const GOLDEN_MIN_PROBABILITY = 0.6;
const NUMERIC_FIELDS = ['account_age_days', 'prior_tickets', 'attachments'] as const;

function resolve(options: TrainTicketRouterOptions): Required<TrainTicketRouterOptions> {
  const resolved: Required<TrainTicketRouterOptions> = {
    seed: options.seed ?? 1,
    rows: options.rows ?? 6000,
    textBuckets: options.textBuckets ?? 1024,
    ngrams: options.ngrams ?? [1, 2],
    epochs: options.epochs ?? 20,
    l2: options.l2 ?? 1e-4,
    learningRate: options.learningRate ?? 0.02,
    testFraction: options.testFraction ?? 0.2,
  };
  const { rows, textBuckets, ngrams, epochs, testFraction } = resolved;
  if (!Number.isInteger(rows) || rows < 50) throw new Error('rows must be a whole number of at least 50');
  if (!Number.isInteger(textBuckets) || textBuckets < 16 || textBuckets > 1 << 18)
    throw new Error('textBuckets must be a whole number from 16 to 262144');
  if (!Number.isInteger(ngrams[0]) || !Number.isInteger(ngrams[1]) || ngrams[0] < 1 || ngrams[0] > ngrams[1])
    throw new Error('ngrams must be [min, max] with 1 <= min <= max');
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error('epochs must be a positive whole number');
  if (!(testFraction > 0 && testFraction < 1)) throw new Error('testFraction must be between 0 and 1');
  return resolved;
}

/** Splits row indices into training and held-out sets, the same share of each queue held out. */
function stratifiedSplit(
  tickets: readonly Ticket[],
  testFraction: number,
  seed: number,
): { train: number[]; test: number[] } {
  const random = mulberry32(seed ^ 0x5eed);
  const train: number[] = [];
  const test: number[] = [];
  for (const queue of QUEUES) {
    const indices = tickets.flatMap((t, i) => (t.queue === queue ? [i] : []));
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
    const held = Math.round(indices.length * testFraction);
    test.push(...indices.slice(0, held));
    train.push(...indices.slice(held));
  }
  // Generation order, so neither set is grouped by queue.
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

function standardScale(values: readonly number[]): { type: 'standard'; mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  const std = Math.sqrt(variance);
  return { type: 'standard', mean: round(mean), std: std > 1e-9 ? round(std) : 1 };
}

/** Six significant digits: the spec stays readable and its hash stable across platforms. */
const round = (x: number): number => Number(x.toPrecision(6));

/** The preprocessing spec of a router, with numeric scales fitted on the training tickets. */
export function ticketPreprocessing(
  training: readonly Ticket[],
  options: Pick<Required<TrainTicketRouterOptions>, 'textBuckets' | 'ngrams'>,
): PreprocessingSpec {
  const text = (name: string, buckets: number) =>
    ({
      name,
      kind: 'text',
      buckets,
      ngrams: [...options.ngrams] as [number, number],
      analyzer: 'word',
      norm: 'l2',
      default: '',
    }) as const;
  return {
    version: 1,
    input: 'features',
    output: 'probabilities',
    features: [
      text('subject', Math.max(16, Math.round(options.textBuckets / 4))),
      text('body', options.textBuckets),
      { name: 'channel', kind: 'categorical', categories: [...CHANNELS], unknown: 'ignore' },
      { name: 'customer_tier', kind: 'categorical', categories: [...CUSTOMER_TIERS], unknown: 'ignore' },
      ...NUMERIC_FIELDS.map((name) => ({
        name,
        kind: 'numeric' as const,
        scale: standardScale(training.map((t) => t[name])),
        clip: [0, 1e6] as [number, number],
        default: 0,
      })),
    ],
  };
}

/**
 * Generates support tickets, fits a softmax regression on 80% of them (by default) through the same
 * preprocessing the hub serves with, scores the rest, and exports the model to ONNX. Deterministic for a
 * given set of options; synchronous (about a second at the defaults).
 */
export function trainTicketRouter(options: TrainTicketRouterOptions = {}): TrainedTicketRouter {
  const resolved = resolve(options);
  const tickets = generateTickets({ rows: resolved.rows, seed: resolved.seed });
  const started = performance.now();
  const labels = [...QUEUES];
  const classOf = new Map<string, number>(labels.map((q, i) => [q, i]));
  const split = stratifiedSplit(tickets, resolved.testFraction, resolved.seed);
  const trainTickets = split.train.map((i) => tickets[i]);
  const testTickets = split.test.map((i) => tickets[i]);

  const preprocessing = ticketPreprocessing(trainTickets, resolved);
  const preprocessor = compilePreprocessing(preprocessing);
  const matrix = (set: readonly Ticket[]) => ({
    x: preprocessor.encode(set.map(ticketFields), (i) => `rows.${i}`),
    rows: set.length,
    width: preprocessor.width,
    y: Int32Array.from(set, (t) => classOf.get(t.queue)!),
  });
  const train = matrix(trainTickets);
  const test = matrix(testTickets);

  const { model, history } = trainLogisticRegression(train, {
    classes: labels.length,
    epochs: resolved.epochs,
    l2: resolved.l2,
    learningRate: resolved.learningRate,
    seed: resolved.seed,
    validation: test,
  });

  const probabilities = model.predictProba(test.x);
  const predicted = argmaxRows(probabilities, labels.length);
  const report = classificationReport(test.y, predicted, labels);
  const trainReport = classificationReport(train.y, model.predict(train.x), labels);
  const metrics: Record<string, number> = {
    accuracy: report.accuracy,
    macro_f1: report.macroF1,
    log_loss: logLoss(probabilities, test.y, labels.length),
    train_accuracy: trainReport.accuracy,
  };
  for (const label of labels) metrics[`f1_${label}`] = report.perClass[label].f1;

  const onnx = exportLinearClassifier({
    inputs: model.width,
    outputs: model.classes,
    weights: model.weights,
    bias: model.bias,
    metadata: { labels: JSON.stringify(labels), preprocessing: JSON.stringify(preprocessing) },
  });
  const goldenSamples = pickGoldenSamples(testTickets, test.y, predicted, probabilities, labels);
  const trainingMs = performance.now() - started;

  return {
    options: resolved,
    onnx,
    preprocessing,
    labels,
    featureNames: preprocessor.featureNames,
    metrics,
    report,
    history,
    goldenSamples,
    dataset: {
      csv: toCsv(tickets, TICKET_COLUMNS),
      rows: tickets.length,
      trainRows: trainTickets.length,
      testRows: testTickets.length,
    },
    model,
    trainingMs,
  };
}

/** Up to eight correctly and confidently routed held-out tickets, taking the queues in turn. */
function pickGoldenSamples(
  tickets: readonly Ticket[],
  actual: Int32Array,
  predicted: Int32Array,
  probabilities: Float64Array,
  labels: readonly string[],
): TicketGoldenSample[] {
  const k = labels.length;
  const byClass = labels.map(() => [] as number[]);
  for (let i = 0; i < tickets.length; i++) {
    if (predicted[i] === actual[i] && probabilities[i * k + predicted[i]] >= GOLDEN_MIN_PROBABILITY)
      byClass[actual[i]].push(i);
  }
  const samples: TicketGoldenSample[] = [];
  for (let turn = 0; samples.length < GOLDEN_SAMPLES && byClass.some((c) => c.length > turn); turn++) {
    for (const rows of byClass) {
      if (samples.length < GOLDEN_SAMPLES && rows.length > turn) {
        const i = rows[turn];
        samples.push({ input: ticketFields(tickets[i]), expectedLabel: labels[actual[i]] });
      }
    }
  }
  return samples;
}
