import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { expectedSoftmax, linearClassifierOnnx, linearRegressorOnnx } from '../../../test/factories/onnx';
import { OnnxLoadError, loadFailureReason, readOnnxSignature, tensorSpec } from './onnx-signature';

type Outputs = Record<string, { dims: number[]; data: number[] }>;

/*
 * Inference runs in a worker thread: inside jest's VM, onnxruntime's output typed arrays come from the
 * outer realm and fail its own `instanceof Float32Array` check. A worker is a plain Node realm.
 */
const INFER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require('onnxruntime-node');
(async () => {
  const session = await ort.InferenceSession.create(workerData.file);
  try {
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(workerData.values), workerData.dims) });
    const result = {};
    for (const [name, t] of Object.entries(out)) result[name] = { dims: [...t.dims], data: Array.from(t.data) };
    parentPort.postMessage(result);
  } finally {
    await session.release();
  }
})().catch((e) => parentPort.postMessage({ error: String(e && e.message) }));
`;

function infer(file: string, values: number[], dims: number[]): Promise<Outputs> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(INFER, { eval: true, workerData: { file, values, dims } });
    worker.once('message', (message: Outputs | { error: string }) => {
      void worker.terminate();
      if ('error' in message && typeof message.error === 'string') reject(new Error(message.error));
      else resolve(message as Outputs);
    });
    worker.once('error', reject);
  });
}

describe('ONNX signature', () => {
  let dir: string;
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-onnx-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const weights = [
    [0.5, -0.25, 1],
    [-1, 0.75, 0.2],
  ];
  const bias = [0.1, 0, -0.3];

  it('reads names, element types and shapes of a generated classifier', async () => {
    const file = write('classifier.onnx', linearClassifierOnnx({ features: 2, classes: 3, weights, bias }));
    expect(await readOnnxSignature(file)).toEqual({
      inputs: [{ name: 'features', type: 'float32', shape: [null, 2] }],
      outputs: [{ name: 'probabilities', type: 'float32', shape: [null, 3] }],
    });
  });

  it('builds models that onnxruntime runs to the expected numbers', async () => {
    const rows = [
      [1, 2],
      [-0.5, 3],
    ];
    const classifier = await infer(
      write('c.onnx', linearClassifierOnnx({ features: 2, classes: 3, weights, bias })),
      rows.flat(),
      [2, 2],
    );
    expect(classifier.probabilities.dims).toEqual([2, 3]);
    rows.forEach((row, r) => {
      const values = classifier.probabilities.data.slice(r * 3, r * 3 + 3);
      expectedSoftmax(row, weights, bias).forEach((p, j) => expect(values[j]).toBeCloseTo(p, 5));
      expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });

    const regressor = await infer(
      write('r.onnx', linearRegressorOnnx({ features: 3, weights: [[2], [-1], [0.5]], bias: [10] })),
      [1, 2, 4, 0, 0, 0],
      [2, 3],
    );
    expect(regressor.prediction.dims).toEqual([2, 1]);
    // 2*1 - 1*2 + 0.5*4 + 10 = 12; the second row is the bias alone.
    expect(regressor.prediction.data).toEqual([12, 10]);
  });

  it('rejects a blob that is not ONNX with a reason free of paths and source locations', async () => {
    const file = write('garbage.onnx', Buffer.from('definitely not a protobuf model'));
    const error = await readOnnxSignature(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnnxLoadError);
    expect((error as OnnxLoadError).reason).not.toContain(dir);
    expect((error as OnnxLoadError).reason).toMatch(/protobuf parsing failed/i);
  });

  it('keeps only the reason of onnxruntime load errors', () => {
    expect(loadFailureReason('Load model from /data/a/b.onnx failed:Protobuf parsing failed.')).toBe(
      'Protobuf parsing failed.',
    );
    expect(
      loadFailureReason(
        'Load model from /x.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::ModelOptions&) ModelProto does not have a graph.\n',
      ),
    ).toBe('ModelProto does not have a graph.');
  });

  it('maps symbolic and unknown dimensions to null and marks non-tensors', () => {
    expect(tensorSpec({ name: 'x', isTensor: true, type: 'int64', shape: ['batch', 4, -1] })).toEqual({
      name: 'x',
      type: 'int64',
      shape: [null, 4, null],
    });
    expect(tensorSpec({ name: 'm', isTensor: false })).toEqual({ name: 'm', type: 'non-tensor', shape: [] });
  });
});
