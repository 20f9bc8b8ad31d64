import { onnx } from 'onnx-proto';

/**
 * Linear models as ONNX graphs: `features` float32 [N, inputs] → MatMul(W) → Add(B) → (Softmax) →
 * output float32 [N, outputs], with a symbolic batch dimension `N`. Opset 13 and IR version 8, which
 * every onnxruntime since 1.10 loads.
 */

const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

export interface LinearOnnxOptions {
  /** Columns of the input. */
  inputs: number;
  /** Classes (classifier) or targets (regressor). */
  outputs: number;
  /** [inputs × outputs], row-major. */
  weights: ArrayLike<number>;
  /** One per output. */
  bias: ArrayLike<number>;
  /** Input tensor name; default `features`. */
  inputName?: string;
  /** Output tensor name; default `probabilities` for a classifier, `prediction` for a regressor. */
  outputName?: string;
  /** Default `nerve-training`. */
  producerName?: string;
  /** Free-form key/value pairs stored in the model's metadata_props (labels, training run, ...). */
  metadata?: Record<string, string>;
}

function valueInfo(name: string, dims: Array<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** A float32 initializer, stored as little-endian raw bytes (compact, and exact for float32 values). */
function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const raw = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) raw.writeFloatLE(values[i], i * 4);
  return { name, dims, dataType: FLOAT, rawData: raw };
}

function linearGraph(options: LinearOnnxOptions, softmax: boolean): Buffer {
  const { inputs, outputs, weights, bias } = options;
  if (!Number.isInteger(inputs) || inputs < 1) throw new Error('inputs must be a positive integer');
  if (!Number.isInteger(outputs) || outputs < 1) throw new Error('outputs must be a positive integer');
  if (weights.length !== inputs * outputs)
    throw new Error(`weights must hold ${inputs} x ${outputs} values, got ${weights.length}`);
  if (bias.length !== outputs) throw new Error(`bias must hold ${outputs} values, got ${bias.length}`);
  for (const values of [weights, bias]) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new Error('weights and bias must be finite numbers');
    }
  }
  const input = options.inputName ?? 'features';
  const output = options.outputName ?? (softmax ? 'probabilities' : 'prediction');
  const nodes: onnx.INodeProto[] = [
    { opType: 'MatMul', input: [input, 'W'], output: ['xw'], name: 'matmul' },
    { opType: 'Add', input: ['xw', 'B'], output: [softmax ? 'logits' : output], name: 'add' },
  ];
  if (softmax) {
    nodes.push({
      opType: 'Softmax',
      input: ['logits'],
      output: [output],
      name: 'softmax',
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
    });
  }
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: options.producerName ?? 'nerve-training',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: softmax ? 'linear_classifier' : 'linear_regressor',
      node: nodes,
      initializer: [floatTensor('W', [inputs, outputs], weights), floatTensor('B', [outputs], bias)],
      input: [valueInfo(input, ['N', inputs])],
      output: [valueInfo(output, ['N', outputs])],
    },
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/** A softmax classifier: `features` [N, inputs] → `probabilities` [N, outputs] (rows sum to 1). */
export function exportLinearClassifier(options: LinearOnnxOptions): Buffer {
  return linearGraph(options, true);
}

/** A linear regressor: `features` [N, inputs] → `prediction` [N, outputs]. */
export function exportLinearRegressor(options: LinearOnnxOptions): Buffer {
  return linearGraph(options, false);
}
