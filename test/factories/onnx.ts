import { createHash } from 'node:crypto';
import {
  exportLinearClassifier,
  exportLinearRegressor,
  type LinearOnnxOptions,
} from '../../src/training/onnx-export';
import { onnx } from 'onnx-proto';
import type { TestHub } from '../harness';

/**
 * Real ONNX models built in-process, so tests exercise onnxruntime-node on genuine graphs without
 * checked-in binaries, built by the same exporter training uses. Every graph has a symbolic batch
 * dimension `N`.
 */

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

/** Deterministic weights when a test does not care about them: w[i][j] = (i + 1) * 0.1 - j * 0.05. */
function defaultWeights(features: number, outputs: number): number[][] {
  return Array.from({ length: features }, (_, i) =>
    Array.from({ length: outputs }, (_, j) => (i + 1) * 0.1 - j * 0.05),
  );
}

/** The exporter's options for a test model, checking the nested weights have the declared shape. */
function linearOptions(options: LinearOptions, outputs: number): LinearOnnxOptions {
  const { features } = options;
  const weights = options.weights ?? defaultWeights(features, outputs);
  const bias = options.bias ?? Array.from({ length: outputs }, () => 0);
  if (weights.length !== features || weights.some((row) => row.length !== outputs)) {
    throw new Error(`weights must be ${features} x ${outputs}`);
  }
  if (bias.length !== outputs) throw new Error(`bias must have ${outputs} values`);
  return { inputs: features, outputs, weights: weights.flat(), bias, producerName: 'nerve-test-factory' };
}

/** `features` float32 [N, features] → MatMul + Add → Softmax → `probabilities` float32 [N, classes]. */
export function linearClassifierOnnx(options: ClassifierOptions): Buffer {
  return exportLinearClassifier(linearOptions(options, options.classes));
}

/** `features` float32 [N, features] → MatMul + Add → `prediction` float32 [N, 1]. */
export function linearRegressorOnnx(
  options: LinearOptions & { weights?: number[][]; bias?: [number] },
): Buffer {
  return exportLinearRegressor(linearOptions(options, 1));
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

/**
 * Uploads bytes to the hub's artifact store for a project, or for each of several
 * (`PUT /artifacts/sha256/<hex>?project=<slug>`), and returns the hex digest.
 */
export async function uploadArtifact(
  hub: TestHub,
  bytes: Uint8Array,
  projects: string | string[],
  key: string = hub.adminKey,
): Promise<string> {
  const sha256 = sha256Hex(bytes);
  const base = hub.url.replace(/\/graphql$/, '');
  for (const project of Array.isArray(projects) ? projects : [projects]) {
    const res = await fetch(`${base}/artifacts/sha256/${sha256}?project=${encodeURIComponent(project)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`artifact upload failed with ${res.status}: ${await res.text()}`);
    }
  }
  return sha256;
}

/**
 * `features` float32 [N, D] with D symbolic, times a 3 x 3 weight: valid to load, but any input of
 * width 2 fails inside MatMul at run time, as a model with a latent bug would.
 */
export function failingAtRunTime(): Buffer {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, dims: Array<number | string>): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'latent_bug',
      node: [{ opType: 'MatMul', input: ['features', 'W'], output: ['probabilities'], name: 'mm' }],
      initializer: [{ name: 'W', dims: [3, 3], dataType: FLOAT, floatData: Array(9).fill(0.1) }],
      input: [info('features', ['N', 'D'])],
      output: [info('probabilities', ['N', 3])],
    },
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/** One input of {@link multiInputRegressorOnnx}: its name and one weight per column. */
export interface RegressorInput {
  name: string;
  weights: number[];
}

/**
 * A regressor over several float32 inputs, as tabular models exported from PyTorch or sklearn often
 * are: `prediction` [N, 1] = Σ MatMul(input_k [N, width_k], W_k) + bias. Every input is required.
 */
export function multiInputRegressorOnnx(inputs: RegressorInput[], bias: number): Buffer {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, dims: Array<number | string>): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const nodes: onnx.INodeProto[] = inputs.map((input, k) => ({
    opType: 'MatMul',
    input: [input.name, `W${k}`],
    output: [`xw${k}`],
    name: `matmul${k}`,
  }));
  let sum = 'B';
  inputs.forEach((_, k) => {
    const out = k === inputs.length - 1 ? 'prediction' : `sum${k}`;
    nodes.push({ opType: 'Add', input: [sum, `xw${k}`], output: [out], name: `add${k}` });
    sum = out;
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'nerve-test-factory',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'multi_input_regressor',
      node: nodes,
      initializer: [
        ...inputs.map((input, k) => ({
          name: `W${k}`,
          dims: [input.weights.length, 1],
          dataType: FLOAT,
          floatData: input.weights,
        })),
        { name: 'B', dims: [1], dataType: FLOAT, floatData: [bias] },
      ],
      input: inputs.map((input) => info(input.name, ['N', input.weights.length])),
      output: [info('prediction', ['N', 1])],
    },
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}
