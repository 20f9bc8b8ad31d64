import { BadInputError } from '../../common/errors';
import type { ModelSignature, TensorSpec } from './onnx-signature';
import type { InputSlot, OutputTensor, ScoredOutputs } from './backend';
import { compilePreprocessing, numericSpec, type InputColumns, type Preprocessor } from './preprocessing';

/** One row's answer: labels with scores for classifiers, values for regressors. */
export interface Answer {
  label?: string;
  score?: number;
  /** Every label with its score, best first. */
  scores?: Array<{ label: string; score: number }>;
  values?: number[];
}

/** What serving needs to know about a version, as registered. */
export interface ServableVersion {
  task: 'CLASSIFICATION' | 'REGRESSION' | 'OTHER';
  signature: ModelSignature;
  featureNames: readonly string[];
  labels: readonly string[];
  preprocessing: Record<string, unknown> | null;
}

const NUMERIC_OUTPUTS = new Set([
  'float32',
  'float64',
  'float16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
]);

/**
 * How a version turns raw inputs into its tensor and its output tensor into answers, checked against
 * the model's signature. Built at registration (mismatches are refused there, naming the field) and
 * again when a version is loaded for serving.
 */
export class ServingPlan {
  private constructor(
    readonly preprocessor: Preprocessor,
    /** Every model input, with the columns of a preprocessed row it takes. */
    readonly inputs: readonly InputSlot[],
    readonly outputName: string,
    readonly labels: string[],
    readonly task: ServableVersion['task'],
    /** Rows per run the model accepts: its fixed batch dimension, or Infinity when symbolic. */
    readonly batchLimit: number,
  ) {}

  get width(): number {
    return this.preprocessor.width;
  }

  /**
   * Checks a version's preprocessing (or its feature names, read as raw numbers) against its signature.
   * Throws BadInputError naming `preprocessing...`, `featureNames` or `labels` on any mismatch.
   */
  static build(version: ServableVersion): ServingPlan {
    const preprocessor = version.preprocessing
      ? compilePreprocessing(version.preprocessing)
      : version.featureNames.length > 0
        ? compilePreprocessing(numericSpec(version.featureNames), 'featureNames')
        : undefined;
    if (!preprocessor) {
      throw new BadInputError(
        'preprocessing',
        'the version has neither a preprocessing spec nor feature names, so its inputs cannot be built',
      );
    }
    if (version.preprocessing && version.featureNames.length > 0) {
      const expected = preprocessor.featureNames.join(',');
      if (version.featureNames.join(',') !== expected)
        throw new BadInputError('featureNames', `must match the preprocessing features (${expected})`);
    }
    const spec = preprocessor.spec;
    // Without a spec, the feature names are what shaped the row: name them in errors.
    const shapedBy = version.preprocessing ? 'preprocessing' : 'featureNames';
    const inputs: InputSlot[] = [];
    let batch: number | null = null;
    for (const columns of preprocessor.inputs) {
      const input = pickInput(version.signature, columns);
      const field = `preprocessing.${columns.field}`;
      if (input.type !== 'float32')
        throw new BadInputError(field, `the model input "${input.name}" takes ${input.type}, not float32`);
      if (input.shape.length !== 2)
        throw new BadInputError(
          field,
          `the model input "${input.name}" has rank ${input.shape.length}; Nerve feeds [batch, features]`,
        );
      const width = input.shape[1];
      if (width !== null && width !== columns.width)
        throw new BadInputError(
          shapedBy,
          preprocessor.inputs.length === 1
            ? `makes rows of ${columns.width} columns but the model input "${input.name}" takes ${width}`
            : `gives the model input "${input.name}" ${columns.width} columns but it takes ${width}`,
        );
      const rows = input.shape[0];
      if (rows !== null) batch = batch === null ? rows : Math.min(batch, rows);
      inputs.push({ name: input.name, offset: columns.offset, width: columns.width });
    }
    // onnxruntime requires every graph input (initializers are not listed): a spec that leaves one
    // unfed would register fine and fail every predict.
    const unfed = version.signature.inputs.filter((i) => !inputs.some((fed) => fed.name === i.name));
    if (unfed.length > 0)
      throw new BadInputError(
        version.preprocessing ? 'preprocessing.features' : 'featureNames',
        `leave the model input${unfed.length > 1 ? 's' : ''} ${unfed.map((i) => `"${i.name}"`).join(', ')} unfed: ` +
          `each input needs the features that feed it to name it ("input": "${unfed[0].name}")`,
      );
    const output = pickOutput(version.signature, spec.output);
    let labels = [...version.labels];
    if (version.task === 'CLASSIFICATION') {
      const classes = output.shape.length === 2 ? output.shape[1] : undefined;
      if (output.shape.length !== 2)
        throw new BadInputError(
          'preprocessing.output',
          `a classifier's output "${output.name}" must be [batch, classes] scores; it has rank ${output.shape.length}`,
        );
      if (classes !== null && classes !== undefined) {
        if (labels.length === 0) labels = Array.from({ length: classes }, (_, i) => String(i));
        else if (labels.length !== classes)
          throw new BadInputError(
            'labels',
            `has ${labels.length} labels but the output "${output.name}" scores ${classes} classes`,
          );
      } else if (labels.length === 0) {
        throw new BadInputError(
          'labels',
          `are required: the output "${output.name}" has no fixed class count`,
        );
      }
    }
    return new ServingPlan(
      preprocessor,
      inputs,
      output.name,
      labels,
      version.task,
      batch === null ? Infinity : batch,
    );
  }

  /** Answers for `rows` rows of a scored batch (the outputs already sliced to those rows). */
  decode(outputs: ScoredOutputs, rows: number): Answer[] {
    const tensor = outputs[this.outputName];
    if (!tensor) throw new Error(`the model returned no output "${this.outputName}"`);
    const perRow = rows === 0 ? 0 : tensor.data.length / rows;
    const answers: Answer[] = new Array(rows);
    for (let r = 0; r < rows; r++) {
      const row = tensor.data.subarray(r * perRow, (r + 1) * perRow);
      answers[r] = this.task === 'CLASSIFICATION' ? this.classify(row) : { values: Array.from(row, round) };
    }
    return answers;
  }

  private classify(row: OutputTensor['data']): Answer {
    const scores = this.labels.map((label, i) => ({ label, score: round(row[i]) }));
    scores.sort((a, b) => b.score - a.score);
    return { label: scores[0].label, score: scores[0].score, scores };
  }
}

/** float32 noise (0.30000001192092896) helps no one reading a prediction. */
const round = (x: number): number => Math.round(x * 1e7) / 1e7;

function pickInput(signature: ModelSignature, columns: InputColumns): TensorSpec {
  const field = `preprocessing.${columns.field}`;
  if (columns.name) {
    const input = signature.inputs.find((i) => i.name === columns.name);
    if (!input)
      throw new BadInputError(
        field,
        `the model has no input "${columns.name}" (it has ${names(signature.inputs)})`,
      );
    return input;
  }
  if (signature.inputs.length !== 1)
    throw new BadInputError(
      field,
      `the model has ${signature.inputs.length} inputs (${names(signature.inputs)}); name the one each feature feeds`,
    );
  return signature.inputs[0];
}

function pickOutput(signature: ModelSignature, name: string | undefined): TensorSpec {
  const output = name
    ? signature.outputs.find((o) => o.name === name)
    : signature.outputs.find((o) => NUMERIC_OUTPUTS.has(o.type));
  if (!output)
    throw new BadInputError(
      'preprocessing.output',
      name
        ? `the model has no output "${name}" (it has ${names(signature.outputs)})`
        : `the model has no numeric tensor output (it has ${names(signature.outputs)})`,
    );
  if (!NUMERIC_OUTPUTS.has(output.type))
    throw new BadInputError(
      'preprocessing.output',
      `the output "${output.name}" is ${output.type}, not numeric`,
    );
  return output;
}

const names = (specs: TensorSpec[]): string => specs.map((s) => s.name).join(', ') || 'none';
