import { Worker } from 'node:worker_threads';
import { onnx } from 'onnx-proto';
import { compilePreprocessing } from '../modules/inference/preprocessing';
import { exportLinearClassifier, exportLinearRegressor } from './onnx-export';
import { generateTickets, ticketFields } from './ticket-dataset';
import { trainTicketRouter } from './train-ticket-router';

type Outputs = Record<string, { dims: number[]; data: number[] }>;

/*
 * onnxruntime runs in a worker thread: inside jest's VM its output typed arrays come from another realm
 * and fail its own `instanceof Float32Array` check. A worker is a plain Node realm.
 */
const INFER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require('onnxruntime-node');
(async () => {
  const session = await ort.InferenceSession.create(new Uint8Array(workerData.model));
  try {
    const input = new ort.Tensor('float32', Float32Array.from(workerData.values), workerData.dims);
    const out = await session.run({ [workerData.input]: input });
    const result = {};
    for (const [name, t] of Object.entries(out)) result[name] = { dims: [...t.dims], data: Array.from(t.data) };
    parentPort.postMessage(result);
  } finally {
    await session.release();
  }
})().catch((e) => parentPort.postMessage({ error: String(e && e.message) }));
`;

function infer(
  model: Uint8Array,
  values: ArrayLike<number>,
  dims: number[],
  input = 'features',
): Promise<Outputs> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(INFER, {
      eval: true,
      workerData: { model: Array.from(model), values: Array.from(values), dims, input },
    });
    worker.once('message', (message: Outputs | { error: string }) => {
      void worker.terminate();
      if ('error' in message && typeof message.error === 'string') reject(new Error(message.error));
      else resolve(message as Outputs);
    });
    worker.once('error', reject);
  });
}

describe('ONNX export', () => {
  it('writes opset 13, IR 8, a symbolic batch dimension and the metadata', () => {
    const bytes = exportLinearClassifier({
      inputs: 3,
      outputs: 2,
      weights: [1, 2, 3, 4, 5, 6],
      bias: [0, 1],
      metadata: { labels: '["no","yes"]' },
    });
    const model = onnx.ModelProto.decode(bytes);
    // Decoded messages are class instances, whose repeated fields are never null.
    const graph = model.graph as onnx.GraphProto;
    expect(Number(model.irVersion)).toBe(8);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect(graph.node.map((n) => n.opType)).toEqual(['MatMul', 'Add', 'Softmax']);
    const input = graph.input[0] as onnx.ValueInfoProto;
    expect(input.name).toBe('features');
    const dims = (input.type as onnx.TypeProto).tensorType!.shape!.dim as onnx.TensorShapeProto.Dimension[];
    expect(dims.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 3]);
    expect(graph.output[0].name).toBe('probabilities');
    expect(model.metadataProps).toEqual([expect.objectContaining({ key: 'labels', value: '["no","yes"]' })]);
    const w = graph.initializer.find((t) => t.name === 'W') as onnx.TensorProto;
    expect(w.dims.map(Number)).toEqual([3, 2]);
    // A copy: rawData may be a Buffer view into the whole decoded message.
    expect(Array.from(new Float32Array(Uint8Array.from(w.rawData).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('checks shapes and values before writing anything', () => {
    expect(() => exportLinearClassifier({ inputs: 2, outputs: 2, weights: [1, 2, 3], bias: [0, 0] })).toThrow(
      'weights must hold 2 x 2 values, got 3',
    );
    expect(() => exportLinearRegressor({ inputs: 1, outputs: 1, weights: [1], bias: [] })).toThrow('bias');
    expect(() => exportLinearRegressor({ inputs: 1, outputs: 1, weights: [NaN], bias: [0] })).toThrow(
      'finite',
    );
    expect(() => exportLinearRegressor({ inputs: 0, outputs: 1, weights: [], bias: [0] })).toThrow('inputs');
  });

  it('exports a regressor that onnxruntime runs to x · W + b', async () => {
    const bytes = exportLinearRegressor({ inputs: 2, outputs: 2, weights: [1, -1, 0.5, 2], bias: [10, 0] });
    const out = await infer(bytes, [2, 4, 0, 0], [2, 2]);
    expect(out.prediction.dims).toEqual([2, 2]);
    expect(out.prediction.data).toEqual([14, 6, 10, 0]);
  });

  it('exports a trained ticket router whose ONNX probabilities match the TypeScript model', async () => {
    const trained = trainTicketRouter({ rows: 1000, epochs: 4, textBuckets: 256, seed: 11 });
    const tickets = generateTickets({ rows: 120, seed: 99 }).map(ticketFields);
    const x = compilePreprocessing(trained.preprocessing).encode(tickets, (i) => `tickets.${i}`);
    const expected = trained.model.predictProba(x);
    const out = await infer(trained.onnx, x, [tickets.length, trained.model.width]);
    expect(out.probabilities.dims).toEqual([tickets.length, trained.labels.length]);
    let worst = 0;
    out.probabilities.data.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - expected[i]))));
    expect(worst).toBeLessThan(1e-5);

    // The golden samples hold when served through the exported graph, as the hub will check.
    const golden = compilePreprocessing(trained.preprocessing).encode(
      trained.goldenSamples.map((s) => s.input),
      (i) => `golden.${i}`,
    );
    const scored = await infer(trained.onnx, golden, [trained.goldenSamples.length, trained.model.width]);
    const k = trained.labels.length;
    trained.goldenSamples.forEach((s, i) => {
      const row = scored.probabilities.data.slice(i * k, (i + 1) * k);
      expect(trained.labels[row.indexOf(Math.max(...row))]).toBe(s.expectedLabel);
    });
  });
});
