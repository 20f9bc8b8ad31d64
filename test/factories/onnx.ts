import { createHash } from 'node:crypto';
import { onnx } from 'onnx-proto';
import type { TestHub } from '../harness';

/**
 * Real ONNX models built in-process, so tests exercise onnxruntime-node on genuine graphs without
 * checked-in binaries. Every graph has a symbolic batch dimension `N`.
 */

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const OPSET = 13;
const IR_VERSION = 8;

export interface LinearOptions {
  /** Number of input features (columns of `features`). */
  features: number;
  /** Row-major weights, `features` × `outputs`. */
  weights?: number[][];
  /** One per output. */
  bias?: number[];
}

export interface ClassifierOptions extends LinearOptions {
  classes: number;
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

function floatTensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, floatData: values };
}

/** Deterministic weights when a test does not care about them: w[i][j] = (i + 1) * 0.1 - j * 0.05. */
function defaultWeights(features: number, outputs: number): number[][] {
  return Array.from({ length: features }, (_, i) =>
    Array.from({ length: outputs }, (_, j) => (i + 1) * 0.1 - j * 0.05),
  );
}

function linearModel(options: LinearOptions, outputs: number, output: string, softmax: boolean): Uint8Array {
  const { features } = options;
  const weights = options.weights ?? defaultWeights(features, outputs);
  const bias = options.bias ?? Array.from({ length: outputs }, () => 0);
  if (weights.length !== features || weights.some((row) => row.length !== outputs)) {
    throw new Error(`weights must be ${features} x ${outputs}`);
  }
  if (bias.length !== outputs) throw new Error(`bias must have ${outputs} values`);
  const nodes: onnx.INodeProto[] = [
    { opType: 'MatMul', input: ['features', 'W'], output: ['xw'], name: 'matmul' },
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
    irVersion: IR_VERSION,
    producerName: 'nerve-test-factory',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: softmax ? 'linear_classifier' : 'linear_regressor',
      node: nodes,
      initializer: [floatTensor('W', [features, outputs], weights.flat()), floatTensor('B', [outputs], bias)],
      input: [valueInfo('features', ['N', features])],
      output: [valueInfo(output, ['N', outputs])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** `features` float32 [N, features] → MatMul + Add → Softmax → `probabilities` float32 [N, classes]. */
export function linearClassifierOnnx(options: ClassifierOptions): Buffer {
  return Buffer.from(linearModel(options, options.classes, 'probabilities', true));
}

/** `features` float32 [N, features] → MatMul + Add → `prediction` float32 [N, 1]. */
export function linearRegressorOnnx(
  options: LinearOptions & { weights?: number[][]; bias?: [number] },
): Buffer {
  return Buffer.from(linearModel(options, 1, 'prediction', false));
}

/** What the classifier should output for one row: softmax(x·W + b). */
export function expectedSoftmax(row: number[], weights: number[][], bias: number[]): number[] {
  const logits = bias.map((b, j) => b + row.reduce((sum, x, i) => sum + x * weights[i][j], 0));
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Uploads bytes to the hub's artifact store (`PUT /artifacts/sha256/<hex>`) and returns the hex digest. */
export async function uploadArtifact(
  hub: TestHub,
  bytes: Uint8Array,
  key: string = hub.adminKey,
): Promise<string> {
  const sha256 = sha256Hex(bytes);
  const base = hub.url.replace(/\/graphql$/, '');
  const res = await fetch(`${base}/artifacts/sha256/${sha256}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`artifact upload failed with ${res.status}: ${await res.text()}`);
  }
  return sha256;
}
